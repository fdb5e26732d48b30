//! Charts with Apache ECharts, imported from echarts/core with only the bar
//! and line charts, the SVG renderer and the aria component (which writes a
//! text description of each chart for screen readers). Loaded lazily: the
//! tables carry every figure and come first; the charts follow.

type EChartsModule = typeof import("./echarts.js");
let loading: Promise<EChartsModule> | null = null;

function load(): Promise<EChartsModule> {
  loading ??= import("./echarts.js");
  return loading;
}

// Colours chosen for contrast on white (≥ 3:1 for graphics, WCAG 1.4.11) and
// told apart without colour by their order and labels.
export const CLASS_COLOURS = ["#1b7837", "#b35806", "#2166ac", "#b2182b"];

export async function splitChart(
  el: HTMLElement,
  data: { name: string; value: number }[],
  format: (n: number) => string,
): Promise<void> {
  const { echarts } = await load();
  if (!el.isConnected) return;
  const chart = echarts.init(el, null, { renderer: "svg", height: 260 });
  chart.setOption({
    aria: { enabled: true },
    animation: false,
    grid: { left: 8, right: 24, top: 8, bottom: 8, containLabel: true },
    xAxis: { type: "value", splitNumber: 3, axisLabel: { color: "#222", formatter: format, hideOverlap: true } },
    yAxis: { type: "category", data: data.map((d) => d.name), inverse: true, axisLabel: { color: "#222" } },
    tooltip: { trigger: "axis" },
    series: [
      {
        type: "bar",
        data: data.map((d, i) => ({ value: d.value, itemStyle: { color: CLASS_COLOURS[i % CLASS_COLOURS.length] } })),
        label: { show: true, position: "right", color: "#222", formatter: (p: { value: number }) => format(p.value) },
      },
    ],
  });
  observeResize(el, chart);
}

export async function lineChart(
  el: HTMLElement,
  categories: string[],
  series: { name: string; data: (number | null)[]; dashed?: boolean; colour: string }[],
  format: (n: number) => string,
): Promise<void> {
  const { echarts } = await load();
  if (!el.isConnected) return;
  const chart = echarts.init(el, null, { renderer: "svg", height: 320 });
  chart.setOption({
    aria: { enabled: true },
    animation: false,
    legend: { top: 0, textStyle: { color: "#222" } },
    grid: { left: 8, right: 24, top: 48, bottom: 8, containLabel: true },
    xAxis: { type: "category", data: categories, axisLabel: { color: "#222" } },
    yAxis: { type: "value", axisLabel: { color: "#222", formatter: format } },
    tooltip: { trigger: "axis" },
    series: series.map((s) => ({
      type: "line",
      name: s.name,
      data: s.data,
      lineStyle: { type: s.dashed ? "dashed" : "solid", color: s.colour },
      itemStyle: { color: s.colour },
      symbol: s.dashed ? "emptyCircle" : "circle",
    })),
  });
  observeResize(el, chart);
}

function observeResize(el: HTMLElement, chart: { resize(): void; dispose(): void }): void {
  const observer = new ResizeObserver(() => {
    if (!el.isConnected) {
      observer.disconnect();
      chart.dispose();
      return;
    }
    chart.resize();
  });
  observer.observe(el);
}

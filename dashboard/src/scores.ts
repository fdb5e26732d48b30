//! Pure helpers of the Scorecards page: scores and rates as the page prints
//! them, the sparkline of a unit's month-end scores, and the trajectory's
//! gap (completions made against completions due).

import type { Lang } from "./format.js";

/** A score (or any decimal figure) with two decimals in the page's language: "87,50" / "87.50"; "–" when unset. */
export function formatDecimal(value: number | undefined | null, lang: Lang, signed = false): string {
  if (value === undefined || value === null || !Number.isFinite(value)) return "–";
  const text = Math.abs(value).toFixed(2);
  const localised = lang === "vi" ? text.replace(".", ",") : text;
  const sign = value < 0 ? "-" : signed && value > 0 ? "+" : "";
  return `${sign}${localised}`;
}

/** A rate in 0..=1 as a percentage with two decimals: "87,50 %". */
export function formatRate(rate: number, lang: Lang): string {
  return `${formatDecimal(rate * 100, lang)} %`;
}

/**
 * The SVG path of a sparkline through `values` (null: no score that month,
 * the line breaks there), scaled to `width` × `height` with the lowest and
 * highest values at the bottom and top edges (a flat line sits in the middle).
 */
export function sparklinePath(values: (number | null)[], width: number, height: number): string {
  const known = values.filter((v): v is number => v !== null && Number.isFinite(v));
  if (known.length === 0) return "";
  const min = Math.min(...known);
  const max = Math.max(...known);
  const x = (i: number) => (values.length === 1 ? width / 2 : (i * width) / (values.length - 1));
  const y = (v: number) => (max === min ? height / 2 : height - ((v - min) * height) / (max - min));
  let path = "";
  let drawing = false;
  values.forEach((v, i) => {
    if (v === null || !Number.isFinite(v)) {
      drawing = false;
      return;
    }
    path += `${drawing ? "L" : "M"}${x(i).toFixed(1)},${y(v).toFixed(1)}`;
    drawing = true;
  });
  return path;
}

/** Completions made minus completions due on the last day with an actual count (null if none). */
export function latestGap(points: { expected: bigint; actual?: bigint }[]): bigint | null {
  for (let i = points.length - 1; i >= 0; i--) {
    const actual = points[i].actual;
    if (actual !== undefined) return actual - points[i].expected;
  }
  return null;
}

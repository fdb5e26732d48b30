// Browser benchmark of the dashboard: cold load to first figures (navigation
// and resource timing), each interaction's render time, and the bundle's
// gzipped size. Prints figures; asserts nothing about speed.
//
//   cd dashboard && npx playwright test -c bench              # starts tasknet up --demo (seed) itself
//   BENCH_DEMO=small npx playwright test -c bench             # the small demo
//   TASKNET_URL=http://127.0.0.1:50051 TASKNET_DATA_DIR=tasknet-data npx playwright test -c bench   # a running server

import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { type Page, test } from "@playwright/test";
import { runningTasknet, startTasknet } from "../e2e/server.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const RUNS = Number(process.env.BENCH_RUNS ?? 7);
const QUERY = process.env.BENCH_QUERY ?? "?period=2024-H1&asof=2024-06-30";

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}
const ms = (x: number) => `${x.toFixed(0)} ms`;

function bundleSizes(): void {
  const dist = path.join(here, "../dist");
  const html = readFileSync(path.join(dist, "index.html"), "utf8");
  const first = new Set([...html.matchAll(/(?:src|href)="\.\/(assets\/[^"]+)"/g)].map((m) => m[1]));
  let firstGz = 0;
  let allGz = 0;
  const rows: string[] = [];
  for (const name of readdirSync(path.join(dist, "assets"))) {
    const bytes = readFileSync(path.join(dist, "assets", name));
    const gz = gzipSync(bytes, { level: 9 }).length;
    allGz += gz;
    const isFirst = first.has(`assets/${name}`);
    if (isFirst) firstGz += gz;
    rows.push(`  ${name.padEnd(36)} ${(bytes.length / 1024).toFixed(1).padStart(8)} KB  gzip ${(gz / 1024).toFixed(1).padStart(7)} KB${isFirst ? "  (first load)" : "  (on demand)"}`);
  }
  const htmlGz = gzipSync(Buffer.from(html), { level: 9 }).length;
  console.log("bundle:");
  for (const r of rows) console.log(r);
  console.log(`  first load (index.html + entry JS + CSS): ${((firstGz + htmlGz) / 1024).toFixed(1)} KB gzipped; everything: ${((allGz + htmlGz) / 1024).toFixed(1)} KB gzipped`);
}

async function lastRender(page: Page, view: string): Promise<number> {
  return page.evaluate((name) => {
    const all = performance.getEntriesByName(`tasknet:render:${name}`, "measure");
    return all.length ? all[all.length - 1].duration : NaN;
  }, view);
}

async function settled(page: Page): Promise<void> {
  await page.waitForFunction(() => !document.querySelector("main#main[aria-busy]") && document.querySelector("#freshness")?.textContent);
}

test("dashboard benchmark", async ({ browser }) => {
  bundleSizes();
  let server = runningTasknet();
  if (!server) {
    const size = (process.env.BENCH_DEMO ?? "seed") as "seed" | "small";
    const started = Date.now();
    server = await startTasknet(size, 60 * 60_000);
    console.log(`tasknet up --demo --demo-size ${size}: ready in ${ms(Date.now() - started)}`);
  }
  const url = server.url;
  const token = (await server.reader()).token;
  try {
    // Cold loads: a new browser context each time (empty cache, new session).
    const cold: { ttfb: number; dcl: number; load: number; figures: number; transferred: number }[] = [];
    for (let i = 0; i < RUNS; i++) {
      const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
      const page = await context.newPage();
      await page.goto(`${url}/${QUERY}#/signin?token=${token}`);
      await page.waitForFunction(() => performance.getEntriesByName("tasknet:first-figures").length > 0);
      cold.push(
        await page.evaluate(() => {
          const nav = performance.getEntriesByType("navigation")[0] as PerformanceNavigationTiming;
          const figures = performance.getEntriesByName("tasknet:first-figures")[0].startTime;
          const transferred = (performance.getEntriesByType("resource") as PerformanceResourceTiming[])
            .filter((r) => /\/assets\//.test(r.name))
            .reduce((s, r) => s + r.transferSize, nav.transferSize);
          return { ttfb: nav.responseStart, dcl: nav.domContentLoadedEventEnd, load: nav.loadEventEnd, figures, transferred };
        }),
      );
      await context.close();
    }
    console.log(`cold load, ${RUNS} runs (median): first byte ${ms(median(cold.map((c) => c.ttfb)))}, DOMContentLoaded ${ms(median(cold.map((c) => c.dcl)))}, load ${ms(median(cold.map((c) => c.load)))}, first figures on screen ${ms(median(cold.map((c) => c.figures)))} (max ${ms(Math.max(...cold.map((c) => c.figures)))}); transferred ${(median(cold.map((c) => c.transferred)) / 1024).toFixed(1)} KB`);

    // Interactions: each one's render (request → figures in the DOM), median of RUNS.
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    await page.goto(`${url}/${QUERY}#/signin?token=${token}`);
    await settled(page);
    const interactions: [string, string, (i: number) => Promise<void>][] = [
      ["as-of date change (overview)", "overview", async (i) => {
        await page.locator("#as-of").fill(`2024-06-${String(10 + (i % 19)).padStart(2, "0")}`);
        await page.locator("#as-of").dispatchEvent("change");
      }],
      ["language switch (overview)", "overview", async (i) => {
        await page.locator("#lang").selectOption(i % 2 ? "vi" : "en");
      }],
      ["open Units (every unit, both years)", "units", async () => {
        await page.goto(`${url}/${QUERY}&view=units`);
      }],
      ["basis switch (units)", "units", async (i) => {
        await page.locator("#basis").selectOption(i % 2 ? "current" : "historical");
      }],
      ["sort (units)", "units", async (i) => {
        await page.locator('button.sort[data-sort="open_overdue"]').click();
        void i;
      }],
      ["drill-down to a province's overdue list", "drill", async () => {
        await page.goto(`${url}/${QUERY}&view=units`);
        await settled(page);
        await page.locator("#units-table tbody tr th a").first().click();
      }],
      ["trend (6 months, both years)", "trend", async () => {
        await page.goto(`${url}/${QUERY}&view=trend`);
      }],
    ];
    for (const [name, view, act] of interactions) {
      const times: number[] = [];
      for (let i = 0; i < RUNS; i++) {
        await act(i);
        await settled(page);
        times.push(await lastRender(page, view));
      }
      console.log(`${name}: median ${ms(median(times))}, max ${ms(Math.max(...times))}`);
    }
    await context.close();
  } finally {
    await server.stop();
  }
});

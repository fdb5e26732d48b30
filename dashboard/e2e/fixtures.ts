// The browser tests' shared pieces: one tasknet per worker, signing in by
// link, reading the numbers a table shows, axe-core, screenshots.

import { mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { expect, type Page, test as base } from "@playwright/test";
import { type Server, startTasknet } from "./server.js";

export const SCREENSHOTS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../target/dashboard-screenshots");

export const test = base.extend<object, { server: Server }>({
  server: [
    // eslint-disable-next-line no-empty-pattern
    async ({}, use) => {
      const server = await startTasknet("small", 15 * 60_000);
      try {
        await use(server);
      } finally {
        await server.stop();
      }
    },
    { scope: "worker", timeout: 16 * 60_000 },
  ],
});

export { expect };

/** Opens the sign-in link (optionally with a permalink's query) and waits for the page. */
export async function signIn(page: Page, server: Server, token: string, query = ""): Promise<void> {
  await page.goto(`${server.url}/${query}#/signin?token=${token}`);
  await expect(page.locator("#freshness")).toContainText(/\d/);
}

/** Waits until the view has finished loading its figures. */
export async function settled(page: Page): Promise<void> {
  await expect(page.locator("main#main")).not.toHaveAttribute("aria-busy", "true");
  await expect(page.locator("main#main .error")).toHaveCount(0);
}

/** data-field → exact value of every count cell in a row. */
export async function rowValues(page: Page, rowSelector: string): Promise<Record<string, string>> {
  return page.locator(rowSelector).evaluate((row) => {
    const out: Record<string, string> = {};
    for (const cell of row.querySelectorAll<HTMLElement>("[data-value]")) out[cell.dataset.field!] = cell.dataset.value!;
    return out;
  });
}

export async function axeSeriousViolations(page: Page): Promise<{ id: string; impact: string; nodes: string[] }[]> {
  await page.addScriptTag({ path: createRequire(import.meta.url).resolve("axe-core/axe.min.js") });
  return page.evaluate(async () => {
    // @ts-expect-error injected by the script tag
    const result = await window.axe.run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] } });
    return (result.violations as { id: string; impact: string; nodes: { target: string[] }[] }[])
      .filter((v) => v.impact === "serious" || v.impact === "critical")
      .map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.map((n) => n.target.join(" ")) }));
  });
}

export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`), fullPage: true });
}

export function counts(c: { total: bigint; completedOnTime: bigint; completedLate: bigint; openWithinDeadline: bigint; openOverdue: bigint } | undefined) {
  return {
    total: String(c?.total ?? 0n),
    completed_on_time: String(c?.completedOnTime ?? 0n),
    completed_late: String(c?.completedLate ?? 0n),
    open_within_deadline: String(c?.openWithinDeadline ?? 0n),
    open_overdue: String(c?.openOverdue ?? 0n),
  };
}

// The dashboard in Chromium against a real `tasknet up --demo --demo-size small`:
// every figure on the page is compared with what the services answer.

import { readFileSync } from "node:fs";
import type { Page } from "@playwright/test";
import ExcelJS from "exceljs";
import { Language } from "../src/gen/tasknet/v1/common_pb.js";
import { GroupBy, ReportBasis, StatusClass, SummaryFormat } from "../src/gen/tasknet/v1/reporting_pb.js";
import { PlanKind } from "../src/gen/tasknet/v1/task_pb.js";
import { axeSeriousViolations, counts, expect, rowValues, screenshot, settled, signIn, test } from "./fixtures.js";

const H1_2024 = "?period=2024-H1&asof=2024-06-30";
const label = (value: string) => ({ kind: { case: "label" as const, value } });
const day = (year: number, month: number, d: number) => ({ year, month, day: d });

/** The tiles on the Units page's map: each province's code and where the grid put it. */
async function mapTiles(page: Page): Promise<{ code: string; row: number; column: number }[]> {
  return page.locator("#tile-map li").evaluateAll((items) =>
    items.map((li) => {
      const style = getComputedStyle(li);
      return { code: (li as HTMLElement).dataset.code ?? "", row: Number(style.gridRowStart), column: Number(style.gridColumnStart) };
    }),
  );
}

test("signs in by link, keeps the token out of the URL, and shows exactly the service's overview figures", async ({ page, server }) => {
  const reader = await server.reader();
  // The printed link opens the default view (the current half-year as of today).
  await page.goto(reader.link);
  await settled(page);
  await expect(page.locator("#freshness")).toContainText(/\d/);
  expect(page.url()).not.toContain("tn_");
  expect(page.url()).toMatch(/period=\d{4}-H[12]&asof=\d{4}-\d{2}-\d{2}$/);
  // Then the review period, by the period pickers.
  await page.locator("#period-year").fill("2024");
  await page.locator("#period-year").dispatchEvent("change");
  await page.locator("#period-part").selectOption("1");
  await page.locator("#as-of").fill("2024-06-30");
  await page.locator("#as-of").dispatchEvent("change");
  await expect(page).toHaveURL(/period=2024-H1&asof=2024-06-30$/);
  await settled(page);
  expect(await page.evaluate(() => sessionStorage.getItem("tasknet.token"))).toBe(reader.token);

  const api = server.reporting(reader.token);
  const question = { period: label("2024-H1"), asOf: day(2024, 6, 30), basis: ReportBasis.CURRENT_STRUCTURE };
  const national = await api.statusBreakdown({ ...question, groupBy: GroupBy.NONE });
  const split = await page.locator("#split").evaluate((table) =>
    Object.fromEntries([...table.querySelectorAll<HTMLElement>("[data-value]")].map((c) => [c.dataset.field!, c.dataset.value!])),
  );
  expect(split).toEqual(counts(national.national?.current));
  expect(Number(split.total)).toBeGreaterThan(0);
  // Shares as printed: truncated, Vietnamese decimal comma.
  const n = national.national!.current!;
  const share = (x: bigint) => {
    const scaled = (x * 10000n) / n.total;
    return `${scaled / 100n},${String(scaled % 100n).padStart(2, "0")} %`;
  };
  await expect(page.locator('#split [data-field="open_overdue_share"]')).toHaveText(share(n.openOverdue));

  const byCategory = await api.statusBreakdown({ ...question, groupBy: GroupBy.UNIT_CATEGORY });
  for (const row of byCategory.rows) {
    const shown = await rowValues(page, `#by-category tr[data-group="${row.groupKey}"]`);
    expect(shown).toEqual({ ...counts(row.current), previous_total: String(row.previous?.total ?? 0n) });
  }
  for (const [kind, key] of [[PlanKind.KEY_TASKS, "key_tasks"], [PlanKind.LEGAL_DOCUMENTS, "legal_documents"], [PlanKind.ANNUAL_WORK_PLAN, "annual_work_plan"]] as const) {
    const progress = await api.planProgress({ selector: { case: "plansOfKind", value: { kind, period: question.period } }, asOf: question.asOf });
    if (progress.plans.length === 0) continue;
    const done = progress.plans.reduce((s, p) => s + p.done, 0n);
    const total = progress.plans.reduce((s, p) => s + p.total, 0n);
    await expect(page.locator(`#plans li[data-plan="${key}"]`)).toHaveAttribute("data-done", String(done));
    await expect(page.locator(`#plans li[data-plan="${key}"]`)).toHaveAttribute("data-total", String(total));
  }
  const summary = await api.reportSummary({ ...question, language: Language.VI, format: SummaryFormat.TEXT });
  const paragraphs = summary.body.split(/\n+/).filter((p) => p.trim() !== "");
  await expect(page.locator("#review p")).toHaveText(paragraphs);
  await expect(page.locator("#freshness")).toContainText(`con trỏ`);
  expect(await axeSeriousViolations(page)).toEqual([]);
  await screenshot(page, "overview");
});

test("changing the as-of date and the period shows the service's figures for them", async ({ page, server }) => {
  const reader = await server.reader();
  await signIn(page, server, reader.token, H1_2024);
  await settled(page);
  const api = server.reporting(reader.token);

  await page.locator("#as-of").fill("2024-03-31");
  await page.locator("#as-of").dispatchEvent("change");
  await expect(page).toHaveURL(/asof=2024-03-31/);
  await settled(page);
  let answer = await api.statusBreakdown({ period: label("2024-H1"), asOf: day(2024, 3, 31), groupBy: GroupBy.NONE });
  expect(await rowValues(page, "#split")).toEqual(counts(answer.national?.current));

  await page.locator("#period-kind").selectOption("quarter");
  await page.locator("#period-part").selectOption("2");
  await page.locator("#period-year").fill("2025");
  await page.locator("#period-year").dispatchEvent("change");
  await expect(page).toHaveURL(/period=2025-Q2/);
  await page.locator("#as-of").fill("2025-06-30");
  await page.locator("#as-of").dispatchEvent("change");
  await settled(page);
  answer = await api.statusBreakdown({ period: label("2025-Q2"), asOf: day(2025, 6, 30), groupBy: GroupBy.NONE });
  expect(await rowValues(page, "#split")).toEqual(counts(answer.national?.current));
  expect(Number(answer.national?.current?.total)).toBeGreaterThan(0);
});

test("switches language: words, number forms and the English paragraph", async ({ page, server }) => {
  const reader = await server.reader();
  await signIn(page, server, reader.token, H1_2024);
  await settled(page);
  await expect(page.locator("h1")).toHaveText("Tổng quan");
  const totalVi = await page.locator('#split tfoot [data-field="total"]').textContent();
  expect(totalVi).toMatch(/^\d{1,3}(\.\d{3})*$/);
  await page.locator("#lang").selectOption("en");
  await expect(page).toHaveURL(/lang=en/);
  await settled(page);
  await expect(page.locator("h1")).toHaveText("Overview");
  await expect(page.locator("html")).toHaveAttribute("lang", "en");
  const totalEn = await page.locator('#split tfoot [data-field="total"]').textContent();
  expect(totalEn).toBe(totalVi!.replace(/\./g, ","));
  const api = server.reporting(reader.token);
  const summary = await api.reportSummary({ period: label("2024-H1"), asOf: day(2024, 6, 30), language: Language.EN, format: SummaryFormat.TEXT });
  await expect(page.locator("#review p")).toHaveText(summary.body.split(/\n+/).filter((p) => p.trim() !== ""));
  await expect(page.locator("#freshness")).toContainText("cursor");
  await screenshot(page, "overview-en");
});

test("the basis switch across the 2025 merger restates Gia Lai (code 52) as the service does", async ({ page, server }) => {
  const reader = await server.reader();
  const api = server.reporting(reader.token);
  await signIn(page, server, reader.token, "?view=units&period=2025-H2&asof=2025-12-31");
  await settled(page);
  for (const basis of ["current", "historical"] as const) {
    if (basis === "historical") {
      await page.locator("#basis").selectOption("historical");
      await expect(page).toHaveURL(/basis=historical/);
      await settled(page);
    }
    const answer = await api.statusBreakdown({
      period: label("2025-H2"),
      asOf: day(2025, 12, 31),
      groupBy: GroupBy.UNIT,
      basis: basis === "current" ? ReportBasis.CURRENT_STRUCTURE : ReportBasis.HISTORICAL_STRUCTURE,
    });
    const shownIds = await page.locator("#units-table tbody tr").evaluateAll((rows) => rows.map((r) => (r as HTMLElement).dataset.unit));
    expect(new Set(shownIds)).toEqual(new Set(answer.rows.map((r) => r.groupKey)));
    const gialai = answer.rows.filter((r) => r.groupCode === "52");
    expect(gialai.length).toBeGreaterThan(0);
    for (const row of gialai) {
      expect(await rowValues(page, `#units-table tr[data-unit="${row.groupKey}"]`)).toEqual(counts(row.current));
      const restated = page.locator(`#units-table tr[data-unit="${row.groupKey}"] .restated`);
      await expect(restated).toHaveCount(basis === "current" && row.restatedUnitIds.length > 0 ? 1 : 0);
    }
    await expect(page.locator("#basis-note")).toContainText(basis === "current" ? "cơ cấu hiện tại" : "không tính lại");
    // The provinces on the tile-grid map: after the merger, the 34, each on a
    // square of its own, north above south.
    const tiles = await mapTiles(page);
    const provinceCodes = answer.rows.filter((r) => /^\d{2}$/.test(r.groupCode)).map((r) => r.groupCode);
    for (const tile of tiles) expect(provinceCodes).toContain(tile.code);
    if (basis === "current") expect(tiles.length).toBe(34);
    expect(new Set(tiles.map((t) => `${t.row},${t.column}`)).size).toBe(tiles.length);
    const rowOf = (code: string) => tiles.find((t) => t.code === code)?.row ?? Number.NaN;
    expect(rowOf("01")).toBeLessThan(rowOf("46"));
    expect(rowOf("46")).toBeLessThan(rowOf("79"));
    expect(await axeSeriousViolations(page)).toEqual([]);
    await screenshot(page, `units-${basis}`);
  }
});

test("drills from a province to its overdue list and a task's timeline, as the service lists them", async ({ page, server }) => {
  const reader = await server.reader();
  const api = server.reporting(reader.token);
  const question = { period: label("2024-H1"), asOf: day(2024, 6, 30), basis: ReportBasis.CURRENT_STRUCTURE };
  const byUnit = await api.statusBreakdown({ ...question, groupBy: GroupBy.UNIT });
  const province = byUnit.rows.filter((r) => /^\d{2}$/.test(r.groupCode)).sort((a, b) => Number((b.current?.openOverdue ?? 0n) - (a.current?.openOverdue ?? 0n)))[0];
  expect(Number(province.current?.openOverdue)).toBeGreaterThan(0);

  await signIn(page, server, reader.token, `?view=units&period=2024-H1&asof=2024-06-30`);
  await settled(page);
  await page.locator(`#units-table tr[data-unit="${province.groupKey}"] th a`).click();
  await expect(page).toHaveURL(/view=drill/);
  await settled(page);

  const expected: string[] = [];
  let pageToken = "";
  do {
    const list = await api.listGroupTasks({ ...question, groupBy: GroupBy.UNIT, groupKey: province.groupKey, statusClass: StatusClass.OPEN_OVERDUE, pageSize: 100, pageToken });
    expected.push(...list.tasks.map((t) => t.taskId));
    pageToken = list.nextPageToken;
  } while (pageToken);
  expect(expected.length).toBe(Number(province.current?.openOverdue));
  while (await page.locator("#load-more").isVisible()) {
    const before = await page.locator("#task-list tbody tr").count();
    await page.locator("#load-more").click();
    await expect(page.locator("#task-list tbody tr")).not.toHaveCount(before);
  }
  const shown = await page.locator("#task-list tbody tr").evaluateAll((rows) => rows.map((r) => (r as HTMLElement).dataset.task));
  expect(shown).toEqual(expected);
  expect(await axeSeriousViolations(page)).toEqual([]);

  const first = expected[0];
  await page.locator(`#task-list tr[data-task="${first}"] th a`).click();
  await expect(page).toHaveURL(new RegExp(`task=${first}`));
  await settled(page);
  const timeline = await api.getTaskTimeline({ taskId: first });
  const entries = await page.locator("#timeline li").evaluateAll((items) => items.map((li) => (li as HTMLElement).dataset.cursor));
  expect(entries).toEqual(timeline.entries.map((e) => String(e.cursor)));
  await expect(page.locator("#timeline-h")).toContainText(timeline.title);
  expect(await axeSeriousViolations(page)).toEqual([]);
  await screenshot(page, "drill-down");
});

test("CSV and XLSX exports hold exactly the units table the service answers", async ({ page, server }) => {
  const reader = await server.reader();
  const api = server.reporting(reader.token);
  await signIn(page, server, reader.token, "?view=units&period=2024-H1&asof=2024-06-30&sort=open_overdue:desc");
  await settled(page);
  const answer = await api.statusBreakdown({ period: label("2024-H1"), asOf: day(2024, 6, 30), groupBy: GroupBy.UNIT });
  const byCode = new Map(answer.rows.map((r) => [r.groupCode, r]));

  const csvDownload = page.waitForEvent("download");
  await page.locator("#export-csv").click();
  const csv = readFileSync((await (await csvDownload).path())!, "utf8").replace(/^\uFEFF/, "");
  const lines = csv.trimEnd().split("\r\n").map(parseCsvLine);
  expect(lines.length - 1).toBe(answer.rows.length);
  for (const fields of lines.slice(1)) {
    const row = byCode.get(fields[0])!;
    expect(row).toBeDefined();
    const c = counts(row.current);
    expect(fields.slice(2, 7)).toEqual([c.total, c.completed_on_time, c.completed_late, c.open_within_deadline, c.open_overdue]);
    expect(fields[8]).toBe(String(row.previous?.total ?? 0n));
  }
  // Sorted as shown: open overdue, descending.
  const overdue = lines.slice(1).map((f) => Number(f[6]));
  expect(overdue).toEqual([...overdue].sort((a, b) => b - a));

  const xlsxDownload = page.waitForEvent("download");
  await page.locator("#export-xlsx").click();
  const workbook = new ExcelJS.Workbook();
  await workbook.xlsx.readFile((await (await xlsxDownload).path())!);
  const sheet = workbook.worksheets[0];
  expect(sheet.rowCount - 1).toBe(answer.rows.length);
  for (let i = 2; i <= sheet.rowCount; i++) {
    const r = sheet.getRow(i);
    const row = byCode.get(String(r.getCell(1).value))!;
    const c = counts(row.current);
    expect([3, 4, 5, 6, 7].map((col) => String(r.getCell(col).value))).toEqual([c.total, c.completed_on_time, c.completed_late, c.open_within_deadline, c.open_overdue]);
  }
});

test("a permalink round-trips every setting, also in a fresh session", async ({ page, server, browser }) => {
  const reader = await server.reader();
  await signIn(page, server, reader.token, H1_2024);
  await settled(page);
  await page.getByRole("link", { name: "Đơn vị", exact: true }).click();
  await settled(page);
  await page.locator("#basis").selectOption("historical");
  await settled(page);
  await page.locator("#filter-category").selectOption("UNIT_CATEGORY_PROVINCIAL_OFFICE");
  await settled(page);
  await page.locator('button.sort[data-sort="overdueShare"]').click();
  await page.locator('button.sort[data-sort="overdueShare"]').click();
  await settled(page);
  await page.locator("#lang").selectOption("en");
  await settled(page);
  const permalink = page.url();
  for (const part of ["view=units", "basis=historical", "cat=UNIT_CATEGORY_PROVINCIAL_OFFICE", "sort=overdueShare%3Adesc", "lang=en", "period=2024-H1", "asof=2024-06-30"]) {
    expect(permalink).toContain(part);
  }
  const table = await page.locator("#units-table").innerText();

  const context = await browser.newContext();
  const fresh = await context.newPage();
  await fresh.goto(permalink);
  await expect(fresh.locator("#signin-link")).toBeVisible();
  await fresh.goto(`${permalink}#/signin?token=${reader.token}`);
  await settled(fresh);
  expect(fresh.url()).toBe(permalink);
  expect(await fresh.locator("#units-table").innerText()).toBe(table);
  await expect(fresh.locator("#basis")).toHaveValue("historical");
  await expect(fresh.locator("#filter-category")).toHaveValue("UNIT_CATEGORY_PROVINCIAL_OFFICE");
  // 2024 on its own structure: the map of the 63.
  const tiles = await mapTiles(fresh);
  expect(tiles.length).toBe(63);
  expect(new Set(tiles.map((t) => `${t.row},${t.column}`)).size).toBe(63);
  await context.close();
});

test("a unit-scoped reader is offered only its unit", async ({ page, server }) => {
  const reader = await server.reader("01");
  await signIn(page, server, reader.token, H1_2024);
  await settled(page);
  await expect(page.locator("#plans-h")).toBeVisible();
  await expect(page.locator("#review")).toHaveCount(0);
  const api = server.reporting(reader.token);
  const national = await api.statusBreakdown({ period: label("2024-H1"), asOf: day(2024, 6, 30), groupBy: GroupBy.NONE });
  expect(await rowValues(page, "#split")).toEqual(counts(national.national?.current));

  await page.getByRole("link", { name: "Đơn vị", exact: true }).click();
  await settled(page);
  const codes = await page.locator("#units-table tbody tr").evaluateAll((rows) => rows.map((r) => (r as HTMLElement).dataset.code));
  expect(codes).toEqual(["01"]);
  await page.getByRole("link", { name: "Chi tiết", exact: true }).click();
  await settled(page);
  await expect(page.locator("#drill-kind option")).toHaveCount(1);
  const offered = await page.locator("#drill-key option").evaluateAll((os) => os.map((o) => (o as HTMLOptionElement).value).filter((v) => v));
  expect(offered.length).toBe(1);
  expect(await axeSeriousViolations(page)).toEqual([]);
  await screenshot(page, "unit-reader");
});

test("a revoked credential lands on the sign-in page; signing out too", async ({ page, server }) => {
  const reader = await server.reader();
  await signIn(page, server, reader.token, H1_2024);
  await settled(page);
  await server.cli("admin", "token", "revoke", reader.credentialId);
  // The services cache credentials for a few seconds: ask again until refused.
  let day = 10;
  await expect(async () => {
    if (!(await page.locator("#signin-link").isVisible())) {
      await page.locator("#as-of").fill(`2024-06-${day++}`, { timeout: 2_000 });
      await page.locator("#as-of").dispatchEvent("change", {}, { timeout: 2_000 });
    }
    await expect(page.locator("#signin-link")).toBeVisible({ timeout: 2_000 });
  }).toPass({ timeout: 60_000 });
  expect(await page.evaluate(() => sessionStorage.getItem("tasknet.token"))).toBeNull();
  expect(await axeSeriousViolations(page)).toEqual([]);
  await screenshot(page, "sign-in");

  const other = await server.reader();
  await signIn(page, server, other.token, H1_2024);
  await page.locator("#sign-out").click();
  await expect(page.locator("#signin-link")).toBeVisible();
  expect(await page.evaluate(() => sessionStorage.getItem("tasknet.token"))).toBeNull();
});

test("trend: month by month against the year before, as the service counts them", async ({ page, server }) => {
  const reader = await server.reader();
  const api = server.reporting(reader.token);
  await signIn(page, server, reader.token, "?view=trend&period=2024-H1&asof=2024-06-30");
  await settled(page);
  const months = await page.locator("#trend-table tbody tr").evaluateAll((rows) => rows.map((r) => (r as HTMLElement).dataset.month));
  expect(months).toEqual(["2024-01-31", "2024-02-29", "2024-03-31", "2024-04-30", "2024-05-31", "2024-06-30"]);
  for (const month of months) {
    const [y, m, d] = month!.split("-").map(Number);
    const answer = await api.statusBreakdown({ period: { kind: { case: "range", value: { start: day(2024, 1, 1), end: day(y, m, d) } } }, asOf: day(y, m, d), groupBy: GroupBy.NONE });
    const c = answer.national!.current!;
    const p = answer.national!.previous!;
    expect(await rowValues(page, `#trend-table tr[data-month="${month}"]`)).toEqual({
      assigned: String(c.total),
      previous_assigned: String(p.total),
      completed: String(c.completedOnTime + c.completedLate),
      previous_completed: String(p.completedOnTime + p.completedLate),
      open_overdue: String(c.openOverdue),
      previous_open_overdue: String(p.openOverdue),
    });
  }
  expect(await axeSeriousViolations(page)).toEqual([]);
  await screenshot(page, "trend");
});

test("usable on a phone and printable on A4", async ({ page, server }) => {
  const reader = await server.reader();
  await page.setViewportSize({ width: 390, height: 844 });
  await signIn(page, server, reader.token, H1_2024);
  await settled(page);
  // Nothing wider than the screen but the tables' own scroll boxes.
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  expect(overflow).toBeLessThanOrEqual(0);
  await screenshot(page, "overview-phone");
  await page.emulateMedia({ media: "print" });
  await expect(page.locator("#controls")).toBeHidden();
  await expect(page.locator("header nav")).toBeHidden();
  await page.setViewportSize({ width: 1280, height: 800 });
  await screenshot(page, "overview-print");
  await page.emulateMedia({ media: "screen" });
  const pdf = await page.pdf({ format: "A4" });
  expect(pdf.subarray(0, 4).toString()).toBe("%PDF");
});

/** One RFC 4180 line (the exports quote fields with commas or quotes). */
function parseCsvLine(line: string): string[] {
  const fields: string[] = [];
  let i = 0;
  while (i <= line.length) {
    if (line[i] === '"') {
      let value = "";
      i++;
      while (i < line.length) {
        if (line[i] === '"' && line[i + 1] === '"') {
          value += '"';
          i += 2;
        } else if (line[i] === '"') {
          i++;
          break;
        } else value += line[i++];
      }
      fields.push(value);
      i++; // the comma
    } else {
      const end = line.indexOf(",", i);
      fields.push(line.slice(i, end === -1 ? line.length : end));
      i = end === -1 ? line.length + 1 : end + 1;
    }
  }
  return fields;
}

// The Scorecards page in Chromium against a real `tasknet up --demo --demo-size small`:
// the ranking of the 63 provincial offices for 2024-H1 and of the 34 after the
// 2025 merger for 2025-H2, each rank as UnitScorecards answers it, and the
// trajectory chart of a unit and of a plan as GetTrajectory answers it.

import { RankingGroup, ReportBasis } from "../src/gen/tasknet/v1/reporting_pb.js";
import { axeSeriousViolations, expect, screenshot, settled, signIn, test } from "./fixtures.js";

const label = (value: string) => ({ kind: { case: "label" as const, value } });
const day = (year: number, month: number, d: number) => ({ year, month, day: d });

for (const [period, asOf, basis, offices] of [
  ["2024-H1", day(2024, 6, 30), "historical", 63],
  ["2024-H1", day(2024, 6, 30), "current", 63],
  ["2025-H2", day(2025, 12, 31), "current", 34],
] as const) {
  test(`ranks the ${offices} provincial offices for ${period} (${basis} basis) as the service does`, async ({ page, server }) => {
    const reader = await server.reader();
    const iso = `${asOf.year}-${String(asOf.month).padStart(2, "0")}-${asOf.day}`;
    await signIn(page, server, reader.token, `?view=scores&period=${period}&asof=${iso}${basis === "historical" ? "&basis=historical" : ""}`);
    await settled(page);
    const answer = await server.reporting(reader.token).unitScorecards({
      period: label(period),
      asOf,
      basis: basis === "historical" ? ReportBasis.HISTORICAL_STRUCTURE : ReportBasis.CURRENT_STRUCTURE,
    });
    for (const [group, id] of [
      [RankingGroup.PROVINCIAL_OFFICES, "provincial"],
      [RankingGroup.CENTRAL_UNITS, "central"],
    ] as const) {
      const expected = answer.scorecards
        .filter((c) => c.group === group)
        .map((c) => ({ unit: c.unit!.id, rank: String(c.rank), score: c.current?.score === undefined ? "" : String(c.current.score) }));
      const shown = await page.locator(`#scores-${id} tbody tr`).evaluateAll((rows) =>
        rows.map((row) => ({
          unit: (row as HTMLElement).dataset.unit ?? "",
          rank: (row as HTMLElement).dataset.rank ?? "",
          score: (row.querySelector('[data-field="score"]') as HTMLElement | null)?.dataset.value ?? "",
        })),
      );
      expect(shown).toEqual(expected);
      if (group === RankingGroup.PROVINCIAL_OFFICES) {
        expect(shown).toHaveLength(offices);
        await expect(page.locator("#scores-provincial")).toHaveAttribute("data-count", String(offices));
      }
    }
    // Ranks run 1..n over the ranked units, in page order.
    const ranked = answer.scorecards.filter((c) => c.group === RankingGroup.PROVINCIAL_OFFICES && c.rank > 0);
    expect(ranked.map((c) => c.rank)).toEqual(ranked.map((_, i) => i + 1));
    if (period === "2024-H1") expect(ranked.length).toBe(63);
    expect(await axeSeriousViolations(page)).toEqual([]);
    await screenshot(page, `scores-${period}-${basis}`);
  });
}

test("shows a unit's and a plan's trajectory as the service answers it, in both languages", async ({ page, server }) => {
  const reader = await server.reader();
  await signIn(page, server, reader.token, "?view=scores&period=2024-H1&asof=2024-06-30");
  await settled(page);
  const api = server.reporting(reader.token);
  const first = page.locator("#scores-provincial tbody tr").first();
  const unitId = (await first.getAttribute("data-unit"))!;
  await first.locator("button.link").click();
  await expect(page).toHaveURL(new RegExp(`subj=unit%3A${unitId}`));
  await settled(page);
  const trajectory = await api.getTrajectory({
    subject: { case: "unitId", value: unitId },
    period: label("2024-H1"),
    asOf: day(2024, 6, 30),
    basis: ReportBasis.CURRENT_STRUCTURE,
  });
  await expect(page.locator("#trajectory-summary")).toHaveAttribute("data-total", trajectory.total.toString());
  const last = trajectory.points[trajectory.points.length - 1];
  await expect(page.locator("#trajectory-summary")).toHaveAttribute("data-gap", (last.actual! - last.expected).toString());
  const lastRow = page.locator(`#trajectory-table tr[data-date="2024-06-30"] td`);
  await expect(lastRow).toHaveText([String(last.assigned), String(last.expected), String(last.actual)].map((n) => new RegExp(`^${Number(n).toLocaleString("vi-VN")}$`)));
  await expect(page.locator("#trajectory-chart svg")).toBeVisible();

  // A plan, from the picker.
  const planOption = page.locator('#trajectory-subject option[value^="plan:"]').first();
  const planValue = (await planOption.getAttribute("value"))!;
  await page.locator("#trajectory-subject").selectOption(planValue);
  await settled(page);
  const plan = await api.getTrajectory({ subject: { case: "planId", value: planValue.slice(5) }, asOf: day(2024, 6, 30) });
  await expect(page.locator("#trajectory-summary")).toHaveAttribute("data-total", plan.total.toString());

  await page.locator("#lang").selectOption("en");
  await settled(page);
  await expect(page.locator("h1")).toHaveText("Scorecards");
  await expect(page.locator("#trajectory-h")).toHaveText("Delivery trajectory");
  await screenshot(page, "scores-trajectory");
});

//! Scorecards: the units ranked within provincial offices and within central
//! units (UnitScorecards) with their figures, score, change against a year
//! earlier and a sparkline of the month-end scores; and the delivery
//! trajectory (GetTrajectory) of a chosen unit or plan: expected against
//! actual cumulative completions, day by day. On either basis, so 2024-H1
//! shows the 63 offices and 2025-H2 the 34 after the merger (docs/scorecards.md).

import { lineChart } from "../chart.js";
import type { Ctx, Rendered } from "../context.js";
import { h, mount } from "../dom.js";
import type { ExportTable } from "../export.js";
import { formatCount, formatDate, isoDate, parseIsoDate } from "../format.js";
import { t } from "../i18n.js";
import { PlanKind } from "../gen/tasknet/v1/task_pb.js";
import { RankingGroup, type UnitScorecard } from "../gen/tasknet/v1/reporting_pb.js";
import { asOfOf, basisOf, periodOf } from "../query.js";
import { formatDecimal, formatRate, latestGap, sparklinePath } from "../scores.js";
import { parsePeriod } from "../state.js";
import { periodLine } from "./common.js";

const SPARK_WIDTH = 96;
const SPARK_HEIGHT = 22;

const GROUPS: [RankingGroup, "provincialOffices" | "centralUnits", string][] = [
  [RankingGroup.PROVINCIAL_OFFICES, "provincialOffices", "provincial"],
  [RankingGroup.CENTRAL_UNITS, "centralUnits", "central"],
];

function sparkline(card: UnitScorecard, lang: Ctx["state"]["lang"]): SVGSVGElement {
  const values = card.trend.map((p) => (p.score === undefined ? null : p.score));
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("width", String(SPARK_WIDTH));
  svg.setAttribute("height", String(SPARK_HEIGHT + 4));
  svg.setAttribute("viewBox", `-2 -2 ${SPARK_WIDTH + 4} ${SPARK_HEIGHT + 4}`);
  svg.setAttribute("role", "img");
  // The figures for screen readers: each month-end and its score.
  svg.setAttribute(
    "aria-label",
    `${t(lang, "scoreTrend")}: ` + card.trend.map((p) => `${formatDate(p.asOf, lang)} ${formatDecimal(p.score, lang)}`).join("; "),
  );
  const path = document.createElementNS("http://www.w3.org/2000/svg", "path");
  path.setAttribute("d", sparklinePath(values, SPARK_WIDTH, SPARK_HEIGHT));
  path.setAttribute("fill", "none");
  path.setAttribute("stroke", "#2166ac");
  path.setAttribute("stroke-width", "1.5");
  svg.appendChild(path);
  return svg;
}

function cardName(card: UnitScorecard, lang: Ctx["state"]["lang"]): string {
  const unit = card.unit;
  if (!unit) return "";
  return lang === "vi" ? unit.nameVi || unit.nameEn || unit.id : unit.nameEn || unit.nameVi || unit.id;
}

export async function scores(ctx: Ctx, main: HTMLElement): Promise<Rendered> {
  const { api, state } = ctx;
  const lang = state.lang;
  const answer = await api.reporting.unitScorecards({
    period: periodOf(state.period),
    asOf: asOfOf(state),
    basis: basisOf(state.basis),
  });
  const tables: ExportTable[] = [];
  const sections: HTMLElement[] = [];
  for (const [group, key, id] of GROUPS) {
    const cards = answer.scorecards.filter((c) => c.group === group);
    if (cards.length === 0) continue;
    const headers = [
      t(lang, "rank"),
      t(lang, "code"),
      t(lang, "name"),
      t(lang, "tasksCol"),
      t(lang, "onTimeRate"),
      t(lang, "lateRate"),
      t(lang, "overdueRate"),
      t(lang, "meanDaysLate"),
      t(lang, "score"),
      t(lang, "scoreLastYear"),
      t(lang, "scoreChange"),
    ];
    sections.push(
      h(
        "section",
        { class: "card wide", "aria-labelledby": `scores-${id}-h` },
        h("h2", { id: `scores-${id}-h` }, `${t(lang, key)} (${cards.length})`),
        h(
          "div",
          { class: "scroll" },
          h(
            "table",
            { class: "figures scorecards", id: `scores-${id}`, "data-count": cards.length },
            h("caption", {}, t(lang, key)),
            h(
              "thead",
              {},
              h(
                "tr",
                {},
                headers.map((label, i) => h("th", { scope: "col", class: i >= 3 ? "num" : null }, label)),
                h("th", { scope: "col" }, t(lang, "scoreTrend")),
              ),
            ),
            h(
              "tbody",
              {},
              cards.map((card) => {
                const current = card.current;
                const unitId = card.unit?.id ?? "";
                const chosen = state.subject === `unit:${unitId}`;
                return h(
                  "tr",
                  { "data-unit": unitId, "data-code": card.unit?.code ?? "", "data-rank": card.rank, class: chosen ? "chosen" : null },
                  h("td", { class: "num", "data-field": "rank" }, card.rank === 0 ? t(lang, "unranked") : String(card.rank)),
                  h("td", {}, card.unit?.code ?? ""),
                  h(
                    "th",
                    { scope: "row" },
                    h(
                      "button",
                      {
                        type: "button",
                        class: "link",
                        title: t(lang, "showTrajectory"),
                        "aria-pressed": chosen ? "true" : "false",
                        onclick: (() => ctx.navigate({ subject: `unit:${unitId}` })) as EventListener,
                      },
                      cardName(card, lang),
                    ),
                  ),
                  h("td", { class: "num", "data-field": "tasks" }, formatCount(current?.counts?.total ?? 0n, lang)),
                  h("td", { class: "num" }, formatRate(current?.onTimeRate ?? 0, lang)),
                  h("td", { class: "num" }, formatRate(current?.lateRate ?? 0, lang)),
                  h("td", { class: "num" }, formatRate(current?.overdueRate ?? 0, lang)),
                  h("td", { class: "num" }, formatDecimal(current?.meanDaysLate ?? 0, lang)),
                  h("td", { class: "num", "data-field": "score", "data-value": current?.score ?? "" }, formatDecimal(current?.score, lang)),
                  h("td", { class: "num" }, formatDecimal(card.previous?.score, lang)),
                  h("td", { class: "num" }, formatDecimal(card.scoreChange, lang, true)),
                  h("td", { class: "spark" }, sparkline(card, lang)),
                );
              }),
            ),
          ),
        ),
      ),
    );
    tables.push({
      name: t(lang, key),
      columns: [
        { label: t(lang, "rank"), kind: "count" },
        { label: t(lang, "code"), kind: "text" },
        { label: t(lang, "name"), kind: "text" },
        { label: t(lang, "tasksCol"), kind: "count" },
        { label: `${t(lang, "onTimeRate")} (%)`, kind: "percent" },
        { label: `${t(lang, "lateRate")} (%)`, kind: "percent" },
        { label: `${t(lang, "overdueRate")} (%)`, kind: "percent" },
        { label: t(lang, "meanDaysLate"), kind: "percent" },
        { label: t(lang, "score"), kind: "percent" },
        { label: t(lang, "scoreLastYear"), kind: "percent" },
        { label: t(lang, "scoreChange"), kind: "percent" },
      ],
      rows: cards.map((c) => [
        c.rank,
        c.unit?.code ?? "",
        cardName(c, lang),
        Number(c.current?.counts?.total ?? 0n),
        round2((c.current?.onTimeRate ?? 0) * 100),
        round2((c.current?.lateRate ?? 0) * 100),
        round2((c.current?.overdueRate ?? 0) * 100),
        round2(c.current?.meanDaysLate ?? 0),
        c.current?.score === undefined ? "" : round2(c.current.score),
        c.previous?.score === undefined ? "" : round2(c.previous.score),
        c.scoreChange === undefined ? "" : round2(c.scoreChange),
      ]),
    });
  }
  const w = answer.weights;
  const weights = w
    ? `${t(lang, "weights")}: ${[w.completedOnTime, w.completedLate, w.openWithinDeadline, w.openOverdue, w.perMeanDayLate].map((x) => formatDecimal(x, lang)).join(" · ")}`
    : "";
  const trajectoryBox = h("section", { class: "card wide", id: "trajectory", "aria-labelledby": "trajectory-h" });
  mount(
    main,
    h("h1", {}, t(lang, "scores")),
    h("p", { class: "period-line" }, periodLine(ctx)),
    h("p", { class: "note" }, t(lang, "scoresNote"), " ", weights),
    h("div", { class: "grid" }, sections, trajectoryBox),
  );
  const cursor = await trajectorySection(ctx, trajectoryBox, answer.scorecards, tables);
  return { tables, cursor: cursor > answer.appliedCursor ? cursor : answer.appliedCursor };
}

function round2(x: number): number {
  return Math.round(x * 100) / 100;
}

/** The subject picker and, when one is chosen, its trajectory chart and weekly table. */
async function trajectorySection(ctx: Ctx, box: HTMLElement, cards: UnitScorecard[], tables: ExportTable[]): Promise<bigint> {
  const { api, state } = ctx;
  const lang = state.lang;
  const parsed = parsePeriod(state.period);
  // Plans of the period, for nationwide readers (a plan's trajectory is nationwide).
  const plans = ctx.scope.nationwide && parsed
    ? (
        await Promise.all(
          [PlanKind.KEY_TASKS, PlanKind.LEGAL_DOCUMENTS, PlanKind.ANNUAL_WORK_PLAN, PlanKind.OTHER].map((kind) =>
            api.reporting.planProgress({ selector: { case: "plansOfKind", value: { kind, period: periodOf(state.period) } }, asOf: asOfOf(state) }),
          ),
        )
      ).flatMap((a) => a.plans.map((row) => row.plan).filter((p) => p !== undefined))
    : [];
  const options: [string, string][] = [["", t(lang, "noSubject")]];
  for (const plan of plans) options.push([`plan:${plan.id}`, `${t(lang, "plan")}: ${plan.name}`]);
  for (const card of cards) if (card.unit) options.push([`unit:${card.unit.id}`, `${card.unit.code} ${cardName(card, lang)}`]);
  const picker = h(
    "select",
    { id: "trajectory-subject", onchange: ((e: Event) => ctx.navigate({ subject: (e.target as HTMLSelectElement).value })) as EventListener },
    options.map(([value, text]) => h("option", { value, selected: value === state.subject }, text)),
  );
  const head = [
    h("h2", { id: "trajectory-h" }, t(lang, "trajectory")),
    h("p", { class: "note" }, t(lang, "trajectoryNote")),
    h("div", { class: "field" }, h("label", { for: "trajectory-subject" }, t(lang, "trajectoryOf")), " ", picker),
  ];
  const [kind, ...rest] = state.subject.split(":");
  const id = rest.join(":");
  if (!id || !parsed) {
    mount(box, head);
    return 0n;
  }
  const answer = await api.reporting.getTrajectory({
    subject: kind === "plan" ? { case: "planId", value: id } : { case: "unitId", value: id },
    period: kind === "plan" ? undefined : periodOf(state.period),
    asOf: asOfOf(state),
    basis: basisOf(state.basis),
  });
  const points = answer.points;
  const gap = latestGap(points);
  const chartBox = h("div", { class: "chart tall", id: "trajectory-chart" });
  // A row a week (and the last day) keeps the table readable; the export has every day.
  const weekly = points.filter((_, i) => i % 7 === 6 || i === points.length - 1);
  mount(
    box,
    head,
    h(
      "p",
      { id: "trajectory-summary", "data-total": answer.total.toString(), "data-gap": gap === null ? "" : gap.toString() },
      `${t(lang, "tasksCol")}: ${formatCount(answer.total, lang)}; ${t(lang, "gap")}: ${gap === null ? "–" : formatCount(gap, lang)}`,
    ),
    chartBox,
    h(
      "div",
      { class: "scroll" },
      h(
        "table",
        { class: "figures", id: "trajectory-table" },
        h("caption", {}, t(lang, "trajectory")),
        h(
          "thead",
          {},
          h(
            "tr",
            {},
            h("th", { scope: "col" }, t(lang, "asOf")),
            h("th", { scope: "col", class: "num" }, t(lang, "assignedCol")),
            h("th", { scope: "col", class: "num" }, t(lang, "expected")),
            h("th", { scope: "col", class: "num" }, t(lang, "actual")),
          ),
        ),
        h(
          "tbody",
          {},
          weekly.map((p) =>
            h(
              "tr",
              { "data-date": p.date ? isoDate(p.date) : "" },
              h("th", { scope: "row" }, formatDate(p.date, lang)),
              h("td", { class: "num" }, formatCount(p.assigned, lang)),
              h("td", { class: "num" }, formatCount(p.expected, lang)),
              h("td", { class: "num" }, p.actual === undefined ? "–" : formatCount(p.actual, lang)),
            ),
          ),
        ),
      ),
    ),
  );
  const asOf = parseIsoDate(state.asOf);
  void lineChart(
    chartBox,
    points.map((p) => formatDate(p.date, lang)),
    [
      { name: t(lang, "assignedCol"), data: points.map((p) => Number(p.assigned)), colour: "#2166ac", dashed: true },
      { name: t(lang, "expected"), data: points.map((p) => Number(p.expected)), colour: "#b35806" },
      {
        name: t(lang, "actual"),
        data: points.map((p) => (p.actual === undefined || (asOf && p.date && isoDate(p.date) > isoDate(asOf)) ? null : Number(p.actual))),
        colour: "#1b7837",
      },
    ],
    (x) => formatCount(x, lang),
  );
  tables.push({
    name: t(lang, "trajectory"),
    columns: [
      { label: t(lang, "asOf"), kind: "text" },
      { label: t(lang, "assignedCol"), kind: "count" },
      { label: t(lang, "expected"), kind: "count" },
      { label: t(lang, "actual"), kind: "count" },
    ],
    rows: points.map((p) => [p.date ? isoDate(p.date) : "", Number(p.assigned), Number(p.expected), p.actual === undefined ? "" : Number(p.actual)]),
  });
  return answer.appliedCursor;
}

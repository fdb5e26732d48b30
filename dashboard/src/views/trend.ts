//! Trend: month by month through the period — tasks assigned, completed and
//! open overdue, from the period's start to each month's end and judged as of
//! that day — against the same months a year earlier. One StatusBreakdown per
//! month (docs/dashboard-contract.md: the answer carries both years).

import { lineChart } from "../chart.js";
import type { Ctx, Rendered } from "../context.js";
import { h, mount } from "../dom.js";
import { formatCount, formatDate, isoDate } from "../format.js";
import { t } from "../i18n.js";
import { GroupBy } from "../gen/tasknet/v1/reporting_pb.js";
import { basisOf, countsOf } from "../query.js";
import { monthsOf, parsePeriod } from "../state.js";
import { countCell, periodLine } from "./common.js";

export async function trend(ctx: Ctx, main: HTMLElement): Promise<Rendered> {
  const { api, state } = ctx;
  const lang = state.lang;
  const parsed = parsePeriod(state.period);
  if (!parsed) throw new Error(`period ${state.period}`);
  const months = monthsOf(parsed.range).filter((m) => isoDate(m.start) <= state.asOf);
  // The month holding the as-of date is judged as of that date.
  const ends = months.map((m) => (isoDate(m.end) > state.asOf ? { ...m, end: parseAsOf(state.asOf) } : m));
  const answers = await Promise.all(
    ends.map((m) =>
      api.reporting.statusBreakdown({
        period: { kind: { case: "range", value: { start: parsed.range.start, end: m.end } } },
        asOf: m.end,
        groupBy: GroupBy.NONE,
        basis: basisOf(state.basis),
      }),
    ),
  );
  const rows = answers.map((a, i) => {
    const c = countsOf(a.national?.current);
    const p = countsOf(a.national?.previous);
    return {
      label: `${ends[i].end.month}/${ends[i].end.year}`,
      end: ends[i].end,
      assigned: c.total,
      completed: c.completed_on_time + c.completed_late,
      overdue: c.open_overdue,
      pAssigned: p.total,
      pCompleted: p.completed_on_time + p.completed_late,
      pOverdue: p.open_overdue,
    };
  });
  const ly = t(lang, "lastYear");
  const chartBox = h("div", { class: "chart tall" });
  mount(
    main,
    h("h1", {}, t(lang, "trend")),
    h("p", { class: "period-line" }, periodLine(ctx)),
    h("p", { class: "note" }, t(lang, "trendNote")),
    h("section", { class: "card" }, chartBox),
    h(
      "div",
      { class: "scroll" },
      h(
        "table",
        { id: "trend-table", class: "figures" },
        h(
          "thead",
          {},
          h(
            "tr",
            {},
            h("th", { scope: "col" }, t(lang, "asOf")),
            h("th", { scope: "col", class: "num" }, t(lang, "assignedCol")),
            h("th", { scope: "col", class: "num" }, `${t(lang, "assignedCol")} (${ly})`),
            h("th", { scope: "col", class: "num" }, t(lang, "completedCol")),
            h("th", { scope: "col", class: "num" }, `${t(lang, "completedCol")} (${ly})`),
            h("th", { scope: "col", class: "num" }, t(lang, "overdueCol")),
            h("th", { scope: "col", class: "num" }, `${t(lang, "overdueCol")} (${ly})`),
          ),
        ),
        h(
          "tbody",
          {},
          rows.map((r) =>
            h(
              "tr",
              { "data-month": isoDate(r.end) },
              h("th", { scope: "row" }, formatDate(r.end, lang)),
              countCell(r.assigned, lang, "assigned"),
              countCell(r.pAssigned, lang, "previous_assigned"),
              countCell(r.completed, lang, "completed"),
              countCell(r.pCompleted, lang, "previous_completed"),
              countCell(r.overdue, lang, "open_overdue"),
              countCell(r.pOverdue, lang, "previous_open_overdue"),
            ),
          ),
        ),
      ),
    ),
  );
  void lineChart(
    chartBox,
    rows.map((r) => r.label),
    [
      { name: t(lang, "assignedCol"), data: rows.map((r) => Number(r.assigned)), colour: "#2166ac" },
      { name: `${t(lang, "assignedCol")} (${ly})`, data: rows.map((r) => Number(r.pAssigned)), colour: "#2166ac", dashed: true },
      { name: t(lang, "completedCol"), data: rows.map((r) => Number(r.completed)), colour: "#1b7837" },
      { name: `${t(lang, "completedCol")} (${ly})`, data: rows.map((r) => Number(r.pCompleted)), colour: "#1b7837", dashed: true },
      { name: t(lang, "overdueCol"), data: rows.map((r) => Number(r.overdue)), colour: "#b2182b" },
      { name: `${t(lang, "overdueCol")} (${ly})`, data: rows.map((r) => Number(r.pOverdue)), colour: "#b2182b", dashed: true },
    ],
    (x) => formatCount(x, lang),
  );
  return {
    tables: [
      {
        name: t(lang, "trend"),
        columns: [
          { label: t(lang, "asOf"), kind: "text" },
          { label: t(lang, "assignedCol"), kind: "count" },
          { label: `${t(lang, "assignedCol")} (${ly})`, kind: "count" },
          { label: t(lang, "completedCol"), kind: "count" },
          { label: `${t(lang, "completedCol")} (${ly})`, kind: "count" },
          { label: t(lang, "overdueCol"), kind: "count" },
          { label: `${t(lang, "overdueCol")} (${ly})`, kind: "count" },
        ],
        rows: rows.map((r) => [isoDate(r.end), Number(r.assigned), Number(r.pAssigned), Number(r.completed), Number(r.pCompleted), Number(r.overdue), Number(r.pOverdue)]),
      },
    ],
    cursor: answers.reduce((max, a) => (a.appliedCursor > max ? a.appliedCursor : max), 0n),
  };
}

function parseAsOf(text: string) {
  const [y, m, d] = text.split("-").map(Number);
  return { year: y, month: m, day: d };
}

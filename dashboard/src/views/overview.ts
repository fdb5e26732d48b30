//! Overview: the nationwide four-way split, the year before by unit category,
//! plan progress and the review paragraph exactly as ReportSummary renders it.

import { isPermissionDenied } from "../api.js";
import { splitChart } from "../chart.js";
import type { Ctx, Rendered } from "../context.js";
import { h, mount } from "../dom.js";
import type { ExportTable } from "../export.js";
import { formatChange, formatCount, formatPercent, percentValue } from "../format.js";
import { type Key, t } from "../i18n.js";
import { Language } from "../gen/tasknet/v1/common_pb.js";
import { GroupBy, SummaryFormat } from "../gen/tasknet/v1/reporting_pb.js";
import { PlanKind } from "../gen/tasknet/v1/task_pb.js";
import { asOfOf, basisOf, CLASS_NAMES, countsOf, periodOf } from "../query.js";
import { countCell, drillLink, periodLine, shareCell } from "./common.js";

const PLAN_KINDS: [PlanKind, Key][] = [
  [PlanKind.KEY_TASKS, "key_tasks"],
  [PlanKind.LEGAL_DOCUMENTS, "legal_documents"],
  [PlanKind.ANNUAL_WORK_PLAN, "annual_work_plan"],
];

export async function overview(ctx: Ctx, main: HTMLElement): Promise<Rendered> {
  const { api, state, scope } = ctx;
  const lang = state.lang;
  const question = { period: periodOf(state.period), asOf: asOfOf(state), basis: basisOf(state.basis) };
  const nationalP = api.reporting.statusBreakdown({ ...question, groupBy: GroupBy.NONE });
  const byCategoryP = api.reporting.statusBreakdown({ ...question, groupBy: GroupBy.UNIT_CATEGORY });
  const plansP = scope.nationwide
    ? Promise.all(
        PLAN_KINDS.map(([kind]) =>
          api.reporting.planProgress({
            selector: { case: "plansOfKind", value: { kind, period: question.period } },
            asOf: question.asOf,
          }),
        ),
      )
    : Promise.resolve(null);
  const summaryP = scope.nationwide
    ? api.reporting.reportSummary({
        ...question,
        language: lang === "vi" ? Language.VI : Language.EN,
        format: SummaryFormat.TEXT,
      })
    : Promise.resolve(null);

  // The split first: it is what the reader came for; the rest fills in after.
  const national = await nationalP;
  const n = countsOf(national.national?.current);
  const splitTable = h(
    "table",
    { id: "split", class: "figures" },
    h("caption", {}, `${t(lang, "splitHeading")} — ${scope.nationwide ? t(lang, "nationwide") : t(lang, "scoped")}`),
    h(
      "thead",
      {},
      h("tr", {}, h("th", { scope: "col" }, t(lang, "class")), h("th", { scope: "col", class: "num" }, t(lang, "count")), h("th", { scope: "col", class: "num" }, t(lang, "share"))),
    ),
    h(
      "tbody",
      {},
      CLASS_NAMES.map((cls) =>
        h(
          "tr",
          {},
          h("th", { scope: "row" }, drillLink(ctx, "national", "", cls, t(lang, cls))),
          countCell(n[cls], lang, cls),
          shareCell(n[cls], n.total, lang, cls),
        ),
      ),
    ),
    h("tfoot", {}, h("tr", {}, h("th", { scope: "row" }, t(lang, "total")), countCell(n.total, lang, "total"), h("td", { class: "num" }, n.total > 0n ? formatPercent(1n, 1n, lang) : "–"))),
  );
  const chartBox = h("div", { class: "chart", id: "split-chart" });
  const categoryBox = h("section", { "aria-labelledby": "cat-h", class: "card wide" });
  const plansBox = h("section", { "aria-labelledby": "plans-h", class: "card" });
  const reviewBox = h("section", { "aria-labelledby": "review-h", class: "card wide" });
  mount(
    main,
    h("h1", {}, t(lang, "overview")),
    h("p", { class: "period-line" }, periodLine(ctx)),
    h("div", { class: "grid" }, h("section", { "aria-labelledby": "split-h", class: "card" }, h("h2", { id: "split-h" }, t(lang, "splitHeading")), splitTable), h("section", { class: "card chart-card" }, chartBox), categoryBox, plansBox, reviewBox),
  );
  // The benchmark's "first figures on screen" (bench/): the frame that paints the split.
  if (performance.getEntriesByName("tasknet:first-figures").length === 0) {
    requestAnimationFrame(() => {
      if (performance.getEntriesByName("tasknet:first-figures").length === 0) performance.mark("tasknet:first-figures");
    });
  }
  void splitChart(chartBox, CLASS_NAMES.map((cls) => ({ name: t(lang, cls), value: Number(n[cls]) })), (x) => formatCount(x, lang));

  const tables: ExportTable[] = [
    {
      name: t(lang, "splitHeading"),
      columns: [
        { label: t(lang, "class"), kind: "text" },
        { label: t(lang, "count"), kind: "count" },
        { label: t(lang, "share"), kind: "percent" },
      ],
      rows: [
        ...CLASS_NAMES.map((cls) => [t(lang, cls), Number(n[cls]), percentValue(n[cls], n.total)]),
        [t(lang, "total"), Number(n.total), n.total > 0n ? 100 : null],
      ],
    },
  ];

  // By unit category, with the year before.
  const byCategory = await byCategoryP;
  const catRows = byCategory.rows;
  mount(
    categoryBox,
    h("h2", { id: "cat-h" }, t(lang, "byCategory")),
    h(
      "div",
      { class: "scroll" },
      h(
        "table",
        { id: "by-category", class: "figures" },
        h(
          "thead",
          {},
          h(
            "tr",
            {},
            h("th", { scope: "col" }, t(lang, "category")),
            h("th", { scope: "col", class: "num" }, t(lang, "total")),
            CLASS_NAMES.map((cls) => h("th", { scope: "col", class: "num" }, t(lang, cls))),
            h("th", { scope: "col", class: "num" }, t(lang, "previous")),
            h("th", { scope: "col", class: "num" }, t(lang, "change")),
          ),
        ),
        h(
          "tbody",
          {},
          [...catRows, ...(byCategory.national ? [byCategory.national] : [])].map((row) => {
            const c = countsOf(row.current);
            const p = countsOf(row.previous);
            const isNational = row.groupKey === "";
            const name = isNational ? t(lang, "total") : lang === "vi" ? row.groupNameVi : row.groupNameEn;
            return h(
              "tr",
              { "data-group": row.groupKey || "national", class: isNational ? "total-row" : null },
              h("th", { scope: "row" }, isNational ? name : drillLink(ctx, "category", row.groupKey, "all", name)),
              countCell(c.total, lang, "total"),
              CLASS_NAMES.map((cls) => countCell(c[cls], lang, cls)),
              countCell(p.total, lang, "previous_total"),
              h("td", { class: "num", "data-field": "change" }, formatChange(c.total, p.total, lang)),
            );
          }),
        ),
      ),
    ),
  );
  tables.push({
    name: t(lang, "byCategory"),
    columns: [
      { label: t(lang, "category"), kind: "text" },
      { label: t(lang, "total"), kind: "count" },
      ...CLASS_NAMES.map((cls) => ({ label: t(lang, cls), kind: "count" as const })),
      { label: t(lang, "previous"), kind: "count" },
      { label: `${t(lang, "change")} (%)`, kind: "percent" },
    ],
    rows: [...catRows, ...(byCategory.national ? [byCategory.national] : [])].map((row) => {
      const c = countsOf(row.current);
      const p = countsOf(row.previous);
      return [
        row.groupKey === "" ? t(lang, "total") : lang === "vi" ? row.groupNameVi : row.groupNameEn,
        Number(c.total),
        ...CLASS_NAMES.map((cls) => Number(c[cls])),
        Number(p.total),
        percentValue(c.total - p.total, p.total),
      ];
    }),
  });

  // Plans.
  try {
    const plans = await plansP;
    if (plans === null) {
      mount(plansBox, h("h2", { id: "plans-h" }, t(lang, "plans")), h("p", {}, t(lang, "notForScope")));
    } else {
      const sums = plans.map((answer, i) => {
        let done = 0n;
        let total = 0n;
        for (const row of answer.plans) {
          done += row.done;
          total += row.total;
        }
        return { key: PLAN_KINDS[i][1], done, total, present: answer.plans.length > 0 };
      });
      mount(
        plansBox,
        h("h2", { id: "plans-h" }, t(lang, "plans")),
        h(
          "ul",
          { class: "plans", id: "plans" },
          sums
            .filter((s) => s.present)
            .map((s) =>
              h(
                "li",
                { "data-plan": s.key, "data-done": s.done.toString(), "data-total": s.total.toString() },
                h("span", { class: "plan-name" }, t(lang, s.key)),
                // Written as the review writes it: 479/1125, no thousands separator.
                h("span", { class: "plan-figure" }, `${s.done}/${s.total}`),
                h(
                  "span",
                  { class: "bar", role: "img", "aria-label": formatPercent(s.done, s.total, lang, 1) },
                  h("span", { class: "bar-fill", style: `width:${s.total > 0n ? Number((s.done * 1000n) / s.total) / 10 : 0}%` }),
                ),
                h("span", { class: "plan-share" }, formatPercent(s.done, s.total, lang, 1)),
              ),
            ),
        ),
      );
      tables.push({
        name: t(lang, "plans"),
        columns: [
          { label: t(lang, "plan"), kind: "text" },
          { label: t(lang, "done"), kind: "count" },
          { label: t(lang, "total"), kind: "count" },
          { label: t(lang, "share"), kind: "percent" },
        ],
        rows: sums.filter((s) => s.present).map((s) => [t(lang, s.key), Number(s.done), Number(s.total), percentValue(s.done, s.total, 1)]),
      });
    }
  } catch (err) {
    if (!isPermissionDenied(err)) throw err;
    mount(plansBox, h("h2", { id: "plans-h" }, t(lang, "plans")), h("p", {}, t(lang, "notForScope")));
  }

  // The review paragraph, as the service renders it.
  try {
    const summary = await summaryP;
    if (summary === null) {
      mount(reviewBox, h("h2", { id: "review-h" }, t(lang, "review")), h("p", {}, t(lang, "notForScope")));
    } else {
      const body = summary.body;
      const status = h("span", { class: "copy-status", role: "status" });
      mount(
        reviewBox,
        h("h2", { id: "review-h" }, t(lang, "review")),
        h(
          "div",
          { id: "review", lang },
          body.split(/\n+/).filter((p) => p.trim() !== "").map((p) => h("p", {}, p)),
        ),
        h(
          "button",
          {
            type: "button",
            class: "no-print",
            id: "copy-review",
            onclick: (() => {
              void navigator.clipboard?.writeText(body).then(
                () => {
                  status.textContent = t(lang, "copied");
                },
                () => {
                  status.textContent = "";
                },
              );
            }) as EventListener,
          },
          t(lang, "copy"),
        ),
        " ",
        status,
      );
      tables.push({ name: t(lang, "review"), columns: [{ label: t(lang, "review"), kind: "text" }], rows: body.split(/\n+/).filter((p) => p.trim() !== "").map((p) => [p]) });
    }
  } catch (err) {
    if (!isPermissionDenied(err)) throw err;
    mount(reviewBox, h("h2", { id: "review-h" }, t(lang, "review")), h("p", {}, t(lang, "notForScope")));
  }

  return { tables, cursor: national.appliedCursor };
}

//! Drill-down: from the nation, a unit category or a unit to its tasks in one
//! class (or all) as of the date, page by page, and on to one task's timeline.

import { timestampDate } from "@bufbuild/protobuf/wkt";
import type { Ctx, Rendered } from "../context.js";
import { h, mount } from "../dom.js";
import type { ExportTable } from "../export.js";
import { formatClockVietnam, formatCount, formatDate, isoDate } from "../format.js";
import { CATEGORY_NAMES, t } from "../i18n.js";
import { type GroupTask, GroupBy, type UnitLabel } from "../gen/tasknet/v1/reporting_pb.js";
import { TaskEventKind } from "../gen/tasknet/v1/task_pb.js";
import { asOfOf, basisOf, CLASS_NAMES, classNameOf, countsOf, periodOf, statusClassOf } from "../query.js";
import type { GroupKind, StatusClass } from "../state.js";
import { periodLine } from "./common.js";

const PAGE_SIZE = 100;

const EVENT_NAMES: Record<number, [string, string]> = {
  [TaskEventKind.CREATED]: ["Giao việc", "Created"],
  [TaskEventKind.NOTE]: ["Ghi chú tiến độ", "Progress note"],
  [TaskEventKind.DEADLINE_CHANGED]: ["Đổi hạn", "Deadline changed"],
  [TaskEventKind.COMPLETED]: ["Hoàn thành", "Completed"],
  [TaskEventKind.REOPENED]: ["Mở lại", "Reopened"],
  [TaskEventKind.REASSIGNED]: ["Chuyển đơn vị", "Reassigned"],
};

function groupByOf(kind: GroupKind): GroupBy {
  switch (kind) {
    case "category":
      return GroupBy.UNIT_CATEGORY;
    case "region":
      return GroupBy.REGION;
    case "unit":
      return GroupBy.UNIT;
    default:
      return GroupBy.NONE;
  }
}

export async function drill(ctx: Ctx, main: HTMLElement): Promise<Rendered> {
  const { api, state, scope } = ctx;
  const lang = state.lang;
  const name = (u: UnitLabel | undefined, id: string) => (u ? `${u.code} ${lang === "vi" ? u.nameVi : u.nameEn}` : id);
  const question = {
    period: periodOf(state.period),
    asOf: asOfOf(state),
    basis: basisOf(state.basis),
  };

  // The units on offer (a scoped reader: only its own), with each one's expected count.
  const byUnit = await api.reporting.statusBreakdown({ ...question, groupBy: GroupBy.UNIT });
  const groupKind: GroupKind = scope.nationwide ? state.groupKind : "unit";
  const groupKey = groupKind === "unit" && !scope.nationwide && !byUnit.rows.some((r) => r.groupKey === state.groupKey)
    ? (byUnit.rows[0]?.groupKey ?? "")
    : state.groupKey;

  const kindSelect = h(
    "select",
    { id: "drill-kind", onchange: ((e: Event) => ctx.navigate({ groupKind: (e.target as HTMLSelectElement).value as GroupKind, groupKey: "", task: "" })) as EventListener },
    (scope.nationwide ? (["national", "category", "unit"] as GroupKind[]) : (["unit"] as GroupKind[])).map((k) =>
      h("option", { value: k, selected: k === groupKind }, k === "national" ? t(lang, "nationwide") : k === "category" ? t(lang, "category") : t(lang, "unit")),
    ),
  );
  const keyOptions: [string, string][] =
    groupKind === "category"
      ? Object.entries(CATEGORY_NAMES).map(([k, n]) => [k, n[lang === "vi" ? 0 : 1]])
      : groupKind === "unit"
        ? byUnit.rows.map((r) => [r.groupKey, `${r.groupCode} ${lang === "vi" ? r.groupNameVi : r.groupNameEn}`])
        : [];
  const keySelect =
    keyOptions.length > 0
      ? h(
          "select",
          { id: "drill-key", onchange: ((e: Event) => ctx.navigate({ groupKey: (e.target as HTMLSelectElement).value, task: "" })) as EventListener },
          h("option", { value: "" }, t(lang, "choose")),
          keyOptions.map(([k, text]) => h("option", { value: k, selected: k === groupKey }, text)),
        )
      : null;
  const classSelect = h(
    "select",
    { id: "drill-class", onchange: ((e: Event) => ctx.navigate({ cls: (e.target as HTMLSelectElement).value as StatusClass, task: "" })) as EventListener },
    [...CLASS_NAMES, "all" as const].map((c) => h("option", { value: c, selected: c === state.cls }, t(lang, c))),
  );
  const chooser = h(
    "div",
    { class: "filters no-print" },
    h("label", { for: "drill-kind" }, t(lang, "group")),
    kindSelect,
    keySelect ? [h("label", { for: "drill-key" }, t(lang, groupKind === "category" ? "category" : "unit")), keySelect] : null,
    h("label", { for: "drill-class" }, t(lang, "class")),
    classSelect,
  );

  const listBox = h("section", { "aria-labelledby": "list-h", class: "card" });
  const timelineBox = h("section", { "aria-labelledby": "timeline-h", class: "card", id: "timeline-box" });
  // A chosen task's timeline comes first, above the list it was picked from.
  mount(main, h("h1", {}, t(lang, "drill")), h("p", { class: "period-line" }, periodLine(ctx)), chooser, state.task ? timelineBox : null, listBox);

  const tables: ExportTable[] = [];
  let cursor = byUnit.appliedCursor;
  const needsKey = groupKind === "category" || groupKind === "unit";
  if (needsKey && !groupKey) {
    mount(listBox, h("h2", { id: "list-h" }, t(lang, "choose")));
  } else {
    const groupTitle =
      groupKind === "national"
        ? scope.nationwide ? t(lang, "nationwide") : t(lang, "scoped")
        : groupKind === "category"
          ? (CATEGORY_NAMES[groupKey]?.[lang === "vi" ? 0 : 1] ?? groupKey)
          : (keyOptions.find(([k]) => k === groupKey)?.[1] ?? groupKey);
    const units = new Map<string, UnitLabel>();
    const tasks: GroupTask[] = [];
    const tbody = h("tbody", {});
    const moreButton = h("button", { type: "button", id: "load-more" }, t(lang, "more"));
    const shown = h("p", { id: "list-count", role: "status" });
    let pageToken = "";
    const table: ExportTable = {
      name: `${t(lang, state.cls)} — ${groupTitle}`.slice(0, 80),
      columns: [
        { label: t(lang, "title_"), kind: "text" },
        { label: t(lang, "assignee"), kind: "text" },
        { label: t(lang, "assigner"), kind: "text" },
        { label: t(lang, "assigned"), kind: "text" },
        { label: t(lang, "deadline"), kind: "text" },
        { label: t(lang, "completedOn"), kind: "text" },
        { label: t(lang, "class"), kind: "text" },
        { label: t(lang, "daysOverdue"), kind: "count" },
      ],
      rows: [],
    };
    tables.push(table);
    const loadPage = async () => {
      const page = await api.reporting.listGroupTasks({
        ...question,
        groupBy: groupByOf(groupKind),
        groupKey: groupKind === "national" ? "" : groupKey,
        statusClass: statusClassOf(state.cls),
        pageSize: PAGE_SIZE,
        pageToken,
      });
      if (page.appliedCursor > cursor) cursor = page.appliedCursor;
      for (const u of page.units) units.set(u.id, u);
      for (const task of page.tasks) {
        tasks.push(task);
        const cls = classNameOf(task.statusClass);
        const cells = [
          task.title,
          name(units.get(task.assigneeUnitId), task.assigneeUnitId),
          name(units.get(task.assigningUnitId), task.assigningUnitId),
          task.assignedDate ? isoDate(task.assignedDate) : "",
          task.deadline ? isoDate(task.deadline) : "",
          task.completedOn ? isoDate(task.completedOn) : "",
          t(lang, cls),
          Number(task.daysOverdue),
        ];
        table.rows.push(cells);
        tbody.appendChild(
          h(
            "tr",
            { "data-task": task.taskId },
            h(
              "th",
              { scope: "row" },
              h(
                "a",
                {
                  href: `?${new URLSearchParams({ ...Object.fromEntries(new URLSearchParams(location.search)), task: task.taskId }).toString()}`,
                  onclick: ((e: MouseEvent) => {
                    if (e.ctrlKey || e.metaKey || e.shiftKey) return;
                    e.preventDefault();
                    ctx.navigate({ task: task.taskId, groupKind, groupKey }, true);
                  }) as EventListener,
                },
                task.title,
              ),
            ),
            h("td", {}, cells[1]),
            h("td", {}, cells[2]),
            h("td", { class: "date" }, formatDate(task.assignedDate, lang)),
            h("td", { class: "date" }, formatDate(task.deadline, lang)),
            h("td", { class: "date" }, task.completedOn ? formatDate(task.completedOn, lang) : "–"),
            h("td", {}, t(lang, cls)),
            h("td", { class: "num", "data-field": "days_overdue", "data-value": task.daysOverdue.toString() }, formatCount(task.daysOverdue, lang)),
          ),
        );
      }
      pageToken = page.nextPageToken;
      moreButton.hidden = pageToken === "";
      shown.textContent = expected === null ? formatCount(tasks.length, lang) : `${formatCount(tasks.length, lang)} / ${formatCount(expected, lang)}`;
    };
    // The count the breakdown gives for this cell: the list must add up to it.
    let expected: bigint | null = null;
    if (groupKind === "unit") {
      const row = byUnit.rows.find((r) => r.groupKey === groupKey);
      const c = countsOf(row?.current);
      expected = state.cls === "all" ? c.total : c[state.cls];
    }
    moreButton.addEventListener("click", () => {
      moreButton.disabled = true;
      void loadPage().finally(() => {
        moreButton.disabled = false;
      });
    });
    mount(
      listBox,
      h("h2", { id: "list-h" }, `${t(lang, state.cls)} — ${groupTitle}`),
      shown,
      h(
        "div",
        { class: "scroll" },
        h(
          "table",
          { id: "task-list", class: "figures" },
          h(
            "thead",
            {},
            h(
              "tr",
              {},
              table.columns.map((c) => h("th", { scope: "col", class: c.kind === "count" ? "num" : null }, c.label)),
            ),
          ),
          tbody,
        ),
      ),
      moreButton,
    );
    await loadPage();
    if (tasks.length === 0) listBox.appendChild(h("p", {}, t(lang, "noTasks")));
  }

  if (state.task) {
    const tl = await api.reporting.getTaskTimeline({ taskId: state.task });
    const labels = new Map(tl.units.map((u) => [u.id, u]));
    const when = (ts: Parameters<typeof timestampDate>[0] | undefined) => {
      if (!ts) return "–";
      const d = timestampDate(ts);
      const shifted = new Date(d.getTime() + 7 * 3600 * 1000);
      return `${formatDate({ year: shifted.getUTCFullYear(), month: shifted.getUTCMonth() + 1, day: shifted.getUTCDate() }, lang)} ${formatClockVietnam(d)}`;
    };
    const detail = (e: (typeof tl.entries)[number]) =>
      [
        e.deadline && e.deadline.year ? `${t(lang, "deadline")}: ${formatDate(e.deadline, lang)}` : "",
        e.assigneeUnitId ? `${t(lang, "assignee")}: ${name(labels.get(e.assigneeUnitId), e.assigneeUnitId)}` : "",
        e.note,
      ]
        .filter((x) => x)
        .join(" · ");
    mount(
      timelineBox,
      h("h2", { id: "timeline-h" }, `${t(lang, "timeline")}: ${tl.title}`),
      h("p", {}, `${t(lang, "assigner")}: ${name(labels.get(tl.assigningUnitId), tl.assigningUnitId)} · ${t(lang, "assigned")}: ${formatDate(tl.assignedDate, lang)}`),
      h(
        "ol",
        { id: "timeline", class: "timeline" },
        tl.entries.map((e) =>
          h(
            "li",
            { "data-cursor": e.cursor.toString(), "data-kind": TaskEventKind[e.kind] },
            h("strong", {}, EVENT_NAMES[e.kind]?.[lang === "vi" ? 0 : 1] ?? TaskEventKind[e.kind]),
            " — ",
            h("span", { class: "effective" }, `${t(lang, "effective")}: ${formatDate(e.effectiveDate, lang)}`),
            " · ",
            h("span", { class: "recorded" }, `${t(lang, "recorded")}: ${when(e.recordTime)}`),
            detail(e) ? h("div", { class: "detail" }, detail(e)) : null,
          ),
        ),
      ),
      h(
        "button",
        { type: "button", class: "no-print", onclick: (() => ctx.navigate({ task: "" }, true)) as EventListener },
        t(lang, "back"),
      ),
    );
    tables.push({
      name: t(lang, "timeline"),
      columns: [
        { label: t(lang, "event"), kind: "text" },
        { label: t(lang, "effective"), kind: "text" },
        { label: t(lang, "recorded"), kind: "text" },
        { label: t(lang, "detail"), kind: "text" },
      ],
      rows: tl.entries.map((e) => [
        EVENT_NAMES[e.kind]?.[lang === "vi" ? 0 : 1] ?? TaskEventKind[e.kind],
        e.effectiveDate ? isoDate(e.effectiveDate) : "",
        e.recordTime ? timestampDate(e.recordTime).toISOString() : "",
        detail(e),
      ]),
    });
    if (tl.appliedCursor > cursor) cursor = tl.appliedCursor;
  }
  return { tables, cursor };
}

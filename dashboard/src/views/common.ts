//! Pieces several views share: the period line, count and share cells, and
//! links into the drill-down.

import type { Ctx } from "../context.js";
import { h } from "../dom.js";
import { formatCount, formatDate, formatPercent, type Lang, parseIsoDate } from "../format.js";
import { t } from "../i18n.js";
import type { GroupKind, StatusClass } from "../state.js";
import { parsePeriod, serializeState } from "../state.js";

/** "1/1/2024 – 30/6/2024, as of 30/6/2024" */
export function periodLine(ctx: Ctx): string {
  const lang = ctx.state.lang;
  const parsed = parsePeriod(ctx.state.period);
  const range = parsed ? `${formatDate(parsed.range.start, lang)} – ${formatDate(parsed.range.end, lang)}` : ctx.state.period;
  const asOf = parseIsoDate(ctx.state.asOf) ?? undefined;
  return `${range}; ${t(lang, "asOf").toLowerCase()} ${formatDate(asOf, lang)}`;
}

/** A count cell carrying its exact value for tests and exports. */
export function countCell(value: bigint, lang: Lang, field: string): HTMLTableCellElement {
  return h("td", { class: "num", "data-field": field, "data-value": value.toString() }, formatCount(value, lang));
}

export function shareCell(part: bigint, whole: bigint, lang: Lang, field: string): HTMLTableCellElement {
  return h("td", { class: "num", "data-field": `${field}_share` }, formatPercent(part, whole, lang));
}

/** A link into the drill-down for one cell of a breakdown. */
export function drillLink(
  ctx: Ctx,
  groupKind: GroupKind,
  groupKey: string,
  cls: StatusClass,
  text: string,
): HTMLAnchorElement {
  const state = { ...ctx.state, view: "drill" as const, groupKind, groupKey, cls, task: "" };
  const href = serializeState(state);
  return h(
    "a",
    {
      href,
      onclick: ((e: MouseEvent) => {
        if (e.ctrlKey || e.metaKey || e.shiftKey || e.button !== 0) return;
        e.preventDefault();
        ctx.navigate({ view: "drill", groupKind, groupKey, cls, task: "" }, true);
      }) as EventListener,
    },
    text,
  );
}

export function errorBox(lang: Lang, err: unknown): HTMLElement {
  const message = err instanceof Error ? err.message : String(err);
  return h("p", { class: "error", role: "alert" }, `${t(lang, "error")}: ${message}`);
}

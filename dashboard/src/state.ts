//! The view's whole state lives in the URL's query string, so every view is a
//! permalink: period, as-of, basis, grouping, filters, sort, drill-down and
//! language. (The fragment is reserved for the sign-in token.)

import { type CivilDate, daysInMonth, isoDate, parseIsoDate, todayVietnam } from "./format.js";

export type View = "overview" | "units" | "drill" | "trend" | "scores";
export type Basis = "current" | "historical";
export type StatusClass = "completed_on_time" | "completed_late" | "open_within_deadline" | "open_overdue" | "all";
export type GroupKind = "national" | "category" | "region" | "unit";

export interface ViewState {
  view: View;
  /** CLI period syntax: 2024, 2024-H1, 2024-Q3, 2024-06, 2024-01-01..2024-03-31. */
  period: string;
  asOf: string;
  basis: Basis;
  lang: "vi" | "en";
  /** Units page filters. */
  category: string;
  region: string;
  /** Units page sort: column and direction, e.g. "overdueShare:desc". */
  sort: string;
  /** Drill-down: what group, which class, which task. */
  groupKind: GroupKind;
  groupKey: string;
  cls: StatusClass;
  task: string;
  /** Scorecards page: whose trajectory is shown, "unit:<id>" or "plan:<id>" (empty: none). */
  subject: string;
}

const VIEWS: View[] = ["overview", "units", "drill", "trend", "scores"];
const CLASSES: StatusClass[] = ["completed_on_time", "completed_late", "open_within_deadline", "open_overdue", "all"];
const GROUP_KINDS: GroupKind[] = ["national", "category", "region", "unit"];

export interface PeriodRange {
  start: CivilDate;
  end: CivilDate;
}

/** The default: the current half-year, as of today (Vietnam time). */
export function defaultState(today: CivilDate = todayVietnam()): ViewState {
  return {
    view: "overview",
    period: `${today.year}-H${today.month <= 6 ? 1 : 2}`,
    asOf: isoDate(today),
    basis: "current",
    lang: "vi",
    category: "",
    region: "",
    sort: "",
    groupKind: "national",
    groupKey: "",
    cls: "open_overdue",
    task: "",
    subject: "",
  };
}

/** Reads a state from a query string; anything invalid falls back to the default. */
export function parseState(search: string, today: CivilDate = todayVietnam()): ViewState {
  const q = new URLSearchParams(search);
  const state = defaultState(today);
  const view = q.get("view");
  if (view && (VIEWS as string[]).includes(view)) state.view = view as View;
  const period = q.get("period");
  if (period && parsePeriod(period)) state.period = period;
  const asOf = q.get("asof");
  if (asOf && parseIsoDate(asOf)) state.asOf = asOf;
  if (q.get("basis") === "historical") state.basis = "historical";
  if (q.get("lang") === "en") state.lang = "en";
  state.category = q.get("cat") ?? "";
  state.region = q.get("region") ?? "";
  state.sort = q.get("sort") ?? "";
  const gk = q.get("gk");
  if (gk && (GROUP_KINDS as string[]).includes(gk)) state.groupKind = gk as GroupKind;
  state.groupKey = q.get("g") ?? "";
  const cls = q.get("class");
  if (cls && (CLASSES as string[]).includes(cls)) state.cls = cls as StatusClass;
  state.task = q.get("task") ?? "";
  const subject = q.get("subj") ?? "";
  if (/^(unit|plan):.+$/.test(subject)) state.subject = subject;
  return state;
}

/** Writes a state as a query string, leaving out what equals the default (short permalinks). */
export function serializeState(state: ViewState, today: CivilDate = todayVietnam()): string {
  const d = defaultState(today);
  const q = new URLSearchParams();
  if (state.view !== d.view) q.set("view", state.view);
  // Period and as-of are always written: a permalink must not drift with the calendar.
  q.set("period", state.period);
  q.set("asof", state.asOf);
  if (state.basis !== d.basis) q.set("basis", state.basis);
  if (state.lang !== d.lang) q.set("lang", state.lang);
  if (state.category) q.set("cat", state.category);
  if (state.region) q.set("region", state.region);
  if (state.sort) q.set("sort", state.sort);
  if (state.view === "drill") {
    q.set("gk", state.groupKind);
    if (state.groupKey) q.set("g", state.groupKey);
    q.set("class", state.cls);
    if (state.task) q.set("task", state.task);
  }
  if (state.view === "scores" && state.subject) q.set("subj", state.subject);
  return `?${q.toString()}`;
}

export type PeriodKind = "year" | "half" | "quarter" | "month" | "custom";

export interface ParsedPeriod {
  kind: PeriodKind;
  range: PeriodRange;
  /** Set for labelled periods (sent as Period.label); custom ranges send the range. */
  label?: string;
}

/** Parses the CLI's period syntax; null when invalid. */
export function parsePeriod(text: string): ParsedPeriod | null {
  let m = /^(\d{4})$/.exec(text);
  if (m) {
    const y = Number(m[1]);
    return { kind: "year", label: text, range: { start: d(y, 1, 1), end: d(y, 12, 31) } };
  }
  m = /^(\d{4})-H([12])$/.exec(text);
  if (m) {
    const y = Number(m[1]);
    const h = Number(m[2]);
    return {
      kind: "half",
      label: text,
      range: h === 1 ? { start: d(y, 1, 1), end: d(y, 6, 30) } : { start: d(y, 7, 1), end: d(y, 12, 31) },
    };
  }
  m = /^(\d{4})-Q([1-4])$/.exec(text);
  if (m) {
    const y = Number(m[1]);
    const first = (Number(m[2]) - 1) * 3 + 1;
    return {
      kind: "quarter",
      label: text,
      range: { start: d(y, first, 1), end: d(y, first + 2, daysInMonth(y, first + 2)) },
    };
  }
  m = /^(\d{4})-(\d{2})$/.exec(text);
  if (m) {
    const y = Number(m[1]);
    const mo = Number(m[2]);
    if (mo < 1 || mo > 12) return null;
    return { kind: "month", label: text, range: { start: d(y, mo, 1), end: d(y, mo, daysInMonth(y, mo)) } };
  }
  m = /^(\d{4}-\d{2}-\d{2})\.\.(\d{4}-\d{2}-\d{2})$/.exec(text);
  if (m) {
    const start = parseIsoDate(m[1]);
    const end = parseIsoDate(m[2]);
    if (!start || !end || isoDate(start) > isoDate(end)) return null;
    return { kind: "custom", range: { start, end } };
  }
  return null;
}

function d(year: number, month: number, day: number): CivilDate {
  return { year, month, day };
}

/** The months a range touches, each as [first day, last day] clipped to the range. */
export function monthsOf(range: PeriodRange): PeriodRange[] {
  const out: PeriodRange[] = [];
  let y = range.start.year;
  let m = range.start.month;
  const endKey = range.end.year * 12 + range.end.month;
  while (y * 12 + m <= endKey) {
    const first = y === range.start.year && m === range.start.month ? range.start : d(y, m, 1);
    const last = y === range.end.year && m === range.end.month ? range.end : d(y, m, daysInMonth(y, m));
    out.push({ start: first, end: last });
    m += 1;
    if (m > 12) {
      m = 1;
      y += 1;
    }
  }
  return out;
}

/** The period text for a kind anchored on a year (picker helper). */
export function periodFor(kind: PeriodKind, year: number, part: number): string {
  switch (kind) {
    case "year":
      return String(year);
    case "half":
      return `${year}-H${part}`;
    case "quarter":
      return `${year}-Q${part}`;
    case "month":
      return `${year}-${String(part).padStart(2, "0")}`;
    case "custom":
      return `${year}-01-01..${year}-12-31`;
  }
}

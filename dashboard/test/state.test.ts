import { describe, expect, it } from "vitest";
import { defaultState, monthsOf, parsePeriod, parseState, serializeState } from "../src/state.js";

const today = { year: 2026, month: 11, day: 30 };

describe("URL state", () => {
  it("defaults to the current half-year as of today", () => {
    const state = parseState("", today);
    expect(state.period).toBe("2026-H2");
    expect(state.asOf).toBe("2026-11-30");
    expect(state.view).toBe("overview");
    expect(state.lang).toBe("vi");
    expect(state.basis).toBe("current");
    expect(defaultState({ year: 2024, month: 6, day: 30 }).period).toBe("2024-H1");
  });
  it("round-trips every field through the query string", () => {
    const state = {
      ...defaultState(today),
      view: "drill" as const,
      period: "2024-01-01..2024-03-31",
      asOf: "2024-06-30",
      basis: "historical" as const,
      lang: "en" as const,
      category: "UNIT_CATEGORY_PROVINCIAL_OFFICE",
      region: "MKD",
      sort: "overdueShare:desc",
      groupKind: "unit" as const,
      groupKey: "0190a3b2-0000-7000-8000-000000000001",
      cls: "completed_late" as const,
      task: "0190a3b2-0000-7000-8000-000000000002",
    };
    const search = serializeState(state, today);
    expect(parseState(search, today)).toEqual(state);
  });
  it("keeps the Scorecards page's trajectory subject, and only there", () => {
    const state = { ...defaultState(today), view: "scores" as const, subject: "plan:0190a3b2-0000-7000-8000-000000000003" };
    const search = serializeState(state, today);
    expect(search).toContain("view=scores");
    expect(parseState(search, today)).toEqual(state);
    expect(serializeState({ ...state, view: "units" }, today)).not.toContain("subj=");
    expect(parseState("?view=scores&subj=nonsense", today).subject).toBe("");
  });
  it("always writes the period and as-of date so a permalink does not drift", () => {
    const search = serializeState(defaultState(today), today);
    expect(search).toContain("period=2026-H2");
    expect(search).toContain("asof=2026-11-30");
  });
  it("ignores what it does not understand", () => {
    const state = parseState("?view=nope&period=2024-H3&asof=2024-02-30&basis=x&lang=fr&class=zzz", today);
    expect(state).toEqual(defaultState(today));
  });
});

describe("periods", () => {
  it("reads the CLI's period syntax", () => {
    expect(parsePeriod("2024")?.range).toEqual({ start: { year: 2024, month: 1, day: 1 }, end: { year: 2024, month: 12, day: 31 } });
    expect(parsePeriod("2024-H2")?.range.start).toEqual({ year: 2024, month: 7, day: 1 });
    expect(parsePeriod("2024-Q1")?.range.end).toEqual({ year: 2024, month: 3, day: 31 });
    expect(parsePeriod("2024-02")?.range.end).toEqual({ year: 2024, month: 2, day: 29 });
    expect(parsePeriod("2024-01-15..2024-02-10")?.kind).toBe("custom");
    expect(parsePeriod("2024-01-15..2024-02-10")?.label).toBeUndefined();
    expect(parsePeriod("2024-03-01..2024-02-01")).toBeNull();
    expect(parsePeriod("2024-13")).toBeNull();
  });
  it("splits a period into months, clipped to its ends", () => {
    const months = monthsOf({ start: { year: 2024, month: 11, day: 15 }, end: { year: 2025, month: 2, day: 10 } });
    expect(months.length).toBe(4);
    expect(months[0].start).toEqual({ year: 2024, month: 11, day: 15 });
    expect(months[1].end).toEqual({ year: 2024, month: 12, day: 31 });
    expect(months[3].end).toEqual({ year: 2025, month: 2, day: 10 });
  });
});

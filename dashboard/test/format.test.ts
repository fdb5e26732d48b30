import { describe, expect, it } from "vitest";
import {
  formatChange,
  formatClockVietnam,
  formatCount,
  formatDate,
  formatPercent,
  formatPercentNumber,
  parseIsoDate,
  percentValue,
  todayVietnam,
} from "../src/format.js";

describe("counts", () => {
  it("groups thousands the Vietnamese and the English way", () => {
    expect(formatCount(112587, "vi")).toBe("112.587");
    expect(formatCount(112587n, "en")).toBe("112,587");
    expect(formatCount(251, "vi")).toBe("251");
    expect(formatCount(1_000_000, "en")).toBe("1,000,000");
    expect(formatCount(-2886, "vi")).toBe("-2.886");
    expect(formatCount(0, "vi")).toBe("0");
  });
});

describe("percentages follow the narrative's truncation rule", () => {
  it("truncates instead of rounding", () => {
    expect(formatPercentNumber(99_010, 112_587, "vi")).toBe("87,94");
    expect(formatPercentNumber(479, 1125, "vi", 1)).toBe("42,5"); // 42.577… would round to 42,6
    expect(formatPercentNumber(2886 - 2591, 2591, "vi")).toBe("11,38"); // 11.3856…
    expect(formatPercentNumber(251 - 360, 360, "en")).toBe("-30.27"); // -30.2777… toward zero
    expect(formatPercent(99_010, 112_587, "vi")).toBe("87,94 %");
    expect(formatPercent(1, 3, "en")).toBe("33.33 %");
  });
  it("pads the decimals and keeps exact halves", () => {
    expect(formatPercentNumber(1, 20, "vi")).toBe("5,00");
    expect(formatPercentNumber(1, 8, "en")).toBe("12.50");
    expect(formatPercentNumber(123_456, 1, "vi")).toBe("12.345.600,00");
  });
  it("has no share without a base", () => {
    expect(formatPercentNumber(1, 0, "vi")).toBeNull();
    expect(formatPercent(0, 0, "vi")).toBe("–");
    expect(percentValue(5, 0)).toBeNull();
  });
  it("gives the same truncated value to exports", () => {
    expect(percentValue(99_010, 112_587)).toBe(87.94);
    expect(percentValue(-109, 360)).toBe(-30.27);
    expect(percentValue(479, 1125, 1)).toBe(42.5);
  });
  it("signs the change against a year earlier", () => {
    expect(formatChange(2886, 2591, "vi")).toBe("+11,38 %");
    expect(formatChange(251, 360, "en")).toBe("-30.27 %");
    expect(formatChange(5, 5, "en")).toBe("0.00 %");
    expect(formatChange(5, 0, "vi")).toBe("–");
  });
});

describe("dates", () => {
  it("prints civil dates as the report does", () => {
    expect(formatDate({ year: 2024, month: 6, day: 30 }, "vi")).toBe("30/6/2024");
    expect(formatDate({ year: 2024, month: 1, day: 5 }, "vi")).toBe("5/1/2024");
    expect(formatDate({ year: 2024, month: 6, day: 30 }, "en")).toBe("30 June 2024");
    expect(formatDate(undefined, "vi")).toBe("–");
  });
  it("parses only real ISO dates", () => {
    expect(parseIsoDate("2024-02-29")).toEqual({ year: 2024, month: 2, day: 29 });
    expect(parseIsoDate("2023-02-29")).toBeNull();
    expect(parseIsoDate("2024-13-01")).toBeNull();
    expect(parseIsoDate("30/6/2024")).toBeNull();
  });
  it("reads the clock and the day in Vietnam time (UTC+7)", () => {
    const instant = new Date(Date.UTC(2024, 5, 30, 17, 5));
    expect(formatClockVietnam(instant)).toBe("00:05");
    expect(todayVietnam(instant)).toEqual({ year: 2024, month: 7, day: 1 });
  });
});

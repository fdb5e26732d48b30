import { describe, expect, it } from "vitest";
import { formatDecimal, formatRate, latestGap, sparklinePath } from "../src/scores.js";

describe("scores", () => {
  it("prints decimals in each language, signed on request", () => {
    expect(formatDecimal(87.5, "vi")).toBe("87,50");
    expect(formatDecimal(87.5, "en")).toBe("87.50");
    expect(formatDecimal(-3.256, "en", true)).toBe("-3.26");
    expect(formatDecimal(2, "vi", true)).toBe("+2,00");
    expect(formatDecimal(undefined, "vi")).toBe("–");
    expect(formatRate(0.8794, "vi")).toBe("87,94 %");
  });

  it("draws sparklines edge to edge and breaks at missing months", () => {
    expect(sparklinePath([0, 50, 100], 100, 20)).toBe("M0.0,20.0L50.0,10.0L100.0,0.0");
    expect(sparklinePath([10, null, 10], 100, 20)).toBe("M0.0,10.0M100.0,10.0");
    expect(sparklinePath([null, null], 100, 20)).toBe("");
    expect(sparklinePath([42], 100, 20)).toBe("M50.0,10.0");
  });

  it("reads the gap on the last day counted", () => {
    expect(latestGap([{ expected: 1n, actual: 3n }, { expected: 5n, actual: 2n }, { expected: 9n }])).toBe(-3n);
    expect(latestGap([{ expected: 1n }])).toBeNull();
  });
});

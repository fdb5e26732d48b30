import { describe, expect, it } from "vitest";
import provinces2024 from "../../reference/provinces-2024.csv?raw";
import provinces2025 from "../../reference/provinces-2025-merger.csv?raw";
import { chooseMap, MAP_34, MAP_63, mapSize, type Place, placeName } from "../src/tilemap.js";

/** The codes of a reference list (its first column): the repository's reference data. */
function codes(file: "provinces-2024.csv" | "provinces-2025-merger.csv"): string[] {
  const text = file === "provinces-2024.csv" ? provinces2024 : provinces2025;
  return text
    .trim()
    .split("\n")
    .slice(1)
    .map((line: string) => line.split(",")[0]);
}

function distinctPlaces(map: ReadonlyMap<string, Place>): number {
  return new Set([...map.values()].map(([row, column]) => `${row},${column}`)).size;
}

describe("tile-grid map", () => {
  it("places each of the 63 provinces once, on a square of its own", () => {
    const provinces = codes("provinces-2024.csv");
    expect(provinces).toHaveLength(63);
    expect([...MAP_63.keys()].sort()).toEqual([...provinces].sort());
    expect(distinctPlaces(MAP_63)).toBe(63);
  });

  it("places each of the 34 provinces after the merger once, on a square of its own", () => {
    const provinces = codes("provinces-2025-merger.csv");
    expect(provinces).toHaveLength(34);
    expect([...MAP_34.keys()].sort()).toEqual([...provinces].sort());
    expect(distinctPlaces(MAP_34)).toBe(34);
  });

  it("keeps north above south: Hà Nội above Huế above Hồ Chí Minh City above Cà Mau", () => {
    for (const map of [MAP_63, MAP_34]) {
      const row = (code: string) => map.get(code)?.[0] ?? -1;
      expect(row("01")).toBeLessThan(row("46"));
      expect(row("46")).toBeLessThan(row("79"));
      expect(row("79")).toBeLessThan(row("96"));
    }
  });

  it("picks the 34 only when every code is theirs", () => {
    expect(chooseMap(codes("provinces-2025-merger.csv")).map).toBe(MAP_34);
    expect(chooseMap(codes("provinces-2024.csv")).map).toBe(MAP_63);
    // Gia Lai (64) ended with the merger: a list holding it is the 63's.
    expect(chooseMap(["01", "64"]).map).toBe(MAP_63);
    expect(chooseMap([]).map).toBe(MAP_63);
    expect(chooseMap(["01", "00"]).unplaced).toEqual(["00"]);
    expect(mapSize(MAP_63)).toEqual({ rows: 22, columns: 7 });
  });
});

describe("tile labels", () => {
  it("name the place, in either language, and keep an ended unit's last day", () => {
    expect(placeName("Cục Thống kê Hà Nội")).toBe("Hà Nội");
    expect(placeName("Ha Noi Statistics Office")).toBe("Ha Noi");
    expect(placeName("Cục Thống kê Bình Định (đến 30/6/2025)")).toBe("Bình Định (đến 30/6/2025)");
    expect(placeName("Binh Dinh Statistics Office (to 30/6/2025)")).toBe("Binh Dinh (to 30/6/2025)");
  });
});

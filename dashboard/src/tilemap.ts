//! Where each province's tile goes on the tile-grid map: one square per
//! province, placed roughly where it lies (north at the top, the coast to
//! the east), for the 63 provinces before 1 July 2025 and the 34 after the
//! merger. No boundaries are shipped: a grid reads the same at any size, and
//! every tile is the same size, so a small province weighs as much as a
//! large one (what a comparison of offices wants).

/** Row and column (from 0) of a tile. */
export type Place = readonly [row: number, column: number];

/** The 63 provinces and cities (codes of the 2024 list). */
export const MAP_63: ReadonlyMap<string, Place> = new Map<string, Place>([
  ["12", [0, 1]], ["10", [0, 2]], ["02", [0, 3]], ["04", [0, 4]],
  ["11", [1, 0]], ["15", [1, 2]], ["08", [1, 3]], ["06", [1, 4]], ["20", [1, 5]],
  ["14", [2, 1]], ["25", [2, 2]], ["26", [2, 3]], ["19", [2, 4]], ["24", [2, 5]], ["22", [2, 6]],
  ["17", [3, 2]], ["01", [3, 3]], ["27", [3, 4]], ["30", [3, 5]], ["31", [3, 6]],
  ["35", [4, 3]], ["33", [4, 4]], ["34", [4, 5]],
  ["38", [5, 2]], ["37", [5, 3]], ["36", [5, 4]],
  ["40", [6, 2]],
  ["42", [7, 3]],
  ["44", [8, 3]],
  ["45", [9, 4]],
  ["46", [10, 4]],
  ["49", [11, 4]], ["48", [11, 5]],
  ["62", [12, 3]], ["51", [12, 5]],
  ["64", [13, 4]], ["52", [13, 5]],
  ["66", [14, 4]], ["54", [14, 5]],
  ["67", [15, 3]], ["68", [15, 4]], ["56", [15, 5]],
  ["72", [16, 1]], ["70", [16, 2]], ["75", [16, 3]], ["60", [16, 4]], ["58", [16, 5]],
  ["80", [17, 1]], ["74", [17, 2]], ["79", [17, 3]], ["77", [17, 4]],
  ["89", [18, 0]], ["87", [18, 1]], ["82", [18, 2]], ["83", [18, 3]],
  ["91", [19, 0]], ["92", [19, 1]], ["86", [19, 2]], ["84", [19, 3]],
  ["93", [20, 1]], ["94", [20, 2]],
  ["96", [21, 0]], ["95", [21, 1]],
]);

/** The 34 provinces and cities from 1 July 2025 (codes of the merger list). */
export const MAP_34: ReadonlyMap<string, Place> = new Map<string, Place>([
  ["12", [0, 1]], ["15", [0, 2]], ["08", [0, 3]], ["04", [0, 4]],
  ["11", [1, 0]], ["14", [1, 1]], ["25", [1, 2]], ["19", [1, 3]], ["20", [1, 4]],
  ["01", [2, 2]], ["24", [2, 3]], ["22", [2, 4]],
  ["37", [3, 2]], ["33", [3, 3]], ["31", [3, 4]],
  ["38", [4, 1]],
  ["40", [5, 1]],
  ["42", [6, 2]],
  ["44", [7, 2]],
  ["46", [8, 3]],
  ["48", [9, 3]],
  ["51", [10, 3]],
  ["52", [11, 3]],
  ["66", [12, 3]],
  ["68", [13, 2]], ["56", [13, 3]],
  ["80", [14, 0]], ["79", [14, 1]], ["75", [14, 2]],
  ["91", [15, 0]], ["82", [15, 1]], ["86", [15, 2]],
  ["92", [16, 1]],
  ["96", [17, 0]],
]);

/**
 * The map that fits these province codes: the 34 when every code is one of
 * theirs (and so none that ended with the merger), else the 63. Codes the
 * chosen map does not know are returned apart, to be listed after it.
 */
export function chooseMap(codes: readonly string[]): { map: ReadonlyMap<string, Place>; unplaced: string[] } {
  const map = codes.length > 0 && codes.every((code) => MAP_34.has(code)) ? MAP_34 : MAP_63;
  return { map, unplaced: codes.filter((code) => !map.has(code)) };
}

/** The map's size: rows and columns. */
export function mapSize(map: ReadonlyMap<string, Place>): { rows: number; columns: number } {
  let rows = 0;
  let columns = 0;
  for (const [row, column] of map.values()) {
    rows = Math.max(rows, row + 1);
    columns = Math.max(columns, column + 1);
  }
  return { rows, columns };
}

/** A provincial office's name as a map labels its square: the place alone. */
export function placeName(officeName: string): string {
  return officeName.replace(/^Cục Thống kê\s+/, "").replace(/\s+Statistics Office\b/, "");
}

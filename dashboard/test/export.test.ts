import ExcelJS from "exceljs";
import { describe, expect, it } from "vitest";
import { type ExportTable, toCsv, toXlsx } from "../src/export.js";

const table: ExportTable = {
  name: "Tình hình: thực hiện",
  columns: [
    { label: "Phân loại", kind: "text" },
    { label: "Số lượng", kind: "count" },
    { label: "Tỷ lệ", kind: "percent" },
  ],
  rows: [
    ["Hoàn thành, đúng hạn", 99010, 87.94],
    ['Có "ngoặc"', 1, null],
  ],
};

describe("exports", () => {
  it("writes RFC 4180 CSV with a BOM, quoting what needs it", () => {
    const csv = toCsv([table]);
    expect(csv.startsWith("\uFEFF")).toBe(true);
    const lines = csv.slice(1).trimEnd().split("\r\n");
    expect(lines[0]).toBe("Phân loại,Số lượng,Tỷ lệ");
    expect(lines[1]).toBe('"Hoàn thành, đúng hạn",99010,87.94');
    expect(lines[2]).toBe('"Có ""ngoặc""",1,');
  });
  it("writes one sheet per table with numbers as numbers", async () => {
    const buffer = await toXlsx([table, { ...table }]);
    const workbook = new ExcelJS.Workbook();
    await workbook.xlsx.load(buffer);
    expect(workbook.worksheets.map((s) => s.name)).toEqual(["Tình hình  thực hiện", "Tình hình  thực hiện 2"]);
    const sheet = workbook.worksheets[0];
    expect(sheet.getRow(2).getCell(2).value).toBe(99010);
    expect(sheet.getRow(2).getCell(3).value).toBe(87.94);
    expect(sheet.getRow(3).getCell(1).value).toBe('Có "ngoặc"');
  });
});

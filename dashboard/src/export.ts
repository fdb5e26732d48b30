//! CSV and XLSX export of exactly the tables a view shows. exceljs is loaded
//! with a dynamic import only when someone exports, so it stays out of the
//! first bundle.

export type CellKind = "text" | "count" | "percent";
export type Cell = string | number | null;

export interface Column {
  label: string;
  kind: CellKind;
}

export interface ExportTable {
  /** Sheet name / section title. */
  name: string;
  columns: Column[];
  rows: Cell[][];
}

function csvField(cell: Cell): string {
  if (cell === null) return "";
  const text = String(cell);
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/**
 * CSV (RFC 4180, UTF-8 with a byte-order mark so spreadsheet programs read the
 * diacritics): counts as plain integers, shares as decimals with a dot
 * (87.94), truncated like the page. Several tables are separated by a blank
 * line and a title line.
 */
export function toCsv(tables: ExportTable[]): string {
  const lines: string[] = [];
  tables.forEach((table, i) => {
    if (tables.length > 1) {
      if (i > 0) lines.push("");
      lines.push(csvField(table.name));
    }
    lines.push(table.columns.map((c) => csvField(c.label)).join(","));
    for (const row of table.rows) lines.push(row.map(csvField).join(","));
  });
  return `\uFEFF${lines.join("\r\n")}\r\n`;
}

export async function toXlsx(tables: ExportTable[]): Promise<ArrayBuffer> {
  const { default: ExcelJS } = await import("exceljs");
  const workbook = new ExcelJS.Workbook();
  workbook.creator = "tasknet";
  const used = new Set<string>();
  for (const table of tables) {
    const sheet = workbook.addWorksheet(sheetName(table.name, used));
    sheet.addRow(table.columns.map((c) => c.label)).font = { bold: true };
    for (const row of table.rows) sheet.addRow(row.map((cell) => (cell === null ? null : cell)));
    table.columns.forEach((column, i) => {
      const col = sheet.getColumn(i + 1);
      col.width = column.kind === "text" ? 36 : 16;
      if (column.kind === "count") col.numFmt = "#,##0";
      if (column.kind === "percent") col.numFmt = "0.00";
    });
  }
  return (await workbook.xlsx.writeBuffer()) as ArrayBuffer;
}

/** Excel sheet names: at most 31 characters, none of []:*?/\, unique. */
function sheetName(name: string, used: Set<string>): string {
  const base = name.replace(/[[\]:*?/\\]/g, " ").slice(0, 28) || "Sheet";
  let candidate = base;
  for (let n = 2; used.has(candidate); n++) candidate = `${base} ${n}`;
  used.add(candidate);
  return candidate;
}

export function download(filename: string, data: BlobPart, type: string): void {
  const url = URL.createObjectURL(new Blob([data], { type }));
  const a = document.createElement("a");
  a.href = url;
  a.download = filename;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

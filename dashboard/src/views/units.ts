//! Units: every provincial office and central unit with its split, overdue
//! share and change against last year; sortable, filtered by category and
//! region; on either basis; and the provinces side by side on a tile-grid map.

import type { Ctx, Rendered } from "../context.js";
import { h, mount } from "../dom.js";
import type { ExportTable } from "../export.js";
import { formatChange, formatDate, formatPercent, percentValue } from "../format.js";
import { CATEGORY_NAMES, t } from "../i18n.js";
import type { Unit } from "../gen/tasknet/v1/organisation_pb.js";
import { UnitCategory } from "../gen/tasknet/v1/common_pb.js";
import { type BreakdownRow, GroupBy } from "../gen/tasknet/v1/reporting_pb.js";
import { asOfOf, basisOf, CLASS_NAMES, type Counts, countsOf, periodOf } from "../query.js";
import { countCell, drillLink, periodLine } from "./common.js";
import { chooseMap, mapSize, type Place, placeName } from "../tilemap.js";

interface UnitRow {
  id: string;
  code: string;
  name: string;
  category: string;
  region: string;
  counts: Counts;
  previous: Counts;
  restated: string[];
}

type SortKey = "code" | "name" | "total" | "completed_on_time" | "completed_late" | "open_within_deadline" | "open_overdue" | "overdueShare" | "change";

/** Unit directory (category, region, names of predecessors): read once per page load. */
let directory: Promise<{ units: Map<string, Unit>; regions: Map<string, [string, string]> } | null> | null = null;

function loadDirectory(ctx: Ctx) {
  directory ??= (async () => {
    try {
      const units = new Map<string, Unit>();
      let pageToken = "";
      do {
        const page = await ctx.api.organisation.listUnits({ pageSize: 1000, pageToken });
        for (const unit of page.units) units.set(unit.id, unit);
        pageToken = page.nextPageToken;
      } while (pageToken);
      const regions = new Map<string, [string, string]>();
      for (const r of (await ctx.api.organisation.listRegions({})).regions) regions.set(r.code, [r.nameVi, r.nameEn]);
      return { units, regions };
    } catch {
      // A split deployment serves only ReportingService: no filters then.
      return null;
    }
  })();
  return directory;
}

function categoryName(cat: UnitCategory | string): string {
  return typeof cat === "string" ? cat : `UNIT_CATEGORY_${UnitCategory[cat]}`;
}

function sortValue(row: UnitRow, key: SortKey): number | string {
  switch (key) {
    case "code":
      return row.code;
    case "name":
      return row.name;
    case "overdueShare":
      return percentValue(row.counts.open_overdue, row.counts.total) ?? -1;
    case "change":
      return percentValue(row.counts.total - row.previous.total, row.previous.total) ?? -Infinity;
    default:
      return Number(row.counts[key]);
  }
}

export async function units(ctx: Ctx, main: HTMLElement): Promise<Rendered> {
  const { api, state } = ctx;
  const lang = state.lang;
  const [answer, dir] = await Promise.all([
    api.reporting.statusBreakdown({
      period: periodOf(state.period),
      asOf: asOfOf(state),
      basis: basisOf(state.basis),
      groupBy: GroupBy.UNIT,
    }),
    loadDirectory(ctx),
  ]);
  const nameOf = (id: string) => {
    const u = dir?.units.get(id) ?? ctx.scope.units.find((x) => x.id === id);
    return u ? `${u.code} ${lang === "vi" ? u.nameVi : u.nameEn}` : id;
  };
  const all: UnitRow[] = answer.rows.map((row: BreakdownRow) => {
    const unit = dir?.units.get(row.groupKey);
    return {
      id: row.groupKey,
      code: row.groupCode,
      // An ended unit (historical basis) says so: code 52 was Bình Định until 30/6/2025.
      name:
        (lang === "vi" ? row.groupNameVi : row.groupNameEn) +
        (row.groupValidTo && row.groupValidTo.year ? ` (${lang === "vi" ? "đến" : "to"} ${formatDate(row.groupValidTo, lang)})` : ""),
      category: unit ? categoryName(unit.category) : "",
      region: unit?.regionCode ?? "",
      counts: countsOf(row.current),
      previous: countsOf(row.previous),
      restated: row.restatedUnitIds,
    };
  });
  const rows = all.filter((r) => (!state.category || r.category === state.category) && (!state.region || r.region === state.region));
  const [sortKey, sortDir] = (state.sort || "code:asc").split(":") as [SortKey, string];
  const dir1 = sortDir === "desc" ? -1 : 1;
  rows.sort((a, b) => {
    const x = sortValue(a, sortKey);
    const y = sortValue(b, sortKey);
    const c = typeof x === "string" && typeof y === "string" ? x.localeCompare(y, lang) : Number(x) - Number(y);
    return c !== 0 ? c * dir1 : a.code.localeCompare(b.code);
  });

  const columns: [SortKey, string][] = [
    ["code", t(lang, "code")],
    ["name", t(lang, "name")],
    ["total", t(lang, "total")],
    ...CLASS_NAMES.map((c) => [c, t(lang, c)] as [SortKey, string]),
    ["overdueShare", t(lang, "overdueShare")],
    ["change", t(lang, "changeVsLastYear")],
  ];
  const header = h(
    "tr",
    {},
    columns.map(([key, label]) => {
      const active = key === sortKey;
      const next = active && sortDir !== "desc" ? "desc" : "asc";
      return h(
        "th",
        { scope: "col", class: key === "code" || key === "name" ? null : "num", "aria-sort": active ? (sortDir === "desc" ? "descending" : "ascending") : null },
        h(
          "button",
          { type: "button", class: "sort", "data-sort": key, onclick: (() => ctx.navigate({ sort: `${key}:${next}` })) as EventListener },
          label,
          active ? (sortDir === "desc" ? " ▼" : " ▲") : "",
        ),
      );
    }),
  );
  const body = h(
    "tbody",
    {},
    rows.map((r) =>
      h(
        "tr",
        { "data-unit": r.id, "data-code": r.code },
        h("td", {}, r.code),
        h(
          "th",
          { scope: "row" },
          drillLink(ctx, "unit", r.id, "open_overdue", r.name),
          r.restated.length > 0 && state.basis === "current"
            ? h("span", { class: "restated", title: `${t(lang, "restatedFrom")}: ${r.restated.map(nameOf).join(", ")}` }, " *", h("span", { class: "sr-only" }, ` ${t(lang, "restatedFrom")}: ${r.restated.map(nameOf).join(", ")}`))
            : null,
        ),
        countCell(r.counts.total, lang, "total"),
        CLASS_NAMES.map((c) => countCell(r.counts[c], lang, c)),
        h("td", { class: "num", "data-field": "overdue_share" }, formatPercent(r.counts.open_overdue, r.counts.total, lang)),
        h("td", { class: "num", "data-field": "change" }, formatChange(r.counts.total, r.previous.total, lang)),
      ),
    ),
  );

  // Filters (need the unit directory).
  const filters = dir
    ? h(
        "div",
        { class: "filters no-print" },
        h("label", { for: "filter-category" }, t(lang, "category")),
        h(
          "select",
          { id: "filter-category", onchange: ((e: Event) => ctx.navigate({ category: (e.target as HTMLSelectElement).value })) as EventListener },
          h("option", { value: "" }, t(lang, "anyCategory")),
          Object.entries(CATEGORY_NAMES).map(([key, names]) => h("option", { value: key, selected: key === state.category }, names[lang === "vi" ? 0 : 1])),
        ),
        h("label", { for: "filter-region" }, t(lang, "region")),
        h(
          "select",
          { id: "filter-region", onchange: ((e: Event) => ctx.navigate({ region: (e.target as HTMLSelectElement).value })) as EventListener },
          h("option", { value: "" }, t(lang, "anyRegion")),
          [...dir.regions.entries()].map(([code, names]) => h("option", { value: code, selected: code === state.region }, names[lang === "vi" ? 0 : 1])),
        ),
      )
    : null;

  // The provinces on a tile-grid map (where each lies, north at the top);
  // any the map does not place (a code seen twice across a merger, say)
  // follow it in a plain row.
  const provinces = all.filter((r) => (dir ? r.category === "UNIT_CATEGORY_PROVINCIAL_OFFICE" : /^\d{2}$/.test(r.code)));
  const { map, unplaced } = chooseMap(provinces.map((p) => p.code));
  const size = mapSize(map);
  const placed = new Set<string>();
  const tile = (p: UnitRow, place: Place | undefined) => {
    const share = percentValue(p.counts.open_overdue, p.counts.total) ?? 0;
    const region = dir?.regions.get(p.region)?.[lang === "vi" ? 0 : 1] ?? p.region;
    const style = place ? `grid-row: ${place[0] + 1}; grid-column: ${place[1] + 1}` : "";
    return h("li", { class: `tile shade-${shade(share)}`, "data-code": p.code, title: `${p.name} (${region})`, style }, drillLink(ctx, "unit", p.id, "open_overdue", ""));
  };
  const onMap: HTMLLIElement[] = [];
  const apart: HTMLLIElement[] = [];
  // North to south, as the map reads: also the order a screen reader gives.
  const byPlace = [...provinces].sort((a, b) => {
    const pa = map.get(a.code) ?? [99, 99];
    const pb = map.get(b.code) ?? [99, 99];
    return pa[0] - pb[0] || pa[1] - pb[1] || a.code.localeCompare(b.code);
  });
  for (const p of byPlace) {
    const place = map.get(p.code);
    if (place && !unplaced.includes(p.code) && !placed.has(p.code)) {
      placed.add(p.code);
      onMap.push(tile(p, place));
    } else {
      apart.push(tile(p, undefined));
    }
  }
  const tiles = h(
    "section",
    { "aria-labelledby": "tiles-h", class: "card" },
    h("h2", { id: "tiles-h" }, `${t(lang, "tiles")} (${provinces.length})`),
    h("p", { class: "note" }, t(lang, "tilesNote")),
    h(
      "div",
      { class: "scroll" },
      h("ul", { class: "tiles tile-map", id: "tile-map", style: `grid-template-rows: repeat(${size.rows}, auto); grid-template-columns: repeat(${size.columns}, 92px)` }, onMap),
    ),
    apart.length > 0 ? h("ul", { class: "tiles", id: "tiles-apart" }, apart) : null,
  );
  // Fill the tile links' text (drillLink's text is the name; tiles show code + share).
  for (const li of tiles.querySelectorAll<HTMLLIElement>("li.tile")) {
    const p = provinces.find((x) => x.code === li.dataset.code);
    const a = li.querySelector("a");
    if (!p || !a) continue;
    mount(
      a,
      h("span", { class: "tile-code" }, p.code),
      h("span", { class: "tile-name" }, placeName(p.name)),
      h("span", { class: "tile-share" }, h("span", { class: "sr-only" }, `${t(lang, "overdueShare")}: `), formatPercent(p.counts.open_overdue, p.counts.total, lang)),
    );
  }

  mount(
    main,
    h("h1", {}, t(lang, "units")),
    h("p", { class: "period-line" }, periodLine(ctx)),
    h("p", { class: "note", id: "basis-note" }, state.basis === "current" ? t(lang, "restatedNote") : t(lang, "historicalNote")),
    filters,
    h("div", { class: "scroll" }, h("table", { id: "units-table", class: "figures sortable" }, h("thead", {}, header), body)),
    tiles,
  );

  const table: ExportTable = {
    name: t(lang, "units"),
    columns: [
      { label: t(lang, "code"), kind: "text" },
      { label: t(lang, "name"), kind: "text" },
      { label: t(lang, "total"), kind: "count" },
      ...CLASS_NAMES.map((c) => ({ label: t(lang, c), kind: "count" as const })),
      { label: `${t(lang, "overdueShare")} (%)`, kind: "percent" },
      { label: t(lang, "previous"), kind: "count" },
      { label: `${t(lang, "changeVsLastYear")} (%)`, kind: "percent" },
    ],
    rows: rows.map((r) => [
      r.code,
      r.name,
      Number(r.counts.total),
      ...CLASS_NAMES.map((c) => Number(r.counts[c])),
      percentValue(r.counts.open_overdue, r.counts.total),
      Number(r.previous.total),
      percentValue(r.counts.total - r.previous.total, r.previous.total),
    ]),
  };
  return { tables: [table], cursor: answer.appliedCursor };
}

function shade(share: number): number {
  if (share <= 0) return 0;
  if (share < 2) return 1;
  if (share < 5) return 2;
  if (share < 10) return 3;
  return 4;
}

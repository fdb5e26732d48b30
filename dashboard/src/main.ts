//! The dashboard's entry: sign-in from the link, one transport, the header
//! with the period / as-of / basis / language controls, the views, exports,
//! and the "figures as of" line refreshed without a reload.

import "./style.css";
import { createApi, createTransport } from "./api.js";
import { adoptTokenFromFragment, currentToken, signOut } from "./auth.js";
import type { Ctx, Rendered, Scope, ViewFn } from "./context.js";
import { h, mount } from "./dom.js";
import { download, toCsv, toXlsx } from "./export.js";
import { formatClockVietnam, formatCount, isoDate, type Lang, parseIsoDate } from "./format.js";
import { t } from "./i18n.js";
import { type PeriodKind, parsePeriod, parseState, periodFor, serializeState, type View, type ViewState } from "./state.js";
import { errorBox } from "./views/common.js";
import { drill } from "./views/drill.js";
import { overview } from "./views/overview.js";
import { scores } from "./views/scores.js";
import { trend } from "./views/trend.js";
import { units } from "./views/units.js";

const VIEWS: Record<View, ViewFn> = { overview, units, drill, trend, scores };
const REFRESH_MS = 15_000;

const root = document.getElementById("app") as HTMLElement;
let signedOut = false;

function showSignIn(lang: Lang, message?: string): void {
  signedOut = true;
  signOut();
  document.documentElement.lang = lang;
  document.title = t(lang, "signInTitle");
  const input = h("input", { id: "signin-link", type: "url", autocomplete: "off", size: 60 });
  mount(
    root,
    h(
      "main",
      { id: "main", class: "signin" },
      h("h1", {}, t(lang, "signInTitle")),
      message ? h("p", { role: "status" }, message) : null,
      h("p", {}, t(lang, "signInBody")),
      h(
        "form",
        {
          onsubmit: ((e: Event) => {
            e.preventDefault();
            const hash = input.value.includes("#") ? input.value.slice(input.value.indexOf("#")) : "";
            if (hash) {
              location.hash = hash;
              location.reload();
            }
          }) as EventListener,
        },
        h("label", { for: "signin-link" }, t(lang, "pasteLink")),
        " ",
        input,
        " ",
        h("button", { type: "submit" }, t(lang, "signIn")),
      ),
    ),
  );
}

async function start(): Promise<void> {
  let state = parseState(location.search);
  const token = adoptTokenFromFragment();
  if (!token) {
    showSignIn(state.lang);
    return;
  }
  const transport = createTransport(location.origin, currentToken, () => {
    if (!signedOut) showSignIn(state.lang);
  });
  const api = createApi(transport);

  let scope: Scope;
  try {
    const answer = await api.reporting.getReaderScope({});
    scope = { nationwide: answer.nationwide, units: answer.units };
  } catch (err) {
    if (signedOut) return;
    mount(root, errorBox(state.lang, err));
    return;
  }

  const main = h("main", { id: "main", tabindex: "-1" });
  const controls = h("form", { class: "controls no-print", id: "controls", onsubmit: ((e: Event) => e.preventDefault()) as EventListener });
  const nav = h("nav", { class: "no-print" });
  const freshness = h("p", { id: "freshness", class: "freshness", "aria-live": "polite" });
  const actions = h("div", { class: "actions no-print" });
  let rendered: Rendered | null = null;
  let generation = 0;

  const ctx: Ctx = {
    api,
    get state() {
      return state;
    },
    scope,
    navigate(patch, push = false) {
      state = { ...state, ...patch };
      const url = serializeState(state);
      if (push) history.pushState(null, "", url);
      else history.replaceState(null, "", url);
      void render();
    },
  };

  async function render(): Promise<void> {
    const mine = ++generation;
    const lang = state.lang;
    // Marks for the browser benchmark (bench/): each render's duration is a measure.
    performance.mark(`tasknet:render-start:${mine}`);
    document.documentElement.lang = lang;
    document.title = `${t(lang, state.view)} — ${t(lang, "title")}`;
    renderChrome();
    main.setAttribute("aria-busy", "true");
    // Keep the page's height while the figures are replaced, so a refresh does not move the reader's place.
    main.style.minHeight = `${main.offsetHeight}px`;
    try {
      const result = await VIEWS[state.view](ctx, main);
      if (mine !== generation) return;
      rendered = result;
      performance.measure(`tasknet:render:${state.view}`, `tasknet:render-start:${mine}`);
      await refreshFreshness(result.cursor);
    } catch (err) {
      if (mine !== generation || signedOut) return;
      mount(main, errorBox(lang, err));
    } finally {
      if (mine === generation) {
        main.removeAttribute("aria-busy");
        main.style.minHeight = "";
      }
    }
  }

  async function refreshFreshness(cursor?: bigint): Promise<bigint> {
    const sync = await api.reporting.getSyncState({});
    const when = sync.lastAppliedTime ? new Date(Number(sync.lastAppliedTime.seconds) * 1000) : new Date();
    const shown = cursor ?? rendered?.cursor ?? sync.appliedCursor;
    freshness.textContent = t(state.lang, "figuresAsOf", { time: formatClockVietnam(when), cursor: formatCount(shown, state.lang) });
    freshness.dataset.cursor = shown.toString();
    return sync.appliedCursor;
  }

  // New changes applied: refetch the view's figures in place, no reload.
  setInterval(() => {
    if (signedOut || document.hidden || !rendered) return;
    void api.reporting.getSyncState({}).then(
      (sync) => {
        if (rendered && sync.appliedCursor !== rendered.cursor) void render();
      },
      () => undefined,
    );
  }, REFRESH_MS);

  window.addEventListener("popstate", () => {
    state = parseState(location.search);
    void render();
  });

  function renderChrome(): void {
    const lang = state.lang;
    mount(
      nav,
      h(
        "ul",
        {},
        (["overview", "units", "drill", "trend", "scores"] as View[]).map((view) =>
          h(
            "li",
            {},
            h(
              "a",
              {
                href: serializeState({ ...state, view }),
                "aria-current": view === state.view ? "page" : null,
                onclick: ((e: MouseEvent) => {
                  if (e.ctrlKey || e.metaKey || e.shiftKey) return;
                  e.preventDefault();
                  ctx.navigate({ view }, true);
                }) as EventListener,
              },
              t(lang, view),
            ),
          ),
        ),
      ),
    );
    renderControls(lang);
    signOutButton.textContent = t(lang, "signOut");
    mount(
      actions,
      h("button", { type: "button", id: "export-csv", onclick: (() => exportAs("csv")) as EventListener }, t(lang, "exportCsv")),
      h("button", { type: "button", id: "export-xlsx", onclick: (() => exportAs("xlsx")) as EventListener }, t(lang, "exportXlsx")),
      state.view === "overview" ? h("button", { type: "button", id: "print", onclick: (() => window.print()) as EventListener }, t(lang, "print")) : null,
    );
  }

  function renderControls(lang: Lang): void {
    const parsed = parsePeriod(state.period);
    const kind: PeriodKind = parsed?.kind ?? "half";
    const start = parsed?.range.start ?? { year: new Date().getFullYear(), month: 1, day: 1 };
    const year = start.year;
    const part = kind === "half" ? (start.month <= 6 ? 1 : 2) : kind === "quarter" ? Math.floor((start.month - 1) / 3) + 1 : start.month;
    const field = (id: string, label: string, control: HTMLElement) => h("div", { class: "field" }, h("label", { for: id }, label), control);
    const select = (id: string, value: string, options: [string, string][], onChange: (v: string) => void) =>
      h(
        "select",
        { id, onchange: ((e: Event) => onChange((e.target as HTMLSelectElement).value)) as EventListener },
        options.map(([v, text]) => h("option", { value: v, selected: v === value }, text)),
      );
    const setPeriod = (p: string) => {
      if (parsePeriod(p)) ctx.navigate({ period: p });
    };
    const parts: [string, string][] =
      kind === "half" ? [["1", "H1"], ["2", "H2"]] :
      kind === "quarter" ? [["1", "Q1"], ["2", "Q2"], ["3", "Q3"], ["4", "Q4"]] :
      kind === "month" ? Array.from({ length: 12 }, (_, i) => [String(i + 1), String(i + 1)] as [string, string]) : [];
    const children: HTMLElement[] = [
      field("period-kind", t(lang, "periodKind"), select("period-kind", kind, (["year", "half", "quarter", "month", "custom"] as PeriodKind[]).map((k) => [k, t(lang, k)]), (k) => {
        const p = k === "custom" && parsed ? `${isoDate(parsed.range.start)}..${isoDate(parsed.range.end)}` : periodFor(k as PeriodKind, year, 1);
        setPeriod(p);
      })),
    ];
    if (kind === "custom") {
      const from = h("input", { id: "period-from", type: "date", value: parsed ? isoDate(parsed.range.start) : "" });
      const to = h("input", { id: "period-to", type: "date", value: parsed ? isoDate(parsed.range.end) : "" });
      const apply = () => setPeriod(`${from.value}..${to.value}`);
      from.addEventListener("change", apply);
      to.addEventListener("change", apply);
      children.push(field("period-from", t(lang, "from"), from), field("period-to", t(lang, "to"), to));
    } else {
      const yearInput = h("input", { id: "period-year", type: "number", min: 2000, max: 2100, value: year, inputmode: "numeric" });
      yearInput.addEventListener("change", () => setPeriod(periodFor(kind, Number(yearInput.value), part)));
      children.push(field("period-year", t(lang, "year"), yearInput));
      if (parts.length > 0) {
        children.push(field("period-part", t(lang, "part"), select("period-part", String(part), parts, (v) => setPeriod(periodFor(kind, year, Number(v))))));
      }
    }
    const asOf = h("input", { id: "as-of", type: "date", value: state.asOf });
    asOf.addEventListener("change", () => {
      if (parseIsoDate(asOf.value)) ctx.navigate({ asOf: asOf.value });
    });
    children.push(field("as-of", t(lang, "asOf"), asOf));
    children.push(
      field("basis", t(lang, "basis"), select("basis", state.basis, [["current", t(lang, "basisCurrent")], ["historical", t(lang, "basisHistorical")]], (v) => ctx.navigate({ basis: v as ViewState["basis"] }))),
    );
    children.push(
      field("lang", t(lang, "language"), select("lang", lang, [["vi", "Tiếng Việt"], ["en", "English"]], (v) => ctx.navigate({ lang: v as Lang }))),
    );
    mount(controls, children);
  }

  async function exportAs(kind: "csv" | "xlsx"): Promise<void> {
    if (!rendered) return;
    const base = `tasknet-${state.view}-${state.period}-${state.asOf}`;
    if (kind === "csv") download(`${base}.csv`, toCsv(rendered.tables), "text/csv;charset=utf-8");
    else download(`${base}.xlsx`, await toXlsx(rendered.tables), "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet");
  }

  const signOutButton = h("button", { type: "button", id: "sign-out", class: "no-print" });
  signOutButton.addEventListener("click", () => showSignIn(state.lang, t(state.lang, "signedOut")));
  mount(
    root,
    h("a", { href: "#main", class: "skip" }, t(state.lang, "skip")),
    h("header", {}, h("div", { class: "brand" }, h("strong", {}, "tasknet"), " ", h("span", {}, t(state.lang, "title"))), nav, signOutButton),
    controls,
    h("div", { class: "status-row" }, actions, freshness),
    main,
  );
  // Keep the URL canonical (a permalink of exactly what is shown).
  history.replaceState(null, "", serializeState(state));
  await render();
}

// A sign-in link opened on a page already loaded only changes the fragment: start over with it.
window.addEventListener("hashchange", () => {
  if (/token=/.test(location.hash)) location.reload();
});

void start();

//! Number and date forms as the review report prints them: Vietnamese first
//! (112.587; 87,94 %; 30/6/2024), English on request (112,587; 87.94 %;
//! 30 June 2024). Percentages come from integer counts in integer arithmetic
//! and are truncated, as crates/render/src/numbers.rs does, so the page never
//! disagrees with the paragraph by one in the last digit.

export type Lang = "vi" | "en";

/** A count with thousands separators: 112.587 (vi), 112,587 (en). */
export function formatCount(value: number | bigint, lang: Lang): string {
  const big = BigInt(value);
  const negative = big < 0n;
  const digits = (negative ? -big : big).toString();
  const sep = lang === "vi" ? "." : ",";
  let out = "";
  for (let i = 0; i < digits.length; i++) {
    if (i > 0 && (digits.length - i) % 3 === 0) out += sep;
    out += digits[i];
  }
  return negative ? `-${out}` : out;
}

/**
 * numerator / denominator × 100, truncated toward zero to `decimals` places,
 * without the % sign: "87,94" (vi), "-30.27" (en); null when the denominator is 0.
 */
export function formatPercentNumber(
  numerator: number | bigint,
  denominator: number | bigint,
  lang: Lang,
  decimals = 2,
): string | null {
  const den = BigInt(denominator);
  if (den === 0n) return null;
  const scale = 10n ** BigInt(decimals);
  const scaled = (BigInt(numerator) * 100n * scale) / den; // BigInt division truncates toward zero
  const negative = scaled < 0n;
  const abs = negative ? -scaled : scaled;
  let text = formatCount(abs / scale, lang);
  if (decimals > 0) {
    text += (lang === "vi" ? "," : ".") + (abs % scale).toString().padStart(decimals, "0");
  }
  return negative ? `-${text}` : text;
}

/** A share with its sign and a space before %: "87,94 %"; "–" without a base. */
export function formatPercent(
  numerator: number | bigint,
  denominator: number | bigint,
  lang: Lang,
  decimals = 2,
): string {
  const text = formatPercentNumber(numerator, denominator, lang, decimals);
  return text === null ? "–" : `${text} %`;
}

/** The change from previous to current as a signed percentage: "+11,38 %", "-30,27 %", "–". */
export function formatChange(current: number | bigint, previous: number | bigint, lang: Lang): string {
  const prev = BigInt(previous);
  if (prev === 0n) return "–";
  const diff = BigInt(current) - prev;
  const text = formatPercentNumber(diff, prev, lang, 2);
  if (text === null) return "–";
  return diff > 0n ? `+${text} %` : `${text} %`;
}

export interface CivilDate {
  year: number;
  month: number;
  day: number;
}

const MONTHS_EN = [
  "January", "February", "March", "April", "May", "June",
  "July", "August", "September", "October", "November", "December",
];

/** 30/6/2024 (vi, no leading zeros, as the narrative prints) or 30 June 2024 (en). */
export function formatDate(date: CivilDate | undefined, lang: Lang): string {
  if (!date || date.year === 0) return "–";
  if (lang === "vi") return `${date.day}/${date.month}/${date.year}`;
  return `${date.day} ${MONTHS_EN[date.month - 1]} ${date.year}`;
}

/** ISO form used in URLs and inputs: 2024-06-30. */
export function isoDate(date: CivilDate): string {
  const p = (n: number, w = 2) => String(n).padStart(w, "0");
  return `${p(date.year, 4)}-${p(date.month)}-${p(date.day)}`;
}

/** Parses 2024-06-30 into a valid civil date, or null. */
export function parseIsoDate(text: string): CivilDate | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  if (!m) return null;
  const date = { year: Number(m[1]), month: Number(m[2]), day: Number(m[3]) };
  if (date.month < 1 || date.month > 12 || date.day < 1 || date.day > daysInMonth(date.year, date.month)) {
    return null;
  }
  return date;
}

export function daysInMonth(year: number, month: number): number {
  return new globalThis.Date(Date.UTC(year, month, 0)).getUTCDate();
}

/** HH:MM of an instant in Vietnam time (UTC+7, no daylight saving). */
export function formatClockVietnam(instant: globalThis.Date): string {
  const shifted = new globalThis.Date(instant.getTime() + 7 * 3600 * 1000);
  const p = (n: number) => String(n).padStart(2, "0");
  return `${p(shifted.getUTCHours())}:${p(shifted.getUTCMinutes())}`;
}

/** Today's civil date in Vietnam time. */
export function todayVietnam(now: globalThis.Date = new globalThis.Date()): CivilDate {
  const shifted = new globalThis.Date(now.getTime() + 7 * 3600 * 1000);
  return { year: shifted.getUTCFullYear(), month: shifted.getUTCMonth() + 1, day: shifted.getUTCDate() };
}

/** The truncated percentage as a number (87.94), for exports; null without a base. */
export function percentValue(numerator: number | bigint, denominator: number | bigint, decimals = 2): number | null {
  const den = BigInt(denominator);
  if (den === 0n) return null;
  const scale = 10n ** BigInt(decimals);
  const scaled = (BigInt(numerator) * 100n * scale) / den;
  return Number(scaled) / Number(scale);
}

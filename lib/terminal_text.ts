/**
 * Text for a terminal's grid of cells: display width (East Asian wide
 * characters and emoji take two columns, combining marks none), truncation on
 * code-point boundaries, one-line sparkline charts, compact counts, clock
 * times and durations. Pure; the monitor's formats use it.
 */

const SPARKS = "▁▂▃▄▅▆▇█";

/** A one-line chart of values (null: no data, shown as a space). */
export function sparkline(values: ReadonlyArray<number | null>): string {
  const present = values.filter((v): v is number => v !== null);
  const max = Math.max(0, ...present);
  return values.map((v) => {
    if (v === null) return " ";
    if (max === 0) return SPARKS[0];
    return SPARKS[Math.min(SPARKS.length - 1, Math.floor((v / max) * (SPARKS.length - 1)))];
  }).join("");
}

/** Display width of one code point: 2 for East Asian wide and emoji, 0 for combining marks. */
function charWidth(codePoint: number): number {
  if (codePoint === 0) return 0;
  if (codePoint >= 0x300 && codePoint <= 0x36f) return 0;
  if (
    (codePoint >= 0x1100 && codePoint <= 0x115f) || (codePoint >= 0x2e80 && codePoint <= 0xa4cf) ||
    (codePoint >= 0xac00 && codePoint <= 0xd7a3) || (codePoint >= 0xf900 && codePoint <= 0xfaff) ||
    (codePoint >= 0xfe30 && codePoint <= 0xfe4f) || (codePoint >= 0xff00 && codePoint <= 0xff60) ||
    (codePoint >= 0xffe0 && codePoint <= 0xffe6) ||
    (codePoint >= 0x1f300 && codePoint <= 0x1faff) ||
    (codePoint >= 0x20000 && codePoint <= 0x3fffd)
  ) return 2;
  return 1;
}

/**
 * Cuts text to at most `width` columns on code-point boundaries (never inside
 * a UTF-8 sequence or a surrogate pair), ending with "…" when cut. Control
 * characters become spaces so a row stays one row.
 */
export function truncate(text: string, width: number): string {
  if (width <= 0) return "";
  // Control characters are what this replaces: a row must stay one row.
  // deno-lint-ignore no-control-regex
  const chars = Array.from(text.replace(/[\u0000-\u001f\u007f-\u009f]/g, " "));
  const widths = chars.map((c) => charWidth(c.codePointAt(0)!));
  if (widths.reduce((a, b) => a + b, 0) <= width) return chars.join("");
  let out = "";
  let used = 0;
  for (let i = 0; i < chars.length && used + widths[i]! <= width - 1; i++) {
    out += chars[i];
    used += widths[i]!;
  }
  return out + "…";
}

/** "HH:MM:SS" of a time, in UTC (the logs' zone). */
export function clock(at: number): string {
  return new Date(at).toISOString().slice(11, 19);
}

/** Formats a count compactly: 950, 12.3k, 4.56M. */
export function compact(n: number): string {
  if (n < 1_000) return String(Math.round(n));
  if (n < 1_000_000) return `${(n / 1_000).toFixed(n < 10_000 ? 2 : 1)}k`;
  return `${(n / 1_000_000).toFixed(2)}M`;
}

/** Formats seconds as 1h02m03s / 4m05s / 6s. */
export function duration(seconds: number): string {
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = Math.floor(seconds % 60);
  if (h > 0) return `${h}h${String(m).padStart(2, "0")}m${String(s).padStart(2, "0")}s`;
  if (m > 0) return `${m}m${String(s).padStart(2, "0")}s`;
  return `${s}s`;
}

/**
 * Text for a terminal's grid of cells: display width (East Asian wide
 * characters and emoji take two columns, combining marks none), truncation on
 * code-point boundaries, one-line sparkline charts, compact counts, clock
 * times and durations (one format for every duration shown). Pure; the monitor's formats use it.
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
  // Most rows are printable ASCII, one column a character: no need to look at each.
  if (PRINTABLE_ASCII.test(text)) {
    return text.length <= width ? text : `${text.slice(0, width - 1)}…`;
  }
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

const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;

/** "HH:MM:SS" of a time, in UTC (the logs' zone). */
export function clock(at: number): string {
  // The rows of a frame share a few seconds: the last one is kept.
  const second = Math.floor(at / 1000);
  if (second !== lastClock.second) {
    lastClock = { second, text: new Date(at).toISOString().slice(11, 19) };
  }
  return lastClock.text;
}

let lastClock = { second: NaN, text: "" };

/** Formats a count compactly: 950, 12.3k, 4.56M. */
export function compact(n: number): string {
  if (n < 1_000) return String(Math.round(n));
  if (n < 1_000_000) return `${(n / 1_000).toFixed(n < 10_000 ? 2 : 1)}k`;
  return `${(n / 1_000_000).toFixed(2)}M`;
}

/**
 * Formats a duration for a reader, at a precision of a few percent: below 1 s
 * in milliseconds, below 10 s in tenths of a second, above in the largest unit
 * with the next one while the largest is a single digit. Above 1 s it rounds
 * down from the whole millisecond, so a value never shows the next unit early.
 *
 * @example
 * ```ts
 * duration(36); // "36 ms"
 * duration(2_340); // "2.3 s"
 * duration(125_000); // "2 min 05 s"
 * duration(2_344_186); // "39 min"
 * duration(3_900_000); // "1 h 05 min"
 * ```
 */
export function duration(ms: number): string {
  const rounded = Math.round(ms);
  // A negative latency is a clock skew between hosts: shown, not hidden.
  const sign = rounded < 0 ? "-" : "";
  const total = Math.abs(rounded);
  if (total < 1_000) return `${sign}${total} ms`;
  if (total < 10_000) return `${sign}${(Math.floor(total / 100) / 10).toFixed(1)} s`;
  const seconds = Math.floor(total / 1_000);
  const minutes = Math.floor(seconds / 60);
  const hours = Math.floor(minutes / 60);
  const days = Math.floor(hours / 24);
  const two = (n: number) => String(n).padStart(2, "0");
  const text = minutes === 0
    ? `${seconds} s`
    : minutes < 10
    ? `${minutes} min ${two(seconds % 60)} s`
    : hours === 0
    ? `${minutes} min`
    : hours < 10
    ? `${hours} h ${two(minutes % 60)} min`
    : days === 0
    ? `${hours} h`
    : days < 10
    ? `${days} d ${two(hours % 24)} h`
    : `${days} d`;
  return sign + text;
}

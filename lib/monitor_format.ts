/**
 * Turns the monitor's view into text rows for each pane, cut to the pane's
 * width, with or without blessed colour tags. Pure; the dashboard only places
 * these rows on the screen, and `--once` prints them.
 */
import type { Signal, Status, View } from "./monitor_model.ts";
import { clock, compact, duration, sparkline, truncate } from "./terminal_text.ts";
import { ORDER_STATUSES } from "./order.ts";
import type { LagTime } from "./lag_time.ts";

const COLOURS: Record<Status, string> = {
  ok: "green",
  warn: "yellow",
  critical: "red",
  unknown: "gray",
};

const LEVEL_COLOURS: Record<string, string> = {
  ERROR: "red",
  FATAL: "red",
  // The JSON Lines formatter writes warnings as WARN.
  WARN: "yellow",
  WARNING: "yellow",
  INFO: "white",
  DEBUG: "gray",
};

/** Escapes blessed tag braces in content that comes from files. */
function escape(text: string): string {
  if (!text.includes("{") && !text.includes("}")) return text;
  return text.replace(/[{}]/g, (c) => (c === "{" ? "{open}" : "{close}"));
}

function paint(text: string, colour: string | undefined, tags: boolean): string {
  if (!tags || colour === undefined) return tags ? escape(text) : text;
  return `{${colour}-fg}${escape(text)}{/${colour}-fg}`;
}

/** Said after the latency when it does not (only) count from the orders' own produce time. */
const LATENCY_SOURCE_NOTE = {
  produced_at: undefined,
  kafka_timestamp: "from record time",
  mixed: "partly from record time",
} as const;

/** What explains the latency figures: a backlog's wait in them, where they count from. */
function latencyNote(figures: View["figures"]): string {
  const notes = [
    figures.flow === "draining"
      ? "draining backlog"
      : figures.latencyIncludesBacklog
      ? "includes backlog"
      : undefined,
    LATENCY_SOURCE_NOTE[figures.latencySource ?? "produced_at"],
  ].filter((note) => note !== undefined);
  return notes.length === 0 ? "" : ` (${notes.join(", ")})`;
}

/**
 * The three latency percentiles: "2/4/5 ms" while all are in milliseconds,
 * else each in its own unit ("36 ms/117 ms/2.3 s"), so none reads in another's.
 */
export function percentilesText(
  { p50, p95, p99 }: View["figures"]["latencyMs"],
): string {
  const texts = [p50, p95, p99].map((v) => v === null ? "-" : duration(v));
  if (texts.every((t) => t === "-" || t.endsWith(" ms"))) {
    return `${texts.map((t) => t.replace(/ ms$/, "")).join("/")} ms`;
  }
  return texts.join("/");
}

/** The age's trend is shown once it moves by more than this per minute. */
const TREND_SHOWN_MS_PER_MIN = 1_000;

/** A rate of seconds per minute: "2.5", "60", "240". */
function secondsPerMinute(msPerMin: number): string {
  const seconds = msPerMin / 1000;
  return seconds < 10 ? seconds.toFixed(1) : String(Math.round(seconds));
}

/**
 * The headline's lag-in-time row: "lag in time 47 s (falling 38 s/min), drains
 * in 12 s", "lag in time 0 s, drains now", "lag in time 9.2 s (rising 60
 * s/min), drains never"; "lag in time -" when unknown (a tracker older than
 * these figures).
 */
export function lagTimeText(lagTime: LagTime | null): string {
  if (lagTime === null || lagTime.age_ms === null) return "lag in time -";
  const trend = lagTime.age_trend_ms_per_min ?? 0;
  const trendText = Math.abs(trend) > TREND_SHOWN_MS_PER_MIN
    ? ` (${trend > 0 ? "rising" : "falling"} ${secondsPerMinute(Math.abs(trend))} s/min)`
    : "";
  const drain = lagTime.drain_ms === null
    ? ""
    : lagTime.drain_ms === "never"
    ? ", drains never"
    : lagTime.drain_ms === 0
    ? ", drains now"
    : `, drains in ${duration(lagTime.drain_ms)}`;
  const age = lagTime.age_ms === 0 ? "0 s" : duration(lagTime.age_ms);
  return `lag in time ${age}${trendText}${drain}`;
}

export interface Panels {
  headline: string[];
  health: string[];
  charts: string[];
  logs: string[];
  events: string[];
  /** The dead-letter panel (key `d`): counts by reason over the chart span. */
  deadLetters: string[];
}

/** The panes in the order they are drawn. */
export const PANES = ["headline", "health", "charts", "logs", "events", "deadLetters"] as const;
export type Pane = typeof PANES[number];

/**
 * The panes whose rows differ from those shown (every pane when nothing is
 * shown yet): only these need their text set and drawn again.
 */
export function changedPanes(shown: Panels | undefined, next: Panels): Pane[] {
  return PANES.filter((pane) => {
    const before = shown?.[pane];
    const after = next[pane];
    return before === undefined || before.length !== after.length ||
      before.some((row, i) => row !== after[i]);
  });
}

/**
 * The dead-letter panel's rows: per error class, the last minute, the chart
 * span and a sparkline of the span; a line saying so when there were none.
 */
export function deadLetterRows(
  view: View,
  { width, tags }: { width: number; tags: boolean },
): string[] {
  const rows = [
    `dead letters by reason, last 5 minutes (5 s buckets); ${
      compact(view.figures.deadLettered)
    } in all`,
  ];
  if (view.deadLetters.length === 0) {
    rows.push("none in the last 5 minutes");
  }
  const nameWidth = Math.max(6, ...view.deadLetters.map((r) => r.errorClass.length));
  for (const row of view.deadLetters) {
    rows.push(
      `${row.errorClass.padEnd(nameWidth)}  ${compact(row.lastMinute).padStart(5)} last min  ${
        compact(row.inSpan).padStart(5)
      } in 5 min`,
      `${" ".repeat(nameWidth + 2)}${
        sparkline(row.series.slice(-Math.max(1, width - nameWidth - 2)))
      }`,
    );
  }
  rows.push("", "dlq:inspect lists them; dlq:redrive sends them back");
  return rows.map((line, i) =>
    paint(
      truncate(line, width),
      i > 0 && i < rows.length - 2 && view.deadLetters.length > 0 ? "red" : undefined,
      tags,
    )
  );
}

/**
 * The hint in place of the overall status and the tracker's signal: on one row
 * when it fits, else split after its colon (the command on a row of its own).
 */
function hintRows(hint: string, width: number): string[] {
  if (truncate(hint, width) === hint) return [hint];
  const cut = hint.indexOf(": ");
  if (cut < 0) return [truncate(hint, width)];
  return [truncate(hint.slice(0, cut + 1), width), truncate(`  ${hint.slice(cut + 2)}`, width)];
}

/**
 * Formats every pane.
 *
 * @param options.width columns of the headline
 * @param options.healthWidth columns of the health pane (default paneWidth)
 * @param options.chartWidth columns of the chart pane (default paneWidth)
 * @param options.paneWidth columns of the log and event panes
 * @param options.rows how many of the newest log and event rows to format (default all):
 *   the rows a pane can show, when it changes faster than anyone scrolls
 * @param options.tags include blessed colour tags
 */
export function formatPanels(
  view: View,
  { width, paneWidth, healthWidth = paneWidth, chartWidth = paneWidth, rows, tags }: {
    width: number;
    paneWidth: number;
    healthWidth?: number;
    chartWidth?: number;
    rows?: { logs: number; events: number };
    tags: boolean;
  },
): Panels {
  const f = view.figures;
  const rate = f.successRate === null ? "-" : `${(f.successRate * 100).toFixed(2)}%`;
  const headline = [
    `received ${compact(f.total)}  audited ${compact(f.audited)}  DLQ ${
      compact(f.deadLettered)
    }  duplicates ${compact(f.duplicates)}  success ${rate}  uptime ${
      f.uptimeSec === null ? "-" : duration(f.uptimeSec * 1000)
    }${f.unreadableLines > 0 ? `  unreadable lines ${compact(f.unreadableLines)}` : ""}`,
    `now ${f.throughputPerSec.toFixed(1)} msg/s  latency p50/p95/p99 ${
      percentilesText(f.latencyMs)
    }${latencyNote(f)}  lag ${f.lagTotal === null ? "-" : compact(f.lagTotal)}`,
    lagTimeText(f.lagTime),
    ORDER_STATUSES.map((s) => `${s} ${compact(view.lifecycle[s])}`).join("  "),
  ].map((line) => paint(truncate(line, width), undefined, tags));

  const signalRow = (s: Signal) =>
    paint(
      truncate(`${s.status === "ok" ? "●" : "▲"} ${s.name.padEnd(13)}${s.reason}`, healthWidth),
      COLOURS[s.status],
      tags,
    );
  // With nothing read, the hint says more than "overall: UNKNOWN" and "tracker no-log".
  const health = view.hint === null
    ? [
      paint(
        truncate(`overall: ${view.health.overall.toUpperCase()}`, healthWidth),
        COLOURS[view.health.overall],
        tags,
      ),
      ...view.health.signals.map(signalRow),
    ]
    : [
      ...hintRows(view.hint, healthWidth).map((row) => paint(row, COLOURS.unknown, tags)),
      ...view.health.signals.filter((s) => s.name !== "tracker").map(signalRow),
    ];

  const throughput = view.charts.throughput.slice(-chartWidth);
  const latency = view.charts.latencyP95.slice(-chartWidth);
  const maxRate = Math.max(0, ...throughput);
  const maxLatency = Math.max(0, ...latency.filter((v): v is number => v !== null));
  const charts = [
    truncate(`throughput (max ${maxRate.toFixed(1)} msg/s, 5 s buckets)`, chartWidth),
    sparkline(throughput),
    truncate(`latency p95 (max ${duration(maxLatency)})`, chartWidth),
    sparkline(latency),
  ].map((line) => paint(line, undefined, tags));

  const logs = view.logs.slice(0, rows?.logs).map((row) =>
    paint(
      truncate(`${clock(row.at)} ${row.level.slice(0, 5).padEnd(5)} ${row.text}`, paneWidth),
      LEVEL_COLOURS[row.level],
      tags,
    )
  );
  const events = view.events.slice(0, rows?.events).map((row) =>
    paint(
      truncate(`${clock(row.at)} ${row.text}`, paneWidth),
      row.outcome === "audited" ? undefined : row.outcome === "duplicate" ? "yellow" : "red",
      tags,
    )
  );
  return {
    headline,
    health,
    charts,
    logs,
    events,
    deadLetters: deadLetterRows(view, { width: paneWidth, tags }),
  };
}

/** The whole dashboard as plain text, for `--once`. */
export function formatOnce(view: View, { width }: { width: number }): string {
  const panels = formatPanels(view, { width, paneWidth: width, tags: false });
  return [
    ...panels.headline,
    "",
    ...panels.health,
    "",
    ...panels.charts,
    "",
    "recent health log:",
    ...panels.logs.slice(0, 8),
    "",
    "recent events:",
    ...panels.events.slice(0, 8),
    "",
    ...panels.deadLetters,
  ].join("\n");
}

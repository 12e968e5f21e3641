/**
 * Turns the monitor's view into text rows for each pane, cut to the pane's
 * width, with or without blessed colour tags. Pure; the dashboard only places
 * these rows on the screen, and `--once` prints them.
 */
import type { Signal, Status, View } from "./monitor_model.ts";
import { clock, compact, duration, sparkline, truncate } from "./terminal_text.ts";
import { ORDER_STATUSES } from "./order.ts";

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
  return text.replace(/[{}]/g, (c) => (c === "{" ? "{open}" : "{close}"));
}

function paint(text: string, colour: string | undefined, tags: boolean): string {
  if (!tags || colour === undefined) return tags ? escape(text) : text;
  return `{${colour}-fg}${escape(text)}{/${colour}-fg}`;
}

/** Said after the latency when it does not (only) count from the orders' own produce time. */
const LATENCY_SOURCE_NOTE = {
  produced_at: "",
  kafka_timestamp: " (from record time)",
  mixed: " (partly from record time)",
} as const;

export interface Panels {
  headline: string[];
  health: string[];
  charts: string[];
  logs: string[];
  events: string[];
}

function ms(value: number | null): string {
  return value === null ? "-" : `${Math.round(value)}`;
}

/**
 * Formats every pane.
 *
 * @param options.width columns of the headline
 * @param options.healthWidth columns of the health pane (default paneWidth)
 * @param options.chartWidth columns of the chart pane (default paneWidth)
 * @param options.paneWidth columns of the log and event panes
 * @param options.tags include blessed colour tags
 */
export function formatPanels(
  view: View,
  { width, paneWidth, healthWidth = paneWidth, chartWidth = paneWidth, tags }: {
    width: number;
    paneWidth: number;
    healthWidth?: number;
    chartWidth?: number;
    tags: boolean;
  },
): Panels {
  const f = view.figures;
  const rate = f.successRate === null ? "-" : `${(f.successRate * 100).toFixed(2)}%`;
  const headline = [
    `received ${compact(f.total)}  audited ${compact(f.audited)}  DLQ ${
      compact(f.deadLettered)
    }  duplicates ${compact(f.duplicates)}  success ${rate}${
      f.unreadableLines > 0 ? `  unreadable lines ${compact(f.unreadableLines)}` : ""
    }`,
    `now ${f.throughputPerSec.toFixed(1)} msg/s  latency p50/p95/p99 ${ms(f.latencyMs.p50)}/${
      ms(f.latencyMs.p95)
    }/${ms(f.latencyMs.p99)} ms${LATENCY_SOURCE_NOTE[f.latencySource ?? "produced_at"]}  lag ${
      f.lagTotal === null ? "-" : compact(f.lagTotal)
    }  uptime ${f.uptimeSec === null ? "-" : duration(f.uptimeSec)}`,
    ORDER_STATUSES.map((s) => `${s} ${compact(view.lifecycle[s])}`).join("  "),
  ].map((line) => paint(truncate(line, width), undefined, tags));

  const signalRow = (s: Signal) =>
    paint(
      truncate(`${s.status === "ok" ? "●" : "▲"} ${s.name.padEnd(13)}${s.reason}`, healthWidth),
      COLOURS[s.status],
      tags,
    );
  const health = [
    paint(
      truncate(`overall: ${view.health.overall.toUpperCase()}`, healthWidth),
      COLOURS[view.health.overall],
      tags,
    ),
    ...view.health.signals.map(signalRow),
  ];

  const throughput = view.charts.throughput.slice(-chartWidth);
  const latency = view.charts.latencyP95.slice(-chartWidth);
  const maxRate = Math.max(0, ...throughput);
  const maxLatency = Math.max(0, ...latency.filter((v): v is number => v !== null));
  const charts = [
    truncate(`throughput (max ${maxRate.toFixed(1)} msg/s, 5 s buckets)`, chartWidth),
    sparkline(throughput),
    truncate(`latency p95 (max ${Math.round(maxLatency)} ms)`, chartWidth),
    sparkline(latency),
  ].map((line) => paint(line, undefined, tags));

  const logs = view.logs.map((row) =>
    paint(
      truncate(`${clock(row.at)} ${row.level.slice(0, 5).padEnd(5)} ${row.text}`, paneWidth),
      LEVEL_COLOURS[row.level],
      tags,
    )
  );
  const events = view.events.map((row) =>
    paint(
      truncate(`${clock(row.at)} ${row.text}`, paneWidth),
      row.outcome === "audited" ? undefined : row.outcome === "duplicate" ? "yellow" : "red",
      tags,
    )
  );
  return { headline, health, charts, logs, events };
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
  ].join("\n");
}

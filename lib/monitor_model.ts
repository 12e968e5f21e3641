/**
 * The monitor's view model: folds the tracker's health log and audit trail
 * into figures about now (sliding windows, not lifetime averages), health
 * statuses with a one-word reason, chart series and display rows. Every record
 * keeps its own timestamp, so a replayed history never looks live. Pure: the
 * current time is passed in.
 */
import { percentile, SlidingWindow } from "./metrics.ts";
import { ORDER_STATUSES, type OrderStatus } from "./order.ts";

/** Window of the "now" figures. */
export const NOW_WINDOW_MS = 10_000;
/** Window of success rate, latency and recent errors. */
export const RECENT_WINDOW_MS = 60_000;
/** Chart span and resolution. */
export const CHART_BUCKET_MS = 5_000;
export const CHART_BUCKETS = 60;
/** The tracker writes a metrics record every 5 s; silence past this means trouble. */
export const SILENT_AFTER_MS = 15_000;
const RECENT_ROWS = 200;

export const THRESHOLDS = {
  successRate: { warn: 0.99, critical: 0.95 },
  lag: { warn: 1_000, critical: 10_000 },
  recentErrors: { warn: 1, critical: 6 },
} as const;

export type Status = "ok" | "warn" | "critical" | "unknown";

/** A line of the health log as the logging library writes it. */
export interface HealthRecord {
  "@timestamp": string;
  level: string;
  message: string;
  logger?: string;
  properties?: Record<string, unknown>;
}

/** The fields of an audit line the monitor uses. */
export interface AuditSummary {
  timestamp: string;
  outcome: "audited" | "dead_lettered" | "duplicate";
  status: string | null;
  order_id: string | null;
  kafka_partition: number;
  kafka_offset: number;
  latency_ms: number | null;
  error_class: string | null;
}

export interface Signal {
  name: string;
  status: Status;
  /** One word. */
  reason: string;
}

export interface View {
  figures: {
    total: number;
    audited: number;
    deadLettered: number;
    duplicates: number;
    throughputPerSec: number;
    successRate: number | null;
    latencyMs: { p50: number | null; p95: number | null; p99: number | null };
    lagTotal: number | null;
    lagByPartition: Record<string, number>;
    uptimeSec: number | null;
  };
  health: { overall: Status; signals: Signal[] };
  charts: { throughput: number[]; latencyP95: Array<number | null> };
  lifecycle: Record<OrderStatus, number>;
  logs: LogRow[];
  events: EventRow[];
  /** Time of the newest record seen (ms), or null. */
  lastRecordAt: number | null;
}

export interface LogRow {
  at: number;
  level: string;
  text: string;
}

export interface EventRow {
  at: number;
  outcome: AuditSummary["outcome"];
  text: string;
}

interface Sample {
  at: number;
  ok: boolean;
  latency: number | null;
}

/** Accumulates records; `view(now)` computes what to show. */
export class MonitorModel {
  #total = 0;
  #audited = 0;
  #deadLettered = 0;
  #duplicates = 0;
  #lifecycle = Object.fromEntries(ORDER_STATUSES.map((s) => [s, 0])) as Record<
    OrderStatus,
    number
  >;
  /** Audit samples of the chart span (bounded by time, not count). */
  #samples: Sample[] = [];
  #errors: number[] = [];
  #logs: LogRow[] = [];
  #events: EventRow[] = [];
  #metrics: { at: number; properties: Record<string, unknown> } | undefined;
  #trackerState: { at: number; stopped: boolean } | undefined;
  #trackerStartedAt: number | undefined;
  #lastRecordAt: number | null = null;

  /** Takes one health-log record into account. */
  addHealth(record: HealthRecord): void {
    const at = Date.parse(record["@timestamp"]);
    if (Number.isNaN(at)) return;
    this.#seen(at);
    const properties = record.properties ?? {};
    if (record.message.startsWith("Tracker starting")) {
      // A new run: the previous run's metrics no longer describe anything.
      this.#trackerStartedAt = at;
      this.#metrics = undefined;
    }
    if (properties.kind === "metrics") {
      this.#metrics = { at, properties };
    } else {
      push(this.#logs, { at, level: record.level, text: record.message }, RECENT_ROWS);
    }
    if (record.level === "ERROR" || record.level === "FATAL") this.#errors.push(at);
    const stopped = /^Tracker (stopped|failed)/.test(record.message);
    if ((this.#trackerState?.at ?? -Infinity) <= at) this.#trackerState = { at, stopped };
  }

  /** Takes one audit record into account. */
  addAudit(record: AuditSummary): void {
    const at = Date.parse(record.timestamp);
    if (Number.isNaN(at)) return;
    this.#seen(at);
    this.#total++;
    if (record.outcome === "audited") {
      this.#audited++;
      if (record.status !== null && record.status in this.#lifecycle) {
        this.#lifecycle[record.status as OrderStatus]++;
      }
    } else if (record.outcome === "dead_lettered") this.#deadLettered++;
    else this.#duplicates++;
    if (record.outcome !== "duplicate") {
      this.#samples.push({ at, ok: record.outcome === "audited", latency: record.latency_ms });
      // Bound memory by the chart span; samples arrive roughly in time order.
      const oldest = at - CHART_BUCKETS * CHART_BUCKET_MS - RECENT_WINDOW_MS;
      if ((this.#samples[0]?.at ?? Infinity) < oldest - CHART_BUCKET_MS) {
        this.#samples = this.#samples.filter((s) => s.at >= oldest);
      }
    }
    push(this.#events, {
      at,
      outcome: record.outcome,
      text: eventText(record),
    }, RECENT_ROWS);
  }

  #seen(at: number): void {
    if (this.#lastRecordAt === null || at > this.#lastRecordAt) this.#lastRecordAt = at;
  }

  /** What to show at time `now` (ms). */
  view(now: number): View {
    const inWindow = (windowMs: number) => (s: { at: number }) =>
      s.at > now - windowMs && s.at <= now;
    const recent = this.#samples.filter(inWindow(RECENT_WINDOW_MS));
    const nowWindow = new SlidingWindow({ windowMs: NOW_WINDOW_MS });
    for (const s of this.#samples.filter(inWindow(NOW_WINDOW_MS))) nowWindow.addCount(s.at, 1);
    const throughput = nowWindow.ratePerSec(now);
    const okCount = recent.filter((s) => s.ok).length;
    const successRate = recent.length > 0
      ? okCount / recent.length
      : this.#audited + this.#deadLettered > 0
      ? this.#audited / (this.#audited + this.#deadLettered)
      : null;
    const latencies = recent.flatMap((s) => (s.ok && s.latency !== null ? [s.latency] : []));
    const latencyMs = {
      p50: percentile(latencies, 50) ?? null,
      p95: percentile(latencies, 95) ?? null,
      p99: percentile(latencies, 99) ?? null,
    };

    const metrics = this.#metrics?.properties;
    const lagByPartition = isNumberRecord(metrics?.lag) ? metrics.lag : {};
    const lagTotal = typeof metrics?.lag_total === "number" ? metrics.lag_total : null;
    const running = this.#trackerState !== undefined && !this.#trackerState.stopped;
    const uptimeSec = running && this.#trackerStartedAt !== undefined
      ? Math.max(0, Math.round((now - this.#trackerStartedAt) / 1000))
      : null;
    const recentErrors = this.#errors.filter((at) => at > now - RECENT_WINDOW_MS && at <= now)
      .length;

    const throughputSeries: number[] = [];
    const latencySeries: Array<number | null> = [];
    const firstBucketStart = now - CHART_BUCKETS * CHART_BUCKET_MS;
    const buckets: Sample[][] = Array.from({ length: CHART_BUCKETS }, () => []);
    for (const s of this.#samples) {
      const index = Math.floor((s.at - firstBucketStart) / CHART_BUCKET_MS);
      if (index >= 0 && index < CHART_BUCKETS) buckets[index]!.push(s);
    }
    for (const bucket of buckets) {
      throughputSeries.push(bucket.length / (CHART_BUCKET_MS / 1000));
      const values = bucket.flatMap((s) => (s.ok && s.latency !== null ? [s.latency] : []));
      latencySeries.push(percentile(values, 95) ?? null);
    }

    const signals = healthSignals({
      now,
      successRate: recent.length > 0 ? successRate : null,
      throughput,
      lagTotal,
      recentErrors,
      tracker: this.#trackerState,
    });
    return {
      figures: {
        total: this.#total,
        audited: this.#audited,
        deadLettered: this.#deadLettered,
        duplicates: this.#duplicates,
        throughputPerSec: throughput,
        successRate,
        latencyMs,
        lagTotal,
        lagByPartition,
        uptimeSec,
      },
      health: { overall: worst(signals.map((s) => s.status)), signals },
      charts: { throughput: throughputSeries, latencyP95: latencySeries },
      lifecycle: { ...this.#lifecycle },
      logs: [...this.#logs].reverse(),
      events: [...this.#events].reverse(),
      lastRecordAt: this.#lastRecordAt,
    };
  }
}

function push<T>(rows: T[], row: T, max: number): void {
  rows.push(row);
  if (rows.length > max) rows.splice(0, rows.length - max);
}

function isNumberRecord(value: unknown): value is Record<string, number> {
  return typeof value === "object" && value !== null &&
    Object.values(value).every((v) => typeof v === "number");
}

function eventText(record: AuditSummary): string {
  const where = `${record.kafka_partition}/${record.kafka_offset}`;
  const id = record.order_id ? record.order_id.slice(0, 8) : "--------";
  switch (record.outcome) {
    case "audited":
      return `${where} ${id} ${record.status ?? "?"}${
        record.latency_ms === null ? "" : ` ${record.latency_ms} ms`
      }`;
    case "duplicate":
      return `${where} ${id} ${record.status ?? "?"} duplicate`;
    case "dead_lettered":
      return `${where} DLQ ${record.error_class ?? "error"}`;
  }
}

const RANK: Record<Status, number> = { ok: 0, unknown: 1, warn: 2, critical: 3 };

/** The most severe status (ok for none). */
export function worst(statuses: readonly Status[]): Status {
  return statuses.reduce<Status>((a, b) => (RANK[b] > RANK[a] ? b : a), "ok");
}

/** Per-signal health at `now`; thresholds in THRESHOLDS. */
export function healthSignals(
  input: {
    now: number;
    successRate: number | null;
    throughput: number;
    lagTotal: number | null;
    recentErrors: number;
    tracker: { at: number; stopped: boolean } | undefined;
  },
): Signal[] {
  const { now, successRate, throughput, lagTotal, recentErrors, tracker } = input;
  const success: Signal = successRate === null
    ? { name: "success rate", status: "unknown", reason: "idle" }
    : successRate < THRESHOLDS.successRate.critical
    ? { name: "success rate", status: "critical", reason: "rejections" }
    : successRate < THRESHOLDS.successRate.warn
    ? { name: "success rate", status: "warn", reason: "rejections" }
    : { name: "success rate", status: "ok", reason: "clean" };
  const flowing = throughput > 0;
  const backlog = (lagTotal ?? 0) > 0;
  const flow: Signal = flowing
    ? { name: "throughput", status: "ok", reason: "flowing" }
    : backlog
    ? { name: "throughput", status: "critical", reason: "stuck" }
    : { name: "throughput", status: "ok", reason: "idle" };
  const errors: Signal = recentErrors >= THRESHOLDS.recentErrors.critical
    ? { name: "errors", status: "critical", reason: "many" }
    : recentErrors >= THRESHOLDS.recentErrors.warn
    ? { name: "errors", status: "warn", reason: "some" }
    : { name: "errors", status: "ok", reason: "none" };
  const lag: Signal = lagTotal === null
    ? { name: "lag", status: "unknown", reason: "unknown" }
    : lagTotal >= THRESHOLDS.lag.critical
    ? { name: "lag", status: "critical", reason: "behind" }
    : lagTotal >= THRESHOLDS.lag.warn
    ? { name: "lag", status: "warn", reason: "behind" }
    : { name: "lag", status: "ok", reason: "current" };
  const alive: Signal = tracker === undefined
    ? { name: "tracker", status: "unknown", reason: "no-log" }
    : tracker.stopped
    ? { name: "tracker", status: "warn", reason: "stopped" }
    : now - tracker.at > SILENT_AFTER_MS
    ? { name: "tracker", status: "critical", reason: "silent" }
    : { name: "tracker", status: "ok", reason: "alive" };
  return [alive, flow, success, lag, errors];
}

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
  const chars = Array.from(text.replace(/[\u0000-\u001f\u007f]/g, " "));
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

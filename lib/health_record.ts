/**
 * The health log format, owned here alone: one JSON line per log record (the
 * fields of LogTape's JSON Lines format, message rendered as a sentence), and
 * the structured kinds other processes read by their fields, never by their
 * wording: `metrics` (the tracker's figures every few seconds) and `lifecycle`
 * (a process starting, ready, stopped or failed). The formatter, the one parser
 * the monitor and `start` use, and the builders of the structured kinds. Pure.
 */
import type { LogRecord } from "@logtape/logtape";
import type { LatencySummary } from "./metrics.ts";
import type { LagTime } from "./lag_time.ts";

/** The tracker's counters of one run. */
export interface TrackerCounters {
  received: number;
  audited: number;
  invalid: number;
  duplicates: number;
  redelivered: number;
  dead_lettered: number;
  /** Audited events whose lifecycle step arrived out of order (messages without a key). */
  out_of_order: number;
}

/** The tracker's figures, written as the properties of a `kind: "metrics"` record. */
export interface MetricsRecord extends TrackerCounters {
  kind: "metrics";
  /** True for the last record of a run. */
  final: boolean;
  /** Messages handled per second over the last minute. */
  rate_per_sec: number;
  /** End-to-end latency over the last minute. */
  latency_ms: LatencySummary;
  /** How many of those latencies count from `produced_at`, how many from the Kafka record time. */
  latency_sources: { produced_at: number; kafka_timestamp: number };
  /** Messages not yet consumed, per partition (as of the last chunk of each). */
  lag: Record<string, number>;
  lag_total: number;
  /**
   * The lag in time, per partition and in total (lag_time.ts). Absent from
   * records written before it existed.
   */
  lag_time?: { total: LagTime; partitions: Record<string, LagTime> };
  open_orders: number;
  uptime_s: number;
}

export const LIFECYCLE_PHASES = ["starting", "ready", "stopped", "failed"] as const;
export type LifecyclePhase = typeof LIFECYCLE_PHASES[number];
export const LIFECYCLE_PROCESSES = ["tracker", "producer"] as const;
export type LifecycleProcess = typeof LIFECYCLE_PROCESSES[number];

/** A process's lifecycle, written as the properties of a `kind: "lifecycle"` record. */
export interface LifecycleRecord {
  kind: "lifecycle";
  process: LifecycleProcess;
  phase: LifecyclePhase;
  pid: number;
  /** The phase's figures (counters at stop, the error of a failure, ...). */
  [figure: string]: unknown;
}

/** The properties of a lifecycle record; the message template may name any of them. */
export function lifecycle(
  process: LifecycleProcess,
  phase: LifecyclePhase,
  { pid, ...figures }: { pid: number; [figure: string]: unknown },
): LifecycleRecord {
  return { ...figures, kind: "lifecycle", process, phase, pid };
}

/** Levels as the health log writes them. */
export const HEALTH_LEVELS = ["DEBUG", "INFO", "WARN", "ERROR", "FATAL"] as const;
export type HealthLevel = typeof HEALTH_LEVELS[number];

/** One parsed line of a health log. */
export type HealthEntry =
  & { at: number; level: HealthLevel; message: string; logger: string }
  & (
    | { kind: "log"; properties: Record<string, unknown> }
    | { kind: "metrics"; metrics: MetricsRecord }
    | { kind: "lifecycle"; lifecycle: LifecycleRecord }
  );

/** A message's values as text: strings bare (no quotes), anything else as JSON. */
function renderMessage(parts: readonly unknown[]): string {
  return parts.map((part, i) =>
    i % 2 === 0 || typeof part === "string" ? String(part) : JSON.stringify(part) ?? String(part)
  ).join("");
}

/**
 * One health-log line: `@timestamp`, `level`, `message`, `logger`, `properties`,
 * with the message's string values unquoted so it reads as a sentence.
 */
export function formatHealthLine(record: LogRecord): string {
  return JSON.stringify({
    "@timestamp": new Date(record.timestamp).toISOString(),
    level: record.level === "warning" ? "WARN" : record.level.toUpperCase(),
    message: renderMessage(record.message),
    logger: record.category.join("."),
    properties: record.properties,
  }) + "\n";
}

export type HealthLineResult = { ok: true; entry: HealthEntry } | { ok: false; error: string };

const LEVELS: ReadonlySet<unknown> = new Set(HEALTH_LEVELS);

/** Parses one health-log line; a `metrics` or `lifecycle` record must have its fields. */
export function parseHealthLine(line: string): HealthLineResult {
  const fail = (why: string): HealthLineResult => ({
    ok: false,
    error: `Cannot parse health log line: ${why}`,
  });
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return fail("not valid JSON");
  }
  if (!isObject(value)) return fail("not a log record");
  const at = typeof value["@timestamp"] === "string" ? Date.parse(value["@timestamp"]) : NaN;
  if (Number.isNaN(at)) return fail("@timestamp is not a date-time");
  const level = value.level === "WARNING" ? "WARN" : value.level;
  if (!LEVELS.has(level)) return fail(`level is not one of ${HEALTH_LEVELS}`);
  if (typeof value.message !== "string") return fail("message is not a string");
  const properties = value.properties ?? {};
  if (!isObject(properties)) return fail("properties is not an object");
  const base = {
    at,
    level: level as HealthLevel,
    message: value.message,
    logger: typeof value.logger === "string" ? value.logger : "",
  };
  if (properties.kind === "metrics") {
    const metrics = parseMetrics(properties);
    return metrics === undefined
      ? fail("a metrics record lacks a figure")
      : { ok: true, entry: { ...base, kind: "metrics", metrics } };
  }
  if (properties.kind === "lifecycle") {
    const record = parseLifecycle(properties);
    return record === undefined
      ? fail("a lifecycle record lacks its process, phase or pid")
      : { ok: true, entry: { ...base, kind: "lifecycle", lifecycle: record } };
  }
  return { ok: true, entry: { ...base, kind: "log", properties } };
}

const METRIC_COUNTS = [
  "received",
  "audited",
  "invalid",
  "duplicates",
  "redelivered",
  "dead_lettered",
  "rate_per_sec",
  "lag_total",
  "open_orders",
  "uptime_s",
] as const;

function parseMetrics(p: Record<string, unknown>): MetricsRecord | undefined {
  if (!METRIC_COUNTS.every((name) => typeof p[name] === "number")) return undefined;
  const lag = p.lag;
  if (!isObject(lag) || !Object.values(lag).every((v) => typeof v === "number")) return undefined;
  const latency = p.latency_ms;
  const numberOrNull = (v: unknown) => v === null || typeof v === "number";
  if (
    !isObject(latency) || !numberOrNull(latency.p50) || !numberOrNull(latency.p95) ||
    !numberOrNull(latency.p99) || typeof latency.count !== "number"
  ) return undefined;
  // Records written before these figures existed have none of them.
  const sources = isObject(p.latency_sources) ? p.latency_sources : {};
  const { lag_time: _lagTime, ...figures } = p;
  const lagTime = parseLagTimes(p.lag_time);
  return {
    ...(figures as unknown as MetricsRecord),
    ...(lagTime === undefined ? {} : { lag_time: lagTime }),
    final: p.final === true,
    out_of_order: typeof p.out_of_order === "number" ? p.out_of_order : 0,
    latency_sources: {
      produced_at: typeof sources.produced_at === "number" ? sources.produced_at : latency.count,
      kafka_timestamp: typeof sources.kafka_timestamp === "number" ? sources.kafka_timestamp : 0,
    },
  };
}

/** The lag in time of a metrics record, or undefined when absent or not of its shape (dropped). */
function parseLagTimes(value: unknown): MetricsRecord["lag_time"] {
  if (!isObject(value) || !isObject(value.partitions)) return undefined;
  const total = parseLagTime(value.total);
  if (total === undefined) return undefined;
  const partitions: Record<string, LagTime> = {};
  for (const [partition, figures] of Object.entries(value.partitions)) {
    const parsed = parseLagTime(figures);
    if (parsed === undefined) return undefined;
    partitions[partition] = parsed;
  }
  return { total, partitions };
}

function parseLagTime(value: unknown): LagTime | undefined {
  if (!isObject(value)) return undefined;
  const { age_ms, age_trend_ms_per_min, drain_ms } = value;
  const numberOrNull = (v: unknown): v is number | null => v === null || typeof v === "number";
  if (!numberOrNull(age_ms) || !numberOrNull(age_trend_ms_per_min)) return undefined;
  if (!numberOrNull(drain_ms) && drain_ms !== "never") return undefined;
  return { age_ms, age_trend_ms_per_min, drain_ms };
}

function parseLifecycle(p: Record<string, unknown>): LifecycleRecord | undefined {
  if (!(LIFECYCLE_PROCESSES as readonly unknown[]).includes(p.process)) return undefined;
  if (!(LIFECYCLE_PHASES as readonly unknown[]).includes(p.phase)) return undefined;
  if (!Number.isSafeInteger(p.pid)) return undefined;
  return p as LifecycleRecord;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * The monitor's view model: folds the tracker's health log and audit trail
 * into figures about now (sliding windows, not lifetime averages), health
 * statuses with a one-word reason, chart series and display rows. Every record
 * keeps its own timestamp, so a replayed history never looks live. Pure: the
 * current time is passed in.
 * Long (about 530 lines) because the view is one fold over both files: the
 * counts, the sliding windows in slots, the health signals and the rows share
 * the records and their timestamps.
 */
import type { AuditRecord } from "./audit_record.ts";
import type { HealthEntry, MetricsRecord } from "./health_record.ts";
import type { TrailTotals } from "./trail_checkpoint.ts";
import { ORDER_STATUSES, type OrderStatus } from "./order.ts";
import { duration } from "./terminal_text.ts";
import type { LagTime } from "./lag_time.ts";

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
/**
 * An order produced this long before the tracker run started was waiting in
 * Kafka: a backlog. The margin keeps out the orders of a producer started a
 * moment before the tracker (`deno task start` starts both).
 */
export const BACKLOG_MARGIN_MS = 10_000;
/** Shown when neither file has a record: nothing has run with this data directory. */
export const NO_TRACKER_HINT = "no tracker has run here: deno task start";
/**
 * Audit samples are kept in slots of this span, each with a running summary,
 * so a view adds up a few hundred summaries instead of going through every
 * sample (at 5,000 msg/s the 5-minute chart holds 1.5 million).
 */
const SLOT_MS = 1_000;

export const THRESHOLDS = {
  successRate: { warn: 0.99, critical: 0.95 },
  lag: { warn: 1_000, critical: 10_000 },
  recentErrors: { warn: 1, critical: 6 },
} as const;

export type Status = "ok" | "warn" | "critical" | "unknown";

export interface Signal {
  name: string;
  status: Status;
  /** One word. */
  reason: string;
}

/**
 * How orders move through the tracker now: `flowing` (live traffic),
 * `draining` (catching up on a backlog, so latencies count the wait in Kafka),
 * `idle` (nothing to do) or `stuck` (a backlog and nothing moves).
 */
export const FLOWS = ["flowing", "draining", "idle", "stuck"] as const;
export type Flow = typeof FLOWS[number];

/** Dead letters of one error class over the chart span. */
export interface DeadLetterClassRow {
  errorClass: string;
  /** In the last RECENT_WINDOW_MS. */
  lastMinute: number;
  /** In the chart span (CHART_BUCKETS × CHART_BUCKET_MS). */
  inSpan: number;
  /** Per chart bucket, oldest first (the buckets of `charts`). */
  series: number[];
}

/** Error classes shown apart in the dead-letter panel; further ones are counted as "other". */
export const MAX_DEAD_LETTER_CLASSES = 8;

export interface View {
  figures: {
    total: number;
    audited: number;
    deadLettered: number;
    duplicates: number;
    throughputPerSec: number;
    successRate: number | null;
    latencyMs: { p50: number | null; p95: number | null; p99: number | null };
    /**
     * Where the latencies of the last minute count from: the orders' own
     * `produced_at`, the Kafka record time (producers without it, such as the
     * original system's), or both; null when there are none.
     */
    latencySource: "produced_at" | "kafka_timestamp" | "mixed" | null;
    /**
     * True when the last minute's latencies include orders produced more than
     * BACKLOG_MARGIN_MS before this tracker run started: the wait of a backlog.
     */
    latencyIncludesBacklog: boolean;
    lagTotal: number | null;
    lagByPartition: Record<string, number>;
    /**
     * The lag in time as of the latest metrics record: the oldest unaudited
     * record's age, its trend, the time to drain (lag_time.ts); null when the
     * record has none (a tracker older than these figures) or there is none.
     */
    lagTime: LagTime | null;
    lagTimeByPartition: Record<string, LagTime>;
    flow: Flow;
    uptimeSec: number | null;
    /** Lines of either file that were not valid records (skipped). */
    unreadableLines: number;
  };
  health: { overall: Status; signals: Signal[] };
  charts: { throughput: number[]; latencyP95: Array<number | null> };
  /** Dead letters by reason (error class) over the chart span, most in the span first. */
  deadLetters: DeadLetterClassRow[];
  lifecycle: Record<OrderStatus, number>;
  logs: LogRow[];
  events: EventRow[];
  /** Time of the newest record seen (ms), or null. */
  lastRecordAt: number | null;
  /** What to do when there is nothing to show (NO_TRACKER_HINT), or null. */
  hint: string | null;
}

export interface LogRow {
  at: number;
  level: string;
  text: string;
}

export interface EventRow {
  at: number;
  outcome: AuditRecord["outcome"];
  text: string;
}

interface Sample {
  at: number;
  ok: boolean;
  latency: number | null;
  /** True when the latency counts from the Kafka record time (no `produced_at`). */
  fromRecordTime: boolean;
}

/** Counts and latencies (value → how many) of some samples. */
class Tally {
  count = 0;
  ok = 0;
  /** Latencies counted, and of those the ones from the Kafka record time. */
  timed = 0;
  fromRecordTime = 0;
  latencies = new Map<number, number>();
  /** Earliest produce time (audit time minus latency) of the timed samples. */
  oldestProducedAt = Infinity;

  add(sample: Sample): void {
    this.count++;
    if (!sample.ok) return;
    this.ok++;
    if (sample.latency !== null) {
      this.latencies.set(sample.latency, (this.latencies.get(sample.latency) ?? 0) + 1);
      this.timed++;
      if (sample.fromRecordTime) this.fromRecordTime++;
      this.oldestProducedAt = Math.min(this.oldestProducedAt, sample.at - sample.latency);
    }
  }

  merge(other: Tally): void {
    this.count += other.count;
    this.ok += other.ok;
    this.timed += other.timed;
    this.fromRecordTime += other.fromRecordTime;
    this.oldestProducedAt = Math.min(this.oldestProducedAt, other.oldestProducedAt);
    for (const [value, n] of other.latencies) {
      this.latencies.set(value, (this.latencies.get(value) ?? 0) + n);
    }
  }

  /** Nearest-rank percentiles (0-100) of the latencies, as `percentile` in metrics.ts; null for none. */
  percentiles(ps: readonly number[]): Array<number | null> {
    const n = this.timed;
    if (n === 0) return ps.map(() => null);
    const values = [...this.latencies.keys()].sort((a, b) => a - b);
    return ps.map((p) => {
      const rank = Math.min(n, Math.max(1, Math.ceil((p / 100) * n)));
      let seen = 0;
      for (const value of values) {
        seen += this.latencies.get(value)!;
        if (seen >= rank) return value;
      }
      return values.at(-1)!;
    });
  }
}

/** The samples of one SLOT_MS span and their tally. */
interface Slot {
  samples: Sample[];
  tally: Tally;
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
  /** Audit samples of the chart span (bounded by time, not count), by slot number. */
  #slots = new Map<number, Slot>();
  /** Dead letters per error class, per SLOT_MS slot of the chart span. */
  #deadLetterSlots = new Map<string, Map<number, number>>();
  #errors: number[] = [];
  #logs: LogRow[] = [];
  #events: EventRow[] = [];
  #metrics: { at: number; record: MetricsRecord } | undefined;
  /** Total lag of this run's metrics records of about the last minute, oldest first. */
  #lagHistory: Array<{ at: number; lagTotal: number }> = [];
  #unreadable = 0;
  #trackerState: { at: number; stopped: boolean } | undefined;
  #trackerStartedAt: number | undefined;
  #lastRecordAt: number | null = null;

  /** Takes one health-log entry into account. */
  addHealth(entry: HealthEntry): void {
    const { at } = entry;
    this.#seen(at);
    let stopped = false;
    if (entry.kind === "lifecycle" && entry.lifecycle.process === "tracker") {
      const { phase } = entry.lifecycle;
      if (phase === "starting") {
        // A new run: the previous run's metrics no longer describe anything.
        this.#trackerStartedAt = at;
        this.#metrics = undefined;
        this.#lagHistory = [];
      }
      stopped = phase === "stopped" || phase === "failed";
    }
    if (entry.kind === "metrics") {
      this.#metrics = { at, record: entry.metrics };
      // A log that begins after the run's start (rotated) still says when it started.
      this.#trackerStartedAt ??= at - entry.metrics.uptime_s * 1000;
      this.#lagHistory = this.#lagHistory.filter((h) => h.at >= at - RECENT_WINDOW_MS);
      push(this.#lagHistory, { at, lagTotal: entry.metrics.lag_total }, RECENT_ROWS);
    } else {
      push(this.#logs, { at, level: entry.level, text: entry.message }, RECENT_ROWS);
    }
    if (entry.level === "ERROR" || entry.level === "FATAL") this.#errors.push(at);
    if ((this.#trackerState?.at ?? -Infinity) <= at) this.#trackerState = { at, stopped };
  }

  /** Counts lines of either file that were not valid records. */
  addUnreadable(count = 1): void {
    this.#unreadable += count;
  }

  /**
   * Starts the lifetime counts from a checkpoint's totals: the lines they
   * account for are then added with `count: false` (for the charts only).
   */
  setTotals(totals: TrailTotals): void {
    this.#total = totals.lines;
    this.#audited = totals.audited;
    this.#deadLettered = totals.dead_lettered;
    this.#duplicates = totals.duplicate;
    this.#lifecycle = { ...totals.by_status };
  }

  /**
   * Takes one audit record into account.
   *
   * @param options.count false for a record the lifetime counts already hold (charts and events only)
   */
  addAudit(record: AuditRecord, { count = true }: { count?: boolean } = {}): void {
    const at = Date.parse(record.timestamp);
    if (Number.isNaN(at)) return;
    this.#seen(at);
    if (count) {
      this.#total++;
      if (record.outcome === "audited") {
        this.#audited++;
        if (record.lifecycle !== null) this.#lifecycle[record.lifecycle]++;
      } else if (record.outcome === "dead_lettered") this.#deadLettered++;
      else this.#duplicates++;
    }
    if (record.outcome === "dead_lettered") this.#addDeadLetter(at, record.error_class);
    if (record.outcome !== "duplicate") {
      const sample = {
        at,
        ok: record.outcome === "audited",
        latency: record.latency_ms,
        fromRecordTime: record.latency_source === "kafka_timestamp",
      };
      const key = Math.floor(at / SLOT_MS);
      let slot = this.#slots.get(key);
      if (slot === undefined) {
        slot = { samples: [], tally: new Tally() };
        this.#slots.set(key, slot);
        this.#forgetOldSlots(at);
      }
      slot.samples.push(sample);
      slot.tally.add(sample);
    }
    push(this.#events, {
      at,
      outcome: record.outcome,
      text: eventText(record),
    }, RECENT_ROWS);
  }

  #addDeadLetter(at: number, errorClass: string | null): void {
    const given = errorClass ?? "unknown";
    const name = this.#deadLetterSlots.has(given) ||
        this.#deadLetterSlots.size < MAX_DEAD_LETTER_CLASSES - 1
      ? given
      : "other";
    let slots = this.#deadLetterSlots.get(name);
    if (slots === undefined) this.#deadLetterSlots.set(name, slots = new Map());
    const key = Math.floor(at / SLOT_MS);
    slots.set(key, (slots.get(key) ?? 0) + 1);
    // Bounded by the chart span, as the samples are (measured from this letter).
    const oldest = Math.floor((at - CHART_BUCKETS * CHART_BUCKET_MS - RECENT_WINDOW_MS) / SLOT_MS);
    for (const slot of slots.keys()) if (slot < oldest) slots.delete(slot);
  }

  /** The dead-letter panel's rows at `now`; a slot counts in the bucket its start falls in. */
  #deadLetterRows(now: number): DeadLetterClassRow[] {
    const spanStart = now - CHART_BUCKETS * CHART_BUCKET_MS;
    const rows: DeadLetterClassRow[] = [];
    for (const [errorClass, slots] of this.#deadLetterSlots) {
      const series: number[] = new Array(CHART_BUCKETS).fill(0);
      let lastMinute = 0;
      for (const [slot, count] of slots) {
        const at = slot * SLOT_MS;
        if (at > now) continue;
        if (at > now - RECENT_WINDOW_MS) lastMinute += count;
        const bucket = Math.floor((at - spanStart) / CHART_BUCKET_MS);
        if (bucket >= 0 && bucket < CHART_BUCKETS) series[bucket]! += count;
      }
      const inSpan = series.reduce((a, b) => a + b, 0);
      if (inSpan > 0 || lastMinute > 0) rows.push({ errorClass, lastMinute, inSpan, series });
    }
    return rows.sort((a, b) => b.inSpan - a.inSpan || a.errorClass.localeCompare(b.errorClass));
  }

  /**
   * Bounds memory by the chart span. Measured from the sample just added, not
   * the newest ever: one line with a clock far ahead must not discard what follows.
   */
  #forgetOldSlots(at: number): void {
    const oldest = at - CHART_BUCKETS * CHART_BUCKET_MS - RECENT_WINDOW_MS - CHART_BUCKET_MS;
    for (const key of this.#slots.keys()) {
      if ((key + 1) * SLOT_MS <= oldest) this.#slots.delete(key);
    }
  }

  /** Tally of the samples with `from <= at < to` (whole milliseconds). */
  #tally(from: number, to: number): Tally {
    const tally = new Tally();
    for (let key = Math.floor(from / SLOT_MS); key * SLOT_MS < to; key++) {
      const slot = this.#slots.get(key);
      if (slot === undefined) continue;
      if (key * SLOT_MS >= from && (key + 1) * SLOT_MS <= to) {
        tally.merge(slot.tally);
      } else {
        // The window cuts through this slot: only its samples can tell.
        for (const sample of slot.samples) {
          if (sample.at >= from && sample.at < to) tally.add(sample);
        }
      }
    }
    return tally;
  }

  /** Tally of the samples with `now - windowMs < at <= now`. */
  #window(now: number, windowMs: number): Tally {
    // Timestamps are whole milliseconds: (a, b] holds the same ones as [floor(a)+1, floor(b)+1).
    return this.#tally(Math.floor(now - windowMs) + 1, Math.floor(now) + 1);
  }

  #seen(at: number): void {
    if (this.#lastRecordAt === null || at > this.#lastRecordAt) this.#lastRecordAt = at;
  }

  /** What to show at time `now` (ms). */
  view(now: number): View {
    const recent = this.#window(now, RECENT_WINDOW_MS);
    const throughput = this.#window(now, NOW_WINDOW_MS).count / (NOW_WINDOW_MS / 1000);
    const successRate = recent.count > 0
      ? recent.ok / recent.count
      : this.#audited + this.#deadLettered > 0
      ? this.#audited / (this.#audited + this.#deadLettered)
      : null;
    const [p50 = null, p95 = null, p99 = null] = recent.percentiles([50, 95, 99]);
    const latencyMs = { p50, p95, p99 };
    const latencySource = recent.timed === 0
      ? null
      : recent.fromRecordTime === 0
      ? "produced_at"
      : recent.fromRecordTime === recent.timed
      ? "kafka_timestamp"
      : "mixed";

    const metrics = this.#metrics?.record;
    const lagByPartition = metrics?.lag ?? {};
    const lagTotal = metrics?.lag_total ?? null;
    // A silent tracker may be long dead (a replayed log): an uptime counting on would look live.
    const running = this.#trackerState !== undefined && !this.#trackerState.stopped &&
      now - this.#trackerState.at <= SILENT_AFTER_MS;
    const uptimeSec = running && this.#trackerStartedAt !== undefined
      ? Math.max(0, Math.round((now - this.#trackerStartedAt) / 1000))
      : null;
    const lagBefore =
      this.#lagHistory.find((h) =>
        h.at >= now - RECENT_WINDOW_MS && h.at < (this.#metrics?.at ?? -Infinity)
      )?.lagTotal ?? null;
    const backlogInput = {
      oldestProducedAt: Number.isFinite(recent.oldestProducedAt) ? recent.oldestProducedAt : null,
      trackerStartedAt: this.#trackerStartedAt ?? null,
    };
    const flow = flowState({ throughput, lagTotal, lagBefore, ...backlogInput });
    const recentErrors = this.#errors.filter((at) => at > now - RECENT_WINDOW_MS && at <= now)
      .length;

    const throughputSeries: number[] = [];
    const latencySeries: Array<number | null> = [];
    const firstBucketStart = now - CHART_BUCKETS * CHART_BUCKET_MS;
    for (let i = 0; i < CHART_BUCKETS; i++) {
      // Bucket i holds start + i·span <= at < start + (i+1)·span; whole milliseconds again.
      const bucket = this.#tally(
        Math.ceil(firstBucketStart + i * CHART_BUCKET_MS),
        Math.ceil(firstBucketStart + (i + 1) * CHART_BUCKET_MS),
      );
      throughputSeries.push(bucket.count / (CHART_BUCKET_MS / 1000));
      latencySeries.push(bucket.percentiles([95])[0] ?? null);
    }

    const signals = healthSignals({
      now,
      successRate: recent.count > 0 ? successRate : null,
      flow,
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
        latencySource,
        latencyIncludesBacklog: producedBeforeRun(backlogInput),
        lagTotal,
        lagByPartition,
        lagTime: metrics?.lag_time?.total ?? null,
        lagTimeByPartition: metrics?.lag_time?.partitions ?? {},
        flow,
        uptimeSec,
        unreadableLines: this.#unreadable,
      },
      health: { overall: worst(signals.map((s) => s.status)), signals },
      charts: { throughput: throughputSeries, latencyP95: latencySeries },
      deadLetters: this.#deadLetterRows(now),
      lifecycle: { ...this.#lifecycle },
      logs: [...this.#logs].reverse(),
      events: [...this.#events].reverse(),
      lastRecordAt: this.#lastRecordAt,
      hint: this.#lastRecordAt === null && this.#total === 0 && this.#unreadable === 0
        ? NO_TRACKER_HINT
        : null,
    };
  }
}

function push<T>(rows: T[], row: T, max: number): void {
  rows.push(row);
  if (rows.length > max) rows.splice(0, rows.length - max);
}

function eventText(record: AuditRecord): string {
  const where = `${record.kafka_partition}/${record.kafka_offset}`;
  const id = record.order_id ? record.order_id.slice(0, 8) : "--------";
  switch (record.outcome) {
    case "audited":
      return `${where} ${id} ${record.status ?? "?"}${
        record.latency_ms === null ? "" : ` ${duration(record.latency_ms)}`
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

/**
 * How orders move through the tracker (see Flow). With nothing audited in the
 * last 10 s it is `stuck` when there is a lag, else `idle`. With orders moving
 * it is `draining` when either shows a backlog being caught up:
 * - an order audited in the last minute was produced more than
 *   BACKLOG_MARGIN_MS before this tracker run started (it waited in Kafka), or
 * - the lag is at least the warning threshold and lower than at this run's
 *   first metrics record of the last minute (`lagBefore`);
 * otherwise `flowing`, and a high latency is the tracker's own.
 *
 * @param input.throughput records audited or dead-lettered per second, last 10 s
 * @param input.lagTotal the tracker's latest total lag, null when unknown
 * @param input.lagBefore the same run's total lag about a minute before, null when unknown
 * @param input.oldestProducedAt earliest produce time of the last minute's audited orders
 * @param input.trackerStartedAt when the tracker run started, null when unknown
 */
export function flowState(input: {
  throughput: number;
  lagTotal: number | null;
  lagBefore: number | null;
  oldestProducedAt: number | null;
  trackerStartedAt: number | null;
}): Flow {
  const { throughput, lagTotal, lagBefore } = input;
  if (throughput <= 0) return (lagTotal ?? 0) > 0 ? "stuck" : "idle";
  const lagFalling = lagTotal !== null && lagBefore !== null &&
    lagTotal >= THRESHOLDS.lag.warn && lagTotal < lagBefore;
  return producedBeforeRun(input) || lagFalling ? "draining" : "flowing";
}

/** True when an order was produced more than BACKLOG_MARGIN_MS before the tracker run started. */
function producedBeforeRun(
  { oldestProducedAt, trackerStartedAt }: {
    oldestProducedAt: number | null;
    trackerStartedAt: number | null;
  },
): boolean {
  return oldestProducedAt !== null && trackerStartedAt !== null &&
    oldestProducedAt < trackerStartedAt - BACKLOG_MARGIN_MS;
}

/**
 * Per-signal health at `now`; thresholds in THRESHOLDS. A draining backlog is
 * a lag being caught up: at worst a warning, not a failure.
 */
export function healthSignals(
  input: {
    now: number;
    successRate: number | null;
    flow: Flow;
    lagTotal: number | null;
    recentErrors: number;
    tracker: { at: number; stopped: boolean } | undefined;
  },
): Signal[] {
  const { now, successRate, flow, lagTotal, recentErrors, tracker } = input;
  const success: Signal = successRate === null
    ? { name: "success rate", status: "unknown", reason: "idle" }
    : successRate < THRESHOLDS.successRate.critical
    ? { name: "success rate", status: "critical", reason: "rejections" }
    : successRate < THRESHOLDS.successRate.warn
    ? { name: "success rate", status: "warn", reason: "rejections" }
    : { name: "success rate", status: "ok", reason: "clean" };
  const throughput: Signal = {
    name: "throughput",
    status: flow === "stuck" ? "critical" : "ok",
    reason: flow,
  };
  const errors: Signal = recentErrors >= THRESHOLDS.recentErrors.critical
    ? { name: "errors", status: "critical", reason: "many" }
    : recentErrors >= THRESHOLDS.recentErrors.warn
    ? { name: "errors", status: "warn", reason: "some" }
    : { name: "errors", status: "ok", reason: "none" };
  const lag: Signal = lagTotal === null
    ? { name: "lag", status: "unknown", reason: "unknown" }
    : flow === "draining" && lagTotal >= THRESHOLDS.lag.warn
    ? { name: "lag", status: "warn", reason: "draining" }
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
  return [alive, throughput, success, lag, errors];
}

/**
 * The monitor's view model: folds the tracker's health log and audit trail
 * into figures about now (sliding windows, not lifetime averages), health
 * statuses with a one-word reason, chart series and display rows. Every record
 * keeps its own timestamp, so a replayed history never looks live. Pure: the
 * current time is passed in.
 * Long (about 540 lines) because the view is one fold over both files: the
 * counts, the sliding windows (sample_windows.ts), the health signals and the
 * rows share the records and their timestamps.
 */
import { type AuditSample, timestampMs } from "./audit_record.ts";
import type { HealthEntry, MetricsRecord } from "./health_record.ts";
import type { TrailTotals } from "./trail_checkpoint.ts";
import { ORDER_STATUSES, type OrderStatus } from "./order.ts";
import { duration } from "./terminal_text.ts";
import type { LagTime } from "./lag_time.ts";
import { type Charts, SampleWindows, SLOT_MS, Tally } from "./sample_windows.ts";
import type { TrailSummary } from "./trail_summary.ts";

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
 * Once figures come from trail summaries (a line about every second), windows
 * and charts end at the last whole second at least this long ago: a second's
 * line is written just after it ends, and a window must not cut into one not
 * yet read (throughput would dip at every second).
 */
export const SUMMARY_SETTLE_MS = 750;
/**
 * An order produced this long before the tracker run started was waiting in
 * Kafka: a backlog. The margin keeps out the orders of a producer started a
 * moment before the tracker (`deno task start` starts both).
 */
export const BACKLOG_MARGIN_MS = 10_000;
/** Shown when neither file has a record: nothing has run with this data directory. */
export const NO_TRACKER_HINT = "no tracker has run here: deno task start";
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
  /**
   * Throughput and latency p95 over the chart span in CHART_BUCKET_MS buckets,
   * up to the start of the current second: they move a second at a time.
   */
  charts: Charts;
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
  outcome: AuditSample["outcome"];
  text: string;
}

/** The newest `capacity` items, in a fixed array: adding one is O(1). */
class Recent<T> {
  readonly #items: T[] = [];
  readonly #capacity: number;
  #next = 0;

  constructor(capacity: number) {
    this.#capacity = capacity;
  }

  push(item: T): void {
    if (this.#items.length < this.#capacity) this.#items.push(item);
    else this.#items[this.#next] = item;
    this.#next = (this.#next + 1) % this.#capacity;
  }

  /** The items, newest first. */
  newestFirst(): T[] {
    const items = this.#items;
    const out: T[] = [];
    for (let i = 1; i <= items.length; i++) {
      out.push(items[(this.#next - i + items.length) % items.length]!);
    }
    return out;
  }
}

/**
 * What the events pane shows of an audit record; its row is made when first
 * shown (at thousands a second most never are). It keeps no string of the
 * record, which may be a slice of the megabyte of trail it was read with.
 */
interface EventEntry {
  at: number;
  outcome: AuditSample["outcome"];
  partition: number;
  offset: number;
  /** The order id's first 8 characters (a copy). */
  shortId: string | null;
  status: string | null;
  latencyMs: number | null;
  errorClass: AuditSample["error_class"];
  row?: EventRow;
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
  /** Audit samples of the chart span and a minute before it. */
  #samples = new SampleWindows({
    chartBuckets: CHART_BUCKETS,
    chartBucketMs: CHART_BUCKET_MS,
    keepMs: CHART_BUCKETS * CHART_BUCKET_MS + RECENT_WINDOW_MS + CHART_BUCKET_MS,
  });
  /** Dead letters per error class, per SLOT_MS slot of the chart span. */
  #deadLetterSlots = new Map<string, Map<number, number>>();
  /** Times of ERROR and FATAL entries, as they came, of about the span the samples keep. */
  #errors: number[] = [];
  #logs = new Recent<LogRow>(RECENT_ROWS);
  #events = new Recent<EventEntry>(RECENT_ROWS);
  #metrics: { at: number; record: MetricsRecord } | undefined;
  /** Total lag of this run's metrics records of about the last minute, oldest first. */
  #lagHistory: Array<{ at: number; lagTotal: number }> = [];
  #unreadable = 0;
  #trackerState: { at: number; stopped: boolean } | undefined;
  #trackerStartedAt: number | undefined;
  #lastRecordAt: number | null = null;
  /** Whether samples came from trail summaries, whole seconds late (SUMMARY_SETTLE_MS). */
  #fromSummaries = false;

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
      this.#logs.push({ at, level: entry.level, text: entry.message });
    }
    if (entry.level === "ERROR" || entry.level === "FATAL") this.#addError(at);
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
   * @param options.event false to leave it out of the events pane (its rows come from `addEvent`)
   */
  addAudit(
    record: AuditSample,
    { count = true, event = true }: { count?: boolean; event?: boolean } = {},
  ): void {
    const at = timestampMs(record.timestamp);
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
      this.#samples.add(
        at,
        record.outcome === "audited",
        record.latency_ms,
        record.latency_source === "kafka_timestamp",
      );
    }
    if (event) this.addEvent(record);
  }

  /**
   * Takes a trail summary line into account: the lifetime counts become its
   * totals and, with `samples`, its seconds go into the windows and charts.
   *
   * @param options.samples false when its records were read from the trail instead
   */
  addSummary(summary: TrailSummary, { samples = true }: { samples?: boolean } = {}): void {
    this.setTotals(summary.totals);
    if (!samples) return;
    this.#fromSummaries = true;
    for (const second of summary.seconds) {
      this.#seen(second.last_at);
      if (second.count === 0) continue;
      const tally = new Tally();
      tally.count = second.count;
      tally.ok = second.ok;
      tally.timed = second.timed;
      tally.fromRecordTime = second.kafka_timestamp;
      tally.oldestProducedAt = second.oldest_produced_at ?? Infinity;
      for (const [latency, n] of second.latency_ms) tally.latencies.set(latency, n);
      this.#samples.addTally(second.at, tally);
      for (const [errorClass, n] of Object.entries(second.dead_letters)) {
        this.#addDeadLetter(second.at, errorClass, n);
      }
    }
  }

  /** Forgets the events pane's rows (the next ones do not follow them). */
  clearEvents(): void {
    this.#events = new Recent<EventEntry>(RECENT_ROWS);
  }

  /** Shows an audit record in the events pane (and no figure). */
  addEvent(record: AuditSample): void {
    const at = timestampMs(record.timestamp);
    if (Number.isNaN(at)) return;
    this.#seen(at);
    this.#events.push({
      at,
      outcome: record.outcome,
      partition: record.kafka_partition,
      offset: record.kafka_offset,
      shortId: record.order_id === null ? null : record.order_id.slice(0, 8),
      status: record.status,
      latencyMs: record.latency_ms,
      errorClass: record.error_class,
    });
  }

  #addError(at: number): void {
    this.#errors.push(at);
    // Bounded by the span the samples keep, measured from this entry as they are.
    const oldest = at - CHART_BUCKETS * CHART_BUCKET_MS - RECENT_WINDOW_MS;
    if (this.#errors[0]! < oldest) this.#errors = this.#errors.filter((t) => t >= oldest);
  }

  #addDeadLetter(at: number, errorClass: string | null, count = 1): void {
    const given = errorClass ?? "unknown";
    const name = this.#deadLetterSlots.has(given) ||
        this.#deadLetterSlots.size < MAX_DEAD_LETTER_CLASSES - 1
      ? given
      : "other";
    let slots = this.#deadLetterSlots.get(name);
    if (slots === undefined) this.#deadLetterSlots.set(name, slots = new Map());
    const key = Math.floor(at / SLOT_MS);
    slots.set(key, (slots.get(key) ?? 0) + count);
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

  #seen(at: number): void {
    if (this.#lastRecordAt === null || at > this.#lastRecordAt) this.#lastRecordAt = at;
  }

  /** What to show at time `now` (ms). */
  view(now: number): View {
    // Summaries' windows end with the last whole second read: (…, at] with at just before it.
    const at = this.#fromSummaries
      ? Math.floor((now - SUMMARY_SETTLE_MS) / SLOT_MS) * SLOT_MS - 1
      : now;
    const recent = this.#samples.window(at, RECENT_WINDOW_MS);
    const throughput = this.#samples.count(at, NOW_WINDOW_MS) / (NOW_WINDOW_MS / 1000);
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
      charts: this.#samples.charts(at + (this.#fromSummaries ? 1 : 0)),
      deadLetters: this.#deadLetterRows(at),
      lifecycle: { ...this.#lifecycle },
      logs: this.#logs.newestFirst(),
      events: this.#events.newestFirst().map((entry) =>
        entry.row ??= { at: entry.at, outcome: entry.outcome, text: eventText(entry) }
      ),
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

function eventText(entry: EventEntry): string {
  const where = `${entry.partition}/${entry.offset}`;
  const id = entry.shortId || "--------";
  switch (entry.outcome) {
    case "audited":
      return `${where} ${id} ${entry.status ?? "?"}${
        entry.latencyMs === null ? "" : ` ${duration(entry.latencyMs)}`
      }`;
    case "duplicate":
      return `${where} ${id} ${entry.status ?? "?"} duplicate`;
    case "dead_lettered":
      return `${where} DLQ ${entry.errorClass ?? "error"}`;
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

/**
 * The tracker's figures: lifetime counters of this run, rates and latency
 * percentiles over the last minute, and lag per partition. `toRecord` gives the
 * `MetricsRecord` the health log carries and the monitor reads. Pure: time is
 * passed in.
 */
import type { AuditRecord } from "./audit_record.ts";
import type { MetricsRecord, TrackerCounters } from "./health_record.ts";
import { SlidingWindow, summarizeLatency } from "./metrics.ts";

/** Window of the "now" figures (rates, latency percentiles). */
export const METRICS_WINDOW_MS = 60_000;
/** Latency samples kept at most within the window. */
const MAX_LATENCY_SAMPLES = 20_000;

export class TrackerMetrics {
  readonly #startedAt: number;
  readonly #counters: TrackerCounters = {
    received: 0,
    audited: 0,
    invalid: 0,
    duplicates: 0,
    redelivered: 0,
    dead_lettered: 0,
    out_of_order: 0,
  };
  readonly #throughput = new SlidingWindow({ windowMs: METRICS_WINDOW_MS });
  readonly #latency = new SlidingWindow({
    windowMs: METRICS_WINDOW_MS,
    maxSamples: MAX_LATENCY_SAMPLES,
  });
  /** Latencies counted from the Kafka record time (the rest from `produced_at`). */
  readonly #fromRecordTime = new SlidingWindow({ windowMs: METRICS_WINDOW_MS });
  readonly #lag = new Map<number, number>();

  constructor({ startedAt }: { startedAt: number }) {
    this.#startedAt = startedAt;
  }

  /** This run's counters so far. */
  get counters(): Readonly<TrackerCounters> {
    return this.#counters;
  }

  /**
   * Counts a chunk whose records are on disk: `received` messages, of which
   * `redelivered` were already in the trail and `records` were written.
   */
  addChunk(
    now: number,
    { received, redelivered, records }: {
      received: number;
      redelivered: number;
      records: readonly AuditRecord[];
    },
  ): void {
    const c = this.#counters;
    c.received += received;
    c.redelivered += redelivered;
    let fromRecordTime = 0;
    for (const record of records) {
      if (record.outcome === "audited") {
        c.audited++;
        if (record.out_of_order) c.out_of_order++;
        if (record.latency_ms !== null) this.#latency.addValue(now, record.latency_ms);
        if (record.latency_source === "kafka_timestamp") fromRecordTime++;
      } else if (record.outcome === "duplicate") {
        c.duplicates++;
      } else {
        c.invalid++;
        c.dead_lettered++;
      }
    }
    this.#throughput.addCount(now, received);
    this.#fromRecordTime.addCount(now, fromRecordTime);
  }

  /** Records the lag of a partition: messages after the last one handled. */
  setLag(partition: number, { highWatermark, nextOffset }: {
    highWatermark: number;
    nextOffset: number;
  }): void {
    this.#lag.set(partition, Math.max(0, highWatermark - nextOffset));
  }

  /** Forgets the lag of partitions this member no longer owns. */
  keepPartitions(owned: ReadonlySet<number>): void {
    for (const partition of this.#lag.keys()) {
      if (!owned.has(partition)) this.#lag.delete(partition);
    }
  }

  #latencyFigures(now: number): Pick<MetricsRecord, "latency_ms" | "latency_sources"> {
    const latency = summarizeLatency(this.#latency.values(now));
    const fromRecordTime = Math.min(latency.count, this.#fromRecordTime.count(now));
    return {
      latency_ms: latency,
      latency_sources: {
        produced_at: latency.count - fromRecordTime,
        kafka_timestamp: fromRecordTime,
      },
    };
  }

  /** The figures at `now`, as the health log's metrics record. */
  toRecord(
    now: number,
    { openOrders, final = false }: { openOrders: number; final?: boolean },
  ): MetricsRecord {
    let lagTotal = 0;
    for (const lag of this.#lag.values()) lagTotal += lag;
    return {
      kind: "metrics",
      final,
      ...this.#counters,
      rate_per_sec: Number(
        this.#throughput.ratePerSec(now, { sinceMs: this.#startedAt }).toFixed(2),
      ),
      ...this.#latencyFigures(now),
      lag: Object.fromEntries([...this.#lag].map(([p, lag]) => [String(p), lag])),
      lag_total: lagTotal,
      open_orders: openOrders,
      uptime_s: Math.round((now - this.#startedAt) / 1000),
    };
  }
}

/**
 * The tracker's figures: lifetime counters of this run, rates and latency
 * percentiles over the last minute, and lag per partition, in messages and in
 * time (lag_time.ts). `toRecord` gives the `MetricsRecord` the health log
 * carries and the monitor reads. Pure: time is passed in.
 */
import type { AuditRecord } from "./audit_record.ts";
import type { MetricsRecord, TrackerCounters } from "./health_record.ts";
import { SlidingWindow, summarizeLatency } from "./metrics.ts";
import {
  LagHistory,
  type LagSample,
  lagTime,
  netDrainRatePerSec,
  oldestUnauditedAgeMs,
  timeToDrainMs,
} from "./lag_time.ts";

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
  /** Per partition: messages after the last audited one, and the timestamp its age counts from. */
  readonly #lag = new Map<number, { lag: number; oldestTimestamp: number | null }>();
  readonly #lagHistory = new Map<number, LagHistory>();
  readonly #totalLagHistory = new LagHistory();

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

  /**
   * Records the lag of a partition after a chunk: messages after the last one
   * handled, and the Kafka timestamp of the oldest unaudited record (or of the
   * last audited one when the next is not fetched yet; see lag_time.ts).
   */
  setLag(partition: number, { highWatermark, nextOffset, oldestTimestamp, at }: {
    highWatermark: number;
    nextOffset: number;
    oldestTimestamp: number | null;
    /** When (ms). */
    at: number;
  }): void {
    this.#lag.set(partition, { lag: Math.max(0, highWatermark - nextOffset), oldestTimestamp });
    this.#sample(at);
  }

  /** Forgets the lag of partitions this member no longer owns. */
  keepPartitions(owned: ReadonlySet<number>): void {
    for (const partition of this.#lag.keys()) {
      if (!owned.has(partition)) {
        this.#lag.delete(partition);
        this.#lagHistory.delete(partition);
      }
    }
  }

  /** Each owned partition's lag at `now`: messages and the age of its oldest unaudited record. */
  lagByPartition(now: number): Array<{ partition: number } & LagSample> {
    return [...this.#lag].map(([partition, position]) => ({
      partition,
      at: now,
      lag: position.lag,
      ageMs: oldestUnauditedAgeMs(position, now),
    }));
  }

  /** The time to drain all partitions' lag at their current net rates (lag_time.ts). */
  drainMs(): number | "never" | null {
    let lag = 0;
    for (const position of this.#lag.values()) lag += position.lag;
    return timeToDrainMs(lag, this.#totalNetRatePerSec());
  }

  /** Adds a sample of every partition and of the total at `now`. */
  #sample(now: number): void {
    let lag = 0;
    let ageMs: number | null = null;
    for (const sample of this.lagByPartition(now)) {
      let history = this.#lagHistory.get(sample.partition);
      if (history === undefined) this.#lagHistory.set(sample.partition, history = new LagHistory());
      history.add(sample);
      lag += sample.lag;
      if (sample.ageMs !== null) ageMs = Math.max(ageMs ?? 0, sample.ageMs);
    }
    // The total's age is the oldest partition's (its drain time: #totalNetRatePerSec).
    this.#totalLagHistory.add({ at: now, lag, ageMs });
  }

  /** The sum of the partitions' net drain rates; null while one with a lag has none. */
  #totalNetRatePerSec(): number | null {
    let total = 0;
    for (const [partition, history] of this.#lagHistory) {
      const rate = netDrainRatePerSec(history.samples());
      if (rate !== null) total += rate;
      else if ((this.#lag.get(partition)?.lag ?? 0) > 0) return null;
    }
    return total;
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
    this.#sample(now);
    let lagTotal = 0;
    for (const { lag } of this.#lag.values()) lagTotal += lag;
    return {
      kind: "metrics",
      final,
      ...this.#counters,
      rate_per_sec: Number(
        this.#throughput.ratePerSec(now, { sinceMs: this.#startedAt }).toFixed(2),
      ),
      ...this.#latencyFigures(now),
      lag: Object.fromEntries([...this.#lag].map(([p, { lag }]) => [String(p), lag])),
      lag_total: lagTotal,
      lag_time: {
        total: lagTime(this.#totalLagHistory.samples(), this.#totalNetRatePerSec()),
        partitions: Object.fromEntries(
          [...this.#lagHistory].map(([p, history]) => [String(p), lagTime(history.samples())]),
        ),
      },
      open_orders: openOrders,
      uptime_s: Math.round((now - this.#startedAt) / 1000),
    };
  }
}

/**
 * The monitor's audit samples over time (each record audited or dead-lettered:
 * when, whether audited, its latency) and what its sliding windows and charts
 * add up from them. Samples are summed in one-second slots, whole and by
 * timestamp (the records of a tracker's chunk share one), so a window adds up a
 * few hundred sums, not every sample (at 5,000 msg/s the 5-minute chart holds
 * 1.5 million); the sums a window or the charts have added up are kept until a
 * sample lands in them or they move on. Memory is bounded by time. Pure.
 */

/** The span of a slot. */
export const SLOT_MS = 1_000;

/** Counts and latencies (value → how many) of some samples. */
export class Tally {
  count = 0;
  ok = 0;
  /** Latencies counted, and of those the ones from the Kafka record time. */
  timed = 0;
  fromRecordTime = 0;
  latencies = new Map<number, number>();
  /** Earliest produce time (audit time minus latency) of the timed samples. */
  oldestProducedAt = Infinity;
  /** The last percentiles asked for, until a sample is added. */
  #percentiles: { ps: string; values: Array<number | null> } | undefined;

  /**
   * Counts one audited (`ok`) or dead-lettered sample.
   *
   * @param fromRecordTime the latency counts from the Kafka record time (no `produced_at`)
   */
  add(at: number, ok: boolean, latency: number | null, fromRecordTime: boolean): void {
    this.count++;
    this.#percentiles = undefined;
    if (!ok) return;
    this.ok++;
    if (latency !== null) {
      this.latencies.set(latency, (this.latencies.get(latency) ?? 0) + 1);
      this.timed++;
      if (fromRecordTime) this.fromRecordTime++;
      this.oldestProducedAt = Math.min(this.oldestProducedAt, at - latency);
    }
  }

  merge(other: Tally): void {
    this.#percentiles = undefined;
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
    const key = ps.join();
    if (this.#percentiles?.ps === key) return [...this.#percentiles.values];
    const values = this.#rank(ps);
    this.#percentiles = { ps: key, values };
    return [...values];
  }

  #rank(ps: readonly number[]): Array<number | null> {
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

/** The samples of one slot: their tally, and a tally per timestamp. */
interface Slot {
  tally: Tally;
  byTime: Map<number, Tally>;
  /** Its distinct latencies, largest first, until a sample is added (for the charts' p95). */
  descending?: number[] | undefined;
}

/** Throughput (per second) and latency p95 per chart bucket, oldest first. */
export interface Charts {
  throughput: number[];
  latencyP95: Array<number | null>;
}

/** Samples in slots; the windows and charts over them. */
export class SampleWindows {
  readonly #buckets: number;
  readonly #bucketMs: number;
  readonly #keepMs: number;
  /** Bounded by time, not count, by slot number. */
  #slots = new Map<number, Slot>();
  /** Where the last sample went: the next one most likely shares its slot and timestamp. */
  #last: { key: number; slot: Slot; at: number; group: Tally } | undefined;
  /** The charts as of the end of a whole slot, and `#chartVersion` when they were made. */
  #charts: { end: number; version: number; charts: Charts } | undefined;
  /** Counts the changes to slots before the end of the kept charts. */
  #chartVersion = 0;
  /** The tally of the whole slots `from <= key < to` of the last window, while none changes. */
  #wholeSlots: { from: number; to: number; tally: Tally } | undefined;
  /** Counts every change to the slots. */
  #version = 0;
  /**
   * The last tally of each window span, while neither its end nor a slot
   * changes: with summaries a window ends at a whole second, the same for ten
   * frames.
   */
  #windows = new Map<number, { now: number; version: number; tally: Tally }>();

  /**
   * @param options.chartBuckets buckets of the charts
   * @param options.chartBucketMs span of a chart bucket, a whole number of slots
   * @param options.keepMs how long before the latest sample samples are kept (at least the chart span)
   */
  constructor(
    { chartBuckets, chartBucketMs, keepMs }: {
      chartBuckets: number;
      chartBucketMs: number;
      keepMs: number;
    },
  ) {
    this.#buckets = chartBuckets;
    this.#bucketMs = chartBucketMs;
    this.#keepMs = keepMs;
  }

  /**
   * Adds one audited (`ok`) or dead-lettered sample.
   *
   * @param fromRecordTime the latency counts from the Kafka record time (no `produced_at`)
   */
  add(at: number, ok: boolean, latency: number | null, fromRecordTime: boolean): void {
    const { slot, group } = this.#place(at);
    slot.tally.add(at, ok, latency, fromRecordTime);
    group.add(at, ok, latency, fromRecordTime);
  }

  /**
   * Adds samples already added up, all at `at` (a summary's second: its
   * start). A window cutting through its slot counts them as of `at`.
   */
  addTally(at: number, tally: Tally): void {
    const { slot, group } = this.#place(at);
    slot.tally.merge(tally);
    group.merge(tally);
  }

  /** The slot and the tally by timestamp a sample at `at` goes to; the kept sums it changes are dropped. */
  #place(at: number): { slot: Slot; group: Tally } {
    const key = Math.floor(at / SLOT_MS);
    const last = this.#last;
    let slot = last?.key === key ? last.slot : this.#slots.get(key);
    if (slot === undefined) {
      slot = { tally: new Tally(), byTime: new Map() };
      this.#slots.set(key, slot);
      this.#forgetOldSlots(at);
    }
    let group = last?.slot === slot && last.at === at ? last.group : slot.byTime.get(at);
    if (group === undefined) slot.byTime.set(at, group = new Tally());
    if (last?.group !== group) this.#last = { key, slot, at, group };
    slot.descending = undefined;
    this.#version++;
    if (this.#charts !== undefined && at < this.#charts.end) this.#chartVersion++;
    const whole = this.#wholeSlots;
    if (whole !== undefined && key >= whole.from && key < whole.to) this.#wholeSlots = undefined;
    return { slot, group };
  }

  /**
   * Bounds memory by `keepMs`. Measured from the sample just added, not the
   * newest ever: one line with a clock far ahead must not discard what follows.
   */
  #forgetOldSlots(at: number): void {
    const oldest = at - this.#keepMs;
    for (const key of this.#slots.keys()) {
      if ((key + 1) * SLOT_MS <= oldest) {
        this.#slots.delete(key);
        this.#version++;
        // The kept sums may hold it (a record far ahead discards what they were made of).
        this.#chartVersion++;
        this.#wholeSlots = undefined;
      }
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
        // The window cuts through this slot: its tallies by timestamp tell.
        for (const [at, group] of slot.byTime) {
          if (at >= from && at < to) tally.merge(group);
        }
      }
    }
    return tally;
  }

  /** Tally of the samples with `now - windowMs < at <= now` (kept: not to be changed). */
  window(now: number, windowMs: number): Tally {
    const kept = this.#windows.get(windowMs);
    if (kept?.now === now && kept.version === this.#version) return kept.tally;
    const tally = this.#windowTally(now, windowMs);
    this.#windows.set(windowMs, { now, version: this.#version, tally });
    return tally;
  }

  #windowTally(now: number, windowMs: number): Tally {
    // Timestamps are whole milliseconds: (a, b] holds the same ones as [floor(a)+1, floor(b)+1).
    const from = Math.floor(now - windowMs) + 1;
    const to = Math.floor(now) + 1;
    // The whole slots in between change only when the window moves a slot on:
    // their tally is kept, and only the two cut slots are added up each time.
    const fromKey = Math.ceil(from / SLOT_MS);
    const toKey = Math.floor(to / SLOT_MS);
    if (fromKey >= toKey) return this.#tally(from, to);
    let whole = this.#wholeSlots;
    if (whole?.from !== fromKey || whole.to !== toKey) {
      whole = { from: fromKey, to: toKey, tally: this.#tally(fromKey * SLOT_MS, toKey * SLOT_MS) };
      this.#wholeSlots = whole;
    }
    const tally = this.#tally(from, fromKey * SLOT_MS);
    tally.merge(whole.tally);
    tally.merge(this.#tally(toKey * SLOT_MS, to));
    return tally;
  }

  /** How many samples have `now - windowMs < at <= now`: a window's count, without its latencies. */
  count(now: number, windowMs: number): number {
    const from = Math.floor(now - windowMs) + 1;
    const to = Math.floor(now) + 1;
    let count = 0;
    for (let key = Math.floor(from / SLOT_MS); key * SLOT_MS < to; key++) {
      const slot = this.#slots.get(key);
      if (slot === undefined) continue;
      if (key * SLOT_MS >= from && (key + 1) * SLOT_MS <= to) count += slot.tally.count;
      else {
        for (const [at, group] of slot.byTime) if (at >= from && at < to) count += group.count;
      }
    }
    return count;
  }

  /**
   * The count and latency p95 of the whole slots `from <= at < to`. The p95 is
   * found from the top, walking the slots' latencies largest first until 5%
   * of them are passed: a chart of 60 buckets is made every second, and
   * merging and sorting every latency of each bucket was most of its cost.
   */
  #bucket(from: number, to: number): { count: number; p95: number | null } {
    if (from % SLOT_MS !== 0 || to % SLOT_MS !== 0) {
      const tally = this.#tally(from, to);
      return { count: tally.count, p95: tally.percentiles([95])[0] ?? null };
    }
    const timedSlots: Slot[] = [];
    let count = 0;
    let timed = 0;
    for (let key = from / SLOT_MS; key < to / SLOT_MS; key++) {
      const slot = this.#slots.get(key);
      if (slot === undefined) continue;
      count += slot.tally.count;
      timed += slot.tally.timed;
      if (slot.tally.timed > 0) timedSlots.push(slot);
    }
    if (timed === 0) return { count, p95: null };
    // Nearest rank, as Tally.percentiles: the value with `timed - rank + 1` at or above it.
    const rank = Math.min(timed, Math.max(1, Math.ceil(0.95 * timed)));
    let above = timed - rank + 1;
    const lists = timedSlots.map((slot) =>
      slot.descending ??= [...slot.tally.latencies.keys()].sort((a, b) => b - a)
    );
    const next = lists.map(() => 0);
    while (true) {
      let best = -1;
      let value = -Infinity;
      for (let i = 0; i < lists.length; i++) {
        const candidate = lists[i]![next[i]!];
        if (candidate !== undefined && candidate > value) [best, value] = [i, candidate];
      }
      above -= timedSlots[best]!.tally.latencies.get(value)!;
      next[best]!++;
      if (above <= 0) return { count, p95: value };
    }
  }

  /**
   * The charts up to the start of the slot `now` is in: bucket i of n holds
   * `end - (n-i)·span <= at < end - (n-i-1)·span`. Buckets of whole slots,
   * they change once a slot (or when a late sample lands in them), not at every
   * frame; the same arrays are returned until then (not to be changed).
   */
  charts(now: number): Charts {
    const end = Math.floor(now / SLOT_MS) * SLOT_MS;
    const kept = this.#charts;
    if (kept?.end === end && kept.version === this.#chartVersion) return kept.charts;
    const throughput: number[] = [];
    const latencyP95: Array<number | null> = [];
    const start = end - this.#buckets * this.#bucketMs;
    for (let i = 0; i < this.#buckets; i++) {
      const bucket = this.#bucket(start + i * this.#bucketMs, start + (i + 1) * this.#bucketMs);
      throughput.push(bucket.count / (this.#bucketMs / 1000));
      latencyP95.push(bucket.p95);
    }
    const charts = { throughput, latencyP95 };
    this.#charts = { end, version: this.#chartVersion, charts };
    return charts;
  }
}

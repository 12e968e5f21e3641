/**
 * Lag in time: how old the oldest record not yet audited is, how that age
 * moved over the last minute, and how long the lag takes to drain at the
 * current net rate. Pure arithmetic on samples; time is passed in.
 *
 * The rule for the age of a partition's oldest unaudited record (the first
 * record after the last audited offset):
 * - no lag (the last audited offset is the high watermark's last): 0;
 * - a lag, and that record's timestamp known (it is the next message of the
 *   batch in hand): now minus its timestamp;
 * - a lag, and the batch ends at the last audited record (the next fetch has
 *   not happened yet): now minus the last audited record's timestamp. Records
 *   of a partition are appended in time order, so this is an upper bound of
 *   the true age, exceeded by at most the time between two records;
 * - no timestamp at all (a record without one): unknown.
 * The age of a partition nobody audits grows with the clock: the timestamp,
 * not the age, is what is kept.
 *
 * The total's age is the oldest partition's; its time to drain is the total
 * lag at the sum of the partitions' net rates (a partition whose lag appears
 * later would otherwise look like a growing total).
 */

/** A partition's (or the total's) lag in time, as the metrics record carries it. */
export interface LagTime {
  /** Age of the oldest record not yet audited (ms); 0 with no lag; null when unknown. */
  age_ms: number | null;
  /** How much that age changed over the last minute (ms per minute); null with too few samples. */
  age_trend_ms_per_min: number | null;
  /**
   * Time to drain the lag at the current net rate (ms, DRAIN_RATE_WINDOW_MS): 0 with no
   * lag ("now"), "never" while the lag does not shrink, null while unknown.
   */
  drain_ms: number | "never" | null;
}

/** One observation of a lag: when, how many messages, how old its oldest record (ms). */
export interface LagSample {
  at: number;
  lag: number;
  ageMs: number | null;
}

/** Window of the age's trend (and of the samples kept). */
export const LAG_WINDOW_MS = 60_000;
/**
 * Window of the net rate a time to drain assumes: the current rate, not the
 * minute's (a tracker's first seconds, slower while it warms up, would
 * overstate the estimate by a third).
 */
export const DRAIN_RATE_WINDOW_MS = 5_000;
/** One sample per slot of this span (bounds a history to 61 samples). */
const SAMPLE_SPACING_MS = 1_000;
/** A rate needs samples spanning at least this long. */
const MIN_SPAN_MS = 1_000;

/**
 * The age of a partition's oldest unaudited record at `now` (the rule above).
 *
 * @param position.lag messages after the last audited one
 * @param position.oldestTimestamp the Kafka timestamp of the oldest unaudited
 *   record, or of the last audited one when that record is not fetched yet
 */
export function oldestUnauditedAgeMs(
  position: { lag: number; oldestTimestamp: number | null },
  now: number,
): number | null {
  if (position.lag <= 0) return 0;
  if (position.oldestTimestamp === null) return null;
  return Math.max(0, now - position.oldestTimestamp);
}

/** Least-squares slope of `y` over `at` (per ms), or null with samples spanning under MIN_SPAN_MS. */
function slopePerMs(points: ReadonlyArray<{ at: number; y: number }>): number | null {
  if (points.length < 2) return null;
  const first = points[0]!.at;
  if (points.at(-1)!.at - first < MIN_SPAN_MS) return null;
  let sumX = 0, sumY = 0;
  for (const p of points) {
    sumX += p.at - first;
    sumY += p.y;
  }
  const meanX = sumX / points.length, meanY = sumY / points.length;
  let covariance = 0, variance = 0;
  for (const p of points) {
    const dx = p.at - first - meanX;
    covariance += dx * (p.y - meanY);
    variance += dx * dx;
  }
  return variance === 0 ? null : covariance / variance;
}

/**
 * Messages drained per second, net of what arrives (positive: the lag
 * shrinks), fitted over the samples of the last DRAIN_RATE_WINDOW_MS from the
 * highest lag on (a backlog's plateau while the tracker joins its group is
 * not its drain rate); null when they cannot tell.
 */
export function netDrainRatePerSec(samples: readonly LagSample[]): number | null {
  const newest = samples.at(-1)?.at ?? 0;
  const recent = samples.filter((s) => s.at >= newest - DRAIN_RATE_WINDOW_MS);
  let peak = 0;
  for (const [i, sample] of recent.entries()) {
    if (sample.lag >= recent[peak]!.lag) peak = i;
  }
  const falling = recent.slice(peak);
  const fitted = falling.length >= 2 && falling.at(-1)!.at - falling[0]!.at >= MIN_SPAN_MS
    ? falling
    : recent;
  const slope = slopePerMs(fitted.map((s) => ({ at: s.at, y: s.lag })));
  return slope === null ? null : -slope * 1000;
}

/**
 * Time to drain `lag` messages at a net rate (ms): 0 at zero lag, "never"
 * while the lag does not shrink, null when the rate is unknown.
 */
export function timeToDrainMs(lag: number, netRatePerSec: number | null): number | "never" | null {
  if (lag <= 0) return 0;
  if (netRatePerSec === null) return null;
  if (netRatePerSec <= 0) return "never";
  return Math.round((lag / netRatePerSec) * 1000);
}

/**
 * Lag in time from a history of samples, the newest last (its age is the
 * current one).
 *
 * @param netRatePerSec the net drain rate (default: fitted over the samples)
 */
export function lagTime(
  samples: readonly LagSample[],
  netRatePerSec: number | null = netDrainRatePerSec(samples),
): LagTime {
  const latest = samples.at(-1);
  if (latest === undefined) return { age_ms: null, age_trend_ms_per_min: null, drain_ms: null };
  const aged = samples.filter((s): s is LagSample & { ageMs: number } => s.ageMs !== null);
  const trend = slopePerMs(aged.map((s) => ({ at: s.at, y: s.ageMs })));
  return {
    age_ms: latest.ageMs === null ? null : Math.round(latest.ageMs),
    age_trend_ms_per_min: trend === null ? null : Math.round(trend * 60_000),
    drain_ms: timeToDrainMs(latest.lag, netRatePerSec),
  };
}

/**
 * The samples of the last LAG_WINDOW_MS, at most one per SAMPLE_SPACING_MS slot
 * (a newer one replaces the slot's): bounded whatever the call rate.
 */
export class LagHistory {
  readonly #samples: LagSample[] = [];

  add(sample: LagSample): void {
    const last = this.#samples.at(-1);
    if (last !== undefined && sample.at < last.at) {
      // A clock stepped back: start over rather than fit a line through it.
      this.#samples.length = 0;
    } else if (
      last !== undefined &&
      Math.floor(last.at / SAMPLE_SPACING_MS) === Math.floor(sample.at / SAMPLE_SPACING_MS)
    ) {
      this.#samples.pop();
    }
    this.#samples.push(sample);
    const oldest = sample.at - LAG_WINDOW_MS;
    const expired = this.#samples.findIndex((s) => s.at >= oldest);
    if (expired > 0) this.#samples.splice(0, expired);
  }

  /** The samples kept, oldest first. */
  samples(): readonly LagSample[] {
    return this.#samples;
  }
}

/**
 * Is the consumer alive? It fetches or heartbeats every few seconds while it
 * works; KafkaJS reports the failures it retries (a broker outage). From those
 * facts and the time, `Liveness.judge` gives a verdict: alive, quiet for a
 * moment, in an outage (reported every OUTAGE_REPORT_MS while it lasts) or
 * stalled (no fetch, heartbeat or retry for STALL_TIMEOUT_MS: the tracker exits
 * non-zero). Pure: time is passed in.
 */

/** Silence longer than this is worth a look (two metrics intervals). */
export const QUIET_AFTER_MS = 10_000;
/**
 * No fetch and no heartbeat for this long, while KafkaJS is not retrying a
 * failure either, means the consumer is stalled.
 */
export const STALL_TIMEOUT_MS = 60_000;
/** How often an outage (KafkaJS retrying, nothing fetched) is reported while it lasts. */
export const OUTAGE_REPORT_MS = 15_000;

export type LivenessVerdict =
  | { kind: "alive" }
  /** Silent for a while, but neither retrying nor silent long enough to call it stalled. */
  | { kind: "quiet"; idleMs: number }
  /** KafkaJS is retrying a failure; `report` says whether this check should say so. */
  | { kind: "outage"; idleMs: number; report: boolean }
  | { kind: "stalled"; idleMs: number };

export class Liveness {
  #lastActivity: number;
  #lastRetry = -Infinity;
  #lastOutageReport = -Infinity;

  constructor({ now }: { now: number }) {
    this.#lastActivity = now;
  }

  /** A fetch, a heartbeat or a batch happened. */
  activity(now: number): void {
    this.#lastActivity = now;
  }

  /** KafkaJS reported a failure it retries (a crash it restarts from). */
  retrying(now: number): void {
    this.#lastRetry = now;
  }

  /** The verdict at `now`; an outage verdict with `report` counts as reported. */
  judge(now: number): LivenessVerdict {
    const idleMs = now - this.#lastActivity;
    if (idleMs <= QUIET_AFTER_MS) return { kind: "alive" };
    if (now - this.#lastRetry <= STALL_TIMEOUT_MS) {
      const report = now - this.#lastOutageReport >= OUTAGE_REPORT_MS;
      if (report) this.#lastOutageReport = now;
      return { kind: "outage", idleMs, report };
    }
    return idleMs > STALL_TIMEOUT_MS ? { kind: "stalled", idleMs } : { kind: "quiet", idleMs };
  }
}

/**
 * Judges `liveness` every `intervalMs` and hands each verdict to `onVerdict`
 * (the tracker emits its metrics record on the same beat).
 */
export function watchLiveness(
  liveness: Liveness,
  { intervalMs, onVerdict }: { intervalMs: number; onVerdict: (verdict: LivenessVerdict) => void },
): { stop(): void } {
  const timer = setInterval(() => onVerdict(liveness.judge(Date.now())), intervalMs);
  return { stop: () => clearInterval(timer) };
}

/**
 * Retrying a transient failure for a bounded time: attempts with a growing
 * pause between them, each one told to the caller (a line in the health log
 * every few seconds), a permanent failure given up at once, and after the
 * deadline one clear error instead of a wait without end. Timers only; the
 * work is passed in.
 */

export interface RetryOptions {
  /** Give up this long after the first attempt began (ms). */
  deadlineMs: number;
  /** Whether an error will fail again however often it is retried. */
  isPermanent(error: unknown): boolean;
  /** Told of each failed attempt that will be retried. */
  onRetry(failure: { attempt: number; elapsedMs: number; error: unknown }): void;
  /** First pause (ms); doubled after each attempt up to maxPauseMs. */
  initialPauseMs?: number;
  maxPauseMs?: number;
}

/** The retries ran out: carries the last error as its cause. */
export class RetryDeadlineError extends Error {
  override name = "RetryDeadlineError";
}

/**
 * Runs `attempt` until it succeeds, fails permanently (rethrown) or the
 * deadline passes (RetryDeadlineError). An attempt still running at the
 * deadline is abandoned, not awaited.
 */
export async function retryUntilDeadline<T>(
  attempt: () => Promise<T>,
  { deadlineMs, isPermanent, onRetry, initialPauseMs = 500, maxPauseMs = 5_000 }: RetryOptions,
): Promise<T> {
  const started = Date.now();
  let pause = initialPauseMs;
  for (let n = 1;; n++) {
    const left = deadlineMs - (Date.now() - started);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), Math.max(0, left));
    });
    const run = attempt();
    run.catch(() => {}); // Settled later if the deadline wins: nothing left to do with it.
    let error: unknown;
    try {
      const result = await Promise.race([run, timeout]);
      if (result !== "timeout") return result as T;
      error = new Error(`no answer within ${Math.round(deadlineMs / 1000)} s`);
    } catch (caught) {
      if (isPermanent(caught)) throw caught;
      error = caught;
    } finally {
      clearTimeout(timer);
    }
    const elapsedMs = Date.now() - started;
    if (elapsedMs + Math.min(pause, maxPauseMs) >= deadlineMs) {
      throw new RetryDeadlineError(
        `gave up after ${n} attempts in ${Math.round(elapsedMs / 1000)} s: ${
          (error as Error).message ?? String(error)
        }`,
        { cause: error },
      );
    }
    onRetry({ attempt: n, elapsedMs, error });
    await new Promise((resolve) => setTimeout(resolve, pause));
    pause = Math.min(pause * 2, maxPauseMs);
  }
}

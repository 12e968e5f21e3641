/**
 * Waiting for an answer for a bounded time: the work runs once (the client
 * retries it internally, so it stays idempotent), the caller is told every
 * `reportEveryMs` while it is still unanswered (a line in the health log every
 * few seconds), and after `deadlineMs` one clear error replaces a wait without
 * end. A failure the work reports itself is rethrown at once. Timers only.
 */

/** The work was still unanswered at the deadline. */
export class DeadlineError extends Error {
  override name = "DeadlineError";
}

/**
 * Resolves with `work`'s result, rejects with its error, or rejects with a
 * DeadlineError after `deadlineMs`; `onWait` is told of each `reportEveryMs`
 * that passes unanswered. The work is abandoned, not cancelled, at the deadline.
 */
export async function awaitWithDeadline<T>(
  work: Promise<T>,
  { deadlineMs, reportEveryMs, onWait }: {
    deadlineMs: number;
    reportEveryMs: number;
    onWait: (waitedMs: number) => void;
  },
): Promise<T> {
  const started = Date.now();
  work.catch(() => {}); // Settled later if the deadline wins: nothing left to do with it.
  for (;;) {
    const waited = Date.now() - started;
    const pause = Math.min(reportEveryMs, deadlineMs - waited);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const tick = new Promise<"tick">((resolve) => {
      timer = setTimeout(() => resolve("tick"), Math.max(0, pause));
    });
    try {
      const result = await Promise.race([work, tick]);
      if (result !== "tick") return result as T;
    } finally {
      clearTimeout(timer);
    }
    const now = Date.now() - started;
    if (now >= deadlineMs) {
      throw new DeadlineError(`no answer within ${Math.round(deadlineMs / 1000)} s`);
    }
    onWait(now);
  }
}

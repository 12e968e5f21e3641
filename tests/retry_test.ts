/** Unit: bounded retries, driven by fake time. */
import FakeTimers from "@sinonjs/fake-timers";
import { assert, assertEquals, assertMatch, assertRejects } from "./assert.ts";
import { RetryDeadlineError, retryUntilDeadline } from "../lib/retry.ts";

const transient = new Error("Connection error: connect ECONNREFUSED");
const permanent = Object.assign(new Error("MESSAGE_TOO_LARGE"), { permanent: true });
const isPermanent = (e: unknown) => (e as { permanent?: boolean }).permanent === true;

Deno.test({
  name: "a transient failure is retried with a growing pause, told each time, until it succeeds",
  permissions: "none",
  async fn() {
    const clock = FakeTimers.install({ now: 0, toFake: ["Date", "setTimeout", "clearTimeout"] });
    try {
      let calls = 0;
      const told: number[] = [];
      const done = retryUntilDeadline(() => {
        calls++;
        return calls < 4 ? Promise.reject(transient) : Promise.resolve("sent");
      }, {
        deadlineMs: 30_000,
        isPermanent,
        onRetry: ({ elapsedMs }) => told.push(elapsedMs),
      });
      await clock.tickAsync(10_000);
      assertEquals(await done, "sent");
      assertEquals(calls, 4);
      assertEquals(told, [0, 500, 1_500], "pauses of 0.5, 1 and 2 s");
    } finally {
      clock.uninstall();
    }
  },
});

Deno.test({
  name: "a failure that lasts ends in one clear error at the deadline, never a wait without end",
  permissions: "none",
  async fn() {
    const clock = FakeTimers.install({ now: 0, toFake: ["Date", "setTimeout", "clearTimeout"] });
    try {
      const told: number[] = [];
      // The second attempt hangs (a request that never returns).
      let calls = 0;
      const done = retryUntilDeadline(
        () => (++calls === 2 ? new Promise<never>(() => {}) : Promise.reject(transient)),
        { deadlineMs: 20_000, isPermanent, onRetry: ({ attempt }) => told.push(attempt) },
      );
      const outcome = assertRejects(() => done, RetryDeadlineError);
      await clock.tickAsync(25_000);
      await outcome;
      const error = await done.catch((e) => e as Error);
      assertMatch(error.message, /^gave up after 2 attempts in 20 s: no answer within 20 s/);
      assertEquals(told, [1]);
    } finally {
      clock.uninstall();
    }
  },
});

Deno.test({
  name: "a permanent failure is not retried",
  permissions: "none",
  async fn() {
    let calls = 0;
    const error = await retryUntilDeadline(() => {
      calls++;
      return Promise.reject(permanent);
    }, { deadlineMs: 30_000, isPermanent, onRetry: () => assert(false, "no retry") }).catch((e) =>
      e
    );
    assertEquals([calls, error], [1, permanent]);
  },
});

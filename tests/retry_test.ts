/** Unit: waiting for an answer for a bounded time, driven by fake time. */
import FakeTimers from "@sinonjs/fake-timers";
import { assertEquals, assertMatch } from "./assert.ts";
import { awaitWithDeadline, DeadlineError } from "../lib/retry.ts";

function fakeTime() {
  return FakeTimers.install({ now: 0, toFake: ["Date", "setTimeout", "clearTimeout"] });
}

Deno.test({
  name: "an answer that takes a while is awaited, with a report every few seconds meanwhile",
  permissions: "none",
  async fn() {
    const clock = fakeTime();
    try {
      const told: number[] = [];
      const answer = new Promise<string>((resolve) => setTimeout(() => resolve("acked"), 12_000));
      const done = awaitWithDeadline(answer, {
        deadlineMs: 30_000,
        reportEveryMs: 5_000,
        onWait: (ms) => told.push(ms),
      });
      await clock.tickAsync(13_000);
      assertEquals(await done, "acked");
      assertEquals(told, [5_000, 10_000]);
    } finally {
      clock.uninstall();
    }
  },
});

Deno.test({
  name: "no answer at all ends in one clear error at the deadline, never a wait without end",
  permissions: "none",
  async fn() {
    const clock = fakeTime();
    try {
      const told: number[] = [];
      const done = awaitWithDeadline(new Promise<never>(() => {}), {
        deadlineMs: 12_000,
        reportEveryMs: 5_000,
        onWait: (ms) => told.push(ms),
      }).then(() => undefined, (error: Error) => error);
      await clock.tickAsync(20_000);
      const error = await done;
      assertEquals(error instanceof DeadlineError, true);
      assertMatch(String(error?.message), /^no answer within 12 s$/);
      assertEquals(told, [5_000, 10_000]);
    } finally {
      clock.uninstall();
    }
  },
});

Deno.test({
  name: "a failure the work reports is passed on at once",
  permissions: "none",
  async fn() {
    const refused = new Error("MESSAGE_TOO_LARGE");
    const error = await awaitWithDeadline(Promise.reject(refused), {
      deadlineMs: 30_000,
      reportEveryMs: 5_000,
      onWait: () => {},
    }).catch((e) => e);
    assertEquals(error, refused);
  },
});

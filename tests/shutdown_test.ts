/** Unit: one shutdown request per signal burst, a forced exit on a later one, a hard deadline. */
import FakeTimers from "@sinonjs/fake-timers";
import { assert, assertEquals } from "./assert.ts";
import { installShutdown, PARENT_CHECK_MS } from "../lib/shutdown.ts";

// Real timers, taken before fake ones are installed: signal listeners do not
// keep the event loop alive, so a real timer must while a signal is on its way.
const realSetTimeout = globalThis.setTimeout;
const realClearTimeout = globalThis.clearTimeout;

function realSleep(ms: number): Promise<void> {
  return new Promise((resolve) => realSetTimeout(resolve, ms));
}

/** Sends a signal to this process and waits (5 s at most) until the handler has seen it. */
async function deliver(signal: Deno.Signal, seen: { next: Promise<void> }): Promise<void> {
  const arrived = seen.next;
  Deno.kill(Deno.pid, signal);
  let timer: ReturnType<typeof realSetTimeout> | undefined;
  const lost = new Promise<never>((_, reject) => {
    timer = realSetTimeout(() => reject(new Error(`${signal} was not handled`)), 5_000);
  });
  await Promise.race([arrived, lost]).finally(() => realClearTimeout(timer));
}

Deno.test("a signal aborts the shutdown signal even when reporting it fails", async () => {
  const clock = FakeTimers.install({
    now: 1_000_000,
    toFake: ["Date", "setTimeout", "clearTimeout"],
  });
  const exits: number[] = [];
  const told: string[] = [];
  let arrived = Promise.withResolvers<void>();
  const seen = {
    get next() {
      return arrived.promise;
    },
  };
  const shutdown = installShutdown({
    hardDeadlineMs: 9_000,
    exit: (code) => exits.push(code),
    onSignal: (signal, forced) => {
      told.push(`${signal}${forced ? " forced" : ""}`);
      arrived.resolve();
      arrived = Promise.withResolvers<void>();
      throw new Error("stdout is closed");
    },
  });
  try {
    await deliver("SIGTERM", seen);
    assert(shutdown.signal.aborted);
    assertEquals(shutdown.signal.reason, "SIGTERM");

    // A copy of the same request a moment later (the launcher passing it on) is ignored.
    clock.tick(500);
    Deno.kill(Deno.pid, "SIGTERM");
    await realSleep(200);
    // A later signal, on purpose, forces the exit.
    clock.tick(1_000);
    await deliver("SIGTERM", seen);
    assertEquals(told, ["SIGTERM", "SIGTERM forced"]);
    assertEquals(exits, [130]);

    // The hard deadline is the backstop for a shutdown that hangs.
    clock.tick(9_000);
    assertEquals(exits, [130, 1]);
  } finally {
    shutdown.dispose();
    clock.uninstall();
  }
});

Deno.test("a process that stops with its parent stops as on SIGTERM once it has another parent", () => {
  const clock = FakeTimers.install({
    now: 1_000_000,
    toFake: ["Date", "setTimeout", "clearTimeout", "setInterval", "clearInterval"],
  });
  const exits: number[] = [];
  const told: string[] = [];
  let parent = 4242;
  const shutdown = installShutdown({
    hardDeadlineMs: 9_000,
    parentPid: 4242,
    ppid: () => parent,
    exit: (code) => exits.push(code),
    onSignal: (reason, forced) => told.push(`${reason}${forced ? " forced" : ""}`),
  });
  try {
    // While the parent lives, nothing happens.
    clock.tick(5 * PARENT_CHECK_MS);
    assert(!shutdown.signal.aborted);
    // Its parent killed, the process is given another (init, a subreaper).
    parent = 1;
    clock.tick(PARENT_CHECK_MS);
    assert(shutdown.signal.aborted);
    assertEquals(shutdown.signal.reason, "the parent process (PID 4242) is gone");
    // Said once, and looked at no more; the hard deadline still backs the shutdown.
    clock.tick(5 * PARENT_CHECK_MS);
    assertEquals(told, ["the parent process (PID 4242) is gone"]);
    assertEquals(exits, []);
    clock.tick(9_000);
    assertEquals(exits, [1]);
  } finally {
    shutdown.dispose();
    clock.uninstall();
  }
});

Deno.test("without a parent to stop with, no parent is looked at", () => {
  const clock = FakeTimers.install({ toFake: ["setInterval", "clearInterval"] });
  let asked = 0;
  const shutdown = installShutdown({ hardDeadlineMs: 9_000, ppid: () => ++asked });
  try {
    clock.tick(10 * PARENT_CHECK_MS);
    assertEquals(asked, 0);
    assert(!shutdown.signal.aborted);
  } finally {
    shutdown.dispose();
    clock.uninstall();
  }
});

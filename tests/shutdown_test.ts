import { assert, assertEquals } from "./assert.ts";
import { installShutdown } from "../lib/shutdown.ts";

Deno.test("a signal aborts the shutdown signal even when reporting it fails", async () => {
  const told: string[] = [];
  const shutdown = installShutdown({
    hardDeadlineMs: 60_000,
    onSignal: (signal) => {
      told.push(signal);
      throw new Error("stdout is closed");
    },
  });
  try {
    const aborted = new Promise<void>((resolve) =>
      shutdown.signal.addEventListener("abort", () => resolve(), { once: true })
    );
    // Signal listeners do not keep the event loop alive; this timer does, and
    // bounds the wait (if the signal were lost, the test fails here).
    let timer: ReturnType<typeof setTimeout> | undefined;
    const lost = new Promise<void>((_, reject) => {
      timer = setTimeout(() => reject(new Error("the signal did not abort")), 5_000);
    });
    Deno.kill(Deno.pid, "SIGTERM");
    await Promise.race([aborted, lost]).finally(() => clearTimeout(timer));
    assert(shutdown.signal.aborted);
    assertEquals(shutdown.signal.reason, "SIGTERM");
    // A copy of the same request a moment later is not a second, forcing signal.
    Deno.kill(Deno.pid, "SIGTERM");
    await new Promise((resolve) => setTimeout(resolve, 200));
    assertEquals(told, ["SIGTERM"]);
  } finally {
    shutdown.dispose();
  }
});

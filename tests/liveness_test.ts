/** Unit: the consumer's liveness verdict, driven by fake time. */
import FakeTimers from "@sinonjs/fake-timers";
import { assertEquals } from "./assert.ts";
import {
  Liveness,
  OUTAGE_REPORT_MS,
  QUIET_AFTER_MS,
  STALL_TIMEOUT_MS,
  watchLiveness,
} from "../lib/liveness.ts";

const INTERVAL_MS = 5_000;

/** Fake Date and intervals, a liveness watch on them, and the verdicts it gave. */
function fakeWatch() {
  const clock = FakeTimers.install({
    now: 1_000_000,
    toFake: ["Date", "setInterval", "clearInterval"],
  });
  const liveness = new Liveness({ now: Date.now() });
  const seen: string[] = [];
  const watch = watchLiveness(liveness, {
    intervalMs: INTERVAL_MS,
    onVerdict: (v) => seen.push(v.kind === "outage" ? (v.report ? "outage!" : "outage") : v.kind),
  });
  return {
    clock,
    liveness,
    seen,
    dispose() {
      watch.stop();
      clock.uninstall();
    },
  };
}

Deno.test({
  name: "a consumer that fetches is alive; silence without retries becomes a stall after 60 s",
  permissions: "none",
  fn() {
    const { clock, liveness, seen, dispose } = fakeWatch();
    try {
      for (let i = 0; i < 3; i++) {
        liveness.activity(Date.now());
        clock.tick(INTERVAL_MS);
      }
      assertEquals(seen, ["alive", "alive", "alive"]);
      seen.length = 0;
      clock.tick(STALL_TIMEOUT_MS + INTERVAL_MS);
      const quietChecks = (STALL_TIMEOUT_MS - QUIET_AFTER_MS) / INTERVAL_MS;
      assertEquals(seen, [
        "alive",
        ...Array<string>(quietChecks).fill("quiet"),
        "stalled",
        "stalled",
      ]);
    } finally {
      dispose();
    }
  },
});

Deno.test({
  name: "an outage (KafkaJS retrying) is reported every 15 s and never called a stall",
  permissions: "none",
  fn() {
    const { clock, liveness, seen, dispose } = fakeWatch();
    try {
      // The broker goes away: KafkaJS retries every few seconds for three minutes.
      for (let t = 0; t < 180_000; t += 1_000) {
        clock.tick(1_000);
        if (t % 3_000 === 0) liveness.retrying(Date.now());
      }
      assertEquals(seen.includes("stalled"), false);
      const reports = seen.filter((k) => k === "outage!").length;
      // Silent from second 10 on; one report at once, then one every 15 s.
      assertEquals(reports, Math.ceil((180_000 - QUIET_AFTER_MS) / OUTAGE_REPORT_MS));
      // It comes back: fetches resume and the consumer is alive again.
      liveness.activity(Date.now());
      clock.tick(INTERVAL_MS);
      assertEquals(seen.at(-1), "alive");
    } finally {
      dispose();
    }
  },
});

/**
 * Unit: the lag in time (lag_time.ts) and how the tracker's figures carry it,
 * on a clock the tests move by hand: a growing, a shrinking, a zero and an
 * idle lag; what an old metrics record without these figures reads as.
 */
import { assert, assertEquals } from "./assert.ts";
import {
  LAG_WINDOW_MS,
  LagHistory,
  lagTime,
  netDrainRatePerSec,
  oldestUnauditedAgeMs,
  timeToDrainMs,
} from "../lib/lag_time.ts";
import { TrackerMetrics } from "../lib/tracker_metrics.ts";
import { formatHealthLine, parseHealthLine } from "../lib/health_record.ts";
import { lagTimeText } from "../lib/monitor_format.ts";

const T0 = Date.UTC(2026, 10, 26, 12);
const SECOND = 1_000;

/**
 * A partition fed at `inPerSec` and audited at `outPerSec` for `seconds`,
 * starting with `backlog` messages whose oldest was produced `backlogAgeMs`
 * before T0; the tracker reports after every second, as after a chunk.
 */
function simulate(
  metrics: TrackerMetrics,
  { backlog, backlogAgeMs, inPerSec, outPerSec, seconds }: {
    backlog: number;
    backlogAgeMs: number;
    inPerSec: number;
    outPerSec: number;
    seconds: number;
  },
): { at: number; lag: number } {
  // Offsets and produce times: the backlog evenly over its age, then live records.
  const producedAt = (offset: number) =>
    offset < backlog
      ? T0 - backlogAgeMs + (offset * backlogAgeMs) / backlog
      : T0 + ((offset - backlog) / inPerSec) * SECOND;
  let audited = 0;
  let at = T0;
  let lag = backlog;
  for (let s = 1; s <= seconds; s++) {
    at = T0 + s * SECOND;
    const end = backlog + Math.floor(inPerSec * s);
    audited = Math.min(end, audited + outPerSec);
    lag = end - audited;
    metrics.setLag(0, {
      highWatermark: end,
      nextOffset: audited,
      oldestTimestamp: lag > 0 ? producedAt(audited) : producedAt(audited - 1),
      at,
    });
  }
  return { at, lag };
}

Deno.test({
  name: "the age of the oldest unaudited record follows the documented rule",
  permissions: "none",
  async fn(t) {
    await t.step("no lag: 0, whatever the timestamp", () => {
      assertEquals(oldestUnauditedAgeMs({ lag: 0, oldestTimestamp: T0 - 60_000 }, T0), 0);
    });
    await t.step("a lag: now minus the oldest unaudited record's timestamp", () => {
      assertEquals(oldestUnauditedAgeMs({ lag: 5, oldestTimestamp: T0 - 4_200 }, T0), 4_200);
    });
    await t.step("a lag of records without a timestamp: unknown", () => {
      assertEquals(oldestUnauditedAgeMs({ lag: 5, oldestTimestamp: null }, T0), null);
    });
    await t.step("a record time ahead of this clock is no negative age", () => {
      assertEquals(oldestUnauditedAgeMs({ lag: 5, oldestTimestamp: T0 + 900 }, T0), 0);
    });
  },
});

Deno.test({
  name:
    "time to drain is now at zero lag, never while the lag does not shrink, else lag over net rate",
  permissions: "none",
  async fn(t) {
    const cases: Array<[string, number, number | null, number | "never" | null]> = [
      ["zero lag, no rate known", 0, null, 0],
      ["zero lag, growing", 0, -5, 0],
      ["a lag, rate unknown", 10, null, null],
      ["a lag, steady", 10, 0, "never"],
      ["a lag, growing", 10, -2, "never"],
      ["a lag, shrinking", 1_000, 50, 20_000],
    ];
    for (const [name, lag, rate, expected] of cases) {
      await t.step(name, () => assertEquals(timeToDrainMs(lag, rate), expected));
    }
  },
});

Deno.test({
  name: "the net rate is fitted over the last 5 s of samples and needs a second of them",
  permissions: "none",
  fn() {
    assertEquals(netDrainRatePerSec([]), null);
    assertEquals(netDrainRatePerSec([{ at: T0, lag: 9, ageMs: 0 }]), null);
    assertEquals(
      netDrainRatePerSec([{ at: T0, lag: 9, ageMs: 0 }, { at: T0 + 500, lag: 3, ageMs: 0 }]),
      null,
      "half a second tells nothing",
    );
    // Noise around a line falling 100/s: the fit finds the line.
    const noisy = [0, 1, 2, 3, 4, 5, 6].map((s) => ({
      at: T0 + s * SECOND,
      lag: 1_000 - 100 * s + (s % 2 === 0 ? 30 : -30),
      ageMs: 0,
    }));
    const rate = netDrainRatePerSec(noisy)!;
    assert(Math.abs(rate - 100) < 10, `rate ${rate}`);
    // 20 s at 10/s, then 20 s at 100/s: the current rate, not the minute's average.
    const warmingUp = Array.from({ length: 41 }, (_, s) => ({
      at: T0 + s * SECOND,
      lag: 10_000 - (s <= 20 ? 10 * s : 200 + 100 * (s - 20)),
      ageMs: 0,
    }));
    assertEquals(netDrainRatePerSec(warmingUp), 100);
    // A backlog flat for 3 s (the tracker joining), then falling 20,000/s: the drain rate.
    const joining = [0, 1, 2, 3, 4].map((s) => ({
      at: T0 + s * SECOND,
      lag: s <= 2 ? 80_000 : 80_000 - 20_000 * (s - 2),
      ageMs: 0,
    }));
    assertEquals(netDrainRatePerSec(joining), 20_000);
    // A lag that grows to its newest sample: fitted over the window, never "draining".
    const growing = [0, 1, 2, 3].map((s) => ({ at: T0 + s * SECOND, lag: 100 * s, ageMs: 0 }));
    assertEquals(netDrainRatePerSec(growing), -100);
  },
});

Deno.test({
  name: "a growing lag: the age climbs a second per second and it drains never",
  permissions: "none",
  fn() {
    const metrics = new TrackerMetrics({ startedAt: T0 });
    // Nothing audited: a stuck consumer that still fetches.
    const { at } = simulate(metrics, {
      backlog: 0,
      backlogAgeMs: 0,
      inPerSec: 20,
      outPerSec: 0,
      seconds: 30,
    });
    const record = metrics.toRecord(at, { openOrders: 0 });
    assertEquals(record.lag_total, 600);
    const total = record.lag_time!.total;
    assertEquals(total.drain_ms, "never");
    assert(Math.abs(total.age_ms! - 30_000) <= 1_000, `age ${total.age_ms}`);
    assert(Math.abs(total.age_trend_ms_per_min! - 60_000) < 1_000, `${total.age_trend_ms_per_min}`);
    assertEquals(lagTimeText(total), "lag in time 30 s (rising 60 s/min), drains never");
  },
});

Deno.test({
  name: "a shrinking lag: time to drain is the lag over the net rate, and comes true",
  permissions: "none",
  fn() {
    const metrics = new TrackerMetrics({ startedAt: T0 });
    // 3,000 waiting for 5 min, 50/s arriving, 250/s audited: net 200/s, 15 s to drain.
    const halfway = simulate(metrics, {
      backlog: 3_000,
      backlogAgeMs: 300_000,
      inPerSec: 50,
      outPerSec: 250,
      seconds: 5,
    });
    const record = metrics.toRecord(halfway.at, { openOrders: 0 });
    assertEquals(record.lag_total, 2_000);
    const total = record.lag_time!.total;
    assertEquals(total.drain_ms, 10_000, "2,000 left at a net 200/s");
    assert(total.age_trend_ms_per_min! < 0, "the age falls");
    // 1,250 of the 3,000 audited: the next was produced 175 s before T0, 5 s ago.
    assertEquals(total.age_ms, 180_000);
    const drained = simulate(new TrackerMetrics({ startedAt: T0 }), {
      backlog: 3_000,
      backlogAgeMs: 300_000,
      inPerSec: 50,
      outPerSec: 250,
      seconds: 15,
    });
    assertEquals(drained.lag, 0, "drained when the estimate said (5 s + 10 s)");
  },
});

Deno.test({
  name: "a zero lag: age 0 and it drains now",
  permissions: "none",
  fn() {
    const metrics = new TrackerMetrics({ startedAt: T0 });
    const { at } = simulate(metrics, {
      backlog: 0,
      backlogAgeMs: 0,
      inPerSec: 20,
      outPerSec: 1_000,
      seconds: 10,
    });
    const total = metrics.toRecord(at, { openOrders: 0 }).lag_time!.total;
    assertEquals(total, { age_ms: 0, age_trend_ms_per_min: 0, drain_ms: 0 });
    assertEquals(lagTimeText(total), "lag in time 0 s, drains now");
  },
});

Deno.test({
  name:
    "an idle partition: none waiting stays at 0; one left behind ages with the clock and drains never",
  permissions: "none",
  fn() {
    const metrics = new TrackerMetrics({ startedAt: T0 });
    metrics.setLag(0, { highWatermark: 10, nextOffset: 10, oldestTimestamp: T0 - 500, at: T0 });
    // Partition 1's next record is not fetched yet: its age counts from the last audited one.
    metrics.setLag(1, { highWatermark: 10, nextOffset: 7, oldestTimestamp: T0 - 500, at: T0 });
    // No chunk for a minute: only the 5-second metrics records sample them.
    let record = metrics.toRecord(T0, { openOrders: 0 });
    for (let at = T0 + 5_000; at <= T0 + 60_000; at += 5_000) {
      record = metrics.toRecord(at, { openOrders: 0 });
    }
    const [idle, behind] = [record.lag_time!.partitions["0"]!, record.lag_time!.partitions["1"]!];
    assertEquals(idle, { age_ms: 0, age_trend_ms_per_min: 0, drain_ms: 0 });
    assertEquals(behind.age_ms, 60_500);
    assertEquals(behind.age_trend_ms_per_min, 60_000);
    assertEquals(behind.drain_ms, "never");
    assertEquals(
      record.lag_time!.total.age_ms,
      60_500,
      "the total's age is the oldest partition's",
    );
  },
});

Deno.test({
  name:
    "a lag history keeps one sample a second over the last minute, and restarts when the clock steps back",
  permissions: "none",
  fn() {
    const history = new LagHistory();
    for (let at = T0; at < T0 + 120_000; at += 10) history.add({ at, lag: 1, ageMs: 0 });
    const samples = history.samples();
    assert(samples.length <= LAG_WINDOW_MS / SECOND + 1, `${samples.length} samples`);
    assertEquals(samples.at(-1)!.at, T0 + 119_990, "the newest is always kept");
    assert(samples[0]!.at >= T0 + 119_990 - LAG_WINDOW_MS);
    history.add({ at: T0, lag: 1, ageMs: 0 });
    assertEquals(history.samples().length, 1);
    assertEquals(lagTime([]), { age_ms: null, age_trend_ms_per_min: null, drain_ms: null });
  },
});

Deno.test({
  name: "a metrics record carries the lag in time and one written before it existed still reads",
  permissions: "none",
  fn() {
    const metrics = new TrackerMetrics({ startedAt: T0 });
    metrics.setLag(0, { highWatermark: 9, nextOffset: 4, oldestTimestamp: T0, at: T0 + 3_000 });
    const record = metrics.toRecord(T0 + 3_000, { openOrders: 0 });
    const line = (properties: Record<string, unknown>) =>
      formatHealthLine({
        category: ["order-tracking", "tracker"],
        level: "info",
        message: ["Metrics"],
        rawMessage: "Metrics",
        timestamp: T0 + 3_000,
        properties,
      });
    const parsed = parseHealthLine(line({ ...record }));
    assert(parsed.ok && parsed.entry.kind === "metrics");
    assertEquals(parsed.entry.metrics.lag_time, record.lag_time);

    const { lag_time: _, ...old } = record;
    const parsedOld = parseHealthLine(line(old));
    assert(parsedOld.ok && parsedOld.entry.kind === "metrics", "an old record is still a record");
    assertEquals(parsedOld.entry.metrics.lag_time, undefined);
    assertEquals(lagTimeText(null), "lag in time -", "the monitor shows it unknown");

    const parsedBad = parseHealthLine(line({ ...record, lag_time: { total: { age_ms: "1" } } }));
    assert(parsedBad.ok && parsedBad.entry.kind === "metrics", "a malformed extra is dropped");
    assertEquals(parsedBad.entry.metrics.lag_time, undefined);
  },
});

Deno.test({
  name: "a partition whose lag appears later does not make the total look like growing",
  permissions: "none",
  fn() {
    const metrics = new TrackerMetrics({ startedAt: T0 });
    for (let s = 0; s <= 6; s++) {
      const at = T0 + s * SECOND;
      metrics.setLag(0, { highWatermark: 1_000, nextOffset: 100 * s, oldestTimestamp: T0, at });
      // Partition 1's first chunk comes 3 s in, with more waiting than partition 0 had.
      if (s >= 3) {
        const nextOffset = 100 * (s - 3);
        metrics.setLag(1, { highWatermark: 2_000, nextOffset, oldestTimestamp: T0, at });
      }
    }
    const record = metrics.toRecord(T0 + 6_000, { openOrders: 0 });
    assertEquals(record.lag_total, 400 + 1_700);
    // Each partition drains 100/s: 2,100 left at 200/s.
    assertEquals(record.lag_time!.total.drain_ms, 10_500);
  },
});

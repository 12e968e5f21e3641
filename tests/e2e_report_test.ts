/** Unit: the end-to-end benchmark's tally of the trail, its verdicts and its report. */
import { assert, assertEquals, assertMatch } from "./assert.ts";
import {
  auditedRecord,
  type AuditRecord,
  deadLetterRecord,
  duplicateRecord,
  encodeAuditLines,
  parseTrailLine,
} from "../lib/audit_record.ts";
import { createOrderGenerator } from "../lib/order_generator.ts";
import {
  achievedRate,
  e2eExitCode,
  type E2eFigures,
  e2eProblems,
  e2eReportText,
  goalVerdict,
  LatencyTally,
} from "../lib/e2e_report.ts";

const base = Date.UTC(2026, 10, 26, 12, 0, 0);
const where = (offset: number) => ({ topic: "orders", partition: 0, offset, key: "k", size: 1500 });

/** An audited order produced at `producedAt` and taken in hand `latencyMs` later, as read back. */
function audited(offset: number, producedAt: number, latencyMs: number): AuditRecord {
  const order = createOrderGenerator({ seed: offset, now: () => producedAt }).next();
  return readBack(auditedRecord(producedAt + latencyMs, where(offset), order));
}

/** A record as the benchmark reads it: encoded, then parsed without the order. */
function readBack(record: AuditRecord): AuditRecord {
  const parsed = parseTrailLine(encodeAuditLines([record]).trimEnd(), 1, { withOrder: false });
  assert(parsed.ok && parsed.kind === "record", "an audit record");
  return parsed.record;
}

Deno.test({
  name: "only orders produced within the window count for latency; every record counts by outcome",
  permissions: "none",
  fn() {
    const tally = new LatencyTally({ fromMs: base + 1_000, toMs: base + 2_000 });
    tally.add(audited(0, base + 500, 400)); // warm-up: left out
    tally.add(audited(1, base + 999, 300)); // a millisecond before the window
    tally.add(audited(2, base + 1_000, 7)); // the window's first millisecond
    tally.add(audited(3, base + 1_500, 3));
    tally.add(audited(4, base + 1_999, 12)); // received after the window: still its order
    tally.add(audited(5, base + 2_000, 1)); // produced as the window closed: left out
    tally.add(readBack(deadLetterRecord(base + 1_500, where(6), {
      class: "validation",
      message: 'Cannot parse order: field "items" is missing',
    })));
    const order = createOrderGenerator({ seed: 3, now: () => base + 1_500 }).next();
    tally.add(readBack(duplicateRecord(base + 1_600, where(7), order)));
    assertEquals(tally.counts, { records: 8, audited: 6, deadLettered: 1, duplicates: 1 });
    assertEquals(tally.latency(), { p50: 7, p95: 12, p99: 12, max: 12, count: 3 });
  },
});

Deno.test({
  name: "latency percentiles are nearest-rank, with the maximum; none without orders",
  permissions: "none",
  fn() {
    const tally = new LatencyTally({ fromMs: base, toMs: base + 60_000 });
    // Shuffled: the order of the trail is not the order of the latencies.
    for (const i of [...Array(100).keys()].sort((a, b) => ((a * 37) % 100) - ((b * 37) % 100))) {
      tally.add(audited(i, base + i * 10, i + 1));
    }
    assertEquals(tally.latency(), { p50: 50, p95: 95, p99: 99, max: 100, count: 100 });
    // Repeated values count once each: 98 orders at 2 ms and 2 at 50 ms.
    const repeated = new LatencyTally({ fromMs: base, toMs: base + 60_000 });
    for (let i = 0; i < 100; i++) repeated.add(audited(i, base + i, i < 98 ? 2 : 50));
    assertEquals(repeated.latency(), { p50: 2, p95: 2, p99: 50, max: 50, count: 100 });
    assertEquals(new LatencyTally({ fromMs: 0, toMs: 1 }).latency(), {
      p50: null,
      p95: null,
      p99: null,
      max: null,
      count: 0,
    });
  },
});

/** Figures of a clean run at the goal's rate. */
function figures(overrides: Partial<E2eFigures> = {}): E2eFigures {
  return {
    rateAsked: 5_000,
    warmupS: 5,
    windowS: 30,
    producer: { acknowledged: 175_020, failed: 0, indeterminate: 0, unsent: 0 },
    trail: { records: 175_020, audited: 175_020, deadLettered: 0, duplicates: 0 },
    latency: { p50: 3, p95: 8, p99: 14, max: 41, count: 150_000 },
    processes: [
      { name: "producer", cpu: { userS: 10.5, systemS: 0.9 }, note: "pid 101" },
      { name: "tracker", cpu: { userS: 12, systemS: 1.5 }, note: "pid 100" },
      { name: "broker", cpu: undefined, note: "not on this machine (KAFKA_BROKERS)" },
    ],
    notMeasured: [{ name: "monitor", reason: "not run: its dashboard needs a terminal" }],
    machine: { cores: 2, cpu: { busyS: 30, totalS: 60 } },
    exits: { producer: 0, tracker: 0 },
    partitions: 3,
    topic: "bench-e2e-1234abcd",
    brokers: ["127.0.0.1:9092"],
    trailBytes: 312_400_000,
    ...overrides,
  };
}

Deno.test({
  name: "the report gives rate, percentiles, each process's CPU and the machine's",
  permissions: "none",
  fn() {
    const text = e2eReportText(figures());
    assertMatch(text, /^orders {8}175,020 acknowledged; .* 175,020 audited, .*; 0 lost$/m);
    assertMatch(text, /^rate {10}5,000 msg\/s produced in the 30 s window \(5,000 asked; the 5 s/m);
    assertMatch(text, /^latency {7}p50 3 ms, p95 8 ms, p99 14 ms, max 41 ms over 150,000 orders/m);
    assertMatch(text, /^goal {10}p99 ≤ 20 ms at 5,000 msg\/s: met \(without the monitor\)$/m);
    // 11.4 CPU s over 30 s; per 1,000 of the 150,000 orders in the window.
    assertMatch(
      text,
      /^ {2}producer +38\.0% {2}0\.076 s per 1,000 orders \(user 0\.070, sys 0\.006\) {2}pid 101$/m,
    );
    assertMatch(text, /^ {2}tracker +45\.0% {2}0\.090 s per 1,000 orders/m);
    assertMatch(text, /^ {2}broker +not measured: not on this machine \(KAFKA_BROKERS\)$/m);
    assertMatch(text, /^ {2}together +83\.0% {2}0\.166 s per 1,000 orders/m);
    assertMatch(text, /^ {2}monitor +not run: its dashboard needs a terminal$/m);
    // 30 busy s over 30 s = 100%, of which 83% are the two processes.
    assertMatch(
      text,
      /^machine {7}2 cores, 100\.0% busy over the window \(of 200%\), 17\.0% of it/m,
    );
    assertMatch(text, /^result {8}nothing lost; producer and tracker stopped cleanly$/m);
    assertEquals(e2eExitCode(figures()), 0);
  },
});

Deno.test({
  name: "a lost order, an unsent one or a child that did not stop cleanly fails the run",
  permissions: "none",
  async fn(t) {
    const producer = { acknowledged: 175_020, failed: 0, indeterminate: 0, unsent: 0 };
    const cases: Array<[string, Partial<E2eFigures>, string]> = [
      [
        "acknowledged orders missing from the trail",
        { trail: { records: 175_017, audited: 175_017, deadLettered: 0, duplicates: 0 } },
        "acknowledged orders missing from the audit trail: 3",
      ],
      [
        "orders the producer could not send",
        { producer: { ...producer, failed: 2, unsent: 1 } },
        "orders not acknowledged: 3 (2 failed, 0 indeterminate, 1 unsent)",
      ],
      [
        "no stopped record from the producer",
        { producer: undefined },
        "the producer left no stopped record: its acknowledged orders are unknown",
      ],
      [
        "a tracker that exited 1",
        { exits: { producer: 0, tracker: 1 } },
        "the tracker exited with 1",
      ],
      ["a producer killed", { exits: { producer: null, tracker: 0 } }, "the producer was killed"],
    ];
    for (const [what, overrides, problem] of cases) {
      await t.step(what, () => {
        const failed = figures(overrides);
        assertEquals(e2eProblems(failed), [problem]);
        assertEquals(e2eExitCode(failed), 1);
        assertMatch(
          e2eReportText(failed),
          new RegExp(`^result {8}FAILED: .*${escape(problem)}`, "m"),
        );
      });
    }
    await t.step(
      "more orders in the trail than acknowledged (an indeterminate send landed)",
      () => {
        const extra = figures({
          producer: { ...producer, acknowledged: 175_019, indeterminate: 1 },
        });
        assertEquals(e2eProblems(extra), [
          "orders not acknowledged: 1 (0 failed, 1 indeterminate, 0 unsent)",
        ]);
        assertMatch(e2eReportText(extra), /; 0 lost$/m);
      },
    );
  },
});

Deno.test({
  name: "the goal is judged only at its rate: met, not met, or not measured",
  permissions: "none",
  async fn(t) {
    const latency = (p99: number) => ({ p50: 2, p95: 5, p99, max: 90, count: 150_000 });
    const cases: Array<[string, Partial<E2eFigures>, ReturnType<typeof goalVerdict>]> = [
      ["p99 at the limit", { latency: latency(20) }, { measured: true, met: true }],
      ["p99 above it", { latency: latency(21) }, { measured: true, met: false }],
      ["a lower rate asked", { rateAsked: 500 }, { measured: false, reason: "500 msg/s asked" }],
      [
        "the rate not reached",
        { latency: { ...latency(5), count: 144_000 } },
        { measured: false, reason: "4,800 msg/s reached of 5,000 asked" },
      ],
      [
        "above the goal's rate",
        { rateAsked: 10_000, latency: { ...latency(20), count: 300_000 } },
        { measured: true, met: true },
      ],
      [
        "above the goal's rate, not reached",
        { rateAsked: 10_000, latency: latency(20) },
        { measured: false, reason: "5,000 msg/s reached of 10,000 asked" },
      ],
    ];
    for (const [what, overrides, verdict] of cases) {
      await t.step(what, () => assertEquals(goalVerdict(figures(overrides)), verdict));
    }
    assertEquals(achievedRate({ latency: latency(5), windowS: 30 }), 5_000);
    assertMatch(
      e2eReportText(figures({ rateAsked: 500 })),
      /^goal {10}p99 ≤ 20 ms at 5,000 msg\/s: not measured in this run \(500 msg\/s asked\)$/m,
    );
    assertMatch(
      e2eReportText(figures({ latency: latency(31) })),
      /: not met \(without the monitor\)$/m,
    );
  },
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

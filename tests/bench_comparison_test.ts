/** Unit: ours against Kafka's tools, round by round: medians, ratios and the report. */
import { assert, assertEquals, assertMatch, assertThrows } from "./assert.ts";
import {
  compareRounds,
  type ComparisonRound,
  comparisonText,
  median,
} from "../lib/bench_comparison.ts";

/** A round with the given throughputs (msg/s) and p99s (ms). */
function round(
  { producer, pp, tracker, cp, p99, eelP99, problems = [] }: {
    producer: number;
    pp: number;
    tracker: number;
    cp: number;
    p99: number | null;
    eelP99: number;
    problems?: string[];
  },
): ComparisonRound {
  return {
    producer: {
      ours: {
        bench: "producer",
        orders: 100000,
        msgPerSec: producer,
        mbPerSec: producer * 1505 / 1e6,
        bytesPerOrder: 1505,
        cpuSecondsPer1000: 1e3 / producer,
      },
      kafka: {
        records: 100000,
        recordsPerSec: pp,
        mbPerSec: 1,
        avgLatencyMs: 1,
        maxLatencyMs: 1,
        p50Ms: 1,
        p99Ms: 1,
      },
    },
    tracker: {
      ours: {
        bench: "tracker",
        orders: 100000,
        msgPerSec: tracker,
        sliceMsgPerSec: [tracker],
        cpuSecondsPer1000: 0.02,
      },
      kafka: {
        messages: 100000,
        msgPerSec: cp / 2,
        rebalanceMs: 300,
        fetchMs: 1000,
        fetchMsgPerSec: cp,
      },
    },
    e2e: {
      ours: {
        bench: "e2e",
        orders: 150000,
        rateAsked: 5000,
        p50Ms: p99 === null ? null : 3,
        p95Ms: null,
        p99Ms: p99,
        maxMs: null,
        problems,
      },
      kafka: { avgMs: 0.7, p50Ms: 0, p99Ms: eelP99, p999Ms: 9 },
    },
  };
}

Deno.test({
  name: "the median is the middle run, or the mean of the two middle ones",
  permissions: "none",
  fn: () => {
    assertEquals(median([3, 1, 2]), 2);
    assertEquals(median([4, 1, 3, 2]), 2.5);
    assertEquals(median([7]), 7);
    assert(Number.isNaN(median([])));
  },
});

Deno.test({
  name: "ratios are of the medians, each round's own beside them",
  permissions: "none",
  fn: () => {
    const comparison = compareRounds([
      round({ producer: 70000, pp: 50000, tracker: 80000, cp: 100000, p99: 9, eelP99: 3 }),
      round({ producer: 60000, pp: 60000, tracker: 40000, cp: 160000, p99: 12, eelP99: 2 }),
      round({ producer: 72000, pp: 48000, tracker: 75000, cp: 90000, p99: null, eelP99: 4 }),
    ]);
    assertEquals(comparison.rounds, 3);
    assertEquals(comparison.producer.oursMedian, 70000);
    assertEquals(comparison.producer.kafkaMedian, 50000);
    assertEquals(comparison.producer.ratio, 1.4);
    assertEquals(comparison.producer.roundRatios, [1.4, 1, 1.5]);
    // ConsumerPerformance's fetch rate, not its rate with the group join.
    assertEquals(comparison.tracker.kafkaMedian, 100000);
    assertEquals(comparison.tracker.ratio, 0.75);
    // A run without a measured order counts for nothing, not for zero.
    assertEquals(comparison.e2e.oursP99Median, 10.5);
    assertEquals(comparison.e2e.kafkaP99Median, 3);
    assertEquals(comparison.cpuSecondsPer1000.tracker, 0.02);
    assertEquals(comparison.problems, []);
    assertThrows(() => compareRounds([]), /no rounds/);
  },
});

Deno.test({
  name: "the report shows the medians, ratios, every run and our end-to-end problems",
  permissions: "none",
  fn: () => {
    const comparison = compareRounds([
      round({ producer: 70000, pp: 50000, tracker: 80000, cp: 100000, p99: 9, eelP99: 3 }),
      round({
        producer: 60000,
        pp: 60000,
        tracker: 40000,
        cp: 160000,
        p99: 12,
        eelP99: 2,
        problems: ["2 acknowledged orders are missing from the audit trail"],
      }),
    ]);
    const text = comparisonText(comparison, {
      count: 100000,
      recordBytes: 1505,
      partitions: 3,
      ratePerSec: 5000,
      durationS: 30,
      latencyMessages: 10000,
      brokers: ["127.0.0.1:9092"],
    });
    assertMatch(
      text,
      /^Medians of 2 round\(s\), .* on 127\.0\.0\.1:9092; 3 partitions, records of 1505 B/m,
    );
    assertMatch(
      text,
      /^producer, 100,000, acks=all, idempotent +bench:producer 65,000 msg\/s +ProducerPerformance 55,000 msg\/s +1\.18×$/m,
    );
    assertMatch(
      text,
      /^tracker, 100,000, all its work +bench:tracker 60,000 msg\/s +ConsumerPerformance fetch 130,000 msg\/s +0\.46×$/m,
    );
    assertMatch(
      text,
      /^end-to-end p50 \/ p99 +bench:e2e at 5,000 msg\/s 3 ms \/ 10\.5 ms +EndToEndLatency 0 ms \/ 2\.5 ms$/m,
    );
    assertMatch(
      text,
      /^tracker +ours 80,000 msg\/s \/ 40,000 msg\/s; .* per round 0\.80× \/ 0\.25×$/m,
    );
    assertMatch(text, /^Problems:\n {2}round 2: 2 acknowledged orders are missing/m);
  },
});

/**
 * This project's benchmarks against Apache Kafka's own tools on the same
 * cluster, taken in turn round after round (`bench:compare`): per figure the
 * runs of each side, their medians and the ratio of the medians, and the
 * report. Single runs vary by a quarter and more on a small machine, so the
 * ratio is of medians, with each round's own ratio beside it to show the
 * spread. Pure.
 */
import type { E2eBenchResult, ProducerBenchResult, TrackerBenchResult } from "./bench_result.ts";
import type {
  ConsumerPerformanceFigures,
  EndToEndLatencyFigures,
  ProducerPerformanceFigures,
} from "./kafka_tool_output.ts";

/** One round: each of ours, then the Kafka tool that measures the same thing. */
export interface ComparisonRound {
  readonly producer: {
    readonly ours: ProducerBenchResult;
    readonly kafka: ProducerPerformanceFigures;
  };
  readonly tracker: {
    readonly ours: TrackerBenchResult;
    readonly kafka: ConsumerPerformanceFigures;
  };
  readonly e2e: { readonly ours: E2eBenchResult; readonly kafka: EndToEndLatencyFigures };
}

/** Throughput of ours and of the tool, run by run, their medians and ours / the tool's. */
export interface ThroughputComparison {
  readonly ours: readonly number[];
  readonly kafka: readonly number[];
  readonly oursMedian: number;
  readonly kafkaMedian: number;
  /** The ratio of the medians. */
  readonly ratio: number;
  /** Each round's ratio. */
  readonly roundRatios: readonly number[];
}

/** Latency percentiles (ms), run by run and their medians; ours null where no order was measured. */
export interface LatencyComparison {
  readonly oursP50: readonly (number | null)[];
  readonly oursP99: readonly (number | null)[];
  readonly kafkaP50: readonly number[];
  readonly kafkaP99: readonly number[];
  readonly oursP50Median: number | null;
  readonly oursP99Median: number | null;
  readonly kafkaP50Median: number;
  readonly kafkaP99Median: number;
}

export interface Comparison {
  readonly rounds: number;
  /** Our producer (msg/s, every order acknowledged) against ProducerPerformance (records/s). */
  readonly producer: ThroughputComparison;
  /** Our tracker (msg/s, all its work, from the group join) against ConsumerPerformance's fetch rate. */
  readonly tracker: ThroughputComparison;
  /** Our pipeline at a set rate against EndToEndLatency (one message at a time). */
  readonly e2e: LatencyComparison;
  /** Medians of our processes' CPU seconds per 1,000 orders. */
  readonly cpuSecondsPer1000: { readonly producer: number; readonly tracker: number };
  /** Problems our end-to-end runs reported (orders missing, unclean stops), with their round. */
  readonly problems: readonly string[];
}

/** The middle value (the mean of the two middle ones for an even count); NaN for none. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/**
 * The comparison of the rounds.
 *
 * @throws {RangeError} for no rounds
 */
export function compareRounds(rounds: readonly ComparisonRound[]): Comparison {
  if (rounds.length === 0) throw new RangeError("Cannot compare benchmarks: no rounds");
  const known = (values: readonly (number | null)[]) =>
    values.filter((v): v is number => v !== null);
  const medianOrNull = (values: readonly (number | null)[]) =>
    known(values).length === 0 ? null : median(known(values));
  const oursP50 = rounds.map((r) => r.e2e.ours.p50Ms);
  const oursP99 = rounds.map((r) => r.e2e.ours.p99Ms);
  const kafkaP50 = rounds.map((r) => r.e2e.kafka.p50Ms);
  const kafkaP99 = rounds.map((r) => r.e2e.kafka.p99Ms);
  return {
    rounds: rounds.length,
    producer: throughput(
      rounds.map((r) => r.producer.ours.msgPerSec),
      rounds.map((r) => r.producer.kafka.recordsPerSec),
    ),
    tracker: throughput(
      rounds.map((r) => r.tracker.ours.msgPerSec),
      rounds.map((r) => r.tracker.kafka.fetchMsgPerSec),
    ),
    e2e: {
      oursP50,
      oursP99,
      kafkaP50,
      kafkaP99,
      oursP50Median: medianOrNull(oursP50),
      oursP99Median: medianOrNull(oursP99),
      kafkaP50Median: median(kafkaP50),
      kafkaP99Median: median(kafkaP99),
    },
    cpuSecondsPer1000: {
      producer: median(rounds.map((r) => r.producer.ours.cpuSecondsPer1000)),
      tracker: median(rounds.map((r) => r.tracker.ours.cpuSecondsPer1000)),
    },
    problems: rounds.flatMap((r, i) => r.e2e.ours.problems.map((p) => `round ${i + 1}: ${p}`)),
  };
}

function throughput(ours: number[], kafka: number[]): ThroughputComparison {
  const oursMedian = median(ours);
  const kafkaMedian = median(kafka);
  return {
    ours,
    kafka,
    oursMedian,
    kafkaMedian,
    ratio: oursMedian / kafkaMedian,
    roundRatios: ours.map((value, i) => value / kafka[i]!),
  };
}

/** What was run, for the report's head. */
export interface ComparisonSetup {
  readonly count: number;
  readonly recordBytes: number;
  readonly partitions: number;
  readonly ratePerSec: number;
  readonly durationS: number;
  readonly latencyMessages: number;
  readonly brokers: readonly string[];
}

/** The report: a table of medians and ratios, then every run. */
export function comparisonText(comparison: Comparison, setup: ComparisonSetup): string {
  const { producer, tracker, e2e } = comparison;
  const rate = (value: number) => `${Math.round(value).toLocaleString("en-US")} msg/s`;
  const ratio = (value: number) => `${value.toFixed(2)}×`;
  const ms = (value: number | null) => (value === null ? "-" : `${value} ms`);
  const runs = (values: readonly (number | null)[], format: (v: number) => string) =>
    values.map((v) => (v === null ? "-" : format(v))).join(" / ");
  const count = setup.count.toLocaleString("en-US");
  const rows: [string, string, string, string][] = [
    ["figure", "ours", "Kafka's tool", "ratio"],
    [
      `producer, ${count}, acks=all, idempotent`,
      `bench:producer ${rate(producer.oursMedian)}`,
      `ProducerPerformance ${rate(producer.kafkaMedian)}`,
      ratio(producer.ratio),
    ],
    [
      `tracker, ${count}, all its work`,
      `bench:tracker ${rate(tracker.oursMedian)}`,
      `ConsumerPerformance fetch ${rate(tracker.kafkaMedian)}`,
      ratio(tracker.ratio),
    ],
    [
      `end-to-end p50 / p99`,
      `bench:e2e at ${setup.ratePerSec.toLocaleString("en-US")} msg/s ${ms(e2e.oursP50Median)} / ${
        ms(e2e.oursP99Median)
      }`,
      `EndToEndLatency ${ms(e2e.kafkaP50Median)} / ${ms(e2e.kafkaP99Median)}`,
      "",
    ],
  ];
  const widths = [0, 1, 2, 3].map((c) => Math.max(...rows.map((row) => row[c]!.length)));
  const table = rows.map((row) =>
    row.map((cell, c) => cell.padEnd(widths[c]!)).join("  ").trimEnd()
  );
  const lines = [
    `Medians of ${comparison.rounds} round(s), ours and Kafka's tool in turn on ${
      setup.brokers.join(",")
    }; ${setup.partitions} partitions, records of ${setup.recordBytes} B (our orders' mean size)`,
    "",
    ...table,
    "",
    `producer      ours ${runs(producer.ours, rate)}; Kafka's ${
      runs(producer.kafka, rate)
    }; per round ${runs(producer.roundRatios, ratio)}`,
    `tracker       ours ${runs(tracker.ours, rate)}; Kafka's ${
      runs(tracker.kafka, rate)
    }; per round ${runs(tracker.roundRatios, ratio)}`,
    `end-to-end    ours p50 ${runs(e2e.oursP50, String)}, p99 ${
      runs(e2e.oursP99, String)
    } ms over ${setup.durationS} s each; Kafka's p50 ${runs(e2e.kafkaP50, String)}, p99 ${
      runs(e2e.kafkaP99, String)
    } ms over ${setup.latencyMessages.toLocaleString("en-US")} messages each`,
    `cpu           ours per 1,000 orders: producer ${
      comparison.cpuSecondsPer1000.producer.toFixed(3)
    } s, tracker ${comparison.cpuSecondsPer1000.tracker.toFixed(3)} s`,
    "",
    "ConsumerPerformance's fetch rate leaves out its group join and does nothing with the",
    "messages (read from a topic that holds more, so that no partition ends under it); the tracker",
    "validates each order, writes and fdatasyncs its audit line and commits, and reads all of its",
    "topic. EndToEndLatency sends one message at a time; bench:e2e runs the pipeline at a set rate.",
  ];
  if (comparison.problems.length > 0) {
    lines.push("", "Problems:", ...comparison.problems.map((p) => `  ${p}`));
  }
  return lines.join("\n");
}

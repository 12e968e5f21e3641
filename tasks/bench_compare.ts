/**
 * `deno task bench:compare [--rounds N] [--count N] [--rate N] [--duration S] [--json]`:
 * this project's benchmarks against Apache Kafka's own tools on the same
 * cluster, taken in turn: each round runs bench:producer then
 * ProducerPerformance, bench:tracker then ConsumerPerformance, bench:e2e then
 * EndToEndLatency, and the report gives the medians of the rounds and the
 * ratios of ours to the tools'. The tools get records of our orders' mean
 * size (measured in the first round) and the cluster's TLS and SASL settings;
 * their jars are fetched with Maven on first use. Our benchmarks run as their
 * deno.json tasks do, each in a process of its own with its own permissions,
 * and report through their `--json` records. A command that prints figures,
 * not a test. Start a broker first (`deno task broker:up`).
 *
 * Permissions: --allow-net to the brokers (the tools' scratch topics),
 * --allow-env to the settings, read and write in <STATE_DIR>/bench (the tools'
 * client properties) and in the tools' jar directory, --allow-run (Deno for
 * our benchmarks, java and mvn for Kafka's tools).
 */
import { join } from "node:path";
import {
  type Config,
  ConfigError,
  configErrorText,
  loadConfig,
  optionSet,
  type OptionValues,
  readConfigEnv,
} from "../lib/config.ts";
import { commandDefault, settingsEnv } from "../lib/settings.ts";
import { EXIT } from "../lib/constants.ts";
import { deleteScratch, ensureTopics, groupsWithOffsets } from "../lib/kafka.ts";
import { awaitKafka, KafkaAccessError, KafkaUnreachableError } from "../lib/reachability.ts";
import { setupLogging } from "../lib/logging.ts";
import { exitWhenDone, installShutdown } from "../lib/shutdown.ts";
import { type BenchName, parseBenchResult } from "../lib/bench_result.ts";
import {
  compareRounds,
  type Comparison,
  type ComparisonRound,
  type ComparisonSetup,
  comparisonText,
} from "../lib/bench_comparison.ts";
import { errorTail } from "./_command.ts";
import { END_TO_END_LATENCY_GROUP_PREFIX, openKafkaTools } from "./_kafka_tools.ts";
import { BENCH_INTERRUPTED } from "./_progress.ts";
import { PROJECT_DIR } from "./_project_dir.ts";
import { denoRunArgs } from "./run.ts";
import { type TopicDurability, topicDurability } from "./topics.ts";
import { claimScratch, type HeldClaim } from "./_bench_scratch.ts";

const DEFAULT_ROUNDS = 3;
/** Messages EndToEndLatency sends one at a time (about 10 s on a local broker). */
const DEFAULT_LATENCY_MESSAGES = 10_000;

interface CompareSettings {
  readonly config: Config & { readonly options: OptionValues };
  readonly rounds: number;
  /** bench:e2e's warm-up; undefined: its own default. */
  readonly warmupS: number | undefined;
  readonly latencyMessages: number;
  readonly id: string;
}

/** The settings, or the exit code after `--help` or a bad setting. */
function compareSettings(): CompareSettings | number {
  const env = readConfigEnv();
  // This command's own defaults, where the environment gives none.
  const own = (name: "count" | "rate" | "duration", variable: string) =>
    env[variable] ?? commandDefault(name, "bench:compare");
  const config = loadConfig(Deno.args, {
    command: "bench:compare",
    env: {
      ...env,
      PRODUCER_COUNT: own("count", "PRODUCER_COUNT"),
      PRODUCER_RATE: own("rate", "PRODUCER_RATE"),
      PRODUCER_DURATION_S: own("duration", "PRODUCER_DURATION_S"),
    },
  });
  if (typeof config === "number") return config;
  const { rounds: roundsFlag, warmup, "latency-messages": messagesFlag } = config.options;
  const rounds = typeof roundsFlag === "string" ? Number(roundsFlag) : DEFAULT_ROUNDS;
  const latencyMessages = typeof messagesFlag === "string"
    ? Number(messagesFlag)
    : DEFAULT_LATENCY_MESSAGES;
  const warmupS = typeof warmup === "string" ? Number(warmup) : undefined;
  const { count, ratePerSec, durationMs } = config.producer;
  const problem = !Number.isSafeInteger(rounds) || rounds < 1
    ? `--rounds is "${roundsFlag}", expected a whole number of 1 or more`
    : !Number.isSafeInteger(latencyMessages) || latencyMessages < 1
    ? `--latency-messages is "${messagesFlag}", expected a whole number of 1 or more`
    : warmupS !== undefined && (!Number.isFinite(warmupS) || warmupS < 0)
    ? `--warmup is "${warmup}", expected seconds (0 or more)`
    : count <= 0
    ? "--count is 0, expected the orders each throughput run sends"
    : ratePerSec <= 0
    ? "--rate is 0, expected bench:e2e's fixed rate above 0 msg/s"
    : durationMs <= 0
    ? "--duration is 0, expected the seconds bench:e2e measures"
    : undefined;
  if (problem !== undefined) {
    console.error(
      configErrorText(
        new ConfigError(`Cannot compare the benchmarks: ${problem}`),
        "bench:compare",
      ),
    );
    return EXIT.badConfig;
  }
  return { config, rounds, warmupS, latencyMessages, id: crypto.randomUUID().slice(0, 8) };
}

/**
 * Runs one of our benchmarks as its task would, with `--json`; its result.
 *
 * @throws {Error} with the end of its output when it fails
 */
async function runOurs<B extends BenchName>(
  bench: B,
  args: string[],
  { config, signal }: { config: CompareSettings["config"]; signal: AbortSignal },
) {
  // The settings given to this command as flags reach the child as its environment.
  const env = { ...readConfigEnv(), ...settingsEnv(config.options) };
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: denoRunArgs(`bench:${bench}`, { args: [...args, "--json"], env }),
    cwd: PROJECT_DIR,
    env: settingsEnv(config.options),
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal,
  }).output();
  const decoder = new TextDecoder();
  const output = decoder.decode(stdout);
  if (code !== 0 && !(bench === "e2e" && code === EXIT.failure && output.includes("{"))) {
    throw new Error(
      `Cannot run bench:${bench}: it exited with ${code}\n${
        errorTail(output + decoder.decode(stderr))
      }`,
    );
  }
  return parseBenchResult(output, bench);
}

/**
 * Records beyond the count in ConsumerPerformance's topic. The Java consumer
 * fetches only the partitions it holds no records of; one that reached its
 * end is fetched alone and the broker holds that fetch fetch.max.wait.ms
 * (500 ms) for records that never come, while the other partitions wait
 * behind it. Read to its end, a topic of 100k records gave 0, 1 or 2 such
 * stalls (a fetch rate of ~200k, ~170k or ~100k msg/s on the same broker),
 * depending on how the partitions' ends fell; a tenth more records than it
 * reads still left one stall in five rounds (the producer's sticky
 * partitioner fills partitions unevenly). With half again as many, no
 * partition ends under it. KafkaJS fetches every partition in each request
 * and does not stall there: bench:tracker reads all of its topic.
 */
const CONSUMER_MARGIN = 0.5;

/** Each round in turn; `onRound` is told each as it ends. */
async function runRounds(
  settings: CompareSettings,
  { latencyTopic, durability, signal, onRound, log }: {
    latencyTopic: string;
    durability: TopicDurability;
    signal: AbortSignal;
    onRound: (round: ComparisonRound, index: number) => void;
    log: (line: string) => void;
  },
): Promise<{ rounds: ComparisonRound[]; recordBytes: number }> {
  const { config, id } = settings;
  const tools = await openKafkaTools(config, { dir: toolsDirOf(config, id), log });
  const rounds: ComparisonRound[] = [];
  let recordBytes = 0;
  const interrupted = () => {
    if (signal.aborted) throw new Error(BENCH_INTERRUPTED);
  };
  try {
    const count = String(config.producer.count);
    for (let i = 0; i < settings.rounds; i++) {
      log(`Round ${i + 1} of ${settings.rounds}: bench:producer, ProducerPerformance`);
      const ourProducer = await runOurs("producer", ["--count", count], { config, signal });
      interrupted();
      // The tools' records are the size of our orders, as measured in the first round.
      if (i === 0) recordBytes = Math.round(ourProducer.bytesPerOrder);
      const topic = roundTopicOf(id, i);
      await ensureTopics(config, [{ topic, partitions: config.partitions, ...durability }]);
      const kafkaProducer = await tools.producerPerformance({
        topic,
        records: config.producer.count,
        recordBytes,
        signal,
      });
      interrupted();
      // Untimed: the records ConsumerPerformance does not reach (see CONSUMER_MARGIN).
      await tools.producerPerformance({
        topic,
        records: Math.ceil(config.producer.count * CONSUMER_MARGIN),
        recordBytes,
        signal,
      });
      interrupted();
      log(`Round ${i + 1} of ${settings.rounds}: bench:tracker, ConsumerPerformance`);
      const ourTracker = await runOurs("tracker", ["--count", count], { config, signal });
      interrupted();
      const group = groupOf(id, i);
      const kafkaConsumer = await tools.consumerPerformance({
        topic,
        messages: config.producer.count,
        group,
        signal,
      });
      interrupted();
      // Each round's records are read once: a 1M-order comparison would keep gigabytes.
      await deleteScratch(config, { topics: [topic], groups: [group], clientId: "bench-compare" });
      if (kafkaConsumer.messages < config.producer.count) {
        throw new Error(
          `Cannot compare the tracker: ConsumerPerformance read ${kafkaConsumer.messages} of ${config.producer.count} messages`,
        );
      }
      log(`Round ${i + 1} of ${settings.rounds}: bench:e2e, EndToEndLatency`);
      const ourE2e = await runOurs("e2e", [
        "--rate",
        String(config.producer.ratePerSec),
        "--duration",
        String(config.producer.durationMs / 1000),
        ...(settings.warmupS === undefined ? [] : ["--warmup", String(settings.warmupS)]),
      ], { config, signal });
      interrupted();
      const kafkaLatency = await tools.endToEndLatency({
        topic: latencyTopic,
        messages: settings.latencyMessages,
        recordBytes,
        signal,
      });
      interrupted();
      const round: ComparisonRound = {
        producer: { ours: ourProducer, kafka: kafkaProducer },
        tracker: { ours: ourTracker, kafka: kafkaConsumer },
        e2e: { ours: ourE2e, kafka: kafkaLatency },
      };
      rounds.push(round);
      onRound(round, i);
    }
  } finally {
    await tools.close();
  }
  return { rounds, recordBytes };
}

/** The groups the tools made: ConsumerPerformance's of each round, EndToEndLatency's. */
async function scratchGroups(
  config: Config,
  { id, rounds, latencyTopic }: { id: string; rounds: number; latencyTopic: string },
): Promise<string[]> {
  const latencyGroups = await groupsWithOffsets(config, {
    prefix: END_TO_END_LATENCY_GROUP_PREFIX,
    topic: latencyTopic,
    clientId: "bench-compare",
  });
  return [...Array.from({ length: rounds }, (_, i) => groupOf(id, i)), ...latencyGroups];
}

/** The directory of Kafka's tools' client properties (which may hold a password) in run `id`. */
function toolsDirOf(config: Config, id: string): string {
  return join(config.paths.stateDir, "bench", `kafka-tools-${id}`);
}

/** The topic ProducerPerformance fills and ConsumerPerformance reads in round `index` (from 0). */
function roundTopicOf(id: string, index: number): string {
  return `bench-compare-${id}-${index + 1}`;
}

/** ConsumerPerformance's group in round `index` (from 0): a fresh one reads from the start. */
function groupOf(id: string, index: number): string {
  return `bench-compare-${id}-${index + 1}`;
}

async function main(): Promise<number> {
  const settings = compareSettings();
  if (typeof settings === "number") return settings;
  const { config, id } = settings;
  const json = optionSet(config.options, "json");
  const closeLogging = await setupLogging({ level: "warning" });
  const shutdown = installShutdown({ hardDeadlineMs: 30_000 });
  const latencyTopic = `bench-compare-${id}-latency`;
  const roundTopics = Array.from({ length: settings.rounds }, (_, i) => roundTopicOf(id, i));
  const log = (line: string) => console.error(line);
  let topicsMade = false;
  let claim: HeldClaim | undefined;
  try {
    await awaitKafka(config, { oneShot: true });
    // Not EndToEndLatency's groups: the tool names them, and they expire with their offsets.
    claim = await claimScratch(config, {
      topics: [...roundTopics, latencyTopic],
      groups: Array.from({ length: settings.rounds }, (_, i) => groupOf(id, i)),
      dirs: [toolsDirOf(config, id)],
    }, { clientId: "bench-compare", say: log, signal: shutdown.signal });
    // Replicated as our topics are on this cluster: acks=all waits for the replicas.
    const durability = await topicDurability(config);
    topicsMade = true;
    // One partition, as EndToEndLatency's own documentation runs it.
    await ensureTopics(config, [{ topic: latencyTopic, partitions: 1, ...durability }]);
    const run = await runRounds(settings, {
      latencyTopic,
      durability,
      signal: shutdown.signal,
      log,
      onRound: (round, i) =>
        log(
          `Round ${i + 1}: producer ${Math.round(round.producer.ours.msgPerSec)} vs ${
            Math.round(round.producer.kafka.recordsPerSec)
          } msg/s, tracker ${Math.round(round.tracker.ours.msgPerSec)} vs ${
            Math.round(round.tracker.kafka.fetchMsgPerSec)
          } msg/s, p99 ${round.e2e.ours.p99Ms ?? "-"} vs ${round.e2e.kafka.p99Ms} ms`,
        ),
    });
    const comparison: Comparison = compareRounds(run.rounds);
    const setup: ComparisonSetup = {
      count: config.producer.count,
      recordBytes: run.recordBytes,
      partitions: config.partitions,
      ratePerSec: config.producer.ratePerSec,
      durationS: config.producer.durationMs / 1000,
      latencyMessages: settings.latencyMessages,
      brokers: config.brokers,
    };
    console.log(
      json
        ? JSON.stringify({ setup, comparison, rounds: run.rounds })
        : comparisonText(comparison, setup),
    );
    return comparison.problems.length === 0 ? EXIT.ok : EXIT.failure;
  } catch (error) {
    if (shutdown.signal.aborted) {
      console.error(BENCH_INTERRUPTED);
      return EXIT.interrupted;
    }
    console.error(
      error instanceof KafkaUnreachableError || error instanceof KafkaAccessError
        ? error.message
        : (error as Error).message.startsWith("Cannot ")
        ? (error as Error).message
        : `Cannot compare the benchmarks: ${(error as Error).message}`,
    );
    return EXIT.failure;
  } finally {
    if (topicsMade) {
      await scratchGroups(config, { id, rounds: settings.rounds, latencyTopic })
        .then((groups) =>
          deleteScratch(config, {
            topics: [...roundTopics, latencyTopic],
            groups,
            clientId: "bench-compare",
          })
        ).then(() => claim?.release(), (error) => {
          // Claimed still: the next benchmark deletes them.
          claim?.leave().catch(() => {});
          console.error(
            `Cannot delete the comparison's topics bench-compare-${id}-*: ${
              (error as Error).message
            }`,
          );
        });
    } else await claim?.release();
    shutdown.dispose();
    await closeLogging();
  }
}

if (import.meta.main) {
  exitWhenDone(await main());
}

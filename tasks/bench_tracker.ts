/**
 * `deno task bench:tracker [--count N] [--json]`: pre-produces N orders to a fresh topic,
 * then times the tracker auditing all of them (validation, audit lines,
 * fdatasync per chunk, DLQ checks, commits) and prints msg/s overall and per
 * slice of 100k (the last slice must keep up with the first: cost flat in the
 * trail's age), then the start-up time on the trail it wrote against an empty
 * one (`--json`: one result record instead). A command that prints figures, not a test. Start a broker first
 * (`deno task broker:up`).
 *
 * Permissions: --allow-net to the brokers, --allow-env, read and write in
 * <STATE_DIR>/bench only.
 */
import process from "node:process";
import { exitWhenDone, installShutdown } from "../lib/shutdown.ts";
import { join } from "node:path";
import {
  type Config,
  loadConfig,
  optionSet,
  type OptionValues,
  pipelinePaths,
  readConfigEnv,
} from "../lib/config.ts";
import { benchResultLine } from "../lib/bench_result.ts";
import { commandDefault } from "../lib/settings.ts";
import { EXIT } from "../lib/constants.ts";
import { deleteScratch, ensureTopics } from "../lib/kafka.ts";
import { claimScratch, type HeldClaim } from "./_bench_scratch.ts";
import { awaitKafka, KafkaAccessError, KafkaUnreachableError } from "../lib/reachability.ts";
import { type Logger, logger, setupLogging } from "../lib/logging.ts";
import { runProducer } from "../lib/order_producer.ts";
import { BENCH_INTERRUPTED, countProgress } from "./_progress.ts";
import { runTracker } from "../lib/order_tracker.ts";
import { CHUNK_MAX_BYTES, CHUNK_MAX_MESSAGES } from "../lib/chunk_plan.ts";
import { PARSE_THREADS } from "../lib/order_parser.ts";
import { FETCH_MAX_BYTES_PER_PARTITION } from "../lib/kafka.ts";
import { trailSegments } from "../lib/trail_reader.ts";
import {
  coreShareText,
  cpuPerThousandText,
  cpuSecondsPerThousand,
  fromCpuUsage,
} from "../lib/process_cpu.ts";

const DEFAULT_COUNT = commandDefault("count", "bench:tracker")!;
/** Events per slice of the throughput report. */
const SLICE_EVENTS = 100_000;

/**
 * The settings with a scratch topic, group and data directory, or the exit
 * code after `--help` or a bad setting.
 */
function benchConfig(): (Config & { readonly options: OptionValues }) | number {
  const env = readConfigEnv();
  const id = crypto.randomUUID().slice(0, 8);
  const base = loadConfig(Deno.args, {
    command: "bench:tracker",
    env: {
      ...env,
      ORDERS_TOPIC: `bench-tracker-${id}`,
      DLQ_TOPIC: `bench-tracker-${id}-dlq`,
      TRACKER_GROUP_ID: `bench-tracker-${id}`,
      PRODUCER_COUNT: env.PRODUCER_COUNT ?? String(DEFAULT_COUNT),
    },
  });
  if (typeof base === "number") return base;
  const { stateDir } = base.paths;
  return {
    ...base,
    paths: pipelinePaths(join(stateDir, "bench", `tracker-${id}`), stateDir),
    producer: { ...base.producer, ratePerSec: 0, acksLog: undefined },
  };
}

/** Thrown when a signal stopped the benchmark. */
class Interrupted extends Error {}

/** Audits every pre-produced order once (unless `interrupt` aborts); times the whole and each slice. */
async function timeTracker(config: Config, log: Logger, interrupt: AbortSignal) {
  const count = config.producer.count;
  const slice = Math.min(SLICE_EVENTS, Math.max(1, Math.ceil(count / 5)));
  const marks: number[] = [];
  const shown = countProgress("Auditing", count);
  const stop = new AbortController();
  interrupt.addEventListener("abort", () => stop.abort(), { once: true });
  const begun = performance.now();
  let started = 0;
  let finished = 0;
  // This process's CPU (all threads) over the timed part alone: ready to the last line synced.
  let cpuAtReady = process.cpuUsage();
  let cpuUsed = { user: 0, system: 0 };
  const counters = await runTracker(config, {
    signal: stop.signal,
    log,
    onReady: () => {
      started = performance.now();
      cpuAtReady = process.cpuUsage();
    },
    onAudited: (c) => {
      const handled = c.audited + c.dead_lettered + c.duplicates;
      shown(handled);
      while (handled >= (marks.length + 1) * slice && marks.length * slice < count) {
        marks.push(performance.now());
      }
      if (handled >= count && !finished) {
        finished = performance.now();
        cpuUsed = process.cpuUsage(cpuAtReady);
        stop.abort();
      }
    },
  });
  if (interrupt.aborted) throw new Interrupted();
  const rates = marks.map((at, i) => slice / ((at - (i === 0 ? started : marks[i - 1]!)) / 1000));
  return {
    counters,
    slice,
    rates,
    seconds: (finished - started) / 1000,
    readyMs: started - begun,
    cpu: fromCpuUsage(cpuUsed),
  };
}

/** How long the tracker takes from its start to ready on the trail in `dataDir`. */
async function readyTime(config: Config, dataDir: string, log: Logger): Promise<number> {
  const paths = pipelinePaths(dataDir, config.paths.stateDir);
  const stop = new AbortController();
  const begun = performance.now();
  let readyMs = 0;
  await runTracker({ ...config, paths }, {
    signal: stop.signal,
    log,
    onReady: () => {
      readyMs = performance.now() - begun;
      stop.abort();
    },
  });
  return readyMs;
}

async function main(): Promise<number> {
  const config = benchConfig();
  if (typeof config === "number") return config;
  const closeLogging = await setupLogging({ level: "warning" });
  const log = logger("bench");
  const shutdown = installShutdown({ hardDeadlineMs: 30_000 });
  let topicsMade = false;
  let keepFiles = false;
  let claim: HeldClaim | undefined;
  try {
    await awaitKafka(config, { oneShot: true });
    claim = await claimScratch(config, {
      topics: [config.topic, config.dlqTopic],
      groups: [config.groupId],
      dirs: [config.paths.dataDir],
    }, { clientId: "bench-tracker", say: (line) => console.error(line), signal: shutdown.signal });
    topicsMade = true;
    await ensureTopics(config, [
      { topic: config.topic, partitions: config.partitions, replicationFactor: 1 },
      { topic: config.dlqTopic, partitions: 1, replicationFactor: 1 },
    ]);
    const count = config.producer.count;
    const shown = countProgress("Producing the orders", count);
    const produced = await runProducer(config, {
      signal: shutdown.signal,
      log,
      onSettled: (s) => shown(s.acknowledged + s.failed),
    });
    if (shutdown.signal.aborted) throw new Interrupted();
    if (produced.acknowledged !== count) throw new Error("Cannot pre-produce the orders");

    const run = await timeTracker(config, log, shutdown.signal);
    if (optionSet(config.options, "json")) {
      console.log(benchResultLine({
        bench: "tracker",
        orders: count,
        msgPerSec: count / run.seconds,
        sliceMsgPerSec: run.rates,
        cpuSecondsPer1000: cpuSecondsPerThousand(run.cpu, count),
      }));
      return EXIT.ok;
    }
    const bytes = (await trailSegments(config.paths.auditFile)).bytes;
    // Start-up on the trail just written (after a clean stop), against an empty one.
    const fullReady = await readyTime(config, config.paths.dataDir, log);
    const emptyReady = await readyTime(config, join(config.paths.dataDir, "empty"), log);
    const { counters, rates } = run;
    // A change, signed: "+5.0%" is 5% faster, "-5.0%" 5% slower.
    const percent = (a: number, b: number) => {
      const change = (a / b - 1) * 100;
      return `${change >= 0 ? "+" : ""}${change.toFixed(1)}%`;
    };
    const mean = (xs: number[]) => xs.reduce((sum, x) => sum + x, 0) / xs.length;
    const half = Math.floor(rates.length / 2);
    // One slice varies by ±10% from run to run; the halves show a trend better.
    const drift = rates.length > 1
      ? `${percent(rates.at(-1)!, rates[0]!)}; second half vs first ${
        percent(mean(rates.slice(-half)), mean(rates.slice(0, half)))
      }`
      : "-";
    console.log(
      [
        `orders        ${counters.audited} audited, ${counters.dead_lettered} dead-lettered, ${counters.duplicates} duplicates`,
        `throughput    ${
          Math.round(count / run.seconds)
        } msg/s (from group join to the last line synced; its commit follows)`,
        `slices        ${rates.map(Math.round).join(", ")} msg/s per ${run.slice} events; ` +
        `last vs first ${drift}`,
        `elapsed       ${run.seconds.toFixed(2)} s; audit trail ${(bytes / 1e6).toFixed(1)} MB`,
        `cpu           ${cpuPerThousandText(run.cpu, count)}; ${
          coreShareText(run.cpu, run.seconds)
        } of a core`,
        `start-up      ${Math.round(run.readyMs)} ms to ready on an empty trail in this run; ` +
        `again on the ${(bytes / 1e6).toFixed(0)} MB trail: ${Math.round(fullReady)} ms ` +
        `(an empty one: ${Math.round(emptyReady)} ms)`,
        `settings      ${config.partitions} partitions, their batches (≤ ${
          FETCH_MAX_BYTES_PER_PARTITION / 1024 / 1024
        } MiB each) audited in chunks of ≤ ${CHUNK_MAX_MESSAGES} messages / ${
          CHUNK_MAX_BYTES / 1024 / 1024
        } MiB, parsed on ${PARSE_THREADS} thread(s); a fetch's batches at once, their chunks written together (one append and fdatasync for those ready, the next planned meanwhile); the next fetch taken and parsed while a batch beyond the trail is planned; commits off the fetch path, ≥ 50 ms apart`,
      ].join("\n"),
    );
    return EXIT.ok;
  } catch (error) {
    if (error instanceof Interrupted) {
      console.error(BENCH_INTERRUPTED);
      return EXIT.interrupted;
    }
    keepFiles = true;
    console.error(
      error instanceof KafkaUnreachableError || error instanceof KafkaAccessError
        ? error.message
        : `Cannot run the tracker benchmark: ${(error as Error).message}`,
    );
    return EXIT.failure;
  } finally {
    let cleared = true;
    if (topicsMade) {
      const topics = [config.topic, config.dlqTopic];
      await deleteScratch(config, { topics, groups: [config.groupId], clientId: "bench-tracker" })
        .catch((error) => {
          cleared = false;
          console.error(
            `Cannot delete the benchmark's topics ${
              topics.join(", ")
            } and group ${config.groupId}: ${(error as Error).message}`,
          );
        });
    }
    if (keepFiles) console.error(`The run's files are kept in ${config.paths.dataDir}`);
    else await Deno.remove(config.paths.dataDir, { recursive: true }).catch(() => {});
    // Left claimed, what could not be deleted goes with the next benchmark; files
    // kept on purpose, to look into, do not.
    if (cleared) await claim?.release();
    else {
      await claim?.leave({
        topics: [config.topic, config.dlqTopic],
        groups: [config.groupId],
        dirs: keepFiles ? [] : [config.paths.dataDir],
      }).catch(() => {});
    }
    shutdown.dispose();
    await closeLogging();
  }
}

if (import.meta.main) {
  exitWhenDone(await main());
}

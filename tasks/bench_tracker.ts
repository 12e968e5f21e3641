/**
 * `deno task bench:tracker [--count N]`: pre-produces N orders to a fresh topic,
 * then times the tracker auditing all of them (validation, audit lines,
 * fdatasync per chunk, DLQ checks, commits) and prints msg/s. A command that
 * prints figures, not a test. Start a broker first (`deno task broker:up`).
 *
 * Permissions: --allow-net to the brokers, --allow-env, read and write in
 * <STATE_DIR>/bench only.
 */
import { join } from "node:path";
import { type Config, ConfigError, readConfigEnv, resolveConfig } from "../lib/config.ts";
import { EXIT } from "../lib/constants.ts";
import { ensureTopics, waitForCluster } from "../lib/kafka.ts";
import { logger, setupLogging } from "../lib/logging.ts";
import { runProducer } from "../lib/order_producer.ts";
import { CHUNK_SIZE, runTracker } from "../lib/order_tracker.ts";
import { trailSegments } from "../lib/trail_reader.ts";

const DEFAULT_COUNT = 50_000;
/** Events per slice of the throughput report. */
const SLICE_EVENTS = 100_000;

async function main(): Promise<number> {
  let config: Config;
  const env = readConfigEnv();
  /** The file paths of another data directory, derived as config.ts derives them. */
  const pathsIn = (dataDir: string) => resolveConfig({ ...env, DATA_DIR: dataDir }).paths;
  try {
    const args = Deno.args.includes("--count")
      ? Deno.args
      : ["--count", String(DEFAULT_COUNT), ...Deno.args];
    const stateDir = resolveConfig(env).paths.stateDir;
    const id = crypto.randomUUID().slice(0, 8);
    // A scratch topic, group and data directory; config.ts derives the file paths.
    const base = resolveConfig(
      {
        ...env,
        ORDERS_TOPIC: `bench-tracker-${id}`,
        DLQ_TOPIC: `bench-tracker-${id}-dlq`,
        TRACKER_GROUP_ID: `bench-tracker-${id}`,
        DATA_DIR: join(stateDir, "bench", `tracker-${id}`),
      },
      args,
      { command: "bench:tracker" },
    );
    config = { ...base, producer: { ...base.producer, ratePerSec: 0, acksLog: undefined } };
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(error.message);
    return EXIT.badConfig;
  }
  const closeLogging = await setupLogging({ level: "warning" });
  const log = logger("bench");
  try {
    await waitForCluster(config.brokers, { timeoutMs: 5_000 }).catch((error) => {
      throw new Error(`${error.message}; start one with deno task broker:up`);
    });
    await ensureTopics(config.brokers, [
      { topic: config.topic, partitions: config.partitions, replicationFactor: 1 },
      { topic: config.dlqTopic, partitions: 1, replicationFactor: 1 },
    ]);
    const count = config.producer.count;
    const produced = await runProducer(config, { signal: new AbortController().signal, log });
    if (produced.acknowledged !== count) throw new Error("Cannot pre-produce the orders");

    // Slices of the run: events/s must not fall as the trail and the state grow.
    const slice = Math.min(SLICE_EVENTS, Math.max(1, Math.ceil(count / 5)));
    const marks: number[] = [];
    const stop = new AbortController();
    const t0 = performance.now();
    let started = 0;
    let finished = 0;
    const counters = await runTracker(config, {
      signal: stop.signal,
      log,
      onReady: () => (started = performance.now()),
      onAudited: (c) => {
        const handled = c.audited + c.dead_lettered + c.duplicates;
        while (handled >= (marks.length + 1) * slice && marks.length * slice < count) {
          marks.push(performance.now());
        }
        if (handled >= count && !finished) {
          finished = performance.now();
          stop.abort();
        }
      },
    });
    const seconds = (finished - started) / 1000;
    const bytes = (await trailSegments(config.paths.auditFile)).bytes;
    const rates = marks.map((at, i) => slice / ((at - (i === 0 ? started : marks[i - 1]!)) / 1000));
    // Start-up on the trail just written (after a clean stop), against an empty one.
    const readyOn = async (dataDir: string) => {
      const restart = new AbortController();
      const begin = performance.now();
      let readyMs = 0;
      await runTracker({ ...config, paths: pathsIn(dataDir) }, {
        signal: restart.signal,
        log,
        onReady: () => {
          readyMs = performance.now() - begin;
          restart.abort();
        },
      });
      return readyMs;
    };
    const fullReady = await readyOn(config.paths.dataDir);
    const emptyReady = await readyOn(join(config.paths.dataDir, "empty"));
    console.log(
      [
        `orders        ${counters.audited} audited, ${counters.dead_lettered} dead-lettered, ${counters.duplicates} duplicates`,
        `throughput    ${Math.round(count / seconds)} msg/s (from group join to the last commit)`,
        `slices        ${
          rates.map((r) => Math.round(r)).join(", ")
        } msg/s per ${slice} events; last vs first ${
          rates.length > 1 ? `${(((rates.at(-1)! / rates[0]!) - 1) * 100).toFixed(1)}%` : "-"
        }`,
        `elapsed       ${seconds.toFixed(2)} s; audit trail ${(bytes / 1e6).toFixed(1)} MB`,
        `start-up      ${
          Math.round(t0 && started - t0)
        } ms to ready on an empty trail in this run; ` +
        `again on the ${(bytes / 1e6).toFixed(0)} MB trail: ${Math.round(fullReady)} ms ` +
        `(an empty one: ${Math.round(emptyReady)} ms)`,
        `settings      fdatasync + commit per chunk of ≤ ${CHUNK_SIZE} messages per partition batch, ` +
        `${config.partitions} partitions`,
      ].join("\n"),
    );
    await Deno.remove(config.paths.dataDir, { recursive: true });
    return EXIT.ok;
  } catch (error) {
    console.error(`Cannot run the tracker benchmark: ${(error as Error).message}`);
    return EXIT.failure;
  } finally {
    await closeLogging();
  }
}

if (import.meta.main) {
  Deno.exitCode = await main();
}

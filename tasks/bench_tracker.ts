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

const DEFAULT_COUNT = 50_000;

async function main(): Promise<number> {
  let config: Config;
  try {
    const args = Deno.args.includes("--count")
      ? Deno.args
      : ["--count", String(DEFAULT_COUNT), ...Deno.args];
    const env = readConfigEnv();
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

    const stop = new AbortController();
    let started = 0;
    let finished = 0;
    const run = runTracker(config, {
      signal: stop.signal,
      log,
      onReady: () => (started = performance.now()),
      onAudited: (counters) => {
        if (counters.audited + counters.dead_lettered + counters.duplicates >= count && !finished) {
          finished = performance.now();
          stop.abort();
        }
      },
    });
    const counters = await run;
    const seconds = (finished - started) / 1000;
    const bytes = (await Deno.stat(config.paths.auditFile)).size;
    console.log(
      [
        `orders        ${counters.audited} audited, ${counters.dead_lettered} dead-lettered, ${counters.duplicates} duplicates`,
        `throughput    ${Math.round(count / seconds)} msg/s (from group join to the last commit)`,
        `elapsed       ${seconds.toFixed(2)} s; audit trail ${(bytes / 1e6).toFixed(1)} MB`,
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

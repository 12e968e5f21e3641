/**
 * `deno task bench:producer [--count N] [--json]`: publishes N generated orders
 * as fast as possible to a fresh topic on the configured broker and prints
 * msg/s and MB/s with the batching settings (`--json`: one result record). A
 * command that prints figures, not a test.
 * The topic is deleted afterwards, also after a failure or Ctrl+C. Start a
 * broker first (`deno task broker:up`).
 *
 * What a run killed with SIGKILL left (its topics, groups, files) is removed
 * by the next benchmark (tasks/_bench_scratch.ts).
 *
 * Permissions: --allow-net to the brokers, --allow-env to the settings, the
 * benchmarks' scratch directory (their claims).
 */
import process from "node:process";
import { exitWhenDone, installShutdown } from "../lib/shutdown.ts";
import { type Config, loadConfig, optionSet, readConfigEnv } from "../lib/config.ts";
import { benchResultLine } from "../lib/bench_result.ts";
import { commandDefault } from "../lib/settings.ts";
import { EXIT } from "../lib/constants.ts";
import { deleteScratch, ensureTopics } from "../lib/kafka.ts";
import { awaitKafka, KafkaAccessError, KafkaUnreachableError } from "../lib/reachability.ts";
import { logger, setupLogging } from "../lib/logging.ts";
import { BENCH_INTERRUPTED, countProgress } from "./_progress.ts";
import { topicDurability } from "./topics.ts";
import { claimScratch, type HeldClaim } from "./_bench_scratch.ts";
import {
  FLUSH_TIMEOUT_MS,
  MAX_BATCH,
  MAX_PARTITION_SEND_BYTES,
  runProducer,
  sendBytesFor,
} from "../lib/order_producer.ts";
import {
  coreShareText,
  cpuPerThousandText,
  cpuSecondsPerThousand,
  fromCpuUsage,
} from "../lib/process_cpu.ts";

const DEFAULT_COUNT = commandDefault("count", "bench:producer")!;

async function main(): Promise<number> {
  const env = readConfigEnv();
  const base = loadConfig(Deno.args, {
    command: "bench:producer",
    env: { ...env, PRODUCER_COUNT: env.PRODUCER_COUNT ?? String(DEFAULT_COUNT) },
  });
  if (typeof base === "number") return base;
  const topic = `bench-producer-${crypto.randomUUID().slice(0, 8)}`;
  const config: Config = {
    ...base,
    topic,
    producer: { ...base.producer, ratePerSec: 0, acksLog: undefined },
  };
  const closeLogging = await setupLogging({ level: "warning" });
  const shutdown = installShutdown({ hardDeadlineMs: FLUSH_TIMEOUT_MS + 10_000 });
  let topicMade = false;
  let claim: HeldClaim | undefined;
  try {
    await awaitKafka(config, { oneShot: true });
    claim = await claimScratch(config, { topics: [config.topic], groups: [], dirs: [] }, {
      clientId: "bench-producer",
      say: (line) => console.error(line),
      signal: shutdown.signal,
    });
    topicMade = true;
    await ensureTopics(config, [{
      topic: config.topic,
      partitions: config.partitions,
      ...await topicDurability(config),
    }]);
    const shown = countProgress("Producing", config.producer.count);
    // This process's CPU (all threads) over the run alone, not the set-up above.
    const cpuBefore = process.cpuUsage();
    const begun = performance.now();
    const summary = await runProducer(config, {
      signal: shutdown.signal,
      log: logger("bench"),
      onSettled: (s) => shown(s.acknowledged + s.failed),
    });
    const cpu = fromCpuUsage(process.cpuUsage(cpuBefore));
    const cpuSeconds = (performance.now() - begun) / 1000;
    const seconds = summary.elapsedMs / 1000;
    if (shutdown.signal.aborted) {
      console.error(BENCH_INTERRUPTED);
      return EXIT.interrupted;
    }
    const ok = summary.failed + summary.indeterminate === 0;
    if (optionSet(base.options, "json")) {
      console.log(benchResultLine({
        bench: "producer",
        orders: summary.acknowledged,
        msgPerSec: summary.acknowledged / seconds,
        mbPerSec: summary.bytes / 1e6 / seconds,
        bytesPerOrder: summary.bytes / Math.max(1, summary.acknowledged),
        cpuSecondsPer1000: cpuSecondsPerThousand(cpu, summary.acknowledged),
      }));
      return ok ? EXIT.ok : EXIT.failure;
    }
    console.log(
      [
        `orders        ${summary.acknowledged} acknowledged, ${
          summary.failed + summary.indeterminate
        } not`,
        `throughput    ${Math.round(summary.acknowledged / seconds)} msg/s, ${
          (summary.bytes / 1e6 / seconds).toFixed(1)
        } MB/s (${Math.round(summary.bytes / Math.max(1, summary.acknowledged))} B/order)`,
        `elapsed       ${seconds.toFixed(2)} s, including order generation and JSON encoding`,
        `cpu           ${cpuPerThousandText(cpu, summary.acknowledged)}; ${
          coreShareText(cpu, cpuSeconds)
        } of a core`,
        `settings      batch ≤ ${MAX_BATCH} msgs / ${
          sendBytesFor(config.partitions) / 1024
        } KiB (≤ ${
          MAX_PARTITION_SEND_BYTES / 1024
        } KiB a partition), generated on a worker thread, 1 send in flight, ` +
        `acks=all, idempotent, ${config.partitions} partitions (flush timeout ${FLUSH_TIMEOUT_MS} ms)`,
        `topic         ${config.topic} at ${config.brokers.join(",")} (deleted after the run)`,
      ].join("\n"),
    );
    return ok ? EXIT.ok : EXIT.failure;
  } catch (error) {
    console.error(
      error instanceof KafkaUnreachableError || error instanceof KafkaAccessError
        ? error.message
        : `Cannot run the producer benchmark: ${(error as Error).message}`,
    );
    return EXIT.failure;
  } finally {
    if (topicMade) {
      await deleteScratch(config, { topics: [config.topic], clientId: "bench-producer" })
        .then(() => claim?.release(), (error) => {
          // Claimed still: the next benchmark deletes it.
          claim?.leave().catch(() => {});
          console.error(
            `Cannot delete the benchmark's topic ${config.topic}: ${(error as Error).message}`,
          );
        });
    }
    shutdown.dispose();
    await closeLogging();
  }
}

if (import.meta.main) {
  exitWhenDone(await main());
}

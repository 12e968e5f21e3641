/**
 * Producer entry: parse flags → build config → publish realistic orders to
 * Kafka until the count or duration is reached or a signal arrives, then print
 * how many were acknowledged, failed or indeterminate. Exit 0 only if nothing
 * was lost.
 */
import { loadConfig } from "./lib/config.ts";
import { EXIT } from "./lib/constants.ts";
import { lifecycle } from "./lib/health_record.ts";
import { logger, setupLogging } from "./lib/logging.ts";
import { exitWhenDone, installShutdown } from "./lib/shutdown.ts";

async function main(): Promise<number> {
  const config = loadConfig(Deno.args, { command: "producer" });
  if (typeof config === "number") return config;
  await Deno.mkdir(config.paths.producerDir, { recursive: true });
  const log = logger("producer");
  // Signals are handled from here on: the Kafka client, slow to load, is
  // imported only after, so a SIGTERM during start-up is a clean stop too.
  const shutdown = installShutdown({
    parentPid: config.stopWithParent,
    hardDeadlineMs: 20_000,
    onSignal: (signal, forced) =>
      log.warn(forced ? "{signal} again: exiting now" : "{signal}: stopping, flushing sends", {
        signal,
      }),
  });
  const closeLogging = await setupLogging({
    level: config.logLevel,
    jsonFile: { path: config.paths.producerLog, ...config.healthLog },
  });
  log.info("Producer starting (pid {pid})", lifecycle("producer", "starting", { pid: Deno.pid }));
  try {
    const { runProducer } = await import("./lib/order_producer.ts");
    const { clientRetriedResponses } = await import("./lib/kafka.ts");
    const summary = await runProducer(config, { signal: shutdown.signal, log });
    const lost = summary.failed + summary.indeterminate + summary.unsent;
    const line = "Producer stopped: {acknowledged} acknowledged, {failed} failed, " +
      "{indeterminate} indeterminate, {unsent} unsent in {seconds} s";
    const properties = lifecycle("producer", "stopped", {
      pid: Deno.pid,
      ...summary,
      client_retried_responses: clientRetriedResponses(),
      seconds: Math.round(summary.elapsedMs / 100) / 10,
    });
    if (lost === 0) log.info(line, properties);
    else log.error(line, properties);
    return lost === 0 ? EXIT.ok : EXIT.failure;
  } catch (error) {
    log.error(
      "Producer failed: {error}",
      lifecycle("producer", "failed", { pid: Deno.pid, error: (error as Error).message }),
    );
    return EXIT.failure;
  } finally {
    shutdown.dispose();
    await closeLogging();
  }
}

if (import.meta.main) {
  exitWhenDone(await main());
}

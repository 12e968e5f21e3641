/**
 * Tracker entry: parse flags → build config → consume, validate and audit
 * orders until a signal arrives (exit 0 after a clean stop) or the consumer
 * fails (exit 1; nothing unsynced was committed).
 */
import { loadConfig } from "./lib/config.ts";
import { EXIT } from "./lib/constants.ts";
import { lifecycle } from "./lib/health_record.ts";
import { logger, setupLogging } from "./lib/logging.ts";
import { exitWhenDone, installShutdown } from "./lib/shutdown.ts";

/** Shutdown must finish well inside the 10 s a supervisor allows. */
const HARD_DEADLINE_MS = 9_000;

async function main(): Promise<number> {
  const config = loadConfig(Deno.args, { command: "tracker" });
  if (typeof config === "number") return config;
  await Deno.mkdir(config.paths.dataDir, { recursive: true });
  const log = logger("tracker");
  // Signals are handled from here on: the Kafka client, slow to load, is
  // imported only after, so a SIGTERM during start-up is a clean stop too.
  const shutdown = installShutdown({
    parentPid: config.stopWithParent,
    hardDeadlineMs: HARD_DEADLINE_MS,
    onSignal: (signal, forced) =>
      log.warn(forced ? "{signal} again: exiting now" : "{signal}: finishing the batch in hand", {
        signal,
      }),
  });
  const closeLogging = await setupLogging({
    level: config.logLevel,
    jsonFile: { path: config.paths.healthLog, ...config.healthLog },
  });
  log.info("Tracker starting (pid {pid})", lifecycle("tracker", "starting", { pid: Deno.pid }));
  try {
    const { runTracker } = await import("./lib/order_tracker.ts");
    const { clientRetriedResponses } = await import("./lib/kafka.ts");
    const counters = await runTracker(config, { signal: shutdown.signal, log });
    log.info(
      "Tracker stopped: {received} received, {audited} audited, {dead_lettered} dead-lettered, " +
        "{duplicates} duplicates, {redelivered} redelivered",
      lifecycle("tracker", "stopped", {
        pid: Deno.pid,
        ...counters,
        client_retried_responses: clientRetriedResponses(),
      }),
    );
    return EXIT.ok;
  } catch (error) {
    log.error(
      "Tracker failed: {error}",
      lifecycle("tracker", "failed", { pid: Deno.pid, error: (error as Error).message }),
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

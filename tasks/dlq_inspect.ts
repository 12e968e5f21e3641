/**
 * `deno task dlq:inspect`: reads the dead-letter topic once and lists its
 * letters grouped by error class and message, with counts, first and last
 * failure times, the source offsets and a few samples with personal data
 * masked (dead_letter_report.ts). Memory is bounded at any DLQ size. `--json`
 * prints the report as JSON for scripts.
 *
 * Permissions: --allow-net to the brokers, --allow-env; no files.
 */
import { exitWhenDone } from "../lib/shutdown.ts";
import { loadConfig, optionSet } from "../lib/config.ts";
import { EXIT } from "../lib/constants.ts";
import { DeadLetterGroups, formatDeadLetterReport } from "../lib/dead_letter_report.ts";
import { createKafka, readTopic } from "../lib/kafka.ts";
import { setupLogging } from "../lib/logging.ts";
import { awaitKafka, KafkaAccessError, KafkaUnreachableError } from "../lib/reachability.ts";
import { installShutdown } from "../lib/shutdown.ts";

async function main(): Promise<number> {
  const config = loadConfig(Deno.args, { command: "dlq:inspect" });
  if (typeof config === "number") return config;
  // The reachability check says what is wrong; KafkaJS's own retries would only repeat it.
  const closeLogging = await setupLogging({ level: "warning", kafkaLevel: "fatal" });
  const shutdown = installShutdown({ hardDeadlineMs: 5_000 });
  try {
    await awaitKafka(config, { oneShot: true });
    const groups = new DeadLetterGroups(config.dlqTopic);
    await readTopic(
      createKafka(config, { clientId: "dlq-inspect" }),
      config.dlqTopic,
      {
        signal: shutdown.signal,
        onMessage: (letter) => groups.add(letter),
      },
    );
    const report = groups.report();
    console.log(
      optionSet(config.options, "json")
        ? JSON.stringify(report, null, 2)
        : formatDeadLetterReport(report),
    );
    return EXIT.ok;
  } catch (error) {
    if (shutdown.signal.aborted) return EXIT.interrupted;
    console.error(
      error instanceof KafkaUnreachableError || error instanceof KafkaAccessError
        ? error.message
        : `Cannot inspect ${config.dlqTopic}: ${(error as Error).message}`,
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

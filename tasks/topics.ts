/**
 * Creates the orders topic and its dead-letter topic if they are missing.
 * Idempotent; an existing topic with another partition count is reported and
 * makes the task fail rather than being silently accepted.
 *
 * Usage: deno task topics
 * Permissions: --allow-net to the brokers, --allow-env to the settings.
 */
import { type Config, loadConfig } from "../lib/config.ts";
import { EXIT } from "../lib/constants.ts";
import { ensureTopics, type TopicOutcome } from "../lib/kafka.ts";
import { awaitKafka, KafkaAccessError, KafkaUnreachableError } from "../lib/reachability.ts";
import { setupLogging } from "../lib/logging.ts";

/** Creates the project's topics; returns one outcome per topic. */
export function createTopics(config: Config): Promise<TopicOutcome[]> {
  return ensureTopics(config, [
    {
      topic: config.topic,
      partitions: config.partitions,
      replicationFactor: config.replicationFactor,
    },
    // One partition keeps the dead letters in arrival order; volume is low.
    { topic: config.dlqTopic, partitions: 1, replicationFactor: config.replicationFactor },
  ]);
}

async function main(): Promise<number> {
  const config = loadConfig(Deno.args, { command: "topics" });
  if (typeof config === "number") return config;
  // The readiness wait below says what is wrong; KafkaJS's own retries would only repeat it.
  const closeLogging = await setupLogging({ level: "warning", kafkaLevel: "fatal" });
  try {
    await awaitKafka(config, { oneShot: true });
    const outcomes = await createTopics(config);
    let ok = true;
    for (const outcome of outcomes) {
      if (outcome.state === "mismatch") {
        ok = false;
        console.error(
          `Topic ${outcome.topic} exists with ${outcome.partitions} partitions, expected ${outcome.expected}: ` +
            `delete it or set ORDERS_PARTITIONS=${outcome.partitions}`,
        );
      } else {
        console.log(
          `Topic ${outcome.topic}: ${
            outcome.state === "created" ? "created" : "exists"
          } (${outcome.partitions} ${outcome.partitions === 1 ? "partition" : "partitions"})`,
        );
      }
    }
    return ok ? EXIT.ok : EXIT.failure;
  } catch (error) {
    if (error instanceof KafkaUnreachableError || error instanceof KafkaAccessError) {
      console.error(error.message);
      return EXIT.failure;
    }
    console.error(
      `Cannot create topics at ${config.brokers.join(",")}: ${(error as Error).message}`,
    );
    return EXIT.failure;
  } finally {
    await closeLogging();
  }
}

if (import.meta.main) {
  Deno.exitCode = await main();
}

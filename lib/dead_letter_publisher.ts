/**
 * Publishing the tracker's dead letters (the shell around dead_letter.ts):
 * the topic is created at start when missing, and each chunk's letters go out
 * in sends under the broker's limit, waited for a bounded time. The client
 * retries each send itself (one idempotent send, no duplicates of our own);
 * while it is unacknowledged an error goes to the health log every few
 * seconds, and after DLQ_TIMEOUT_MS the tracker gives up with one clear error.
 */
import type { Config } from "./config.ts";
import { type DeadLetterMessage, splitIntoSends } from "./dead_letter.ts";
import { clusterBrokerCount, ensureTopics, type Producer, publishDeadLetters } from "./kafka.ts";
import { planDurability } from "./topic_plan.ts";
import type { Logger } from "./logging.ts";
import { awaitWithDeadline } from "./retry.ts";

/** How often a dead-letter send still unacknowledged is reported. */
const DLQ_REPORT_MS = 5_000;

/** Creates the dead-letter topic if it is missing, so that rejected input never waits for it. */
export async function ensureDeadLetterTopic(config: Config): Promise<void> {
  try {
    const { replicationFactor, minInsyncReplicas } = planDurability({
      clusterBrokers: await clusterBrokerCount(config.brokers),
      replicationFactor: config.replicationFactor,
      minInsyncReplicas: config.minInsyncReplicas,
    });
    await ensureTopics(config.brokers, [
      // One partition keeps the dead letters in arrival order; volume is low.
      {
        topic: config.dlqTopic,
        partitions: 1,
        replicationFactor,
        ...(minInsyncReplicas === undefined ? {} : { minInsyncReplicas }),
      },
    ]);
  } catch (error) {
    throw new Error(
      `Cannot start tracker: the dead-letter topic ${config.dlqTopic} is missing and cannot be created (${
        (error as Error).message
      }); create it, or run deno task topics`,
      { cause: error },
    );
  }
}

/**
 * Publishes dead letters, acknowledged by all in-sync replicas.
 *
 * @throws {Error} "Cannot publish dead letters to <topic>: …" when the broker refuses or
 *   does not answer within DLQ_TIMEOUT_MS
 */
export async function publishBounded(
  letters: readonly DeadLetterMessage[],
  { dlq, config, log }: { dlq: Producer; config: Config; log: Logger },
): Promise<void> {
  for (const send of splitIntoSends(letters)) {
    await awaitWithDeadline(publishDeadLetters(dlq, config.dlqTopic, send), {
      deadlineMs: config.dlqTimeoutMs,
      reportEveryMs: DLQ_REPORT_MS,
      onWait: (waitedMs) =>
        log.error(
          "Cannot publish {count} dead letters to {topic}: unacknowledged for {seconds} s (the client retries); nothing is committed meanwhile",
          { count: send.length, topic: config.dlqTopic, seconds: Math.round(waitedMs / 1000) },
        ),
    }).catch((error) => {
      throw new Error(
        `Cannot publish dead letters to ${config.dlqTopic}: ${(error as Error).message}`,
        { cause: error },
      );
    });
  }
}

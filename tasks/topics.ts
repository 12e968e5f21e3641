/**
 * Creates the orders topic and its dead-letter topic if they are missing, with
 * a replication factor of min(3, brokers in the cluster) and min.insync.replicas
 * one less from 3 up (lib/topic_plan.ts), then reports what each topic has.
 * Idempotent; an existing topic with another partition count is reported and
 * makes the task fail rather than being silently accepted.
 *
 * Usage: deno task topics
 * Permissions: --allow-net to the brokers, --allow-env to the settings.
 */
import { exitWhenDone } from "../lib/shutdown.ts";
import { SETTINGS } from "../lib/settings.ts";
import { type Config, loadConfig } from "../lib/config.ts";
import { EXIT } from "../lib/constants.ts";
import {
  clusterBrokerCount,
  ensureTopics,
  topicDurabilityFacts,
  type TopicSpec,
} from "../lib/kafka.ts";
import { awaitKafka, KafkaAccessError, KafkaUnreachableError } from "../lib/reachability.ts";
import { setupLogging } from "../lib/logging.ts";
import { planDurability, type ReportLine, topicReport } from "../lib/topic_plan.ts";

/** A new topic's durability as `ensureTopics` takes it: min.insync.replicas only when set. */
export type TopicDurability = Pick<TopicSpec, "replicationFactor" | "minInsyncReplicas">;

/** The durability of new topics: the settings, else what the cluster's size allows. */
export async function topicDurability(config: Config): Promise<TopicDurability> {
  const { replicationFactor, minInsyncReplicas } = planDurability({
    clusterBrokers: await clusterBrokerCount(config),
    replicationFactor: config.replicationFactor,
    minInsyncReplicas: config.minInsyncReplicas,
  });
  return { replicationFactor, ...(minInsyncReplicas === undefined ? {} : { minInsyncReplicas }) };
}

/**
 * Creates the project's topics that are missing; returns the report of each
 * (what the cluster says it has) and whether every topic is as expected.
 */
export async function createTopics(
  config: Config,
): Promise<{ ok: boolean; lines: ReportLine[] }> {
  const durability = await topicDurability(config);
  const specs = [
    { topic: config.topic, partitions: config.partitions, ...durability },
    // One partition keeps the dead letters in arrival order; volume is low.
    { topic: config.dlqTopic, partitions: 1, ...durability },
  ];
  const outcomes = await ensureTopics(config, specs);
  const facts = await topicDurabilityFacts(config, specs.map((s) => s.topic));
  const lines = specs.flatMap((spec) => {
    const found = facts.find((f) => f.topic === spec.topic);
    if (found === undefined) {
      return [{ level: "error" as const, text: `Topic ${spec.topic} is missing after creation` }];
    }
    return topicReport(found, {
      created: outcomes.some((o) => o.topic === spec.topic && o.state === "created"),
      expectedPartitions: spec.partitions,
      externalCluster: config.externalCluster,
      ...(spec.topic === config.topic ? { partitionsSetting: SETTINGS.partitions.env } : {}),
    });
  });
  return { ok: lines.every((l) => l.level !== "error"), lines };
}

async function main(): Promise<number> {
  const config = loadConfig(Deno.args, { command: "topics" });
  if (typeof config === "number") return config;
  // The readiness wait below says what is wrong; KafkaJS's own retries would only repeat it.
  const closeLogging = await setupLogging({ level: "warning", kafkaLevel: "fatal" });
  try {
    await awaitKafka(config, { oneShot: true });
    const { ok, lines } = await createTopics(config);
    for (const line of lines) {
      if (line.level === "info") console.log(line.text);
      else console.error(`${line.level === "warning" ? "Warning: " : ""}${line.text}`);
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
  exitWhenDone(await main());
}

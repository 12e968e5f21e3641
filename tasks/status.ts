/**
 * `deno task status`: one screen of what `deno task start` set up, in a second
 * or two: the broker (provider, PID, ports, uptime, memory), the tracker and
 * the producer (PID, uptime, memory, last health record, or how they ended),
 * the topics with their end offsets and the tracker group's lag, the trail's
 * and the health logs' sizes and the last audited order. `--json` prints the
 * same report as JSON. It changes nothing: a stale PID file stays where it is.
 * Exit 0 when everything that should run runs, else 1 (the rule is
 * `statusReport`'s, in lib/status_report.ts); Kafka gets a few seconds and is
 * reported unreachable after them, with the local facts shown all the same.
 *
 * Permissions: --allow-read of the data and run directories, --allow-net to
 * the brokers, --allow-run=ps (and docker unless the provider is the JVM),
 * --allow-env to the settings.
 */
import { type Config, loadConfig, optionSet } from "../lib/config.ts";
import { EXIT, STATUS_KAFKA_TIMEOUT_MS } from "../lib/constants.ts";
import { exitWhenDone } from "../lib/shutdown.ts";
import { describeTopics, groupCommits, groupState, withAdminWithin } from "../lib/kafka.ts";
import { lastLines, segmentPaths } from "../lib/segmented_log.ts";
import {
  type FileFacts,
  formatStatus,
  HEALTH_TAIL_BYTES,
  healthActivity,
  type KafkaFacts,
  lastAuditRecord,
  type PipelineFacts,
  type StatusFacts,
  statusReport,
  TRAIL_TAIL_BYTES,
} from "../lib/status_report.ts";
import { describeBroker } from "./_broker.ts";
import { healthLogOf, pipelineProcess, type PipelineRole } from "./_pipeline.ts";
import { describeProcess } from "./_process.ts";

async function sizeOf(path: string): Promise<number | undefined> {
  try {
    return (await Deno.stat(path)).size;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
}

/** A health log and its rotated files (`.1`, `.2`, …) together. */
async function healthLogFacts(path: string): Promise<FileFacts> {
  let bytes = (await sizeOf(path)) ?? 0;
  let files = bytes > 0 ? 1 : 0;
  for (let n = 1;; n++) {
    const size = await sizeOf(`${path}.${n}`);
    if (size === undefined) break;
    bytes += size;
    files++;
  }
  return { path, bytes, files };
}

async function pipelineFacts(config: Config, role: PipelineRole): Promise<PipelineFacts> {
  const path = healthLogOf(config, role);
  let lines = await lastLines(path, { maxBytes: HEALTH_TAIL_BYTES });
  // Just rotated: the newest records are at the end of the previous file.
  if (lines.length === 0) lines = await lastLines(`${path}.1`, { maxBytes: HEALTH_TAIL_BYTES });
  return {
    process: describeProcess(pipelineProcess(config, role)),
    healthLog: await healthLogFacts(path),
    activity: healthActivity(lines, role),
  };
}

/** The trail's segments, and its newest record read from the end of the newest segment holding one. */
async function trailFacts(path: string): Promise<Pick<StatusFacts, "trail" | "lastRecord">> {
  const segments = [];
  for (const segment of await segmentPaths(path)) {
    const bytes = await sizeOf(segment.path);
    if (bytes !== undefined) segments.push({ ...segment, bytes });
  }
  let lastRecord = null;
  // Newest first; a segment just begun holds its header only. Two at most: cost stays flat.
  for (const segment of segments.slice(-2).reverse()) {
    lastRecord = lastAuditRecord(await lastLines(segment.path, { maxBytes: TRAIL_TAIL_BYTES }));
    if (lastRecord !== null) break;
  }
  return {
    trail: { path, bytes: segments.reduce((sum, s) => sum + s.bytes, 0), files: segments.length },
    lastRecord,
  };
}

async function kafkaFacts(config: Config): Promise<KafkaFacts> {
  try {
    return await withAdminWithin(
      config.brokers,
      { timeoutMs: STATUS_KAFKA_TIMEOUT_MS, clientId: "status" },
      async (admin) => {
        // One request at a time: KafkaJS 2.2.4's broker pool, refreshing its
        // metadata for concurrent requests, fails some of them ("No brokers in
        // the broker pool"), and with nothing retried that is a failure.
        const cluster = await admin.describeCluster();
        const topics = await describeTopics(admin, [config.topic, config.dlqTopic]);
        // Kafka refuses the offsets of a topic it does not have.
        const committed = topics.has(config.topic)
          ? await groupCommits(admin, { groupId: config.groupId, topic: config.topic })
          : new Map<number, number>();
        const group = await groupState(admin, config.groupId);
        return {
          reachable: true,
          clusterId: cluster.clusterId,
          brokerCount: cluster.brokers.length,
          orders: { name: config.topic, partitions: topics.get(config.topic) ?? null },
          deadLetters: { name: config.dlqTopic, partitions: topics.get(config.dlqTopic) ?? null },
          group: {
            id: config.groupId,
            ...group,
            committed: [...committed].map(([partition, offset]) => ({ partition, offset })),
          },
        };
      },
    );
  } catch (error) {
    return { reachable: false, error: (error as Error).message };
  }
}

/** Everything status shows, gathered; Kafka is asked while the files are read. */
export async function gatherStatus(config: Config): Promise<StatusFacts> {
  const kafka = kafkaFacts(config);
  const [broker, tracker, producer, trail] = await Promise.all([
    describeBroker(config),
    pipelineFacts(config, "tracker"),
    pipelineFacts(config, "producer"),
    trailFacts(config.paths.auditFile),
  ]);
  return { brokers: config.brokers, broker, tracker, producer, ...trail, kafka: await kafka };
}

async function main(): Promise<number> {
  const config = loadConfig(Deno.args, { command: "status" });
  if (typeof config === "number") return config;
  let report;
  try {
    report = statusReport(await gatherStatus(config), Date.now());
  } catch (error) {
    console.error(`Cannot read the status: ${(error as Error).message}`);
    return EXIT.failure;
  }
  console.log(
    optionSet(config.options, "json")
      ? JSON.stringify(report, null, 2)
      : formatStatus(report).join("\n"),
  );
  return report.exitCode;
}

if (import.meta.main) {
  // The report is out and nothing needs closing; a Kafka request abandoned at
  // the deadline would hold its socket (and the process) for its own 30 s.
  exitWhenDone(await main(), { graceMs: 0 });
}

/**
 * `deno task verify`: checks that nothing acknowledged was lost. Reads the
 * audit trail(s), optionally the producer's acks log, the dead-letter topic
 * and the group's committed offsets, and reports counts, losses, duplicates,
 * offset gaps per partition and commits past what was audited. Exit 1 on any
 * loss, duplicate, gap or commit too far.
 *
 * Usage: deno task verify [--audit FILE]... [--acks-log FILE] [--json] [--offline] [--since-first]
 * (--since-first: a trail that starts after offset 0, e.g. a new trail on an old topic).
 * Settings (topic, group, brokers, data dir) come from the environment.
 * Permissions: --allow-read, --allow-net to the brokers, --allow-env.
 */
import { parseArgs } from "node:util";
import { readConfigEnv, resolveConfig } from "../lib/config.ts";
import { DLQ_HEADERS, EXIT } from "../lib/constants.ts";
import { committedOffsets, createKafka, endOffsets } from "../lib/kafka.ts";
import { forEachLine } from "../lib/audit_log.ts";
import {
  type AckInput,
  type AuditInput,
  checkDelivery,
  type DeadLetterInput,
  formatReport,
} from "../lib/delivery_check.ts";
import { setupLogging } from "../lib/logging.ts";

async function readLines<T>(path: string): Promise<T[]> {
  const out: T[] = [];
  await forEachLine(path, (line, n) => {
    try {
      out.push(JSON.parse(line) as T);
    } catch (error) {
      throw new SyntaxError(`Cannot parse ${path} line ${n}: not valid JSON`, { cause: error });
    }
  });
  return out;
}

/** Reads every record of the dead-letter topic that exists now. */
async function readDeadLetters(brokers: readonly string[], dlqTopic: string) {
  const ends = await endOffsets(brokers, dlqTopic);
  const total = [...ends.values()].reduce((a, b) => a + b, 0);
  const letters: DeadLetterInput[] = [];
  if (total === 0) return letters;
  const kafka = createKafka({ brokers, clientId: "verify" });
  const consumer = kafka.consumer({ groupId: `verify-${crypto.randomUUID()}` });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic: dlqTopic, fromBeginning: true });
    const done = Promise.withResolvers<void>();
    const seen = new Map<number, number>();
    const check = () => {
      if ([...ends].every(([p, end]) => (seen.get(p) ?? 0) >= end)) done.resolve();
    };
    check();
    await consumer.run({
      eachMessage: ({ partition, message }) => {
        const h = message.headers ?? {};
        letters.push({
          topic: String(h[DLQ_HEADERS.sourceTopic] ?? ""),
          partition: Number(String(h[DLQ_HEADERS.sourcePartition] ?? "-1")),
          offset: Number(String(h[DLQ_HEADERS.sourceOffset] ?? "-1")),
        });
        seen.set(partition, Number(message.offset) + 1);
        check();
        return Promise.resolve();
      },
    });
    const timeout = setTimeout(() => done.reject(new Error("Timed out reading the DLQ")), 60_000);
    await done.promise.finally(() => clearTimeout(timeout));
    return letters;
  } finally {
    await consumer.disconnect();
  }
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      audit: { type: "string", multiple: true },
      "acks-log": { type: "string" },
      json: { type: "boolean" },
      offline: { type: "boolean" },
      "since-first": { type: "boolean" },
    },
    strict: true,
  });
  const config = resolveConfig(readConfigEnv());
  const closeLogging = await setupLogging({ level: "warning", kafkaLevel: "error" });
  try {
    const audit: AuditInput[] = [];
    for (const path of values.audit ?? [config.paths.auditFile]) {
      audit.push(...await readLines<AuditInput>(path));
    }
    const acksPath = values["acks-log"];
    const acks = acksPath === undefined ? undefined : await readLines<AckInput>(acksPath);
    const online = !values.offline;
    const report = checkDelivery({
      topic: config.topic,
      acks,
      audit,
      deadLetters: online ? await readDeadLetters(config.brokers, config.dlqTopic) : [],
      committed: online
        ? await committedOffsets(config.brokers, { groupId: config.groupId, topic: config.topic })
        : undefined,
      fromOffsetZero: !values["since-first"],
    });
    console.log(values.json ? JSON.stringify(report, null, 2) : formatReport(report));
    return report.ok ? EXIT.ok : EXIT.failure;
  } catch (error) {
    console.error(`Cannot verify: ${(error as Error).message}`);
    return EXIT.failure;
  } finally {
    await closeLogging();
  }
}

if (import.meta.main) {
  Deno.exitCode = await main();
}

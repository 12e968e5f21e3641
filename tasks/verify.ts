/**
 * `deno task verify`: checks that nothing acknowledged was lost. Reads the
 * audit trail(s), optionally the producer's outcomes, the dead-letter topic
 * and the group's committed offsets, and reports counts, losses, duplicates,
 * offset gaps per partition and commits past what was audited. Exit 1 on any
 * loss, duplicate, gap or commit too far.
 *
 * Usage: deno task verify [--audit FILE]... [--acks-log FILE] [--json] [--offline] [--since-first]
 * Permissions: --allow-read, --allow-net to the brokers, --allow-env.
 */
import { loadConfig, optionList, optionSet } from "../lib/config.ts";
import { EXIT } from "../lib/constants.ts";
import { committedOffsets, createKafka, endOffsets } from "../lib/kafka.ts";
import { forEachLine } from "../lib/audit_trail.ts";
import { type AuditRecord, parseAuditLine } from "../lib/audit_record.ts";
import { type AckRecord, parseAckLine } from "../lib/ack_record.ts";
import { parseDeadLetterHeaders } from "../lib/dead_letter.ts";
import { checkDelivery, type DeadLetterInput, formatReport } from "../lib/delivery_check.ts";
import { setupLogging } from "../lib/logging.ts";

/** Every record of a JSON Lines file, through its format's parser; a bad line is an error. */
async function readRecords<T>(
  path: string,
  parse: (line: string, n: number) => { ok: true; record: T } | { ok: false; error: string },
): Promise<T[]> {
  const out: T[] = [];
  await forEachLine(path, (line, n) => {
    const parsed = parse(line, n);
    if (!parsed.ok) throw new SyntaxError(`${path}: ${parsed.error}`);
    out.push(parsed.record);
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
        const parsed = parseDeadLetterHeaders(message.headers);
        if (parsed.ok) letters.push(parsed.source);
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
  const config = loadConfig(Deno.args, { command: "verify" });
  if (typeof config === "number") return config;
  const { options } = config;
  const closeLogging = await setupLogging({ level: "warning", kafkaLevel: "error" });
  try {
    const audit: AuditRecord[] = [];
    const auditPaths = optionList(options, "audit");
    for (const path of auditPaths.length > 0 ? auditPaths : [config.paths.auditFile]) {
      for (const record of await readRecords(path, parseAuditLine)) audit.push(record);
    }
    const acksPath = config.producer.acksLog;
    const acks: AckRecord[] | undefined = acksPath === undefined
      ? undefined
      : await readRecords(acksPath, parseAckLine);
    const online = !optionSet(options, "offline");
    const report = checkDelivery({
      topic: config.topic,
      acks,
      audit,
      deadLetters: online ? await readDeadLetters(config.brokers, config.dlqTopic) : [],
      committed: online
        ? await committedOffsets(config.brokers, { groupId: config.groupId, topic: config.topic })
        : undefined,
      fromOffsetZero: !optionSet(options, "since-first"),
    });
    console.log(
      optionSet(options, "json") ? JSON.stringify(report, null, 2) : formatReport(report),
    );
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

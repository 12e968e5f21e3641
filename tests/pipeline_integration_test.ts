/**
 * Integration: producer and tracker as real processes on the real broker.
 */
import { join } from "node:path";
import { assert, assertEquals, assertMatch } from "./assert.ts";
import {
  auditLineCount,
  type EntryProcess,
  readAckRecords,
  readAuditRecords,
  setupPipeline,
  spawnEntry,
  stopEntry,
  testConnection,
  uniqueName,
  verifyDelivery,
  waitFor,
  waitForAuditLines,
} from "./support.ts";
import { committedOffsets, createKafka } from "../lib/kafka.ts";
import { DLQ_HEADERS } from "../lib/dead_letter.ts";
import { formatReport } from "../lib/delivery_check.ts";

Deno.test("every acknowledged order is audited exactly once, and SIGTERM commits what was audited", async () => {
  const { topic, work, env, acksLog } = await setupPipeline("orders");
  const connection = testConnection();
  const count = 3_000;
  const tracker = spawnEntry("tracker", { env });
  try {
    const producer = spawnEntry("producer", {
      env,
      args: ["--count", String(count), "--rate", "0", "--seed", "1", "--acks-log", acksLog],
    });
    const produced = await producer.exited;
    assertEquals(produced.code, 0, producer.output());
    assertMatch(producer.output(), new RegExp(`${count} acknowledged, 0 failed, 0 indeterminate`));

    const acks = await readAckRecords(acksLog);
    assertEquals(acks.length, count);
    assert(acks.every((a) => a.outcome === "acknowledged"));

    const auditFile = join(env.DATA_DIR, "tracker.events");
    const audited = await waitFor("all orders in the audit trail", async () => {
      const records = await readAuditRecords(auditFile);
      return records.length >= count ? records : undefined;
    }, { timeoutMs: 60_000 });

    // Exactly once, at the partition and offset the producer was told, with the right key.
    const byPlace = new Map(audited.map((r) => [`${r.kafka_partition}/${r.kafka_offset}`, r]));
    assertEquals(byPlace.size, audited.length, "no offset audited twice");
    for (const ack of acks) {
      const record = byPlace.get(`${ack.partition}/${ack.offset}`);
      assert(record, `acknowledged ${ack.partition}/${ack.offset} is in the trail`);
      assertEquals(record.order_id, ack.order_id);
      assertEquals(record.kafka_key, ack.order_id);
      assertEquals(record.outcome, "audited");
    }

    tracker.child.kill("SIGTERM");
    const stopped = await tracker.exited;
    assertEquals(stopped.code, 0, tracker.output());

    const committed = await committedOffsets(connection, { groupId: env.TRACKER_GROUP_ID, topic });
    const lastAudited = new Map<number, number>();
    for (const r of audited) {
      lastAudited.set(
        r.kafka_partition,
        Math.max(lastAudited.get(r.kafka_partition) ?? -1, r.kafka_offset),
      );
    }
    for (const [partition, last] of lastAudited) {
      assertEquals(
        committed.get(partition),
        last + 1,
        `partition ${partition}: committed = last audited + 1`,
      );
    }
    const health = await Deno.readTextFile(join(env.DATA_DIR, "tracker.log"));
    assertMatch(health, /"Final metrics"/);
    assertMatch(health, /Tracker stopped/);
  } finally {
    try {
      tracker.child.kill("SIGKILL");
    } catch { /* already exited */ }
    await tracker.exited;
    await work.remove();
  }
});

Deno.test("a second tracker joining and leaving mid-stream takes partitions over where the first committed: no offset audited by both", async () => {
  const { topic, work, env, acksLog } = await setupPipeline("handover");
  const envB = { ...env, DATA_DIR: join(work.dir, "b") };
  const files = [join(env.DATA_DIR, "tracker.events"), join(envB.DATA_DIR, "tracker.events")];
  // Fast enough that a batch is nearly always synced and not yet committed
  // (commits go at most every 50 ms) when a rebalance begins.
  const count = 50_000;
  const a = spawnEntry("tracker", { env });
  let b: EntryProcess | undefined;
  const producer = spawnEntry("producer", {
    env,
    args: ["--count", String(count), "--rate", "2000", "--acks-log", acksLog],
  });
  try {
    await waitFor(
      "A at work",
      async () => (await auditLineCount([files[0]!])) > 2_000 ? true : undefined,
      { timeoutMs: 60_000, running: [a, producer] },
    );
    b = spawnEntry("tracker", { env: envB });
    await waitFor(
      "B at work",
      async () => (await auditLineCount([files[1]!])) > 2_000 ? true : undefined,
      { timeoutMs: 60_000, running: [a, b, producer] },
    );
    assertEquals((await stopEntry(b)).code, 0, b.output());
    assertEquals((await producer.exited).code, 0, producer.output());
    await waitForAuditLines(files, count, { timeoutMs: 60_000, running: [a] });
    assertEquals((await stopEntry(a)).code, 0, a.output());
    const report = await verifyDelivery({
      topic,
      groupId: env.TRACKER_GROUP_ID,
      acksLog,
      auditFiles: files,
    });
    assertEquals(report.duplicateOffsets, [], "no offset audited by both trackers");
    assert(report.ok, formatReport(report));
    assertEquals(report.counts.audited, count);
    // At each rebalance (B's join, B's leave) A committed what it had synced
    // before it rejoined, and the next owner went on from there; B committed
    // its own on leaving.
    assertMatch(a.output(), /Rebalance: committed what is synced before rejoining/);
  } finally {
    await stopEntry(producer, "SIGKILL");
    await stopEntry(a, "SIGKILL");
    if (b) await stopEntry(b, "SIGKILL");
    await work.remove();
  }
});

const POISON: Array<[string, string | null]> = [
  ["not JSON", "this is not json"],
  ["JSON array", "[1, 2, 3]"],
  ["JSON null", "null"],
  ["empty object", "{}"],
  ["string for a number", JSON.stringify({ order_id: "x", sequence: "1" })],
  ["tombstone", null],
  ["oversize", JSON.stringify({ padding: "x".repeat(70 * 1024) })],
];

Deno.test("poison messages go to the dead-letter topic with headers while valid orders are audited", async () => {
  const { topic, dlqTopic, work, env } = await setupPipeline("poison");
  const kafka = createKafka(testConnection(), { clientId: "poison-test" });
  const producer = kafka.producer();
  await producer.connect();
  const tracker = spawnEntry("tracker", { env });
  const dlqConsumer = kafka.consumer({ groupId: uniqueName("dlq-reader") });
  try {
    await producer.send({
      topic,
      messages: POISON.map(([name, value]) => ({ key: name, value })),
    });
    const valid = spawnEntry("producer", { env, args: ["--count", "200", "--rate", "0"] });
    assertEquals((await valid.exited).code, 0, valid.output());

    const auditFile = join(env.DATA_DIR, "tracker.events");
    const records = await waitFor("poison and valid orders in the trail", async () => {
      const lines = await readAuditRecords(auditFile);
      return lines.length >= 200 + POISON.length ? lines : undefined;
    }, { timeoutMs: 60_000 });
    assertEquals(records.filter((r) => r.outcome === "audited").length, 200);
    const rejected = records.filter((r) => r.outcome === "dead_lettered");
    assertEquals(rejected.map((r) => r.kafka_key).sort(), POISON.map(([n]) => n).sort());

    const dead: Array<{ key: string; headers: Record<string, string> }> = [];
    await dlqConsumer.connect();
    await dlqConsumer.subscribe({ topic: dlqTopic, fromBeginning: true });
    await dlqConsumer.run({
      eachMessage: ({ message }) => {
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(message.headers ?? {})) headers[k] = String(v);
        dead.push({ key: String(message.key), headers });
        return Promise.resolve();
      },
    });
    await waitFor("all poison in the DLQ", () => dead.length >= POISON.length ? true : undefined);
    for (const [name] of POISON) {
      const letter = dead.find((d) => d.key === name);
      assert(letter, `${name} is in the DLQ`);
      assertEquals(letter.headers[DLQ_HEADERS.sourceTopic], topic);
      assertMatch(letter.headers[DLQ_HEADERS.sourceOffset] ?? "", /^\d+$/);
      assertMatch(
        letter.headers[DLQ_HEADERS.errorClass] ?? "",
        /^(deserialization|schema|validation|oversize)$/,
      );
      assert((letter.headers[DLQ_HEADERS.errorMessage] ?? "").length > 0);
    }
    tracker.child.kill("SIGTERM");
    assertEquals((await tracker.exited).code, 0, tracker.output());

    // `deno task verify` as a user runs it: dead letters read back from the DLQ, commits checked.
    const verify = spawnEntry("verify", { env, args: ["--json"] });
    const verified = await verify.exited;
    const report = JSON.parse(verify.output().slice(verify.output().indexOf("{")));
    assertEquals([verified.code, report.problems], [0, []], verify.output());
    assertEquals(report.counts.dlqRecords, POISON.length);
    assertEquals(report.counts.deadLettered, POISON.length);
    assertEquals(report.counts.acknowledged, 200);
    assertEquals(report.counts.lost, 0);
  } finally {
    try {
      tracker.child.kill("SIGKILL");
    } catch { /* already exited */ }
    await tracker.exited;
    await dlqConsumer.disconnect();
    await producer.disconnect();
    await work.remove();
  }
});

/**
 * Integration: the tracker against what days of running bring — a backlog of
 * large rejected orders, a dead-letter topic that goes away, a trail carried
 * over to another cluster, a topic deleted and created again. Real processes,
 * the test broker, and for the other cluster a second broker of its own.
 */
import { join } from "node:path";
import { assert, assertEquals, assertMatch } from "./assert.ts";
import {
  auditLineCount,
  readAckRecords,
  readAuditRecords,
  setupPipeline,
  spawnEntry,
  stopEntry,
  testBrokerConfig,
  testConnection,
  verifyDelivery,
  waitFor,
  waitForAuditLines,
} from "./support.ts";
import { resolveConfig } from "../lib/config.ts";
import {
  clusterId,
  committedOffsets,
  createKafka,
  ensureTopics,
  TopicIdReader,
  withAdmin,
} from "../lib/kafka.ts";
import { AuditTrail } from "../lib/audit_trail.ts";
import type { KafkaConnection } from "../lib/kafka_security.ts";
import { createOrderGenerator } from "../lib/order_generator.ts";
import { formatReport } from "../lib/delivery_check.ts";
import { readTrail } from "../lib/trail_reader.ts";
import { brokerDown, brokerUp } from "../tasks/_broker.ts";

/** Orders of ~1.5 KB whose total does not add up: each one a dead letter of that size. */
function rejectedOrders(count: number, seed: number): Array<{ key: string; value: string }> {
  const generator = createOrderGenerator({ seed });
  return Array.from({ length: count }, () => {
    const order = generator.next();
    return {
      key: order.order_id,
      value: JSON.stringify({ ...order, total: order.total + 100 }),
    };
  });
}

async function send(
  connection: KafkaConnection,
  topic: string,
  messages: Array<{ key: string; value: string }>,
): Promise<void> {
  const producer = createKafka(connection, { clientId: "long-run-test" }).producer();
  await producer.connect();
  try {
    // Sends of 200: a test's own sends must stay under the broker's limit too.
    for (let i = 0; i < messages.length; i += 200) {
      await producer.send({ topic, acks: -1, messages: messages.slice(i, i + 200) });
    }
  } finally {
    await producer.disconnect();
  }
}

/** The epochs the trail's segment headers record, in order. */
async function epochs(auditFile: string): Promise<Array<{ number: number; reason: string }>> {
  const found: Array<{ number: number; reason: string }> = [];
  await readTrail(auditFile, (line) => {
    if (line.kind !== "header") return;
    const { number, reason } = line.header.epoch;
    if (found.at(-1)?.number !== number) found.push({ number, reason });
  });
  return found;
}

Deno.test("a backlog of thousands of large rejected orders, then valid ones: all dead-lettered, all audited, the tracker alive", async () => {
  const { dlqTopic, topic, work, env } = await setupPipeline("backlog", { partitions: 1 });
  const rejected = rejectedOrders(3_000, 31);
  await send(testConnection(), topic, rejected);
  const auditFile = join(env.DATA_DIR, "tracker.events");
  const tracker = spawnEntry("tracker", { env });
  try {
    const valid = spawnEntry("producer", { env, args: ["--count", "100", "--rate", "0"] });
    assertEquals((await valid.exited).code, 0, valid.output());
    await waitForAuditLines([auditFile], 3_100, { timeoutMs: 90_000, running: [tracker] });
    const records = await readAuditRecords(auditFile);
    assertEquals(records.filter((r) => r.outcome === "dead_lettered").length, 3_000);
    assertEquals(records.filter((r) => r.outcome === "audited").length, 100);
    const ends = await withAdmin(
      createKafka(testConnection(), { clientId: "t" }),
      (admin) => admin.fetchTopicOffsets(dlqTopic),
    );
    assertEquals(
      ends.reduce((n, p) => n + Number(p.high), 0),
      3_000,
      "every letter published once",
    );
    assertEquals(tracker.status(), undefined, "the tracker is still running");
    assertEquals((await stopEntry(tracker)).code, 0, tracker.output());
    assert(!/Cannot audit a batch|Consumer crashed/.test(tracker.output()), tracker.output());
  } finally {
    await stopEntry(tracker, "SIGKILL");
    await work.remove();
  }
});

Deno.test("a dead-letter topic that goes away: nothing committed, errors every few seconds, a clear exit within the bound", async () => {
  const { dlqTopic, topic, work, env } = await setupPipeline("dlq-gone", { partitions: 1 });
  const connection = testConnection();
  const kafka = createKafka(connection, { clientId: "t" });
  const bounded = { ...env, DLQ_TIMEOUT_MS: "12000" };
  const tracker = spawnEntry("tracker", { env: bounded });
  try {
    await waitFor("ready", () => /Tracker ready/.test(tracker.output()) ? true : undefined);
    const valid = spawnEntry("producer", { env, args: ["--count", "20", "--rate", "0"] });
    assertEquals((await valid.exited).code, 0, valid.output());
    await waitForAuditLines([join(env.DATA_DIR, "tracker.events")], 20, { running: [tracker] });
    await withAdmin(kafka, (admin) => admin.deleteTopics({ topics: [dlqTopic] }));
    await send(connection, topic, rejectedOrders(5, 32));
    const started = Date.now();
    const status = await waitFor("the tracker to give up", () => tracker.status(), {
      timeoutMs: 60_000,
    });
    const seconds = (Date.now() - started) / 1000;
    assertEquals(status.code, 1, tracker.output());
    assert(seconds < 30, `exited ${seconds.toFixed(1)} s after the poison arrived`);
    assertMatch(
      tracker.output(),
      new RegExp(
        `Cannot audit a batch: Cannot publish dead letters to ${dlqTopic}: no answer within 12 s`,
      ),
    );
    const health = await Deno.readTextFile(join(env.DATA_DIR, "tracker.log"));
    const retries = health.match(/Cannot publish 5 dead letters/g)?.length ?? 0;
    assert(retries >= 2, `${retries} errors while it retried`);
    const committed = await committedOffsets(connection, {
      groupId: env.TRACKER_GROUP_ID,
      topic,
    });
    assertEquals(committed.get(0), 20, "nothing past the valid orders was committed");

    // At the next start the tracker creates the topic again and goes on.
    const again = spawnEntry("tracker", { env });
    await waitForAuditLines([join(env.DATA_DIR, "tracker.events")], 25, { running: [again] });
    assertEquals((await stopEntry(again)).code, 0, again.output());
  } finally {
    await stopEntry(tracker, "SIGKILL");
    await work.remove();
  }
});

Deno.test({
  name:
    "a trail carried to another cluster starts a new epoch: the new cluster's orders at reused offsets are all audited",
  ignore: Deno.env.get("TEST_EXTERNAL_CLUSTER") === "1",
  async fn() {
    const base = testBrokerConfig();
    const other = resolveConfig({
      KAFKA_PORT: String(base.brokerPort + 100),
      KAFKA_CONTROLLER_PORT: String(base.brokerPort + 101),
      STATE_DIR: join(base.paths.stateDir, "other-cluster"),
      KAFKA_PROVIDER: "jvm",
      KAFKA_JARS_DIR: base.jarsDir,
    });
    const { topic, dlqTopic, work, env, acksLog } = await setupPipeline("moved");
    const auditFile = join(env.DATA_DIR, "tracker.events");
    try {
      // 600 orders audited on the test broker (~200 offsets per partition).
      const first = spawnEntry("producer", {
        env,
        args: ["--count", "600", "--rate", "0", "--acks-log", acksLog],
      });
      assertEquals((await first.exited).code, 0, first.output());
      const a = spawnEntry("tracker", { env });
      await waitForAuditLines([auditFile], 600, { running: [a] });
      assertEquals((await stopEntry(a)).code, 0, a.output());

      // The same data directory against another cluster: offsets 0.. there are other orders.
      await Deno.remove(other.paths.brokerDir, { recursive: true }).catch(() => {});
      await brokerUp(other, { log: () => {} });
      const otherEnv = { ...env, KAFKA_BROKERS: other.brokers.join(",") };
      await ensureTopics(other, [
        { topic, partitions: 3, replicationFactor: 1 },
        { topic: dlqTopic, partitions: 1, replicationFactor: 1 },
      ]);
      const second = spawnEntry("producer", {
        env: otherEnv,
        args: ["--count", "90", "--rate", "0", "--acks-log", acksLog],
      });
      assertEquals((await second.exited).code, 0, second.output());
      const b = spawnEntry("tracker", { env: otherEnv });
      await waitForAuditLines([auditFile], 690, { timeoutMs: 60_000, running: [b] });
      assertEquals((await stopEntry(b)).code, 0, b.output());
      assertMatch(b.output(), /Audit trail epoch 2 begins: another Kafka cluster/);
      assertEquals((await epochs(auditFile)).map((e) => e.number), [1, 2]);
      const report = await verifyDelivery({
        topic,
        groupId: env.TRACKER_GROUP_ID,
        acksLog,
        auditFiles: [auditFile],
      });
      // The committed offsets read here are the test broker's: compare what was lost only.
      assertEquals(report.counts.lost, 0, formatReport(report));
      assertEquals(report.counts.audited, 690);
      assertEquals(report.spaces.length, 2);
    } finally {
      await brokerDown(other, { log: () => {} }).catch(() => {});
      await work.remove();
    }
  },
});

/**
 * How many orders `acksLog` acknowledged, and how many of those (by order id
 * and status) the trail has not audited.
 */
async function unaudited(
  auditFile: string,
  acksLog: string,
): Promise<{ acked: number; missing: number }> {
  const audited = new Set(
    (await readAuditRecords(auditFile))
      .filter((r) => r.outcome === "audited")
      .map((r) => `${r.order_id}/${r.status}`),
  );
  const acked = await readAckRecords(acksLog);
  return {
    acked: acked.length,
    missing: acked.filter((a) => !audited.has(`${a.order_id}/${a.status}`)).length,
  };
}

/** Deletes a topic and creates it again (the broker may need a moment after the deletion). */
async function recreate(topic: string): Promise<void> {
  const kafka = createKafka(testConnection(), { clientId: "t" });
  await withAdmin(kafka, (admin) => admin.deleteTopics({ topics: [topic], timeout: 10_000 }));
  await waitFor("the topic created again", async () => {
    try {
      const [outcome] = await ensureTopics(testConnection(), [{
        topic,
        partitions: 3,
        replicationFactor: 1,
      }]);
      return outcome?.state === "created" ? true : undefined;
    } catch {
      return undefined; // still being deleted
    }
  }, { timeoutMs: 30_000, intervalMs: 500 });
}

/**
 * Runs of the pipeline's entries as a user makes them: `produce` sends
 * orders at full speed (outcomes to `acksLog` unless given another) and
 * waits for a clean exit; `audit` runs the tracker until the trail has
 * `lines` lines, stops it with SIGTERM and returns its output.
 */
function runsOf(
  env: Record<string, string>,
  { auditFile, acksLog, auditTimeoutMs = 60_000 }: {
    auditFile: string;
    acksLog: string;
    auditTimeoutMs?: number;
  },
) {
  return {
    produce: async (count: number, options: { acksLog?: string } = {}) => {
      const producer = spawnEntry("producer", {
        env,
        args: ["--count", String(count), "--rate", "0", "--acks-log", options.acksLog ?? acksLog],
      });
      assertEquals((await producer.exited).code, 0, producer.output());
    },
    audit: async (lines: number) => {
      const tracker = spawnEntry("tracker", { env });
      await waitForAuditLines([auditFile], lines, {
        timeoutMs: auditTimeoutMs,
        running: [tracker],
      });
      assertEquals((await stopEntry(tracker)).code, 0, tracker.output());
      return tracker.output();
    },
  };
}

Deno.test("a topic deleted and created again starts a new epoch, whether it is smaller or larger than before", async (t) => {
  const { topic, work, env, acksLog } = await setupPipeline("recreated");
  const auditFile = join(env.DATA_DIR, "tracker.events");
  const { produce, audit } = runsOf(env, { auditFile, acksLog });
  try {
    await produce(300);
    await audit(300);
    await t.step("smaller: the partitions now end before the trail's last offsets", async () => {
      await recreate(topic);
      await produce(30);
      const output = await audit(330);
      assertMatch(output, /Audit trail epoch 2 begins: topic .* was deleted and created again/);
    });
    await t.step(
      "larger: it grew past the trail's offsets before the tracker came back",
      async () => {
        await recreate(topic);
        await produce(600);
        const output = await audit(930);
        assertMatch(output, /Audit trail epoch 3 begins: topic .* was deleted and created again/);
      },
    );
    const records = await readAuditRecords(auditFile);
    assertEquals(records.filter((r) => r.outcome === "audited").length, 930, "nothing skipped");
    assertEquals((await epochs(auditFile)).map((e) => e.number), [1, 2, 3]);
    const report = await verifyDelivery({
      topic,
      groupId: env.TRACKER_GROUP_ID,
      acksLog,
      auditFiles: [auditFile],
    });
    assertEquals(report.counts.lost, 0, formatReport(report));
    assertEquals(report.counts.duplicateOffsets, 0, formatReport(report));
  } finally {
    await work.remove();
  }
});

Deno.test("a topic created again with more than a chunk below the trail's last offset is read again from its start", async () => {
  // The first chunks of the new topic sit below the trail's last offsets, so
  // they look like redeliveries; only a later chunk meets an offset whose
  // message differs (with brokers that have no topic ids; here the id tells
  // at start). The new epoch must read them again, not go on after them.
  const { topic, work, env, acksLog } = await setupPipeline("recreated-large");
  const auditFile = join(env.DATA_DIR, "tracker.events");
  const secondAcks = join(work.dir, "acks-2.jsonl");
  const { produce, audit } = runsOf(env, { auditFile, acksLog, auditTimeoutMs: 90_000 });
  try {
    await produce(3_000);
    await audit(3_000);
    await recreate(topic);
    await produce(6_000, { acksLog: secondAcks });
    const output = await audit(9_000);
    assertMatch(output, /Audit trail epoch 2 begins: topic .* was deleted and created again/);
    const { acked, missing } = await unaudited(auditFile, secondAcks);
    assertEquals(acked, 6_000);
    assertEquals(missing, 0, `${missing} orders of the new topic not audited`);
  } finally {
    await work.remove();
  }
});

Deno.test("a topic deleted and created again under a running tracker: a new epoch, every order of the new topic audited", async () => {
  // Nothing rejoins or fails when the topic goes and comes back: the consumer
  // fetches on at its old offsets, now the new topic's, past its first ones.
  // Only the topic's id tells.
  const { topic, work, env, acksLog } = await setupPipeline("recreated-live");
  const auditFile = join(env.DATA_DIR, "tracker.events");
  const secondAcks = join(work.dir, "acks-2.jsonl");
  const { produce } = runsOf(env, { auditFile, acksLog });
  const tracker = spawnEntry("tracker", { env });
  try {
    await produce(3_000);
    await waitForAuditLines([auditFile], 3_000, { timeoutMs: 60_000, running: [tracker] });
    // Paused meanwhile (well within the group's session timeout), it next
    // fetches at its old offsets from a topic that already holds more.
    tracker.child.kill("SIGSTOP");
    try {
      await recreate(topic);
      await produce(6_000, { acksLog: secondAcks });
    } finally {
      tracker.child.kill("SIGCONT");
    }
    assertEquals((await unaudited(auditFile, secondAcks)).acked, 6_000);
    let missing = 6_000;
    await waitFor(`the new topic's orders audited (${missing} missing)`, async () => {
      ({ missing } = await unaudited(auditFile, secondAcks));
      return missing === 0 ? true : undefined;
    }, { timeoutMs: 90_000, intervalMs: 2_000 });
    assertEquals((await stopEntry(tracker)).code, 0, tracker.output());
    const output = tracker.output();
    // Found by the check of its id, or by a chunk meeting an audited offset,
    // whose epoch check then reads the id: one new epoch either way.
    assertMatch(output, /Audit trail epoch 2 begins: topic .* was deleted and created again/);
    assertMatch(output, /Reading partitions .* again from their first offsets/);
    assertEquals((await epochs(auditFile)).map((e) => e.number), [1, 2]);
  } finally {
    await stopEntry(tracker).catch(() => {});
    await work.remove();
  }
});

Deno.test("a tracker stopped between a recreated topic's new epoch and its commit of the first offsets reads them again at its start", async () => {
  // What a crash leaves in that moment: the trail's new epoch (with the new
  // topic's id) and nothing of it audited; the group's offsets those the run
  // committed at its old positions, now on the new topic, past its first
  // messages. The start's epoch check finds nothing amiss: the epoch is the
  // topic's. Only the epoch's mark of the rewind tells.
  const { topic, work, env, acksLog } = await setupPipeline("recreated-crash");
  const auditFile = join(env.DATA_DIR, "tracker.events");
  const secondAcks = join(work.dir, "acks-2.jsonl");
  const { produce, audit } = runsOf(env, { auditFile, acksLog, auditTimeoutMs: 90_000 });
  const groupId = env.TRACKER_GROUP_ID!;
  try {
    await produce(3_000);
    await audit(3_000);
    const oldPositions = await committedOffsets(testConnection(), { groupId, topic });
    await recreate(topic);
    await produce(6_000, { acksLog: secondAcks });
    const kafka = createKafka(testConnection(), { clientId: "t" });
    const cluster = await withAdmin(kafka, async (admin) => {
      await admin.setOffsets({
        groupId,
        topic,
        partitions: [...oldPositions].map(([partition, offset]) => ({
          partition,
          offset: String(offset),
        })),
      });
      return await clusterId(admin);
    });
    const reader = new TopicIdReader(kafka);
    const topicId = await reader.read(topic).finally(() => reader.close());
    assert(typeof topicId === "string");
    const config = resolveConfig(env, [], { command: "tracker" });
    const { trail } = await AuditTrail.open({
      paths: config.paths,
      segmentBytes: config.segmentBytes,
      retentionBytes: config.retentionBytes,
    });
    await trail.beginEpoch({
      clusterId: cluster,
      topic,
      topicId,
      reason: `topic ${topic} was deleted and created again (a run stopped here)`,
      fromFirstOffsets: true,
    });
    await trail.close();
    const output = await audit(9_000);
    assertMatch(output, /Nothing of audit trail epoch 2 is audited yet/);
    const { acked, missing } = await unaudited(auditFile, secondAcks);
    assertEquals(acked, 6_000);
    assertEquals(missing, 0, `${missing} orders of the new topic not audited`);
  } finally {
    await work.remove();
  }
});

Deno.test("a restart with a large trail reads only what followed the checkpoint", async () => {
  const { work, env } = await setupPipeline("restart");
  const auditFile = join(env.DATA_DIR, "tracker.events");
  try {
    const producer = spawnEntry("producer", { env, args: ["--count", "2000", "--rate", "0"] });
    assertEquals((await producer.exited).code, 0, producer.output());
    const first = spawnEntry("tracker", { env });
    await waitForAuditLines([auditFile], 2_000, { running: [first] });
    assertEquals((await stopEntry(first, "SIGKILL")).signal, "SIGKILL");
    const second = spawnEntry("tracker", { env });
    await waitFor("ready", () => /Tracker ready/.test(second.output()) ? true : undefined);
    assertEquals((await stopEntry(second)).code, 0, second.output());
    const third = spawnEntry("tracker", { env });
    await waitFor("ready", () => /Tracker ready/.test(third.output()) ? true : undefined);
    assertEquals((await stopEntry(third)).code, 0, third.output());
    // The killed tracker left its checkpoint at its start: the second one read
    // what followed it; after the second's clean stop the third read nothing.
    assertMatch(
      second.output(),
      /2000 audit lines on record \(epoch 1; trail opened in \d+ ms, 2000 lines read\)/,
    );
    assertMatch(
      third.output(),
      /2000 audit lines on record \(epoch 1; trail opened in \d+ ms, 0 lines read\)/,
    );
    assertEquals(await auditLineCount([auditFile]), 2_000);
  } finally {
    await work.remove();
  }
});

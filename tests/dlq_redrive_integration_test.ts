/**
 * Integration: `dlq:redrive` against the real broker and a real tracker.
 *
 * The fixed cause is one the pipeline really has: events of an order that
 * arrive out of lifecycle order on their partition. `shipped` before `paid`
 * is rejected (validation, lifecycle) and dead-lettered; once the late `paid`
 * events are audited, the same `shipped` bytes are valid, and a redrive
 * brings them in. Text that is not JSON stays invalid: redriven, it is
 * dead-lettered again, with its redrive count.
 */
import { join } from "node:path";
import { assert, assertEquals, assertMatch, assertRejects } from "./assert.ts";
import {
  readAuditRecords,
  setupPipeline,
  spawnEntry,
  stopEntry,
  testBrokers,
  testConnection,
  waitFor,
} from "./support.ts";
import { createIdempotentProducer, createKafka, type Kafka, readTopic } from "../lib/kafka.ts";
import {
  DLQ_HEADERS,
  parseDeadLetterHeaders,
  parseRedriveOf,
  REDRIVE_HEADERS,
} from "../lib/dead_letter.ts";
import { createOrderGenerator } from "../lib/order_generator.ts";
import { EVENT_TYPES, type OrderEvent, type OrderStatus } from "../lib/order.ts";
import { resolveConfig } from "../lib/config.ts";
import { runRedrive } from "../lib/redrive.ts";
import { parseSelection } from "../lib/redrive_plan.ts";

function event(order: OrderEvent, status: OrderStatus) {
  return {
    key: order.order_id,
    value: JSON.stringify({
      ...order,
      status,
      metadata: { ...order.metadata, event_type: EVENT_TYPES[status] },
    }),
  };
}

function newOrders(count: number): OrderEvent[] {
  const generator = createOrderGenerator({ seed: 14 });
  const orders: OrderEvent[] = [];
  while (orders.length < count) {
    const order = generator.next();
    if (order.status === "created") orders.push(order);
  }
  return orders;
}

/** Every message of a topic, as read back. */
async function readAll(kafka: Kafka, topic: string) {
  const messages: Array<{ headers: Record<string, unknown>; key: string | null }> = [];
  await readTopic(kafka, topic, {
    onMessage: ({ headers, key }) => {
      messages.push({ headers, key: key === null ? null : new TextDecoder().decode(key) });
    },
  });
  return messages;
}

Deno.test("redrive of a fixed cause: every redriven order is audited exactly once, a repeated redrive sends nothing", async () => {
  const { topic, dlqTopic, work, env } = await setupPipeline("redrive");
  const kafka = createKafka(testConnection(), { clientId: "redrive-test" });
  // Idempotent: a retried send to the fresh topic must not write the orders twice.
  const producer = createIdempotentProducer(kafka, { retries: 5 });
  await producer.connect();
  const auditFile = join(env.DATA_DIR, "tracker.events");
  const tracker = spawnEntry("tracker", { env });
  const orders = newOrders(10);
  const lines = (n: number) =>
    waitFor(`${n} audit lines`, async () => {
      const records = await readAuditRecords(auditFile);
      return records.length >= n ? records : undefined;
    }, { timeoutMs: 60_000 });
  const redrive = async (...args: string[]) => {
    const entry = spawnEntry("dlq:redrive", { env, args });
    assertEquals((await entry.exited).code, 0, entry.output());
    return entry.output();
  };
  try {
    await producer.send({
      topic,
      messages: [
        ...orders.map((o) => event(o, "created")),
        ...orders.map((o) => event(o, "shipped")),
        { key: "junk-1", value: "Jane Roe, 1 Elm St, jane@example.com" },
        { key: "junk-2", value: "{not json" },
      ],
    });
    const first = await lines(22);
    assertEquals(first.filter((r) => r.outcome === "dead_lettered").length, 12);

    const dry = await redrive("--dry-run");
    assertMatch(dry, /would send +12 +\(validation 10, deserialization 2\)/);
    assertEquals(
      (await Deno.readTextFile(join(env.DATA_DIR, "redrive", "redriven.jsonl"))).trim(),
      "",
      "a dry run records nothing",
    );

    // The cause goes away: the late payments arrive and are audited.
    await producer.send({ topic, messages: orders.map((o) => event(o, "paid")) });
    await lines(32);

    assertMatch(await redrive("--class", "validation"), /Sent 10 \(acknowledged/);
    const records = await lines(42);
    const shipped = records.filter((r) => r.outcome === "audited" && r.lifecycle === "shipped");
    assertEquals(
      shipped.map((r) => r.order_id).sort(),
      orders.map((o) => o.order_id).sort(),
      "every redriven order audited exactly once",
    );

    const again = await redrive("--class", "validation");
    assertMatch(again, /already redriven +10/);
    assertMatch(again, /Sent 0 /);

    // Still invalid: redriven, dead-lettered again with the count carried forward.
    assertMatch(await redrive(), /Sent 2 /);
    await lines(44);
    const letters = await waitFor("the new dead letters", async () => {
      const all = await readAll(kafka, dlqTopic);
      return all.length >= 14 ? all : undefined;
    });
    const repeated = letters.filter((l) => l.headers[REDRIVE_HEADERS.count] !== undefined);
    assertEquals(repeated.map((l) => l.key).sort(), ["junk-1", "junk-2"]);
    for (const letter of repeated) {
      const parsed = parseDeadLetterHeaders(letter.headers);
      assert(parsed.ok);
      assertEquals([parsed.source.redriveCount, parsed.source.errorClass], [1, "deserialization"]);
    }
    const last = await redrive();
    assertMatch(last, /already redriven +12/);
    assertMatch(last, /redrive limit reached +2/);
    assertMatch(last, /Sent 0 /);

    assertEquals((await stopEntry(tracker)).code, 0, tracker.output());
    const final = await readAuditRecords(auditFile);
    assertEquals(final.length, 44, "nothing more was sent");
    // Redriven copies are audited at offsets of their own: nothing skipped, nothing twice.
    const verify = spawnEntry("verify", { env, args: ["--acks-log", "none"] });
    assertEquals((await verify.exited).code, 0, verify.output());
    assertMatch(
      verify.output(),
      /44 audit lines: 30 audited, 14 dead-lettered, 0 duplicate events/,
    );
  } finally {
    await stopEntry(tracker, "SIGKILL");
    await producer.disconnect();
    await work.remove();
  }
});

/** Writes `count` dead letters of `topic` (3 partitions) straight into its DLQ. */
async function seedDeadLetters(kafka: Kafka, { topic, dlqTopic, count }: {
  topic: string;
  dlqTopic: string;
  count: number;
}): Promise<void> {
  // Idempotent: a retried send to the fresh topic must not write the orders twice.
  const producer = createIdempotentProducer(kafka, { retries: 5 });
  await producer.connect();
  try {
    for (let from = 0; from < count; from += 500) {
      await producer.send({
        topic: dlqTopic,
        messages: Array.from({ length: Math.min(500, count - from) }, (_, j) => {
          const i = from + j;
          return {
            key: `k-${i}`,
            value: JSON.stringify({ n: i }),
            headers: {
              [DLQ_HEADERS.sourceTopic]: topic,
              [DLQ_HEADERS.sourcePartition]: String(i % 3),
              [DLQ_HEADERS.sourceOffset]: String(i),
              [DLQ_HEADERS.errorClass]: "schema",
              [DLQ_HEADERS.errorMessage]: 'Cannot accept order: field "order_id" is missing',
              [DLQ_HEADERS.failedAt]: new Date().toISOString(),
            },
          };
        }),
      });
    }
  } finally {
    await producer.disconnect();
  }
}

/** How many copies of each dead letter are in `topic`; fails on one that is not a copy. */
async function copiesPerLetter(kafka: Kafka, topic: string): Promise<Map<number, number>> {
  const copies = new Map<number, number>();
  for (const { headers } of await readAll(kafka, topic)) {
    const of = parseRedriveOf(headers);
    assert(of, "every message of the topic is a redriven copy");
    copies.set(of.offset, (copies.get(of.offset) ?? 0) + 1);
  }
  return copies;
}

Deno.test("an interrupted redrive resumes without duplicates: a crash between acknowledgement and record, and SIGKILL", async (t) => {
  const kafka = createKafka(testConnection(), { clientId: "redrive-crash-test" });

  await t.step("a failure after the send is acknowledged and before it is recorded", async () => {
    const { topic, dlqTopic, work, env } = await setupPipeline("redrive-crash");
    try {
      await seedDeadLetters(kafka, { topic, dlqTopic, count: 50 });
      const config = resolveConfig({ ...env, KAFKA_BROKERS: testBrokers().join(",") });
      const selection = parseSelection({ classes: [], sourceOffsets: [] }, Date.now());
      let batches = 0;
      await assertRejects(
        () =>
          runRedrive(config, {
            selection,
            dryRun: false,
            batchSize: 10,
            beforeRecord: () => {
              if (++batches === 3) throw new Error("crash between acknowledgement and record");
            },
          }),
        /crash between acknowledgement and record/,
      );
      assertEquals((await copiesPerLetter(kafka, topic)).size, 30, "3 batches landed, 2 recorded");
      const resumed = await runRedrive(config, { selection, dryRun: false, batchSize: 10 });
      assertEquals(resumed.inDoubt, { letters: 10, found: 10 });
      assertEquals(resumed.sent, 20);
      assertEquals(resumed.byReason["already redriven"], 30);
      const copies = await copiesPerLetter(kafka, topic);
      assertEquals(copies.size, 50);
      assert([...copies.values()].every((n) => n === 1), "no dead letter sent twice");
    } finally {
      await work.remove();
    }
  });

  await t.step("SIGKILL midway, then a re-run as a process", async () => {
    const { topic, dlqTopic, work, env } = await setupPipeline("redrive-kill");
    const count = 3_000;
    const record = join(env.DATA_DIR, "redrive", "redriven.jsonl");
    try {
      await seedDeadLetters(kafka, { topic, dlqTopic, count });
      const first = spawnEntry("dlq:redrive", { env, args: ["--batch", "20"] });
      await waitFor("a recorded batch", async () => {
        const text = await Deno.readTextFile(record).catch(() => "");
        return text.includes('"kind":"sent"') || first.status() ? true : undefined;
      }, { intervalMs: 20 });
      assertEquals((await stopEntry(first, "SIGKILL")).signal, "SIGKILL", first.output());
      const recorded = (await Deno.readTextFile(record)).split("\n")
        .filter((l) => l.includes('"kind":"sent"')).length;
      assert(recorded < count / 20, `killed midway (${recorded} batches recorded)`);

      const second = spawnEntry("dlq:redrive", { env, args: ["--batch", "20"] });
      assertEquals((await second.exited).code, 0, second.output());
      const copies = await copiesPerLetter(kafka, topic);
      assertEquals(copies.size, count, second.output());
      assert([...copies.values()].every((n) => n === 1), "no dead letter sent twice");
      const third = spawnEntry("dlq:redrive", { env });
      assertEquals((await third.exited).code, 0, third.output());
      assertMatch(third.output(), new RegExp(`already redriven +${count}`));
    } finally {
      await work.remove();
    }
  });
});

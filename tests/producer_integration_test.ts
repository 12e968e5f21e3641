/**
 * Integration: the producer as a real process on the real broker, read back
 * with a plain consumer.
 */
import { join } from "node:path";
import { assert, assertEquals, assertMatch } from "./assert.ts";
import {
  readAckRecords,
  spawnEntry,
  tempDataDir,
  testConnection,
  uniqueName,
  waitFor,
} from "./support.ts";
import { Buffer } from "node:buffer";
import {
  createIdempotentProducer,
  createKafka,
  ensureTopics,
  readTopic as readStored,
  sendToPartitions,
  type StoredMessage,
} from "../lib/kafka.ts";
import { framedRequests, groupingCalls, produceEncoding } from "../lib/kafka_codec_patch.ts";
import { parseOrder } from "../lib/order.ts";

interface Seen {
  key: string;
  partition: number;
  offset: number;
  orderId: string;
  /** The record's create time (the send), ms. */
  timestamp: number;
  producedAt: number | undefined;
}

async function readTopic(topic: string, expected: number): Promise<Seen[]> {
  const kafka = createKafka(testConnection(), { clientId: "read-back" });
  const consumer = kafka.consumer({ groupId: uniqueName("read-back") });
  const seen: Seen[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachMessage: ({ partition, message }) => {
        const parsed = parseOrder(message.value, { maxBytes: 1 << 20 });
        assert(parsed.ok, "every produced message is a valid order");
        seen.push({
          key: String(message.key),
          partition,
          offset: Number(message.offset),
          orderId: parsed.order.order_id,
          timestamp: Number(message.timestamp),
          producedAt: parsed.order.produced_at,
        });
        return Promise.resolve();
      },
    });
    await waitFor(`${expected} messages`, () => (seen.length >= expected ? true : undefined), {
      timeoutMs: 60_000,
    });
    return seen;
  } finally {
    await consumer.disconnect();
  }
}

async function setup() {
  const topic = uniqueName("produce");
  await ensureTopics(testConnection(), [{ topic, partitions: 3, replicationFactor: 1 }]);
  const data = await tempDataDir();
  return { topic, data, acksLog: join(data.dir, "acks.jsonl") };
}

Deno.test("every acknowledged order is in the topic exactly once, keyed by its order id, where the ack said", async () => {
  const { topic, data, acksLog } = await setup();
  try {
    const count = 5_000;
    const producer = spawnEntry("producer", {
      env: { ORDERS_TOPIC: topic },
      args: ["--count", String(count), "--rate", "0", "--acks-log", acksLog],
    });
    const status = await producer.exited;
    assertEquals(status.code, 0, producer.output());
    const acks = await readAckRecords(acksLog);
    assertEquals(acks.filter((a) => a.outcome === "acknowledged").length, count);

    const seen = await readTopic(topic, count);
    assertEquals(seen.length, count, "nothing extra");
    const byPlace = new Map(seen.map((s) => [`${s.partition}/${s.offset}`, s]));
    for (const ack of acks) {
      const message = byPlace.get(`${ack.partition}/${ack.offset}`);
      assert(message, `ack ${ack.partition}/${ack.offset} is in the topic`);
      assertEquals(message.key, ack.order_id);
      assertEquals(message.orderId, ack.order_id);
    }
    // Per-key order: each order's events sit in one partition, in lifecycle order.
    const partitions = new Map<string, Set<number>>();
    for (const s of seen) {
      partitions.set(s.key, (partitions.get(s.key) ?? new Set()).add(s.partition));
    }
    assert([...partitions.values()].every((p) => p.size === 1), "one partition per order");
  } finally {
    await data.remove();
  }
});

Deno.test("at a set rate each order is stamped when it was due, not a period before its send", async () => {
  const { topic, data, acksLog } = await setup();
  try {
    // At 2 orders/s a period is 500 ms: a stamp a period early shows at once.
    const producer = spawnEntry("producer", {
      env: { ORDERS_TOPIC: topic },
      args: ["--count", "3", "--rate", "2", "--acks-log", acksLog],
    });
    assertEquals((await producer.exited).code, 0, producer.output());
    const seen = await readTopic(topic, 3);
    for (const { producedAt, timestamp } of seen) {
      assert(producedAt !== undefined, "stamped");
      const wait = timestamp - producedAt;
      assert(wait >= 0 && wait < 250, `sent ${wait} ms after it was due`);
    }
  } finally {
    await data.remove();
  }
});

Deno.test("SIGTERM mid-run flushes: every acknowledged order is in the topic and the exit code tells the truth", async () => {
  const { topic, data, acksLog } = await setup();
  try {
    const producer = spawnEntry("producer", {
      env: { ORDERS_TOPIC: topic },
      args: ["--rate", "2000", "--acks-log", acksLog],
    });
    await waitFor("some acknowledgements", async () => {
      const acks = await readAckRecords(acksLog);
      return acks.length >= 500 ? true : undefined;
    });
    producer.child.kill("SIGTERM");
    const status = await producer.exited;
    const output = producer.output();
    assertMatch(output, /SIGTERM/);
    const summary =
      /Producer stopped: (\d+) acknowledged, (\d+) failed, (\d+) indeterminate, (\d+) unsent/
        .exec(output);
    assert(summary, output);
    const [acknowledged, failed, indeterminate, unsent] = summary.slice(1).map(Number);
    assertEquals(status.code, failed! + indeterminate! + unsent! === 0 ? 0 : 1);

    const acks = await readAckRecords(acksLog);
    const acked = acks.filter((a) => a.outcome === "acknowledged");
    assertEquals(acked.length, acknowledged);
    const seen = await readTopic(topic, acked.length);
    const places = new Set(seen.map((s) => `${s.partition}/${s.offset}`));
    for (const ack of acked) assert(places.has(`${ack.partition}/${ack.offset}`), "acked is there");
  } finally {
    await data.remove();
  }
});

Deno.test("the broker takes the one-pass Produce requests: keys, values and headers read back as sent", async () => {
  const topic = uniqueName("one-pass");
  const kafka = createKafka(testConnection(), { clientId: "one-pass" });
  await ensureTopics(testConnection(), [{ topic, partitions: 3, replicationFactor: 1 }]);
  const producer = createIdempotentProducer(kafka, { retries: 3 });
  await producer.connect();
  try {
    const before = {
      ...produceEncoding,
      grouped: groupingCalls.count,
      framed: framedRequests.count,
    };
    const messages = Array.from({ length: 300 }, (_, i) => ({
      key: `order-${i}-ü`,
      value: Buffer.from(`{"n":${i},"pad":"${"x".repeat(i * 7)}"}`),
      partition: i % 3,
      headers: { event_type: `event-${i % 5}` },
    }));
    const results = await sendToPartitions(producer, { topic, acks: -1, messages });
    assertEquals(results.length, 3);
    assert(produceEncoding.onePass > before.onePass, "a request went through the one-pass encoder");
    assertEquals(produceEncoding.kafkajs, before.kafkajs, "none went to KafkaJS's encoder");
    assert(groupingCalls.count > before.grouped, "KafkaJS's producer took the replaced grouping");
    assert(framedRequests.count > before.framed, "KafkaJS's connection took the replaced framing");

    const stored: StoredMessage[] = [];
    await readStored(kafka, topic, { onMessage: (m) => void stored.push(m) });
    assertEquals(stored.length, messages.length);
    const sent = new Map(messages.map((m) => [m.key, m]));
    for (const m of stored) {
      const key = new TextDecoder().decode(m.key!);
      const original = sent.get(key);
      assert(original, `key ${key} was sent`);
      assertEquals(m.partition, original.partition);
      assertEquals(Buffer.from(m.value!).toString(), original.value.toString());
      assertEquals(String(m.headers.event_type), original.headers.event_type);
    }
  } finally {
    await producer.disconnect();
  }
});

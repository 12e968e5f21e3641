/**
 * Unit: partitionFor (murmur2.ts) picks the partition KafkaJS's default,
 * Java-compatible partitioner picks, for every kind of key.
 */
import { assertEquals } from "./assert.ts";
import { KafkaDefaultPartitioner, partitionFor } from "../lib/kafka.ts";

Deno.test({
  name: "partitionFor agrees with KafkaJS's default partitioner for every kind of key",
  permissions: "none",
  async fn(t) {
    const partitioner = KafkaDefaultPartitioner();
    const kafkajs = (key: string, partitions: number) =>
      partitioner({
        topic: "t",
        partitionMetadata: Array.from({ length: partitions }, (_, i) => ({
          partitionId: i,
          leader: 0,
        })) as never,
        message: { key, value: null },
      });
    const keys = [
      "",
      "a",
      "ab",
      "abc",
      "abcd",
      "abcde",
      ...Array.from({ length: 2_000 }, () => crypto.randomUUID()),
      ...Array.from({ length: 40 }, (_, n) => "x".repeat(n) + String(n)),
      "ümlaut-ключ-☕-𝄞",
      "\ud800 lone surrogate",
      "k".repeat(100),
      "\u007f\u0080",
    ];
    for (const partitions of [1, 3, 7, 12]) {
      await t.step(`${partitions} partitions`, () => {
        for (const key of keys) {
          assertEquals(partitionFor(key, partitions), kafkajs(key, partitions), `key ${key}`);
        }
      });
    }
  },
});

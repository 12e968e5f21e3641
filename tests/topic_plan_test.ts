import { assertEquals, assertThrows } from "./assert.ts";
import { planDurability, topicReport } from "../lib/topic_plan.ts";

Deno.test({
  name:
    "topics get RF min(3, brokers) and min ISR RF-1 from RF 3, unless the settings say otherwise",
  permissions: "none",
  async fn(t) {
    const cases: Array<
      [number, number | undefined, number | undefined, number, number | undefined]
    > = [
      // brokers, REPLICATION_FACTOR, MIN_INSYNC_REPLICAS → RF, min ISR
      [1, undefined, undefined, 1, undefined],
      [2, undefined, undefined, 2, undefined],
      [3, undefined, undefined, 3, 2],
      [5, undefined, undefined, 3, 2],
      [5, 5, undefined, 5, 4],
      [3, 1, undefined, 1, undefined],
      [3, undefined, 3, 3, 3],
      [3, 2, 1, 2, 1],
    ];
    for (const [clusterBrokers, replicationFactor, minInsyncReplicas, rf, minIsr] of cases) {
      await t.step(
        `${clusterBrokers} brokers, RF ${replicationFactor}, min ISR ${minInsyncReplicas}`,
        () => {
          assertEquals(planDurability({ clusterBrokers, replicationFactor, minInsyncReplicas }), {
            replicationFactor: rf,
            minInsyncReplicas: minIsr,
          });
        },
      );
    }
  },
});

Deno.test({
  name: "more replicas than brokers, or more in-sync replicas than replicas, is refused",
  permissions: "none",
  fn() {
    assertThrows(
      () =>
        planDurability({ clusterBrokers: 1, replicationFactor: 3, minInsyncReplicas: undefined }),
      RangeError,
      "REPLICATION_FACTOR is 3 but the cluster has 1 broker",
    );
    assertThrows(
      () => planDurability({ clusterBrokers: 3, replicationFactor: 2, minInsyncReplicas: 3 }),
      RangeError,
      "MIN_INSYNC_REPLICAS is 3, above the replication factor 2",
    );
  },
});

Deno.test({
  name:
    "the topic report says what each topic has and warns where a broker's loss costs data or writes",
  permissions: "none",
  async fn(t) {
    const facts = {
      topic: "orders",
      partitions: 3,
      replicationFactor: 3,
      minInsyncReplicas: 2,
      fewestInSync: 3,
    };
    const options = { created: true, expectedPartitions: 3, externalCluster: false };
    await t.step("a created topic on a cluster", () => {
      assertEquals(topicReport(facts, options), [{
        level: "info",
        text:
          "Topic orders: created (3 partitions, replication factor 3, min.insync.replicas 2, all in sync)",
      }]);
    });
    await t.step("an existing topic with a replica out of sync", () => {
      assertEquals(
        topicReport({ ...facts, fewestInSync: 2 }, { ...options, created: false })[0]!.text,
        "Topic orders: exists (3 partitions, replication factor 3, min.insync.replicas 2, only 2 of 3 in sync)",
      );
    });
    await t.step("RF 1 on an external cluster warns; on the local broker it does not", () => {
      const single = {
        ...facts,
        partitions: 1,
        replicationFactor: 1,
        minInsyncReplicas: 1,
        fewestInSync: 1,
      };
      const external = topicReport(single, {
        ...options,
        expectedPartitions: 1,
        externalCluster: true,
      });
      assertEquals(external.map((l) => l.level), ["info", "warning"]);
      assertEquals(
        external[1]!.text,
        "Topic orders has replication factor 1: the loss of its broker loses its messages. " +
          "Recreate it with REPLICATION_FACTOR=3 (or as many brokers as the cluster has)",
      );
      assertEquals(topicReport(single, { ...options, expectedPartitions: 1 }).length, 1);
    });
    await t.step("min ISR equal to RF warns: one broker down stops writes", () => {
      const lines = topicReport({ ...facts, minInsyncReplicas: 3 }, options);
      assertEquals(lines[1]?.level, "warning");
    });
    await t.step("another partition count is an error", () => {
      assertEquals(
        topicReport(facts, {
          ...options,
          expectedPartitions: 6,
          partitionsSetting: "ORDERS_PARTITIONS",
        }),
        [{
          level: "error",
          text:
            "Topic orders exists with 3 partitions, expected 6: delete it or set ORDERS_PARTITIONS=3",
        }],
      );
      // The dead-letter topic's one partition is not a setting.
      assertEquals(
        topicReport({ ...facts, topic: "orders-dlq" }, { ...options, expectedPartitions: 1 })[0]!
          .text,
        "Topic orders-dlq exists with 3 partitions, expected 1: delete it, and `deno task topics` creates it again",
      );
    });
  },
});

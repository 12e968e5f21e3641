/** Unit: how the Kafka adapter finds a topic that a cluster's brokers learn of one after another. */
import { assert, assertEquals, assertRejects } from "./assert.ts";
import { partitionCount, topicEnds } from "../lib/kafka.ts";

/** An admin whose broker knows the topic from its `knownFrom`-th answer on (never when undefined). */
function admin(knownFrom: number | undefined) {
  let asked = 0;
  return {
    get asked() {
      return asked;
    },
    listTopics: () => {
      asked++;
      return Promise.resolve(knownFrom !== undefined && asked >= knownFrom ? ["orders"] : []);
    },
    fetchTopicOffsets: () =>
      Promise.resolve([0, 1, 2].map((partition) => ({
        partition,
        offset: String(10 + partition),
        high: String(10 + partition),
        low: "0",
      }))),
    fetchTopicMetadata: () =>
      Promise.resolve({
        topics: [{
          name: "orders",
          partitions: [0, 1, 2].map((partitionId) => ({
            partitionErrorCode: 0,
            partitionId,
            leader: 1,
            replicas: [1],
            isr: [1],
            offlineReplicas: [],
          })),
        }],
      }),
  };
}

Deno.test({
  name: "a topic a broker does not know yet is asked for again, then counted",
  permissions: "none",
  async fn() {
    const late = admin(3);
    assertEquals(await partitionCount(late, "orders", { graceMs: 5_000 }), 3);
    assertEquals(late.asked, 3);
  },
});

Deno.test({
  name: "a topic still unknown after the grace is missing, with the command that creates it",
  permissions: "none",
  async fn() {
    const never = admin(undefined);
    await assertRejects(
      () => partitionCount(never, "orders", { graceMs: 300 }),
      /Cannot use topic "orders": it does not exist \(run deno task topics\)/,
    );
    assert(never.asked >= 2, "asked again before giving up");
  },
});

Deno.test({
  name:
    "a topic's ends wait for a broker that knows it only when asked to; else it is missing at once",
  permissions: "none",
  async fn() {
    const late = admin(3);
    assertEquals(
      await topicEnds(late, "orders", { graceMs: 5_000 }),
      new Map([[0, 10], [1, 11], [2, 12]]),
    );
    assertEquals(late.asked, 3);
    const once = admin(3);
    assertEquals(await topicEnds(once, "orders"), new Map(), "no grace: the first answer stands");
    assertEquals(once.asked, 1);
  },
});

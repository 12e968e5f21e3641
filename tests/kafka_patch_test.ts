/**
 * Unit: the guard of the KafkaJS request-queue timer patch. The patch relies on
 * a private shape of KafkaJS 2.2.4; an upgrade that changes it must fail at
 * start with a clear error, not silently keep the 1 ms timer or break requests.
 */
import { assertEquals, assertMatch, assertThrows } from "./assert.ts";
import {
  installedRequestQueueProblem,
  patchRequestQueue,
  type Producer,
  requestQueueShapeProblem,
  RETRIABLE_ERROR_MESSAGES,
  sendToPartitions,
} from "../lib/kafka.ts";

Deno.test("the installed KafkaJS request queue has the shape the patch expects", () => {
  assertEquals(installedRequestQueueProblem(), undefined);
});

Deno.test({
  name: "a request queue of another shape is refused with an error naming what differs",
  permissions: "none",
  async fn(t) {
    class NoMethod {}
    class NoPending {
      throttledUntil = -1;
      scheduleCheckPendingRequests() {}
    }
    class TextThrottle {
      pending = [];
      throttledUntil = "never";
      scheduleCheckPendingRequests() {}
    }
    const cases: Array<[string, unknown, RegExp]> = [
      ["not a class", {}, /not a class/],
      ["no method", NoMethod, /no scheduleCheckPendingRequests method/],
      ["no pending array", NoPending, /no pending array/],
      ["throttledUntil not a number", TextThrottle, /no throttledUntil number/],
    ];
    for (const [name, queueClass, why] of cases) {
      await t.step(name, () => {
        assertMatch(requestQueueShapeProblem(queueClass) ?? "", why);
        assertThrows(
          () => patchRequestQueue(queueClass),
          (error: unknown) =>
            error instanceof Error &&
            /^Cannot patch KafkaJS's request queue: /.test(error.message) &&
            why.test(error.message) && /kafkajs 2\.2\.4/.test(error.message),
        );
      });
    }
  },
});

Deno.test("the start-up responses KafkaJS retries by itself are among its retriable errors", () => {
  // The errors behind "Response GroupCoordinator" and "Response InitProducerId"
  // while a broker's coordinators load: logged at debug level, not as warnings.
  for (
    const message of [
      "The group coordinator is not available",
      "This is not the correct coordinator for this group",
      "The coordinator is loading and hence can't process requests for this group",
    ]
  ) {
    assertEquals(RETRIABLE_ERROR_MESSAGES.includes(message), true, message);
  }
  assertEquals(
    RETRIABLE_ERROR_MESSAGES.includes(
      "The request attempted to perform an operation on an invalid topic",
    ),
    false,
  );
});

Deno.test({
  name: "partitions a send resolved without are sent again until each has answered",
  permissions: "none",
  async fn() {
    const sends: number[][] = [];
    // As KafkaJS 2.2.4 after a leader change: the first send leaves partition 2 out.
    const producer = {
      send({ messages }: { messages: Array<{ partition: number }> }) {
        const partitions = [...new Set(messages.map((m) => m.partition))];
        sends.push(partitions);
        const answered = sends.length === 1 ? partitions.filter((p) => p !== 2) : partitions;
        return Promise.resolve(
          answered.map((partition) => ({
            topicName: "t",
            partition,
            errorCode: 0,
            baseOffset: String(10 * partition),
          })),
        );
      },
    } as unknown as Producer;
    const messages = [0, 1, 2, 2].map((partition) => ({ value: "x", partition }));
    const results = await sendToPartitions(producer, { topic: "t", acks: -1, messages });
    assertEquals(sends, [[0, 1, 2], [2]]);
    assertEquals(results.map((r) => [r.partition, r.baseOffset]), [[0, "0"], [1, "10"], [2, "20"]]);
  },
});

/**
 * Unit: the guard of the KafkaJS request-queue timer patch. The patch relies on
 * a private shape of KafkaJS 2.2.4; an upgrade that changes it must fail at
 * start with a clear error, not silently keep the 1 ms timer or break requests.
 */
import { assertEquals, assertMatch, assertThrows } from "./assert.ts";
import {
  installedRequestQueueProblem,
  patchRequestQueue,
  requestQueueShapeProblem,
  RETRIABLE_ERROR_MESSAGES,
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

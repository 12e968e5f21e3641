/**
 * Unit: the guard of the KafkaJS request-queue timer patch. The patch relies on
 * a private shape of KafkaJS 2.2.4; an upgrade that changes it must fail at
 * start with a clear error, not silently keep the 1 ms timer or break requests.
 */
import { assertEquals } from "./assert.ts";
import { assertRefusedShapes } from "./patch_support.ts";
import {
  clusterShapeProblem,
  installedClusterProblem,
  installedRequestQueueProblem,
  kafkaRetries,
  patchClusterMetadata,
  patchRequestQueue,
  type Producer,
  rebalanceBegun,
  requestQueueShapeProblem,
  RETRIABLE_ERROR_MESSAGES,
  sendToPartitions,
} from "../lib/kafka.ts";
import KafkaCluster from "kafkajs/src/cluster/index.js";
import createAdmin from "kafkajs/src/admin/index.js";
import { createLogger, LEVELS } from "kafkajs/src/loggers/index.js";
import kafkaErrors from "kafkajs/src/errors.js";
import { createErrorFromCode } from "kafkajs/src/protocol/error.js";

Deno.test("the installed KafkaJS request queue and cluster have the shapes the patches expect", () => {
  assertEquals(installedRequestQueueProblem(), undefined);
  assertEquals(installedClusterProblem(), undefined);
});

Deno.test({
  name: "a request queue or cluster of another shape is refused with an error naming what differs",
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
    await assertRefusedShapes(t, {
      part: "request queue",
      shapeProblem: requestQueueShapeProblem,
      patch: patchRequestQueue,
      cases,
    });
    class NoMetadata {}
    await assertRefusedShapes(t, {
      part: "cluster metadata",
      shapeProblem: clusterShapeProblem,
      patch: patchClusterMetadata,
      cases: [
        ["cluster not a class", {}, /not a class/],
        ["cluster without metadata", NoMetadata, /no metadata method/],
      ],
    });
  },
});

Deno.test({
  name:
    "a metadata request no broker answered fails with a retriable broker error, not a null the admin destructures",
  permissions: "none",
  async fn() {
    // As KafkaJS 2.2.4's Cluster when every broker of its pool failed the request.
    class Cluster {
      answer: unknown;
      asked: unknown[] = [];
      constructor(answer: unknown) {
        this.answer = answer;
      }
      metadata(options?: unknown): Promise<unknown> {
        this.asked.push(options);
        return Promise.resolve(this.answer);
      }
    }
    patchClusterMetadata(Cluster);
    const found = { topicMetadata: [], brokers: [] };
    const answering = new Cluster(found);
    assertEquals(await answering.metadata({ topics: ["orders"] }), found);
    assertEquals(answering.asked, [{ topics: ["orders"] }]);
    for (const answer of [null, undefined]) {
      const error = await new Cluster(answer).metadata().then(() => undefined, (e: unknown) => e);
      assertEquals(error instanceof Error, true, String(answer));
      const { name, message, retriable } = error as Error & { retriable?: unknown };
      assertEquals({ name, message, retriable }, {
        name: "KafkaJSBrokerNotFound",
        message: "No broker answered the metadata request",
        // KafkaJS restarts a crashed consumer when the root cause says so.
        retriable: true,
      });
    }
  },
});

Deno.test({
  name:
    "KafkaJS's admin, when no broker of its pool answers, rejects with the retriable broker error",
  // KafkaJS's logger reads its level from the environment.
  permissions: { env: ["KAFKAJS_LOG_LEVEL"] },
  async fn() {
    // KafkaJS 2.2.4's own cluster and admin; its pool holds one connected
    // broker whose metadata request fails, as when the broker reset the
    // connection while restarting. Unpatched, the pool swallows the error,
    // the cluster resolves null and each call below fails with a TypeError.
    const logger = createLogger({ level: LEVELS.NOTHING, logCreator: () => () => {} });
    const cluster = new KafkaCluster({
      logger,
      brokers: ["127.0.0.1:9"],
      clientId: "metadata-patch-test",
      retry: { retries: 0 },
      metadataMaxAge: 300_000,
    });
    const pool = cluster.brokerPool;
    pool.brokers = {
      1: {
        isConnected: () => true,
        metadata: () => Promise.reject(new Error("Connection closed")),
      },
    };
    pool.metadata = { topicMetadata: [], brokers: [] };
    pool.metadataExpireAt = Date.now() + 300_000;
    const admin = createAdmin({ logger, retry: { retries: 0 }, cluster });
    for (
      const call of [
        () => admin.listTopics(),
        () => admin.describeCluster(),
        () => admin.fetchTopicMetadata({ topics: [] }),
      ]
    ) {
      const error = await call().then(() => undefined, (e: unknown) => e);
      assertEquals(
        [(error as Error)?.name, (error as { retriable?: unknown })?.retriable],
        ["KafkaJSBrokerNotFound", true],
        String(error),
      );
    }
  },
});

Deno.test({
  name: "an error out of eachBatch is fetched again after unless KafkaJS's retrier refuses it",
  permissions: "none",
  fn() {
    const cases: Array<[string, unknown, boolean]> = [
      ["a broker not found", new kafkaErrors.KafkaJSBrokerNotFound("No broker"), true],
      ["a plain error", new Error("the topic does not exist"), true],
      ["a restart the tracker asks for", { name: "ConsumerRestart", retriable: true }, true],
      ["a non-retriable KafkaJS error", new kafkaErrors.KafkaJSNonRetriableError("no"), false],
      ["a TypeError", new TypeError("Cannot destructure property"), false],
      ["not an error", "a string", false],
    ];
    for (const [name, error, retried] of cases) assertEquals(kafkaRetries(error), retried, name);
  },
});

Deno.test({
  name:
    "a heartbeat's REBALANCE_IN_PROGRESS, bare or wrapped, says a rebalance began; other group errors do not",
  permissions: "none",
  fn() {
    const rebalance = createErrorFromCode(27); // REBALANCE_IN_PROGRESS
    const cases: Array<[string, unknown, boolean]> = [
      ["REBALANCE_IN_PROGRESS", rebalance, true],
      // As KafkaJS's retrier wraps an error it does not retry (commitOffsets).
      ["wrapped", new kafkaErrors.KafkaJSNonRetriableError(rebalance, { cause: rebalance }), true],
      ["ILLEGAL_GENERATION (too late to commit)", createErrorFromCode(22), false],
      ["UNKNOWN_MEMBER_ID", createErrorFromCode(25), false],
      ["a plain error", new Error("REBALANCE_IN_PROGRESS"), false],
      ["not an error", undefined, false],
    ];
    for (const [name, error, begun] of cases) assertEquals(rebalanceBegun(error), begun, name);
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

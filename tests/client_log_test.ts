import assert from "node:assert/strict";
import {
  ClientLogFilter,
  connectionFailureReason,
  UNREACHABLE_REPORT_INTERVAL_MS,
} from "../lib/client_log.ts";

const RETRIABLE = "The coordinator is loading and hence can't process requests";

Deno.test("connection failures are named by their cause", { permissions: "none" }, async (t) => {
  const cases: Array<[string, string]> = [
    ["Connection error: connect ECONNREFUSED 127.0.0.1:9092", "connection refused"],
    ["Connection error: getaddrinfo ENOTFOUND kafka-1", "host name not found (DNS)"],
    ["Connection error: getaddrinfo EAI_AGAIN kafka-1", "host name not found (DNS)"],
    ["Connection timeout", "timed out"],
    ["Connection error: connect EHOSTUNREACH 10.0.0.9:9092", "host unreachable"],
    ["Connection error: read ECONNRESET", "connection reset"],
    ["Connection error: something new EWHATEVER", "EWHATEVER"],
  ];
  for (const [text, reason] of cases) {
    await t.step(text, () => assert.equal(connectionFailureReason(text), reason));
  }
});

Deno.test(
  "a response the client retries by itself is debug and counted; others stay warnings",
  { permissions: "none" },
  () => {
    const filter = new ClientLogFilter([RETRIABLE]);
    const retried = filter.decide({
      level: "error",
      message: "Response GroupCoordinator(key: 10, version: 2)",
      properties: { error: RETRIABLE },
    }, 0);
    assert.deepEqual(retried, { level: "debug" });
    const refused = filter.decide({
      level: "error",
      message: "Response Produce(key: 0, version: 7)",
      properties: { error: "The request included a message larger than the max message size" },
    }, 0);
    assert.deepEqual(refused, { level: "warning" });
    assert.equal(filter.retriedResponses, 1);
    const other = filter.decide({ level: "error", message: "Something new", properties: {} }, 0);
    assert.deepEqual(other, { level: "error" });
    // What our own code logs anyway, and a restart that is recovery, not failure.
    const crash = filter.decide(
      { level: "error", message: "Crash: KafkaJSError", properties: {} },
      0,
    );
    assert.deepEqual(crash, { level: "debug" });
    const restart = filter.decide({
      level: "error",
      message: "Restarting the consumer in 300ms",
      properties: {},
    }, 0);
    assert.deepEqual(restart, { level: "info" });
  },
);

Deno.test(
  "failed connections become one warning per interval per broker with the attempt count",
  { permissions: "none" },
  () => {
    const filter = new ClientLogFilter([]);
    const refused = (broker: string, now: number) => [
      filter.decide({
        level: "error",
        message: `Connection error: connect ECONNREFUSED ${broker}`,
        properties: { broker },
      }, now),
      filter.decide({
        level: "error",
        message:
          `Failed to connect to seed broker, trying another broker from the list: Connection error: connect ECONNREFUSED ${broker}`,
        properties: {},
      }, now),
    ];
    const summaries: Array<Record<string, unknown>> = [];
    for (let now = 0; now <= 2.5 * UNREACHABLE_REPORT_INTERVAL_MS; now += 1_000) {
      for (const decision of refused("k1:9092", now)) {
        assert.equal(decision.level, "debug");
        if (decision.summary) summaries.push(decision.summary.properties);
      }
    }
    // At 0, 10 and 20 s: the first failure, then one line per interval.
    assert.deepEqual(summaries, [
      {
        broker: "k1:9092",
        reason: "connection refused",
        attempts: 1,
        attemptWord: "attempt",
        seconds: 0,
      },
      {
        broker: "k1:9092",
        reason: "connection refused",
        attempts: 11,
        attemptWord: "attempts",
        seconds: 10,
      },
      {
        broker: "k1:9092",
        reason: "connection refused",
        attempts: 21,
        attemptWord: "attempts",
        seconds: 20,
      },
    ]);
    // Another broker is reported on its own.
    assert.ok(refused("k2:9092", 25_500)[0]!.summary);
    // After a quiet minute a new outage counts from one again.
    const later = refused("k1:9092", 25_000 + 61_000)[0]!;
    assert.equal(later.summary?.properties.attempts, 1);
  },
);

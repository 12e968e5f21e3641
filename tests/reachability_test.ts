import assert from "node:assert/strict";
import {
  describeProbes,
  everyInterval,
  splitAddress,
  unreachableHint,
  waitedText,
  type WaitingRound,
} from "../lib/reachability.ts";

Deno.test("broker addresses split into host and port", { permissions: "none" }, () => {
  assert.deepEqual(splitAddress("127.0.0.1:9092"), { host: "127.0.0.1", port: 9092 });
  assert.deepEqual(splitAddress("kafka-1.example.com:9093"), {
    host: "kafka-1.example.com",
    port: 9093,
  });
  assert.deepEqual(splitAddress("[::1]:9092"), { host: "::1", port: 9092 });
  assert.equal(splitAddress("kafka-1"), undefined);
});

Deno.test("the unreachable line names each address and why", { permissions: "none" }, () => {
  assert.equal(
    describeProbes([
      { address: "a:9092", ok: false, reason: "host name not found (DNS)" },
      { address: "b:9092", ok: false, reason: "connection refused" },
      { address: "c:9092", ok: true },
    ]),
    "a:9092 host name not found (DNS), b:9092 connection refused, c:9092 answers",
  );
  assert.match(unreachableHint({ externalCluster: false }), /deno task broker:up/);
  assert.match(unreachableHint({ externalCluster: true }), /KAFKA_BROKERS/);
  assert.equal(waitedText(800), "800 ms");
  assert.equal(waitedText(5_000), "5 s");
  assert.equal(waitedText(125_000), "2 min 5 s");
  assert.equal(waitedText(120_000), "2 min");
});

Deno.test(
  "a process waiting for ever reports the first round, then one per interval",
  { permissions: "none" },
  () => {
    const reported: number[] = [];
    const onWaiting = everyInterval((round: WaitingRound) => reported.push(round.attempt), 10_000);
    for (let attempt = 1; attempt <= 35; attempt++) {
      onWaiting({ attempt, elapsedMs: (attempt - 1) * 1_000 + 37, problem: "refused" });
    }
    assert.deepEqual(reported, [1, 11, 21, 31]);
  },
);

import assert from "node:assert/strict";
import { NO_SECURITY } from "../lib/kafka_security.ts";
import {
  describeProbes,
  everyInterval,
  KafkaUnreachableError,
  MIN_ROUND_MS,
  nextRound,
  reachKafka,
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

Deno.test(
  "an address that refuses reads refused when the time runs out, however little a last round would have had",
  { permissions: { net: ["127.0.0.1"] } },
  async () => {
    // A port that refuses: bound once, then released.
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const { port } = listener.addr as Deno.NetAddr;
    listener.close();
    const started = Date.now();
    // The pause after the first round leaves about a millisecond: a round begun
    // then could not finish its probe, which would read "timed out".
    const error = await reachKafka(
      { brokers: [`127.0.0.1:${port}`], kafkaSecurity: NO_SECURITY },
      { timeoutMs: 300, intervalMs: 299 },
    ).then(() => undefined, (e: unknown) => e);
    assert.ok(error instanceof KafkaUnreachableError, String(error));
    assert.match(error.message, new RegExp(`127\\.0\\.0\\.1:${port} connection refused`));
    assert.ok(Date.now() - started >= 290, "it waited out its time");
  },
);

Deno.test("a round of probes is begun only when it can finish before the deadline", {
  permissions: "none",
}, () => {
  assert.deepEqual(nextRound(Infinity, 1_000), { pauseMs: 1_000, last: false });
  assert.deepEqual(nextRound(1_995, 1_000), { pauseMs: 1_000, last: false });
  // The next round gets the last MIN_ROUND_MS, not a pause to the deadline.
  assert.deepEqual(nextRound(995, 1_000), { pauseMs: 995 - MIN_ROUND_MS, last: false });
  assert.deepEqual(nextRound(MIN_ROUND_MS, 1_000), { pauseMs: 0, last: false });
  // No round fits: wait out the time, then give up with what was found.
  assert.deepEqual(nextRound(MIN_ROUND_MS - 1, 1_000), { pauseMs: MIN_ROUND_MS - 1, last: true });
  assert.deepEqual(nextRound(298, 299), { pauseMs: 298, last: true });
  assert.deepEqual(nextRound(-5, 1_000), { pauseMs: 0, last: true });
});

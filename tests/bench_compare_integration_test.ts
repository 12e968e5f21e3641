/**
 * Integration: `deno task bench:compare` as a user runs it, briefly, on the
 * test broker: our benchmarks and Apache Kafka's own tools (fetched with
 * Maven, run on the JVM) in turn, the medians and ratios printed, nothing left
 * on the broker. Once on the plain listener (JSON), once on the SASL_SSL
 * listener with a client certificate (the report), which the Java tools reach
 * through the client properties made from the same settings.
 */
import { assert, assertEquals, assertMatch } from "./assert.ts";
import { benchScratchEntries, runTask, testConnection, testSaslSslListener } from "./support.ts";
import { createKafka, withAdmin } from "../lib/kafka.ts";

/** The test broker's topics and groups the comparison (or EndToEndLatency in it) names. */
async function scratchOnBroker(): Promise<string[]> {
  return await withAdmin(
    createKafka(testConnection(), { clientId: "test", quiet: true }),
    async (admin) => {
      const topics = (await admin.listTopics()).filter((t) => t.startsWith("bench-compare-"));
      const groups = (await admin.listGroups()).groups.map((g) => g.groupId)
        .filter((g) => g.startsWith("bench-compare-") || g.startsWith("test-group-"));
      return [...topics, ...groups.map((g) => `group ${g}`)].sort();
    },
  );
}

const SHORT_RUN = [
  "--rounds",
  "1",
  "--count",
  "3000",
  "--rate",
  "500",
  "--duration",
  "2",
  "--warmup",
  "1",
  "--latency-messages",
  "500",
];

Deno.test("bench:compare runs ours and Kafka's tools in turn and prints medians and ratios (JSON)", async () => {
  const before = await scratchOnBroker();
  const run = await runTask("bench_compare", { LOG_LEVEL: "warning" }, [...SHORT_RUN, "--json"]);
  assertEquals(run.code, 0, run.output);
  const { setup, comparison, rounds } = JSON.parse(run.stdout);
  assertEquals(comparison.rounds, 1);
  assertEquals(rounds.length, 1);
  // The tools' records are the size of our orders (about 1.5 KB).
  assert(setup.recordBytes > 1000 && setup.recordBytes < 2500, run.output);
  assertEquals(setup.latencyMessages, 500);
  assertEquals(rounds[0].producer.ours.orders, 3000);
  assertEquals(rounds[0].producer.kafka.records, 3000);
  assertEquals(rounds[0].tracker.ours.orders, 3000);
  // ConsumerPerformance counts whole fetched batches: at least what it was asked, from a topic
  // holding half again as many (so that no partition ends under it).
  const read = rounds[0].tracker.kafka.messages;
  assert(read >= 3000 && read < 4500, `ConsumerPerformance read ${read}`);
  for (const figure of [comparison.producer, comparison.tracker]) {
    assert(figure.oursMedian > 0 && figure.kafkaMedian > 0, run.output);
    assertEquals(figure.ratio, figure.oursMedian / figure.kafkaMedian);
  }
  assert(comparison.e2e.oursP99Median !== null, run.output);
  assert(comparison.e2e.kafkaP99Median >= comparison.e2e.kafkaP50Median, run.output);
  assertEquals(comparison.problems, []);
  // Its topics, ConsumerPerformance's groups and EndToEndLatency's are deleted.
  assertEquals(await scratchOnBroker(), before);
});

Deno.test({
  name:
    "bench:compare reaches a TLS + SASL listener with a client certificate, ours and Kafka's tools alike",
  ignore: testSaslSslListener() === undefined,
  fn: async () => {
    const listener = testSaslSslListener()!;
    const run = await runTask("bench_compare", {
      ...listener.env,
      KAFKA_TLS_CERT_FILE: listener.files.clientCert,
      KAFKA_TLS_KEY_FILE: listener.files.clientKey,
      LOG_LEVEL: "warning",
    }, SHORT_RUN);
    assertEquals(run.code, 0, run.output);
    const brokers = listener.env.KAFKA_BROKERS!;
    assertMatch(run.stdout, new RegExp(`^Medians of 1 round\\(s\\), .* on ${brokers};`, "m"));
    assertMatch(
      run.stdout,
      /^producer, 3,000, acks=all, idempotent +bench:producer [\d,]+ msg\/s +ProducerPerformance [\d,]+ msg\/s +\d+\.\d\d×$/m,
    );
    assertMatch(
      run.stdout,
      /^tracker, 3,000, all its work +bench:tracker [\d,]+ msg\/s +ConsumerPerformance fetch [\d,]+ msg\/s +\d+\.\d\d×$/m,
    );
    assertMatch(
      run.stdout,
      /^end-to-end p50 \/ p99 +bench:e2e at 500 msg\/s [\d.]+ ms \/ [\d.]+ ms +EndToEndLatency [\d.]+ ms \/ [\d.]+ ms$/m,
    );
    // The properties file with the password is gone with the run.
    assertEquals(await benchScratchEntries("kafka-tools-"), []);
  },
});

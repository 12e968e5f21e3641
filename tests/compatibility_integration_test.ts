/**
 * Integration: the original Go system's producer in front of our tracker. Its
 * messages (as captured in ../shared/fixtures when present, and orders written
 * the way it writes them) go to a 3-partition topic without keys: every one is
 * audited, none dead-lettered, with latency from the Kafka record time, and
 * the metrics and the monitor say so.
 */
import { join } from "node:path";
import { assert, assertEquals, assertMatch } from "./assert.ts";
import {
  readAuditRecords,
  setupPipeline,
  spawnEntry,
  stopEntry,
  testConnection,
  waitFor,
  waitForAuditLines,
} from "./support.ts";
import { createKafka } from "../lib/kafka.ts";
import { parseHealthLine } from "../lib/health_record.ts";
import { PROJECT_DIR } from "../tasks/_project_dir.ts";
import { originalOrder } from "./original_orders.ts";

const FIXTURE = join(PROJECT_DIR, "..", "shared", "fixtures", "original_orders.jsonl");

Deno.test("the original system's orders, sent without keys to three partitions, are all audited with latency from the record time", async () => {
  const { topic, work, env } = await setupPipeline("original");
  const captured = (await Deno.readTextFile(FIXTURE).catch(() => ""))
    .split("\n").filter((l) => l.trim() !== "");
  const written = Array.from({ length: 60 }, (_, i) => JSON.stringify(originalOrder(100 + i)));
  // Two events of one order on two partitions, the later step first: arrival
  // order across partitions is not the order's lifecycle.
  const spread = originalOrder(500);
  const paid = {
    ...spread,
    status: "paid",
    metadata: { ...spread.metadata, event_type: "order.paid" },
  };
  const values = [...captured, ...written];
  const producer = createKafka(testConnection(), { clientId: "original-producer" })
    .producer();
  const tracker = spawnEntry("tracker", { env });
  try {
    await producer.connect();
    await producer.send({ topic, messages: [{ value: JSON.stringify(paid), partition: 1 }] });
    await producer.send({ topic, messages: [{ value: JSON.stringify(spread), partition: 2 }] });
    // No key, as the original sends them.
    await producer.send({ topic, messages: values.map((value) => ({ value })) });
    const expected = values.length + 2;
    const auditFile = join(env.DATA_DIR, "tracker.events");
    await waitForAuditLines([auditFile], expected, { timeoutMs: 60_000, running: [tracker] });
    const records = await readAuditRecords(auditFile);
    assertEquals(records.filter((r) => r.outcome !== "audited").map((r) => r.error), []);
    assertEquals(
      new Set(records.map((r) => r.kafka_partition)).size,
      3,
      "spread over the partitions",
    );
    assert(records.every((r) => r.kafka_key === null));
    assert(records.every((r) => r.latency_source === "kafka_timestamp" && r.latency_ms !== null));
    assertEquals(records.filter((r) => r.status === "pending").length, expected - 1);
    assert(records.every((r) => r.status !== "pending" || r.lifecycle === "created"));

    // The metrics record says where the latency came from; the monitor shows it. Records
    // come every 5 s: the first one that counts the orders (a timer may come late).
    const metrics = await waitFor("a metrics record that counts the orders", async () => {
      const health = (await Deno.readTextFile(join(env.DATA_DIR, "tracker.log"))).split("\n");
      const last = health.map((l) => parseHealthLine(l)).flatMap((p) =>
        p.ok && p.entry.kind === "metrics" ? [p.entry.metrics] : []
      ).at(-1);
      return last !== undefined && last.latency_sources.kafka_timestamp > 0 ? last : undefined;
    }, { timeoutMs: 20_000, intervalMs: 250, running: [tracker] });
    assertEquals(metrics.latency_sources.produced_at, 0);
    assert(metrics.latency_sources.kafka_timestamp > 0);
    assert(metrics.latency_ms.p50 !== null);
    const once = spawnEntry("monitor", { env, args: ["--once"] });
    assertEquals((await once.exited).code, 0, once.output());
    assertMatch(once.output(), /latency p50\/p95\/p99 [^(\n]+ \(from record time\)/);
    assertEquals((await stopEntry(tracker)).code, 0, tracker.output());
  } finally {
    await producer.disconnect();
    await stopEntry(tracker, "SIGKILL");
    await work.remove();
  }
});

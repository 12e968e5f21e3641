/**
 * Unit: the tracker's Prometheus exposition, read back with a parser of its
 * own: names and labels by the conventions, counters and lag as the metrics
 * record has them, latencies in a histogram of seconds.
 */
import { assert, assertEquals } from "./assert.ts";
import { LATENCY_BUCKETS_S, trackerExposition } from "../lib/prometheus.ts";
import { TrackerMetrics } from "../lib/tracker_metrics.ts";
import { auditedRecord, deadLetterRecord, duplicateRecord } from "../lib/audit_record.ts";
import { createOrderGenerator } from "../lib/order_generator.ts";
import { parsePrometheus, sampleValue } from "./prometheus_text.ts";

const T0 = Date.UTC(2026, 10, 26, 12);
const where = (offset: number) => ({ topic: "orders", partition: 0, offset, key: null, size: 1 });

Deno.test({
  name:
    "a scrape says what the metrics record says: counters, lag in messages and seconds, latency",
  permissions: "none",
  async fn() {
    let now = T0;
    const metrics = new TrackerMetrics({ startedAt: T0 });
    const exposition = trackerExposition(metrics, { now: () => now, processMetrics: false });
    const orders = createOrderGenerator({ seed: 5, now: () => T0 });
    const records = [
      auditedRecord(T0 + 3, where(0), orders.next()),
      auditedRecord(T0 + 2_000, where(1), orders.next()),
      duplicateRecord(T0 + 30, where(2), orders.next()),
      deadLetterRecord(T0 + 30, where(3), { class: "schema", message: "x" }),
    ];
    metrics.addChunk(T0 + 2_000, { received: 5, redelivered: 1, records });
    exposition.observe(records);
    metrics.setLag(0, { highWatermark: 10, nextOffset: 4, oldestTimestamp: T0, at: T0 + 2_000 });
    metrics.setLag(2, { highWatermark: 7, nextOffset: 7, oldestTimestamp: T0, at: T0 + 2_000 });
    now = T0 + 4_500;

    const families = parsePrometheus(await exposition.text());
    for (const name of families.keys()) {
      assert(/^order_tracker_[a-z_]+$/.test(name), `${name} has the prefix, snake case`);
    }
    assertEquals(families.get("order_tracker_messages_received_total")?.type, "COUNTER");
    assertEquals(sampleValue(families, "order_tracker_messages_received_total"), 5);
    assertEquals(sampleValue(families, "order_tracker_messages_audited_total"), 2);
    assertEquals(sampleValue(families, "order_tracker_messages_dead_lettered_total"), 1);
    assertEquals(sampleValue(families, "order_tracker_messages_duplicate_total"), 1);
    assertEquals(sampleValue(families, "order_tracker_lag_messages", { partition: "0" }), 6);
    assertEquals(sampleValue(families, "order_tracker_lag_messages", { partition: "2" }), 0);
    assertEquals(sampleValue(families, "order_tracker_lag_seconds", { partition: "0" }), 4.5);
    assertEquals(sampleValue(families, "order_tracker_lag_seconds", { partition: "2" }), 0);
    assertEquals(
      sampleValue(families, "order_tracker_lag_drain_seconds"),
      NaN,
      "one sample: unknown",
    );

    const latency = families.get("order_tracker_latency_seconds");
    assert(latency?.type === "HISTOGRAM");
    const [histogram] = latency.metrics;
    assertEquals(histogram!.count, "2");
    assertEquals(Object.keys(histogram!.buckets).length, LATENCY_BUCKETS_S.length + 1);
    assertEquals(Number(histogram!.buckets["0.005"]), 1, "3 ms");
    assertEquals(Number(histogram!.buckets["2.5"]), 2, "and 2 s");

    // A later scrape counts on from the first; a partition given up disappears.
    metrics.addChunk(T0 + 5_000, { received: 3, redelivered: 3, records: [] });
    metrics.keepPartitions(new Set([0]));
    metrics.setLag(0, { highWatermark: 10, nextOffset: 10, oldestTimestamp: T0, at: T0 + 5_000 });
    const later = parsePrometheus(await exposition.text());
    assertEquals(sampleValue(later, "order_tracker_lag_drain_seconds"), 0, "no lag: drains now");
    assertEquals(sampleValue(later, "order_tracker_messages_received_total"), 8);
    assertEquals(sampleValue(later, "order_tracker_lag_messages", { partition: "2" }), undefined);
  },
});

Deno.test({
  name: "process facts are there, and none that would read 0 under the tracker's permissions",
  permissions: "none",
  async fn() {
    const exposition = trackerExposition(new TrackerMetrics({ startedAt: T0 }));
    const families = parsePrometheus(await exposition.text());
    for (
      const name of [
        "process_cpu_seconds_total",
        "process_start_time_seconds",
        "process_resident_memory_bytes",
        "nodejs_heap_size_used_bytes",
        "nodejs_eventloop_lag_p99_seconds",
      ]
    ) {
      assert(families.has(name), `${name} is exported`);
    }
    assert(sampleValue(families, "process_resident_memory_bytes")! > 0);
    for (const name of ["process_open_fds", "process_max_fds", "nodejs_active_handles_total"]) {
      assert(!families.has(name), `${name} is left out`);
    }
  },
});

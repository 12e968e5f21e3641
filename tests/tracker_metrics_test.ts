/** Unit: the tracker's figures and the metrics record the monitor reads. */
import { assert, assertEquals } from "./assert.ts";
import { TrackerMetrics } from "../lib/tracker_metrics.ts";
import { auditedRecord, deadLetterRecord, duplicateRecord } from "../lib/audit_record.ts";
import { createOrderGenerator } from "../lib/order_generator.ts";
import { formatHealthLine, parseHealthLine } from "../lib/health_record.ts";

const T0 = Date.UTC(2026, 10, 26, 12);
const where = (offset: number) => ({ topic: "orders", partition: 0, offset, key: null, size: 1 });

Deno.test({
  name: "the metrics record counts what is on disk and reads back as a metrics entry",
  permissions: "none",
  fn() {
    const metrics = new TrackerMetrics({ startedAt: T0 });
    const orders = createOrderGenerator({ seed: 2, now: () => T0 });
    const records = [
      auditedRecord(T0 + 10, where(0), orders.next()),
      auditedRecord(T0 + 30, where(1), orders.next()),
      duplicateRecord(T0 + 30, where(2), orders.next()),
      deadLetterRecord(T0 + 30, where(3), { class: "schema", message: "x" }),
    ];
    metrics.addChunk(T0 + 1_000, { received: 6, redelivered: 2, records });
    metrics.setLag(0, {
      highWatermark: 100,
      nextOffset: 4,
      oldestTimestamp: T0 - 3_000,
      at: T0 + 1_000,
    });
    metrics.setLag(1, { highWatermark: 5, nextOffset: 9, oldestTimestamp: T0, at: T0 + 1_000 });
    const record = metrics.toRecord(T0 + 2_000, { openOrders: 7 });
    assertEquals(
      {
        received: record.received,
        audited: record.audited,
        invalid: record.invalid,
        duplicates: record.duplicates,
        redelivered: record.redelivered,
        dead_lettered: record.dead_lettered,
      },
      { received: 6, audited: 2, invalid: 1, duplicates: 1, redelivered: 2, dead_lettered: 1 },
    );
    assertEquals(record.lag, { "0": 96, "1": 0 });
    assertEquals(record.lag_total, 96);
    assertEquals(record.lag_time?.partitions["0"]?.age_ms, 5_000, "from the next record's time");
    assertEquals(record.lag_time?.partitions["1"]?.age_ms, 0, "no lag, no age");
    assertEquals(record.lag_time?.total.age_ms, 5_000, "the oldest partition's");
    assertEquals(record.open_orders, 7);
    assertEquals(record.uptime_s, 2);
    assertEquals(record.rate_per_sec, 3, "6 messages over the 2 s the tracker has run");
    assertEquals(record.latency_ms, { p50: 10, p95: 30, p99: 30, count: 2 });
    assertEquals(record.final, false);

    const parsed = parseHealthLine(formatHealthLine({
      category: ["order-tracking", "tracker"],
      level: "info",
      message: ["Metrics"],
      rawMessage: "Metrics",
      timestamp: T0 + 2_000,
      properties: { ...record },
    }));
    assert(parsed.ok && parsed.entry.kind === "metrics");
    assertEquals(parsed.entry.metrics, record);
  },
});

Deno.test({
  name: "rates and latency are about the last minute, and a lost partition's lag is forgotten",
  permissions: "none",
  fn() {
    const metrics = new TrackerMetrics({ startedAt: T0 });
    const order = createOrderGenerator({ seed: 3, now: () => T0 }).next();
    metrics.addChunk(T0 + 1_000, {
      received: 60,
      redelivered: 0,
      records: [auditedRecord(T0 + 5, where(0), order)],
    });
    metrics.setLag(2, { highWatermark: 50, nextOffset: 10, oldestTimestamp: T0, at: T0 + 1_000 });
    const later = metrics.toRecord(T0 + 120_000, { openOrders: 0, final: true });
    assertEquals(later.rate_per_sec, 0);
    assertEquals(later.latency_ms.count, 0);
    assertEquals(later.final, true);
    assertEquals(later.lag_total, 40);
    metrics.keepPartitions(new Set([0, 1]));
    assertEquals(metrics.toRecord(T0 + 120_000, { openOrders: 0 }).lag, {});
  },
});

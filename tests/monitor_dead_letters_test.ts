/**
 * Unit: the monitor's dead-letter panel — counts by reason over time from the
 * audit trail's dead-lettered records, bounded, and its text rows.
 */
import { assert, assertEquals, assertMatch } from "./assert.ts";
import { deadLetterRecord } from "../lib/audit_record.ts";
import type { RejectionClass } from "../lib/order.ts";
import {
  CHART_BUCKET_MS,
  CHART_BUCKETS,
  MAX_DEAD_LETTER_CLASSES,
  MonitorModel,
} from "../lib/monitor_model.ts";
import { deadLetterRows, formatOnce } from "../lib/monitor_format.ts";

const NOW = Date.parse("2026-03-01T12:00:00.000Z");
const SECOND = 1_000;

function rejected(at: number, errorClass: string, offset = 0) {
  return deadLetterRecord(at, { topic: "orders", partition: 0, offset, key: null, size: 4 }, {
    class: errorClass as RejectionClass,
    message: "Cannot parse order: x",
  });
}

Deno.test({
  name: "the dead-letter panel counts rejections by reason in the last minute and the chart span",
  permissions: "none",
  fn() {
    const model = new MonitorModel();
    // Two minutes ago, 30 s ago and 1 s ago; one far older than the span.
    model.addAudit(rejected(NOW - 120 * SECOND, "oversize"));
    model.addAudit(rejected(NOW - 30 * SECOND, "deserialization"));
    model.addAudit(rejected(NOW - 30 * SECOND, "deserialization"));
    model.addAudit(rejected(NOW - 1 * SECOND, "validation"));
    model.addAudit(rejected(NOW - 1 * SECOND, "deserialization"));
    const view = model.view(NOW);
    assertEquals(
      view.deadLetters.map((r) => [r.errorClass, r.lastMinute, r.inSpan]),
      [["deserialization", 3, 3], ["oversize", 0, 1], ["validation", 1, 1]],
    );
    const [deserialization] = view.deadLetters;
    assertEquals(deserialization!.series.length, CHART_BUCKETS);
    assertEquals(deserialization!.series.at(-1), 1, "the newest bucket holds the last second");
    const bucket30s = CHART_BUCKETS - Math.ceil(30 * SECOND / CHART_BUCKET_MS);
    assertEquals(deserialization!.series[bucket30s], 2);
    assertEquals(view.figures.deadLettered, 5);
    // Later the older ones leave the span, and the panel with them.
    const later = model.view(NOW + CHART_BUCKETS * CHART_BUCKET_MS + SECOND);
    assertEquals(later.deadLetters, []);
  },
});

Deno.test({
  name: "the dead-letter panel keeps a bounded number of classes and of time slots",
  permissions: "none",
  fn() {
    const model = new MonitorModel();
    for (let i = 0; i < MAX_DEAD_LETTER_CLASSES + 5; i++) {
      model.addAudit(rejected(NOW - SECOND, `class-${i}`));
    }
    const view = model.view(NOW);
    assertEquals(view.deadLetters.length, MAX_DEAD_LETTER_CLASSES);
    assertEquals(view.deadLetters.find((r) => r.errorClass === "other")?.inSpan, 6);
    // An hour of one rejection a second: only the span's slots are kept.
    const flood = new MonitorModel();
    for (let s = 3600; s > 0; s--) flood.addAudit(rejected(NOW - s * SECOND, "schema"));
    const [row] = flood.view(NOW).deadLetters;
    assertEquals(row!.inSpan, CHART_BUCKETS * CHART_BUCKET_MS / SECOND);
    // The last minute is (now - 60 s, now], as every window of the monitor.
    assertEquals(row!.lastMinute, 59);
  },
});

Deno.test({
  name: "the dead-letter panel's rows: a line per reason with its sparkline, or none",
  permissions: "none",
  fn() {
    const model = new MonitorModel();
    const empty = deadLetterRows(model.view(NOW), { width: 80, tags: false });
    assertEquals(empty.slice(0, 2), [
      "dead letters by reason, last 5 minutes (5 s buckets); 0 in all",
      "none in the last 5 minutes",
    ]);
    model.addAudit(rejected(NOW - 2 * SECOND, "validation"));
    model.addAudit(rejected(NOW - 2 * SECOND, "oversize"));
    model.addAudit(rejected(NOW - 2 * SECOND, "validation"));
    const rows = deadLetterRows(model.view(NOW), { width: 80, tags: false });
    assertMatch(rows[1]!, /^validation +2 last min +2 in 5 min$/);
    assertMatch(rows[2]!, /^ {12}[ ▁▂▃▄▅▆▇█]+$/);
    assertMatch(rows[3]!, /^oversize +1 last min +1 in 5 min$/);
    assert(rows.every((r) => r.length <= 80));
    const tagged = deadLetterRows(model.view(NOW), { width: 80, tags: true });
    assertMatch(tagged[1]!, /^\{red-fg\}validation/);
    assertMatch(formatOnce(model.view(NOW), { width: 100 }), /\nvalidation +2 last min/);
  },
});

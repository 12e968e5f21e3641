/**
 * Unit: the trail summary format and its builder, and that a model fed the
 * summary shows what the same records read line by line show. Pure.
 */
import { assert, assertEquals } from "./assert.ts";
import type { AuditRecord } from "../lib/audit_record.ts";
import { MonitorModel, SUMMARY_SETTLE_MS } from "../lib/monitor_model.ts";
import {
  comparePositions,
  encodeTrailSummary,
  parseTrailSummary,
  SummaryBuilder,
  type TrailSummary,
} from "../lib/trail_summary.ts";
import { addToTotals, emptyTotals } from "../lib/trail_checkpoint.ts";

const permissions = "none" as const;
/** A second's start: the records below fall in the 20 seconds after it. */
const BASE = Date.parse("2026-03-01T12:00:00.000Z");

function record(at: number, fields: Partial<AuditRecord> = {}): AuditRecord {
  return {
    timestamp: new Date(at).toISOString(),
    event_type: "order_created",
    kafka_topic: "orders",
    kafka_partition: 0,
    kafka_offset: 0,
    kafka_key: null,
    kafka_timestamp: null,
    message_size: 900,
    deserialized: true,
    outcome: "audited",
    order_id: "0b7c9a52-3f5e-4e0c-9a57-0d5f5d6c1e11",
    status: "created",
    lifecycle: "created",
    error_class: null,
    error: null,
    latency_ms: 5,
    latency_source: "produced_at",
    order: null,
    ...fields,
  };
}

/** Records of every kind over 20 seconds, chunks sharing a timestamp, none on a second's start. */
function someRecords(): AuditRecord[] {
  const records: AuditRecord[] = [];
  let seed = 7;
  const random = () => (seed = (seed * 48271) % 2147483647) / 2147483647;
  for (let chunk = 0; chunk < 200; chunk++) {
    const at = BASE + 37 + chunk * 100;
    for (let i = 0; i < 25; i++) {
      const kind = random();
      records.push(
        kind < 0.05
          ? record(at, {
            outcome: "dead_lettered",
            status: null,
            lifecycle: null,
            error_class: random() < 0.5 ? "deserialization" : "schema",
            latency_ms: null,
            latency_source: null,
          })
          : kind < 0.08
          ? record(at, { outcome: "duplicate", latency_ms: null, latency_source: null })
          : kind < 0.1
          ? record(at, { latency_ms: null, latency_source: null, lifecycle: "paid" })
          : record(at, {
            latency_ms: Math.floor(random() * random() * 400),
            latency_source: random() < 0.2 ? "kafka_timestamp" : "produced_at",
            lifecycle: random() < 0.5 ? "created" : "shipped",
          }),
      );
    }
  }
  return records;
}

Deno.test({
  name: "a model fed trail summaries shows the figures of the same records read line by line",
  permissions,
  fn() {
    const records = someRecords();
    const byLine = new MonitorModel();
    for (const r of records) byLine.addAudit(r);

    const totals = emptyTotals();
    const builder = new SummaryBuilder({ segment: 1, bytes: 100 });
    const bySummary = new MonitorModel();
    // A line every 30 chunks: seconds are split across lines, as the tracker's timer does.
    for (let i = 0; i < records.length; i += 750) {
      const chunk = records.slice(i, i + 750);
      builder.add(chunk);
      for (const r of chunk) addToTotals(totals, r);
      const line = builder.take({ segment: 1, bytes: 100 + i + chunk.length }, {
        trailId: "t",
        totals,
        now: BASE,
      })!;
      const parsed = parseTrailSummary(encodeTrailSummary(line));
      assert(parsed.ok);
      bySummary.addSummary(parsed.summary);
    }
    // The end of the records' last second: the summary's windows end there a settle time later.
    const end = BASE + 20_000;
    const expected = byLine.view(end);
    const actual = bySummary.view(end + SUMMARY_SETTLE_MS);
    assertEquals(actual.figures.total, records.length);
    assert(expected.figures.deadLettered > 0 && expected.figures.duplicates > 0);
    const figures = (view: typeof expected) => {
      const { uptimeSec: _, ...rest } = view.figures;
      return rest;
    };
    assertEquals(figures(actual), figures(expected));
    assertEquals(actual.charts, expected.charts);
    assertEquals(actual.deadLetters, expected.deadLetters);
    assertEquals(actual.lifecycle, expected.lifecycle);
    assertEquals(actual.lastRecordAt, expected.lastRecordAt);
  },
});

Deno.test({
  name: "summary lines follow each other: each goes on from the last one's position",
  permissions,
  fn() {
    const builder = new SummaryBuilder({ segment: 3, bytes: 10 });
    const totals = emptyTotals();
    assertEquals(
      builder.take({ segment: 3, bytes: 10 }, { trailId: "t", totals, now: BASE }),
      undefined,
    );
    builder.add([record(BASE + 5), record(BASE + 1_005, { outcome: "duplicate" })]);
    const first = builder.take({ segment: 4, bytes: 80 }, { trailId: "t", totals, now: BASE })!;
    assertEquals(first.from, { segment: 3, bytes: 10 });
    assertEquals(first.seconds.map((s) => [s.at, s.count, s.last_at]), [
      [BASE, 1, BASE + 5],
      [BASE + 1_000, 0, BASE + 1_005],
    ]);
    assertEquals(builder.pending, false);
    builder.add([record(BASE + 2_000)]);
    const second = builder.take({ segment: 4, bytes: 90 }, { trailId: "t", totals, now: BASE })!;
    assertEquals(second.from, first.through);
    assertEquals(second.seconds.length, 1);
    assert(comparePositions(first.through, second.through) < 0);
    assert(comparePositions({ segment: 4, bytes: 0 }, { segment: 3, bytes: 99 }) > 0);
  },
});

Deno.test({
  name: "a summary line not of its shape is refused, naming the field",
  permissions,
  async fn(t) {
    const good: TrailSummary = {
      trail_id: "t",
      written_at: "2026-03-01T12:00:01.000Z",
      from: { segment: 1, bytes: 0 },
      through: { segment: 1, bytes: 500 },
      totals: { ...emptyTotals(), lines: 2, audited: 2 },
      seconds: [{
        at: BASE,
        last_at: BASE + 10,
        count: 2,
        ok: 2,
        timed: 2,
        kafka_timestamp: 0,
        oldest_produced_at: BASE - 3,
        latency_ms: [[3, 1], [13, 1]],
        dead_letters: {},
      }],
    };
    const parsed = parseTrailSummary(encodeTrailSummary(good));
    assertEquals(parsed, { ok: true, summary: good });
    const second = good.seconds[0]!;
    const cases: Array<[string, unknown, RegExp]> = [
      ["not JSON", "{", /not valid JSON/],
      ["another format", { format: "x" }, /not a trail summary/],
      ["from after through", { from: { segment: 2, bytes: 0 } }, /from is after through/],
      ["a position that is not one", { through: { segment: 1 } }, /through is not/],
      ["totals without a status", { totals: { ...good.totals, by_status: {} } }, /totals/],
      ["a second not on a second", { seconds: [{ ...second, at: BASE + 1 }] }, /seconds\[0\]\.at/],
      ["more ok than count", { seconds: [{ ...second, ok: 3 }] }, /ok is more than count/],
      [
        "a histogram that does not add up",
        { seconds: [{ ...second, latency_ms: [[3, 1]] }] },
        /latency_ms does not add up/,
      ],
      [
        "dead letters that are not counts",
        { seconds: [{ ...second, dead_letters: { x: -1 } }] },
        /dead_letters/,
      ],
    ];
    for (const [name, change, error] of cases) {
      await t.step(name, () => {
        const line = typeof change === "string"
          ? change
          : JSON.stringify({ ...JSON.parse(encodeTrailSummary(good)), ...change as object });
        const result = parseTrailSummary(line);
        assert(!result.ok);
        assert(error.test(result.error), result.error);
      });
    }
  },
});

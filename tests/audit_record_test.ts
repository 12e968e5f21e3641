/** Unit: the audit line format — builders, encoder and the one parser, with rejected lines. */
import { assert, assertEquals, assertMatch } from "./assert.ts";
import {
  auditedOrder,
  auditedRecord,
  type AuditRecord,
  deadLetterRecord,
  duplicateRecord,
  encodeAuditLineBytes,
  encodeAuditLines,
  parseAuditLine,
  parseTrailLine,
} from "../lib/audit_record.ts";
import { createOrderGenerator } from "../lib/order_generator.ts";
import { encodeOrder, parseOrder } from "../lib/order.ts";

const at = Date.UTC(2026, 10, 25, 12, 0, 0);
const where = { topic: "orders", partition: 2, offset: 41, key: "k", size: 1234 };
const order = createOrderGenerator({ seed: 5, now: () => at - 250 }).next();

function roundTrip(record: AuditRecord): AuditRecord {
  const line = encodeAuditLines([record]);
  assert(line.endsWith("\n") && line.indexOf("\n") === line.length - 1, "one line");
  const parsed = parseAuditLine(line.trimEnd(), 1);
  assert(parsed.ok, parsed.ok ? "" : parsed.error);
  return parsed.record;
}

Deno.test({
  name: "an audit line carries the Kafka coordinates, outcome, latency and the order",
  permissions: "none",
  fn() {
    const record = roundTrip(auditedRecord(at, where, order));
    assertEquals(record.timestamp, "2026-11-25T12:00:00.000Z");
    assertEquals(record.event_type, "order_created");
    assertEquals(
      [record.kafka_topic, record.kafka_partition, record.kafka_offset, record.kafka_key],
      ["orders", 2, 41, "k"],
    );
    assertEquals(record.message_size, 1234);
    assertEquals(record.outcome, "audited");
    assertEquals(record.deserialized, true);
    assertEquals(record.latency_ms, 250);
    assertEquals(auditedOrder(record), order);
  },
});

Deno.test({
  name: "a dead-letter line carries no order; a duplicate carries the order it received",
  permissions: "none",
  fn() {
    const dead = roundTrip(
      deadLetterRecord(at, where, { class: "deserialization", message: "bad" }),
    );
    assertEquals(dead.outcome, "dead_lettered");
    assertEquals(dead.deserialized, false);
    assertEquals(dead.error_class, "deserialization");
    assertEquals(auditedOrder(dead), undefined);
    const duplicate = roundTrip(duplicateRecord(at, where, order));
    assertEquals([duplicate.outcome, duplicate.status, duplicate.latency_ms], [
      "duplicate",
      "created",
      null,
    ]);
    assertEquals(auditedOrder(duplicate), order);
  },
});

Deno.test({
  name: "the parser rejects lines a reader could not rely on, naming the line and the field",
  permissions: "none",
  async fn(t) {
    const good = JSON.parse(encodeAuditLines([auditedRecord(at, where, order)]));
    const cases: Array<[string, string, RegExp]> = [
      ["not JSON", "{not json", /line 7: not valid JSON/],
      ["not an object", "[1,2]", /line 7: not an audit record/],
      ["unknown outcome", JSON.stringify({ ...good, outcome: "lost" }), /outcome "lost"/],
      ["unknown status", JSON.stringify({ ...good, status: "teleported" }), /status "teleported"/],
      ["offset not a number", JSON.stringify({ ...good, kafka_offset: "41" }), /kafka_offset/],
      ["negative partition", JSON.stringify({ ...good, kafka_partition: -1 }), /kafka_partition/],
      ["no timestamp", JSON.stringify({ ...good, timestamp: "yesterday" }), /timestamp/],
      ["audited without id", JSON.stringify({ ...good, order_id: null }), /no order_id/],
      ["unknown error class", JSON.stringify({ ...good, error_class: "cosmic" }), /error_class/],
      ["latency as text", JSON.stringify({ ...good, latency_ms: "12" }), /latency_ms/],
      ["order as text", JSON.stringify({ ...good, order: "{}" }), /order is not an object/],
    ];
    for (const [name, line, message] of cases) {
      await t.step(name, () => {
        const parsed = parseAuditLine(line, 7);
        assert(!parsed.ok, "rejected");
        assertMatch(parsed.error, /^Cannot parse audit line 7: /);
        assertMatch(parsed.error, message);
      });
    }
    await t.step("a long bad value is quoted only in part", () => {
      const parsed = parseAuditLine(JSON.stringify({ ...good, status: "x".repeat(5_000) }), 1);
      assert(!parsed.ok && parsed.error.length < 200, "bounded");
    });
  },
});

Deno.test({
  name: "an audited line whose order is not valid yields no order",
  permissions: "none",
  fn() {
    const record = roundTrip({
      ...auditedRecord(at, where, order),
      order: { ...order, items: [] },
    });
    assertEquals(auditedOrder(record), undefined);
  },
});

Deno.test({
  name: "a line read without its order gives the same record, its order left unread",
  permissions: "none",
  fn() {
    const nested = { ...order, notes: { order: "a field named order", text: ',"order":' } };
    const line = encodeAuditLines([auditedRecord(at, where, nested)]).trimEnd();
    const full = parseTrailLine(line, 1);
    const light = parseTrailLine(line, 1, { withOrder: false });
    assert(full.ok && full.kind === "record" && light.ok && light.kind === "record");
    assertEquals(light.record, { ...full.record, order: null });
    // A line of another shape (its order not last) is read whole.
    const reordered = JSON.stringify({ order: { a: 1 }, ...JSON.parse(line), kafka_offset: 5 });
    const other = parseTrailLine(reordered, 2, { withOrder: false });
    assert(other.ok && other.kind === "record");
    assertEquals(other.record.kafka_offset, 5);
  },
});

Deno.test({
  name: "lines written from the received bytes are the lines the text encoder writes",
  permissions: "none",
  fn() {
    const accepted = (bytes: Uint8Array) => {
      const parsed = parseOrder(bytes, { maxBytes: 1e6 });
      assert(parsed.ok);
      return parsed;
    };
    const plain = encodeOrder(order);
    const accented = new TextEncoder().encode(
      JSON.stringify({ ...order, shipping_address: "Straße 1, Zürich — ☃ 🚚" }),
    );
    const pretty = new TextEncoder().encode(JSON.stringify(order, null, 2));
    const withBom = new Uint8Array([0xef, 0xbb, 0xbf, ...plain]);
    const records = [
      auditedRecord(at, where, accepted(plain)),
      duplicateRecord(at, where, accepted(accented)),
      auditedRecord(at, where, accepted(pretty)),
      auditedRecord(at, where, accepted(withBom)),
      deadLetterRecord(at, where, { class: "schema", message: "Cannot accept order: ü" }),
      auditedRecord(at, where, order),
    ];
    const bytes = encodeAuditLineBytes(records);
    assertEquals(new TextDecoder().decode(bytes), encodeAuditLines(records));
    for (const line of new TextDecoder().decode(bytes).trimEnd().split("\n")) {
      assert(parseAuditLine(line, 1).ok, line.slice(0, 80));
    }
  },
});

/** Unit: the audit line format — builders, encoder and the one parser, with rejected lines. */
import { assert, assertEquals, assertMatch } from "./assert.ts";
import {
  auditedOrder,
  auditedRecord,
  type AuditRecord,
  type AuditSample,
  deadLetterRecord,
  duplicateRecord,
  encodeAuditLineBytes,
  encodeAuditLines,
  encodeSegmentHeader,
  parseAuditLine,
  parseTrailLine,
  parseTrailSample,
  type SegmentHeader,
} from "../lib/audit_record.ts";
import { createOrderGenerator } from "../lib/order_generator.ts";
import { encodeOrder, parseOrder } from "../lib/order.ts";

const at = Date.UTC(2026, 10, 25, 12, 0, 0);
const where = { topic: "orders", partition: 2, offset: 41, key: "k", size: 1234 };
const order = createOrderGenerator({ seed: 5, now: () => at - 250 }).next();
const header: SegmentHeader = {
  trail_segment: 1,
  trail_id: "trail-1",
  epoch: {
    number: 1,
    cluster_id: "c",
    topic: "orders",
    started_at: new Date(at).toISOString(),
    reason: "a new trail",
    continues_offsets: false,
  },
  created_at: new Date(at).toISOString(),
};

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
  name: "a line embeds a one-line order as received, byte for byte, and any other as its JSON",
  permissions: "none",
  fn() {
    const accepted = (bytes: Uint8Array) => {
      const parsed = parseOrder(bytes, { maxBytes: 1e6 });
      assert(parsed.ok);
      return parsed;
    };
    const plainText = JSON.stringify(order);
    const accentedText = JSON.stringify({ ...order, shipping_address: "Straße 1, Zürich — ☃ 🚚" });
    const spaced = plainText.replace(/,/g, ", "); // one line, not as JSON.stringify writes it
    const encode = (text: string) => new TextEncoder().encode(text);
    const cases: Array<[AuditRecord, string]> = [
      [auditedRecord(at, where, accepted(encode(plainText))), plainText],
      [duplicateRecord(at, where, accepted(encode(accentedText))), accentedText],
      [auditedRecord(at, where, accepted(encode(spaced))), spaced],
      // Pretty-printed: its one-line JSON; a byte-order mark is dropped.
      [auditedRecord(at, where, accepted(encode(JSON.stringify(order, null, 2)))), plainText],
      [auditedRecord(at, where, accepted(encode(`\ufeff${plainText}`))), plainText],
      [deadLetterRecord(at, where, { class: "schema", message: "Cannot accept order: ü" }), "null"],
      [auditedRecord(at, where, order), plainText],
    ];
    const records = cases.map(([record]) => record);
    const bytes = encodeAuditLineBytes(records);
    const text = new TextDecoder().decode(bytes);
    text.trimEnd().split("\n").forEach((line, i) => {
      const [record, embedded] = cases[i]!;
      const { order: _, ...fields } = record;
      assertEquals(line, `${JSON.stringify(fields).slice(0, -1)},"order":${embedded}}`);
      assert(parseAuditLine(line, 1).ok, line.slice(0, 80));
    });
  },
});

Deno.test({
  name: "a line's fields are exactly what JSON.stringify writes for them, odd text included",
  permissions: "none",
  fn() {
    const odd = 'quote " backslash \\ tab \t nul \u0000 \u2028 ☃ 🚚 \ud800';
    const tricky = [
      { ...where, key: odd, timestamp: 1_700_000_000_123 },
      { ...where, key: null, timestamp: null, offset: 2 ** 53 - 1 },
      { ...where, key: "", size: 0 },
      { ...where, key: 'only "quotes"' },
      { ...where, key: "only a back\\slash" },
      { ...where, key: "delete \u007f and é" },
    ];
    const accepted = parseOrder(encodeOrder(order), { maxBytes: 1e6 });
    assert(accepted.ok);
    const { produced_at: _, ...unstamped } = order;
    const records = tricky.flatMap((place) => [
      auditedRecord(at, place, accepted),
      auditedRecord(at, place, accepted, { outOfOrder: true }),
      duplicateRecord(at, place, order),
      deadLetterRecord(at, place, { class: "validation", message: `Cannot accept order: ${odd}` }),
      auditedRecord(at + 0.5, { ...place, timestamp: at - 100 }, unstamped),
      auditedRecord(at, { ...place, timestamp: null }, unstamped),
    ]);
    const lines = encodeAuditLines(records).trimEnd().split("\n");
    records.forEach((record, i) => {
      const { order: embedded, ...fields } = record;
      const expected = `${JSON.stringify(fields).slice(0, -1)},"order":${
        JSON.stringify(embedded)
      }}`;
      assertEquals(JSON.parse(lines[i]!), JSON.parse(expected));
      assertEquals(
        lines[i]!.slice(0, lines[i]!.indexOf('"order":')),
        expected.slice(0, expected.indexOf('"order":')),
      );
    });
  },
});

Deno.test({
  name: "lines whose heads outgrow the first buffer are written whole",
  permissions: "none",
  fn() {
    // Each head's error text takes far more than the room first set aside per line.
    const long = "é ☃ \u0001 ".repeat(400);
    const records = Array.from(
      { length: 50 },
      (_, i) =>
        deadLetterRecord(at, { ...where, offset: i, key: long }, {
          class: "validation",
          message: `Cannot accept order: ${long}`,
        }),
    );
    const bytes = encodeAuditLineBytes(records, { into: new Uint8Array(50 * 1024) });
    const lines = new TextDecoder().decode(bytes).trimEnd().split("\n");
    assertEquals(
      lines,
      records.map(({ order: _, ...fields }) =>
        `${JSON.stringify(fields).slice(0, -1)},"order":null}`
      ),
    );
  },
});

Deno.test({
  name: "the monitor reads the fields parseTrailLine gives, and rejects the lines it rejects",
  permissions: "none",
  async fn(t) {
    const fields = [
      "timestamp",
      "kafka_partition",
      "kafka_offset",
      "outcome",
      "order_id",
      "status",
      "lifecycle",
      "error_class",
      "latency_ms",
      "latency_source",
    ] as const;
    const pick = (record: AuditSample) =>
      Object.fromEntries(fields.map((field) => [field, record[field]]));
    const keyed = { ...where, key: 'k "quoted" \\ é 😀', timestamp: at - 3 };
    const encoded = (record: AuditRecord) => encodeAuditLines([record]).trimEnd();
    const audited = encoded(auditedRecord(at, keyed, order));
    const { produced_at: _producedAt, ...withoutProducedAt } = order;
    const lines: Array<[string, string]> = [
      ["audited", audited],
      ["out of order", encoded(auditedRecord(at, where, order, { outOfOrder: true }))],
      ["duplicate", encoded(duplicateRecord(at, where, order))],
      [
        "dead letter with quotes in its error",
        encoded(deadLetterRecord(at, { ...where, key: null }, {
          class: "validation",
          message: 'Cannot parse order: field "total" is 1, expected 2',
        })),
      ],
      [
        "from the record time",
        encoded(auditedRecord(at, { ...where, timestamp: at - 9 }, withoutProducedAt)),
      ],
      ["an order id with an escape", audited.replace(/"order_id":"/, '"order_id":"\\u0041')],
      [
        "pending, as the original system writes",
        audited.replace(/"status":"\w+"/, '"status":"pending"'),
      ],
      ["the order cut off", audited.slice(0, audited.indexOf(',"order":') + 12)],
      ["spaces", audited.replace('"kafka_offset":', '"kafka_offset": ')],
      ["an older line without lifecycle", audited.replace(/"lifecycle":"\w+",/, "")],
      [
        "an offset of 16 digits",
        audited.replace('"kafka_offset":41', '"kafka_offset":1234567890123456'),
      ],
      ["an offset as a float", audited.replace('"kafka_offset":41', '"kafka_offset":41.0')],
      ["a latency as a float", audited.replace(/"latency_ms":\d+/, '"latency_ms":2.5')],
      ["a leading zero", audited.replace('"kafka_offset":41', '"kafka_offset":041')],
      ["a negative partition", audited.replace('"kafka_partition":2', '"kafka_partition":-2')],
      ["an unknown status", audited.replace(/"status":"\w+"/, '"status":"teleported"')],
      ["a status of another case", audited.replace(/"status":"\w+"/, '"status":"Created"')],
      ["no date", audited.replace(/"timestamp":"[^"]+"/, '"timestamp":"yesterday"')],
      ["audited without an order id", audited.replace(/"order_id":"[^"]+"/, '"order_id":null')],
      [
        "a raw tab in a string",
        audited.replace('"kafka_topic":"orders"', '"kafka_topic":"or\tders"'),
      ],
      ["a bad escape", audited.replace('"kafka_topic":"orders"', '"kafka_topic":"or\\xders"')],
      ["a topic as a number", audited.replace('"kafka_topic":"orders"', '"kafka_topic":7')],
      ["not JSON", "{not json"],
      ["a segment header", encodeSegmentHeader(header).trimEnd()],
    ];
    const ENCODER_LINES = 8;
    for (const [i, [name, line]] of lines.entries()) {
      await t.step(name, () => {
        const general = parseTrailLine(line, 3, { withOrder: false });
        const sample = parseTrailSample(line, 3);
        if (general.ok && general.kind === "record") {
          assert(sample.ok && sample.kind === "record", "read");
          assertEquals(pick(sample.record), pick(general.record));
          // The encoder's lines (their order unread) take the short way: it reads no other field.
          assertEquals(Object.keys(sample.record).length === fields.length, i < ENCODER_LINES);
        } else {
          assertEquals(sample, general);
        }
      });
    }
  },
});

Deno.test({
  name:
    "a segment header keeps an epoch's optional topic id and first-offsets mark, and checks them",
  permissions: "none",
  fn() {
    const marked: SegmentHeader = {
      ...header,
      epoch: { ...header.epoch, topic_id: "iuqqLOvxQ0i5cUF4IlXwfA", from_first_offsets: true },
    };
    const parsed = parseTrailLine(encodeSegmentHeader(marked).trimEnd(), 1);
    assert(parsed.ok && parsed.kind === "header");
    assertEquals(parsed.header, marked);
    const bad = encodeSegmentHeader(marked).replace(
      '"from_first_offsets":true',
      '"from_first_offsets":1',
    );
    const refused = parseTrailLine(bad.trimEnd(), 4);
    assert(!refused.ok);
    assertMatch(refused.error, /from_first_offsets is not true/);
  },
});

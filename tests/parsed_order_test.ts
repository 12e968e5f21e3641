/** Unit: parses sent from the tracker's parsing thread give the same records as parses made here. */
import { assert, assertEquals, assertRejects } from "./assert.ts";
import {
  auditedOrder,
  auditedRecord,
  deadLetterRecord,
  encodeAuditLineBytes,
} from "../lib/audit_record.ts";
import { encodeOrder, type OrderSummary, parseOrder, type ParseResult } from "../lib/order.ts";
import { createOrderGenerator } from "../lib/order_generator.ts";
import { asciiText, fromWire, packValues, parseWire, unpackValues } from "../lib/parsed_order.ts";
import { OrderParser, PARSE_HERE_BELOW } from "../lib/order_parser.ts";

const at = Date.UTC(2026, 10, 26, 12);
const MAX_BYTES = 64 * 1024;
const encoder = new TextEncoder();

/** Every kind of value the tracker meets: ours, the original system's, odd and bad ones. */
function sampleValues(): Array<Uint8Array | null> {
  const orders = createOrderGenerator({ seed: 3, now: () => at - 40 });
  const plain = encodeOrder(orders.next());
  const { produced_at: _, ...original } = orders.next();
  return [
    plain,
    encoder.encode(JSON.stringify({ ...original, status: "pending" })),
    encoder.encode(JSON.stringify({ ...orders.next(), shipping_address: "Straße 1 ☃ 🚚" })),
    encoder.encode(JSON.stringify(orders.next(), null, 2)),
    new Uint8Array([0xef, 0xbb, 0xbf, ...plain]),
    encoder.encode("not json"),
    null,
    new Uint8Array(MAX_BYTES + 1),
    encoder.encode(JSON.stringify({ ...orders.next(), order_id: "not-a-uuid" })),
    new Uint8Array(),
  ];
}

/** The lines the tracker would write for these parses. */
function lines(results: readonly ParseResult<OrderSummary>[]): string {
  const records = results.map((result, offset) => {
    const where = { topic: "orders", partition: 0, offset, key: null, timestamp: at - 50, size: 1 };
    return result.ok
      ? auditedRecord(at, where, result)
      : deadLetterRecord(at, where, result.rejection);
  });
  return new TextDecoder().decode(encodeAuditLineBytes(records));
}

Deno.test({
  name: "packed values unpack to the same bytes, tombstones and empty values included",
  permissions: "none",
  fn() {
    const values = sampleValues();
    assertEquals(unpackValues(packValues(values)), values);
  },
});

Deno.test({
  name: "a parse that crossed threads writes the lines and rejections a parse here writes",
  permissions: "none",
  fn() {
    const values = sampleValues();
    const here = values.map((value) => parseOrder(value, { maxBytes: MAX_BYTES }));
    const crossed = fromWire(parseWire(packValues(values), { maxBytes: MAX_BYTES }), values);
    assertEquals(crossed.map((r) => r.ok), here.map((r) => r.ok));
    assertEquals(
      crossed.map((r) => r.ok ? null : r.rejection),
      here.map((r) => r.ok ? null : r.rejection),
    );
    assertEquals(lines(crossed), lines(here));
    crossed.forEach((result, i) => {
      const own = here[i]!;
      if (!result.ok || !own.ok) return;
      assertEquals(result.order.produced_at, own.order.produced_at);
      assertEquals(result.order.status, own.order.status);
    });
    // The order itself is parsed again only when asked for, and is what came.
    const first = crossed[0]!;
    assert(first.ok && here[0]!.ok);
    const where = { topic: "orders", partition: 0, offset: 0, key: null, size: 1 };
    assertEquals(auditedOrder(auditedRecord(at, where, first)), here[0]!.order);
  },
});

Deno.test({
  name:
    "a batch in ASCII alone is decoded at once; a byte beyond ASCII anywhere decodes each value",
  permissions: "none",
  fn() {
    const isAscii = (value: Uint8Array | null) => value === null || value.every((b) => b < 0x80);
    const values = sampleValues();
    const ascii = values.filter(isAscii);
    assert(ascii.length >= 5 && ascii.length < values.length, "both kinds in the sample");
    const packed = packValues(ascii);
    assertEquals(asciiText(packed.bytes), new TextDecoder().decode(packed.bytes));
    // Its parses are those made value by value, rejections included.
    const here = ascii.map((value) => parseOrder(value, { maxBytes: MAX_BYTES }));
    assertEquals(
      lines(fromWire(parseWire(packValues(ascii), { maxBytes: MAX_BYTES }), ascii)),
      lines(here),
    );
    const plain = ascii[0]!;
    for (
      const [name, odd] of [
        ["a character beyond ASCII", encoder.encode('{"é":1}')],
        ["a byte-order mark", new Uint8Array([0xef, 0xbb, 0xbf, 0x7b, 0x7d])],
        ["a byte that is not UTF-8", new Uint8Array([0x7b, 0xff, 0x7d])],
        ["U+FFFD itself", encoder.encode('"\uFFFD"')],
      ] as const
    ) {
      assertEquals(asciiText(packValues([plain, odd]).bytes), undefined, name);
    }
  },
});

Deno.test({
  name: "the parsing thread answers in order with what a parse here gives, and refuses once closed",
  permissions: { read: true },
  async fn() {
    const parser = new OrderParser({ maxBytes: MAX_BYTES });
    try {
      const values = Array.from({ length: 16 }, sampleValues).flat();
      assert(values.length >= PARSE_HERE_BELOW, "enough values to go to the thread");
      const parts = [values, values.slice(0, 3), values.slice(5)];
      const results = await Promise.all(parts.map((part) => parser.parse(part)));
      parts.forEach((part, i) => {
        const here = part.map((value) => parseOrder(value, { maxBytes: MAX_BYTES }));
        assertEquals(lines(results[i]!), lines(here));
      });
    } finally {
      parser.close();
    }
    await assertRejects(() => parser.parse(sampleValues()), /parser is closed/);
  },
});

/**
 * Unit: orders from the original Go system (agbruneau/Kafka, schema "1.1")
 * are valid orders: its vocabulary maps onto our lifecycle, `produced_at` is
 * optional, its raw floats are rounded to the cent, and the message is kept as
 * received. The captured stream in ../shared/fixtures is checked when present.
 */
import { join } from "node:path";
import { assert, assertEquals, assertMatch } from "./assert.ts";
import { parseOrder, parseOrderValue } from "../lib/order.ts";
import {
  auditedOrder,
  auditedRecord,
  encodeAuditLines,
  parseAuditLine,
} from "../lib/audit_record.ts";
import { PROJECT_DIR } from "../tasks/_project_dir.ts";
import { originalOrder } from "./original_orders.ts";

const encoder = new TextEncoder();
const options = { maxBytes: 64 * 1024 };

Deno.test({
  name:
    "an order of the original system is valid: pending is created, no produced_at, floats to the cent",
  permissions: "none",
  fn() {
    const text = JSON.stringify(originalOrder(1));
    const parsed = parseOrder(encoder.encode(text), options);
    assert(parsed.ok, parsed.ok ? "" : parsed.rejection.message);
    assertEquals(parsed.order.status, "created");
    assertEquals(parsed.order.metadata.event_type, "order.created");
    assertEquals(parsed.order.produced_at, undefined);
    assertEquals(parsed.received.status, "pending");
    assertEquals(parsed.received.text, text, "the exact text is kept");
  },
});

Deno.test({
  name: "the mapping of the original vocabulary onto our lifecycle is pinned",
  permissions: "none",
  async fn(t) {
    const cases: Array<[string, string, string]> = [
      ["pending", "order.created", "created"],
      ["created", "order.created", "created"],
      ["paid", "order.paid", "paid"],
      ["shipped", "order.shipped", "shipped"],
      ["delivered", "order.delivered", "delivered"],
      ["cancelled", "order.cancelled", "cancelled"],
      ["shipped", "order.updated", "shipped"],
      ["pending", "order.updated", "created"],
      ["paid", "order_paid", "paid"],
    ];
    for (const [status, eventType, lifecycle] of cases) {
      await t.step(`${status} / ${eventType} → ${lifecycle}`, () => {
        const value = originalOrder(2, {
          status,
          metadata: { ...originalOrder(2).metadata, event_type: eventType },
        });
        const parsed = parseOrderValue(value);
        assert(parsed.ok, parsed.ok ? "" : parsed.rejection.message);
        assertEquals([parsed.order.status, parsed.received.status], [lifecycle, status]);
      });
    }
    await t.step("an event type that contradicts the status is still rejected", () => {
      const parsed = parseOrderValue(originalOrder(3, {
        status: "pending",
        metadata: { ...originalOrder(3).metadata, event_type: "order.shipped" },
      }));
      assert(!parsed.ok);
      assertMatch(
        parsed.rejection.message,
        /expected "order_created" or "order.created" for status "pending"/,
      );
    });
    await t.step("an unknown status or event type is still rejected", () => {
      for (
        const bad of [{ status: "teleported" }, {
          metadata: { ...originalOrder(4).metadata, event_type: "order.lost" },
        }]
      ) {
        assert(!parseOrderValue(originalOrder(4, bad)).ok);
      }
    });
    await t.step("an order id of any UUID version", () => {
      assert(
        parseOrderValue(originalOrder(5, { order_id: "1b4e28ba-2fa1-11d2-883f-0016d3cca427" })).ok,
      );
      assert(!parseOrderValue(originalOrder(5, { order_id: "not-a-uuid" })).ok);
    });
  },
});

Deno.test({
  name: "the trail keeps the message exactly as received, and its latency from the record time",
  permissions: "none",
  fn() {
    const text = JSON.stringify(originalOrder(6, { extra_field: "kept" }));
    const parsed = parseOrder(encoder.encode(text), options);
    assert(parsed.ok);
    const at = Date.UTC(2026, 10, 26, 12, 10, 26);
    const record = auditedRecord(at, {
      topic: "orders",
      partition: 1,
      offset: 7,
      key: null,
      timestamp: at - 40,
      size: text.length,
    }, parsed);
    const line = encodeAuditLines([record]);
    assert(line.includes(`"order":${text}}`), "the received bytes are embedded verbatim");
    const read = parseAuditLine(line.trimEnd(), 1);
    assert(read.ok);
    assertEquals([read.record.status, read.record.lifecycle], ["pending", "created"]);
    assertEquals([read.record.latency_ms, read.record.latency_source], [40, "kafka_timestamp"]);
    assertEquals(read.record.order?.extra_field, "kept", "unknown fields are not dropped");
    assertEquals(auditedOrder(read.record)?.order_id, parsed.order.order_id);
    // A pretty-printed value (line breaks) is kept as the same JSON on one line.
    const pretty = JSON.stringify(originalOrder(7), null, 2);
    const prettyParsed = parseOrder(encoder.encode(pretty), options);
    assert(prettyParsed.ok && prettyParsed.received.text === null);
    const prettyLine = encodeAuditLines([
      auditedRecord(
        at,
        { topic: "orders", partition: 0, offset: 8, key: null, size: 1 },
        prettyParsed,
      ),
    ]);
    assertEquals(prettyLine.split("\n").length, 2, "one line");
  },
});

const FIXTURE = join(PROJECT_DIR, "..", "shared", "fixtures", "original_orders.jsonl");
const fixture = await Deno.readTextFile(FIXTURE).catch(() => undefined);

Deno.test({
  name: "every message captured from the original system's producer is a valid order",
  ignore: fixture === undefined,
  fn() {
    const lines = fixture!.split("\n").filter((l) => l.trim() !== "");
    assert(lines.length > 0);
    for (const [i, line] of lines.entries()) {
      const parsed = parseOrder(encoder.encode(line), options);
      assert(parsed.ok, `line ${i + 1}: ${parsed.ok ? "" : parsed.rejection.message}`);
      assertEquals(parsed.order.status, "created");
      assertEquals(parsed.received.text, line);
    }
  },
});

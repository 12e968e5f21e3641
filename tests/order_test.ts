import { assert, assertEquals, assertMatch } from "./assert.ts";
import { encodeOrder, isValidTransition, type OrderEvent, parseOrder } from "../lib/order.ts";
import { createOrderGenerator } from "../lib/order_generator.ts";

const MAX_BYTES = 64 * 1024;
const encoder = new TextEncoder();

function validOrder(): OrderEvent {
  return createOrderGenerator({ seed: 99, now: () => 1_700_000_000_000 }).next();
}

function parse(value: unknown) {
  return parseOrder(encoder.encode(typeof value === "string" ? value : JSON.stringify(value)), {
    maxBytes: MAX_BYTES,
  });
}

Deno.test({
  name: "a generated order parses back to the same value",
  permissions: "none",
  fn() {
    const order = validOrder();
    const result = parseOrder(encodeOrder(order), { maxBytes: MAX_BYTES });
    assert(result.ok);
    assertEquals(result.order, order);
  },
});

Deno.test({
  name: "bad input is rejected with its class and the field at fault",
  permissions: "none",
  async fn(t) {
    // Untyped on purpose: these cases write wrong types into the order.
    // deno-lint-ignore no-explicit-any
    type Loose = Record<string, any>;
    const mutate = (change: (o: Loose) => void) => {
      const order = structuredClone(validOrder()) as unknown as Loose;
      change(order);
      return order;
    };
    const cases: Array<[string, unknown, string, RegExp]> = [
      ["not JSON", "{oops", "deserialization", /not UTF-8 JSON/],
      ["JSON array", [1, 2], "schema", /"\(root\)" must be an object/],
      ["JSON null", null, "schema", /must be an object/],
      ["JSON string", '"order"', "schema", /must be an object/],
      ["missing order id", mutate((o) => delete o.order_id), "schema", /"order_id" is missing/],
      ["order id not a UUID", mutate((o) => (o.order_id = "123")), "validation", /UUID/],
      [
        "string for a number",
        mutate((o) => (o.total = "12.50")),
        "schema",
        /"total" must be a finite number/,
      ],
      [
        "negative unit price",
        mutate((o) => (o.items[0].unit_price = -1)),
        "validation",
        /unit_price" must be >= 0/,
      ],
      [
        "zero quantity",
        mutate((o) => (o.items[0].quantity = 0)),
        "validation",
        /quantity" must be > 0/,
      ],
      [
        "fractional quantity",
        mutate((o) => (o.items[0].quantity = 1.5)),
        "schema",
        /quantity" must be an integer/,
      ],
      [
        "wrong item total",
        mutate((o) => (o.items[0].total_price += 1)),
        "validation",
        /total_price" is .* expected/,
      ],
      [
        "wrong sub-total",
        mutate((o) => (o.sub_total += 0.05)),
        "validation",
        /"sub_total" is .*sum of items/,
      ],
      [
        "wrong total",
        mutate((o) => (o.total += 0.02)),
        "validation",
        /"total" is .*sub_total \+ tax/,
      ],
      ["no items", mutate((o) => (o.items = [])), "validation", /"items" is empty/],
      [
        "unknown currency",
        mutate((o) => (o.currency = "XYZ")),
        "validation",
        /"currency" is "XYZ"/,
      ],
      ["unknown status", mutate((o) => (o.status = "lost")), "validation", /"status" is "lost"/],
      [
        "event type not matching status",
        mutate((o) => (o.metadata.event_type = "order_paid")),
        "validation",
        /event_type/,
      ],
      [
        "bad email",
        mutate((o) => (o.customer_info.email = "nobody")),
        "validation",
        /email" is not a valid email/,
      ],
      [
        "missing customer name",
        mutate((o) => (o.customer_info.name = "  ")),
        "validation",
        /customer_info.name" is empty/,
      ],
      ["infinite number", '{"order_id": 1e999}', "schema", /must be a string/],
      [
        "bad timestamp",
        mutate((o) => (o.metadata.timestamp = "yesterday")),
        "validation",
        /RFC 3339/,
      ],
      [
        "timestamp of the right shape but no date",
        mutate((o) => (o.metadata.timestamp = "2026-13-01T00:00:00Z")),
        "validation",
        /RFC 3339/,
      ],
      [
        "name of white space beyond ASCII",
        mutate((o) => (o.customer_info.name = "\u00a0\u3000\ufeff")),
        "validation",
        /customer_info.name" is empty/,
      ],
    ];
    for (const [name, input, kind, message] of cases) {
      await t.step(name, () => {
        const result = parse(input);
        assert(!result.ok, "rejected");
        assertEquals(result.rejection.class, kind);
        assertMatch(result.rejection.message, message);
      });
    }
    await t.step("a bad timestamp is refused every time, however often it comes", () => {
      const bad = mutate((o) => (o.metadata.timestamp = "2026-02-30T25:00:00Z"));
      for (let i = 0; i < 3; i++) assert(!parse(bad).ok, `time ${i + 1}`);
      assert(parse(validOrder()).ok);
    });
    await t.step("oversize", () => {
      const result = parseOrder(new Uint8Array(MAX_BYTES + 1), { maxBytes: MAX_BYTES });
      assert(!result.ok);
      assertEquals(result.rejection.class, "oversize");
    });
    await t.step("tombstone (null value)", () => {
      const result = parseOrder(null, { maxBytes: MAX_BYTES });
      assert(!result.ok);
      assertEquals(result.rejection.class, "deserialization");
    });
    await t.step("invalid UTF-8", () => {
      const result = parseOrder(new Uint8Array([0x7b, 0xff, 0x7d]), { maxBytes: MAX_BYTES });
      assert(!result.ok);
      assertEquals(result.rejection.class, "deserialization");
    });
  },
});

Deno.test({
  name: "rejections never quote the customer's personal data",
  permissions: "none",
  fn() {
    const order = structuredClone(validOrder());
    order.customer_info.email = "jane.doe at example";
    const result = parse(order);
    assert(!result.ok);
    assert(!result.rejection.message.includes("jane.doe"));
  },
});

Deno.test({
  name: "lifecycle transitions: forward steps and cancellation before shipping only",
  permissions: "none",
  fn() {
    assert(isValidTransition(undefined, "shipped"), "an order first seen mid-life is not an error");
    assert(isValidTransition("created", "paid"));
    assert(isValidTransition("paid", "cancelled"));
    assert(isValidTransition("shipped", "delivered"));
    assert(!isValidTransition("cancelled", "shipped"));
    assert(!isValidTransition("shipped", "cancelled"));
    assert(!isValidTransition("delivered", "paid"));
    assert(!isValidTransition("created", "delivered"));
  },
});

Deno.test({
  name: "a value with U+FFFD in it is accepted, and bytes that are not UTF-8 are still refused",
  permissions: "none",
  fn() {
    const order = JSON.parse(
      new TextDecoder().decode(encodeOrder(createOrderGenerator({ seed: 5 }).next())),
    );
    order.shipping_address = "Rue \uFFFD 1";
    const ok = parseOrder(new TextEncoder().encode(JSON.stringify(order)), { maxBytes: 1e6 });
    assertEquals(ok.ok, true);
    const bytes = new TextEncoder().encode(JSON.stringify(order));
    const bad = new Uint8Array([...bytes.subarray(0, 20), 0xff, ...bytes.subarray(20)]);
    const refused = parseOrder(bad, { maxBytes: 1e6 });
    assertEquals(refused.ok, false);
    if (!refused.ok) assertEquals(refused.rejection.class, "deserialization");
  },
});

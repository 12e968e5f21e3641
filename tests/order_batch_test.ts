/**
 * Unit: batches of generated orders (values packed end to end, the fields the
 * producer needs beside them) and how a send is split so that no partition's
 * share passes the record-batch cap.
 */
import { assertEquals } from "./assert.ts";
import { orderValue, partitionRanges, takeOrders } from "../lib/order_batch.ts";
import { createOrderGenerator } from "../lib/order_generator.ts";
import { encodeOrder } from "../lib/order.ts";

Deno.test({
  name: "a batch packs each order's wire bytes and routing fields, in generation order",
  permissions: "none",
  fn() {
    const now = () => 1_700_000_000_000;
    const batch = takeOrders(createOrderGenerator({ seed: 7, now }), {
      count: 40,
      maxBytes: 1e9,
    });
    const expected = createOrderGenerator({ seed: 7, now });
    assertEquals(batch.refs.length, 40);
    batch.refs.forEach((ref, i) => {
      const order = expected.next();
      assertEquals(orderValue(batch, i), encodeOrder(order));
      assertEquals(ref, {
        order_id: order.order_id,
        sequence: order.sequence,
        status: order.status,
        event_type: order.metadata.event_type,
      });
    });
    assertEquals(batch.ends.at(-1), batch.bytes.byteLength);
  },
});

Deno.test({
  name: "a batch stops once its values reach the byte limit, and holds at least one order",
  permissions: "none",
  fn() {
    const generator = createOrderGenerator({ seed: 3 });
    const limited = takeOrders(generator, { count: 1_000, maxBytes: 10_000 });
    assertEquals(limited.bytes.byteLength >= 10_000, true);
    const withoutLast = limited.ends.at(-2)!;
    assertEquals(withoutLast < 10_000, true);
    assertEquals(takeOrders(generator, { count: 5, maxBytes: 1 }).refs.length, 1);
    assertEquals(takeOrders(generator, { count: 0, maxBytes: 1e6 }).refs.length, 0);
  },
});

Deno.test({
  name: "a send is split where a partition's share would pass the cap",
  permissions: "none",
  async fn(t) {
    const m = (partition: number, bytes: number) => ({ partition, bytes });
    const cases: Array<[string, ReturnType<typeof m>[], Array<[number, number]>]> = [
      ["empty", [], []],
      ["all fit", [m(0, 40), m(1, 60), m(0, 60), m(1, 40)], [[0, 4]]],
      ["partition 0 passes the cap", [m(0, 60), m(1, 90), m(0, 50), m(1, 5)], [[0, 2], [2, 4]]],
      ["one message larger than the cap", [m(0, 10), m(0, 500), m(0, 10)], [[0, 1], [1, 2], [
        2,
        3,
      ]]],
      ["exactly the cap fits", [m(2, 50), m(2, 50), m(2, 1)], [[0, 2], [2, 3]]],
    ];
    for (const [name, messages, ranges] of cases) {
      await t.step(name, () => assertEquals(partitionRanges(messages, 100), ranges));
    }
  },
});

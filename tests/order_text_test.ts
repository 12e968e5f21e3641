/**
 * Unit: the order text encoder writes JSON.stringify's text for every event,
 * reusing an order's shared part only while it is unchanged.
 */
import { assert, assertEquals } from "./assert.ts";
import { MAX_OPEN_ORDERS, OrderTextEncoder } from "../lib/order_text.ts";
import { createOrderGenerator } from "../lib/order_generator.ts";
import type { OrderEvent } from "../lib/order.ts";

Deno.test({
  name: "generated events are written as JSON.stringify writes them",
  permissions: "none",
  fn() {
    let clock = 1_700_000_000_000;
    const generator = createOrderGenerator({ seed: 99, now: () => (clock += 7) });
    const texts = new OrderTextEncoder();
    const orders = new Set<string>();
    for (let i = 0; i < 20_000; i++) {
      const order = generator.next();
      orders.add(order.order_id);
      assertEquals(texts.text(order), JSON.stringify(order), `event ${i}`);
    }
    assert(orders.size < 10_000, "orders had several events each");
  },
});

Deno.test({
  name: "an event of another shape, or a changed shared part, is stringified anew",
  permissions: "none",
  async fn(t) {
    const base = createOrderGenerator({ seed: 5, now: () => 1_700_000_000_000 }).next();
    const texts = new OrderTextEncoder();
    assertEquals(texts.text(base), JSON.stringify(base));
    const cases: Array<[string, OrderEvent]> = [
      ["another total for the same items", { ...base, total: base.total + 1 }],
      ["another customer object", { ...base, customer_info: { ...base.customer_info } }],
      ["no produced_at", (({ produced_at: _, ...rest }) => rest)(base) as OrderEvent],
      ["fields in another order", { produced_at: 1, ...base } as OrderEvent],
      ["a text that needs escaping", { ...base, order_id: 'a"b\\c\u2028' }],
    ];
    for (const [name, order] of cases) {
      await t.step(name, () => assertEquals(texts.text(order), JSON.stringify(order)));
    }
    await t.step("the first event again, after the others", () => {
      assertEquals(texts.text(base), JSON.stringify(base));
    });
  },
});

Deno.test({
  name: "an order's shared text is kept until its final event, and never past the bound",
  permissions: "none",
  fn() {
    const generator = createOrderGenerator({ seed: 7, now: () => 1_700_000_000_000 });
    const texts = new OrderTextEncoder();
    for (let i = 0; i < 20_000; i++) texts.text(generator.next());
    assertEquals(texts.keptOrders, generator.inProgress, "finished orders' texts are gone");
    // Events of orders that never finish: the oldest go past the bound.
    const base = createOrderGenerator({ seed: 8, now: () => 1_700_000_000_000 }).next();
    const open = new OrderTextEncoder();
    for (let i = 0; i < MAX_OPEN_ORDERS + 100; i++) {
      const order = { ...base, items: base.items.map((item) => ({ ...item })) };
      assertEquals(open.text(order), JSON.stringify(order));
    }
    assertEquals(open.keptOrders, MAX_OPEN_ORDERS);
  },
});

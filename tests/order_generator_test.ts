import { assert, assertEquals } from "./assert.ts";
import { faker as localeFaker } from "@faker-js/faker/locale/en_US";
import type { Faker } from "@faker-js/faker";
import { createOrderGenerator, uuidDrawer } from "../lib/order_generator.ts";
import {
  encodeOrder,
  FINAL_STATUSES,
  isValidTransition,
  type OrderStatus,
  parseOrder,
  toCents,
} from "../lib/order.ts";

const MAX_BYTES = 64 * 1024;

Deno.test({
  name: "generated orders always pass the tracker's validation",
  permissions: "none",
  fn() {
    const generator = createOrderGenerator({ seed: 7 });
    for (let i = 0; i < 5_000; i++) {
      const order = generator.next();
      const result = parseOrder(encodeOrder(order), { maxBytes: MAX_BYTES });
      assert(result.ok, result.ok ? "" : `event ${i}: ${result.rejection.message}`);
    }
  },
});

Deno.test({
  name: "generated money is cent-exact: items, sub-total and total add up with no rounding residue",
  permissions: "none",
  fn() {
    const generator = createOrderGenerator({ seed: 11 });
    for (let i = 0; i < 2_000; i++) {
      const order = generator.next();
      for (const value of [order.sub_total, order.tax, order.shipping_fee, order.total]) {
        assertEquals(toCents(value) / 100, value, `${value} has more than two decimals`);
      }
      let items = 0;
      for (const item of order.items) {
        assertEquals(toCents(item.total_price), toCents(item.unit_price) * item.quantity);
        items += toCents(item.total_price);
      }
      assertEquals(items, toCents(order.sub_total));
      assertEquals(
        toCents(order.sub_total) + toCents(order.tax) + toCents(order.shipping_fee),
        toCents(order.total),
      );
      assert(order.items.length >= 1 && order.items.length <= 5);
    }
  },
});

Deno.test({
  name: "the same seed and clock give the same events; another seed gives others",
  permissions: "none",
  fn() {
    const now = () => 1_700_000_000_000;
    const run = (seed: number) => {
      const generator = createOrderGenerator({ seed, now });
      return Array.from({ length: 200 }, () => JSON.stringify(generator.next()));
    };
    assertEquals(run(42), run(42));
    assert(run(42)[0] !== run(43)[0]);
  },
});

Deno.test({
  name: "each order's events follow its lifecycle, starting at created",
  permissions: "none",
  fn() {
    const generator = createOrderGenerator({ seed: 3 });
    const last = new Map<string, OrderStatus>();
    const finished = new Set<string>();
    const counts: Record<string, number> = {};
    let previousSequence = -1;
    for (let i = 0; i < 20_000; i++) {
      const order = generator.next();
      assert(order.sequence > previousSequence, "sequence increases");
      previousSequence = order.sequence;
      counts[order.status] = (counts[order.status] ?? 0) + 1;
      const previous = last.get(order.order_id);
      assert(!finished.has(order.order_id), `event after the end of ${order.order_id}`);
      if (previous === undefined) assertEquals(order.status, "created");
      else assert(isValidTransition(previous, order.status), `${previous} → ${order.status}`);
      last.set(order.order_id, order.status);
      if (FINAL_STATUSES.has(order.status)) finished.add(order.order_id);
    }
    for (const status of ["created", "paid", "shipped", "delivered", "cancelled"]) {
      assert((counts[status] ?? 0) > 0, `some ${status} events`);
    }
    assert(generator.inProgress <= 200, "orders in progress stay bounded");
  },
});

Deno.test({
  name: "uuidDrawer draws faker's own uuids, consuming the same random numbers",
  permissions: "none",
  fn() {
    const seeded = () => {
      const FakerClass = localeFaker.constructor as new (
        options: { locale: Faker["rawDefinitions"] },
      ) => Faker;
      const faker = new FakerClass({ locale: localeFaker.rawDefinitions });
      faker.seed(20_261_126);
      return faker;
    };
    const ours = seeded();
    const theirs = seeded();
    const uuid = uuidDrawer(ours);
    for (let i = 0; i < 5_000; i++) {
      assertEquals(uuid(), theirs.string.uuid(), `draw ${i}`);
      // Interleaved with other draws, as the generator makes them.
      assertEquals(ours.number.int({ min: 0, max: 999 }), theirs.number.int({ min: 0, max: 999 }));
    }
  },
});

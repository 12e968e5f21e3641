/**
 * Unit: the order source on its worker thread gives the very orders the
 * generator gives in this thread for the same seed (reproducible runs), with
 * and without batches asked for ahead, and refuses a take that does not fit
 * the batch already asked for. Needs read access to the worker's code.
 */
import { assertEquals, assertRejects } from "./assert.ts";
import { OrderSource } from "../lib/order_source.ts";
import { createOrderGenerator } from "../lib/order_generator.ts";
import { encodeOrder } from "../lib/order.ts";
import { orderValue } from "../lib/order_batch.ts";

const permissions = {
  read: [new URL("../lib", import.meta.url), new URL("../node_modules", import.meta.url)],
};

/** An order's bytes with its clock-dependent fields blanked (the worker has its own clock). */
function timeless(bytes: Uint8Array): unknown {
  const order = JSON.parse(new TextDecoder().decode(bytes));
  delete order.produced_at;
  delete order.metadata.timestamp;
  return order;
}

Deno.test({
  name: "the worker's orders for a seed are the generator's, with and without prefetch",
  permissions,
  async fn() {
    const source = new OrderSource({ seed: 42 });
    try {
      const expected = createOrderGenerator({ seed: 42 });
      const sizes = [
        { count: 10, prefetch: 0 },
        { count: 25, prefetch: 25 },
        { count: 25, prefetch: 7 },
        { count: 7, prefetch: 0 },
        { count: 3, prefetch: 0 },
      ];
      for (const { count, prefetch } of sizes) {
        const batch = await source.take({ count, maxBytes: 1e9, prefetch });
        assertEquals(batch.refs.length, count);
        for (let i = 0; i < count; i++) {
          assertEquals(timeless(orderValue(batch, i)), timeless(encodeOrder(expected.next())));
        }
      }
    } finally {
      source.close();
    }
  },
});

Deno.test({
  name: "a take smaller than the batch asked for ahead is refused; a closed source refuses all",
  permissions,
  async fn() {
    const source = new OrderSource({ seed: 1 });
    try {
      await source.take({ count: 5, maxBytes: 1e9, prefetch: 5 });
      await assertRejects(() => source.take({ count: 4, maxBytes: 1e9 }), RangeError);
    } finally {
      source.close();
    }
    await assertRejects(() => source.take({ count: 1, maxBytes: 1e9 }), /source is closed/);
  },
});

Deno.test({
  name: "on this thread, orders are stamped by the clock given (a set rate's due times)",
  permissions: "none",
  async fn() {
    let k = 0;
    const source = new OrderSource({ seed: 9, onWorker: false, clock: () => 1_000 + 200 * k++ });
    try {
      const batch = await source.take({ count: 3, maxBytes: 1e9 });
      const stamps = [0, 1, 2].map((i) =>
        JSON.parse(new TextDecoder().decode(orderValue(batch, i))).produced_at
      );
      assertEquals(stamps, [1_000, 1_200, 1_400]);
    } finally {
      source.close();
    }
  },
});

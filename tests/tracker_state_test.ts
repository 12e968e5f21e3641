import { assertEquals } from "./assert.ts";
import { TrackerState } from "../lib/tracker_state.ts";
import { auditedRecord, deadLetterRecord } from "../lib/audit_record.ts";
import type { OrderEvent, OrderStatus, ParseResult } from "../lib/order.ts";
import { EVENT_TYPES } from "../lib/order.ts";
import { createOrderGenerator } from "../lib/order_generator.ts";

const base = createOrderGenerator({ seed: 1, now: () => 0 }).next();
function event(orderId: string, status: OrderStatus): OrderEvent {
  return {
    ...structuredClone(base),
    order_id: orderId,
    status,
    metadata: { ...base.metadata, event_type: EVENT_TYPES[status] },
  };
}
/** An order as the parser accepts it. */
function accepted(order: OrderEvent): ParseResult {
  return { ok: true, order, received: { status: order.status, json: {}, text: null } };
}

const at = (offset: number, partition = 0) => ({
  topic: "orders",
  partition,
  offset,
  key: "k",
  keyed: true,
  size: 1,
});

Deno.test({
  name: "tracker state recognises redeliveries, duplicates and lifecycle breaks",
  permissions: "none",
  async fn(t) {
    const state = new TrackerState();
    const a = "a0000000-0000-4000-8000-000000000000";
    state.apply(auditedRecord(0, at(0), event(a, "created")));
    state.apply(auditedRecord(0, at(1), event(a, "cancelled")));
    await t.step("an offset already in the trail is a redelivery", () => {
      assertEquals(
        state.decide(at(1), accepted(event(a, "created"))).kind,
        "redelivered",
      );
      assertEquals(state.decide(at(1, 1), accepted(event(a, "paid"))).kind, "reject");
    });
    await t.step("the same order event at a new offset is a duplicate", () => {
      assertEquals(state.decide(at(2), accepted(event(a, "created"))).kind, "duplicate");
    });
    await t.step("an order first seen mid-life is accepted", () => {
      const b = "b0000000-0000-4000-8000-000000000000";
      assertEquals(state.decide(at(3), accepted(event(b, "shipped"))).kind, "audit");
    });
    await t.step("a rejected message's offset also counts as done", () => {
      state.apply(deadLetterRecord(0, at(9, 2), { class: "schema", message: "x" }));
      assertEquals(state.lastOffsets("orders").get(2), 9);
    });
  },
});

Deno.test({
  name: "tracker state forgets finished orders and stays within its limits",
  permissions: "none",
  fn() {
    const state = new TrackerState({ maxOpenOrders: 10, maxEventKeys: 50 });
    for (let i = 0; i < 100; i++) {
      const id = `${String(i).padStart(8, "0")}-0000-4000-8000-000000000000`;
      state.apply(auditedRecord(0, at(i * 2), event(id, "created")));
      if (i % 2 === 0) state.apply(auditedRecord(0, at(i * 2 + 1), event(id, "cancelled")));
    }
    assertEquals(state.openOrders, 10);
  },
});

Deno.test({
  name: "after losing a partition, an order's later events there count as first seen",
  permissions: "none",
  fn() {
    const state = new TrackerState();
    const id = "c0000000-0000-4000-8000-000000000000";
    state.apply(auditedRecord(0, at(0, 2), event(id, "created")));
    // Another member had partition 2 meanwhile and saw "paid" and "shipped".
    assertEquals(
      state.decide(at(5, 2), accepted(event(id, "delivered"))).kind,
      "reject",
    );
    state.keepPartitions(new Set([0, 1]));
    assertEquals(state.decide(at(5, 2), accepted(event(id, "delivered"))).kind, "audit");
    assertEquals(state.openOrders, 0);
  },
});

Deno.test({
  name: "a snapshot restores the same decisions, with entries in their age order",
  permissions: "none",
  fn() {
    const limits = { maxOpenOrders: 3, maxEventKeys: 5 };
    const state = new TrackerState(limits);
    const ids = Array.from({ length: 6 }, (_, i) => `${i}0000000-0000-4000-8000-000000000000`);
    ids.forEach((id, i) => state.apply(auditedRecord(0, at(i, i % 2), event(id, "created"))));
    state.apply(auditedRecord(0, at(6), event(ids[5]!, "paid")));
    const snapshot = state.snapshot();
    const copy = TrackerState.restore(JSON.parse(JSON.stringify(snapshot)), limits);
    assertEquals(copy.snapshot(), snapshot);
    assertEquals(snapshot.openOrders.map(([id]) => id), [ids[3], ids[4], ids[5]]);
    assertEquals(snapshot.eventKeys.length, 5);
    // One more order evicts the oldest in both.
    for (const s of [state, copy]) s.apply(auditedRecord(0, at(7), event(ids[0]!, "paid")));
    assertEquals(copy.snapshot(), state.snapshot());
    assertEquals(
      copy.decide(at(3, 1), accepted(event(ids[3]!, "created"))).kind,
      "redelivered",
    );
  },
});

Deno.test({
  name: "a new epoch forgets offsets but still knows audited events",
  permissions: "none",
  fn() {
    const state = new TrackerState();
    const id = "d0000000-0000-4000-8000-000000000000";
    state.apply(auditedRecord(0, at(40), event(id, "created")));
    state.resetOffsets();
    assertEquals(state.lastOffsets("orders").size, 0);
    assertEquals(state.decide(at(0), accepted(event(id, "created"))).kind, "duplicate");
  },
});

Deno.test({
  name: "without a key, a lifecycle step out of order is audited and flagged, not rejected",
  permissions: "none",
  fn() {
    const state = new TrackerState();
    const id = "e0000000-0000-4000-8000-000000000000";
    const keyless = (offset: number, partition: number) => ({
      ...at(offset, partition),
      keyed: false,
    });
    // delivered arrived on partition 1 before shipped on partition 2.
    state.apply(auditedRecord(0, at(0, 1), event(id, "delivered")));
    const late = state.decide(keyless(0, 2), accepted(event(id, "shipped")));
    assertEquals(late.kind === "audit" && late.outOfOrder, true);
    // With a key the same step is a rejection: all of the order's events share a partition.
    assertEquals(state.decide(at(1, 1), accepted(event(id, "shipped"))).kind, "reject");
    // An out-of-order step does not move the order back.
    state.apply(auditedRecord(0, keyless(0, 2), event(id, "shipped"), { outOfOrder: true }));
    assertEquals(state.openOrders, 0);
  },
});

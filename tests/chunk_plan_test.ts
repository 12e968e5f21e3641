/** Unit: what a chunk of consumed messages produces, without a broker. */
import { assert, assertEquals, assertMatch, assertThrows } from "./assert.ts";
import {
  beyondTrail,
  type Chunk,
  chunkBounds,
  type ChunkPlan,
  fetchedEnd,
  planChunk,
} from "../lib/chunk_plan.ts";
import { parseDeadLetterHeaders } from "../lib/dead_letter.ts";
import { encodeOrder, EVENT_TYPES, type OrderEvent, type OrderStatus } from "../lib/order.ts";
import { createOrderGenerator } from "../lib/order_generator.ts";
import { TrackerState } from "../lib/tracker_state.ts";
import { seededRandom } from "./random.ts";

const NOW = Date.UTC(2026, 10, 26, 12);
const encoder = new TextEncoder();
const options = { now: NOW, maxOrderBytes: 64 * 1024 };

function message(offset: number, value: Uint8Array | string | null, key: string | null = null) {
  return {
    offset,
    timestamp: NOW - 1_000 + offset,
    key: key === null ? null : encoder.encode(key),
    value: typeof value === "string" ? encoder.encode(value) : value,
    headers: { event_type: "x" },
  };
}

Deno.test({
  name: "a record's key is its message's key as text, whether or not it is the order's id",
  permissions: "none",
  fn() {
    const orders = createOrderGenerator({ seed: 4, now: () => NOW - 20 });
    const events = Array.from({ length: 5 }, () => orders.next());
    const keys = [
      events[0]!.order_id,
      events[1]!.order_id.toUpperCase(), // as long as the id, other bytes
      events[0]!.order_id, // another order's id
      "é".repeat(36), // as many characters as an id, more bytes
      "",
    ];
    const chunk = {
      topic: "orders",
      partition: 0,
      end: 5,
      messages: events.map((e, i) => message(i, encodeOrder(e), keys[i]!)),
    };
    const plan = written(planChunk(new TrackerState(), chunk, options));
    assertEquals(plan.records.map((r) => r.kafka_key), keys);
  },
});

/** The plan of a chunk that writes records (fails the test otherwise). */
function written(plan: ChunkPlan) {
  assert(plan.kind === "write", `a write plan, got ${JSON.stringify(plan)}`);
  return plan;
}

function withStatus(order: OrderEvent, status: OrderStatus): OrderEvent {
  return { ...order, status, metadata: { ...order.metadata, event_type: EVENT_TYPES[status] } };
}

Deno.test({
  name: "planChunk audits valid orders and dead-letters bad input, in offset order",
  permissions: "none",
  fn() {
    const orders = createOrderGenerator({ seed: 9, now: () => NOW - 20 });
    const first = orders.next();
    const chunk = {
      topic: "orders",
      partition: 1,
      end: 14,
      messages: [
        message(10, encodeOrder(first), first.order_id),
        message(11, "not json", "poison-1"),
        message(12, null),
        message(13, encodeOrder(orders.next())),
      ],
    };
    const plan = written(planChunk(new TrackerState(), chunk, options));
    assertEquals(plan.records.map((r) => [r.kafka_offset, r.outcome]), [
      [10, "audited"],
      [11, "dead_lettered"],
      [12, "dead_lettered"],
      [13, "audited"],
    ]);
    assertEquals(plan.records[0]!.latency_ms, 20);
    assertEquals(plan.records[0]!.kafka_key, first.order_id);
    assertEquals(plan.commitOffset, 14);
    assertEquals(plan.redelivered, 0);
    assertEquals(plan.deadLetters.length, 2);
    const letter = plan.deadLetters[0]!;
    assertEquals(new TextDecoder().decode(letter.value!), "not json");
    assertEquals(new TextDecoder().decode(letter.key!), "poison-1");
    assertEquals(letter.headers.event_type, "x", "the message's own headers travel on");
    const source = parseDeadLetterHeaders(letter.headers);
    assert(source.ok);
    assertEquals(
      [
        source.source.topic,
        source.source.partition,
        source.source.offset,
        source.source.errorClass,
      ],
      ["orders", 1, 11, "deserialization"],
    );
    assertMatch(source.source.error, /not UTF-8 JSON/);
  },
});

Deno.test({
  name: "planChunk writes nothing for offsets already in the trail, and still commits past them",
  permissions: "none",
  fn() {
    const state = new TrackerState();
    const orders = createOrderGenerator({ seed: 10, now: () => NOW });
    const values = [0, 1, 2].map(() => encodeOrder(orders.next()));
    const chunk = (from: number, to = values.length) => ({
      topic: "orders",
      partition: 0,
      end: 3,
      messages: values.slice(from, to).map((v, i) => message(from + i, v)),
    });
    assertEquals(written(planChunk(state, chunk(0), options)).records.length, 3);
    const again = written(planChunk(state, chunk(1), options));
    assertEquals([again.records.length, again.redelivered, again.commitOffset], [0, 2, 3]);
    // A replay that has not reached the last audited offset yet is not committed:
    // until that offset's message matches, what was skipped is not confirmed.
    const partial = written(planChunk(state, chunk(0, 2), options));
    assertEquals([partial.redelivered, partial.commitOffset], [2, null]);
    assertEquals(written(planChunk(state, chunk(2), options)).commitOffset, 3);
  },
});

Deno.test({
  name: "later messages of a chunk see earlier ones: duplicates and lifecycle breaks",
  permissions: "none",
  fn() {
    const order = createOrderGenerator({ seed: 11, now: () => NOW }).next();
    const events = [order, order, withStatus(order, "cancelled"), withStatus(order, "paid")];
    const chunk = (key: string | null) => ({
      topic: "orders",
      partition: 0,
      end: 4,
      messages: events.map((e, offset) => message(offset, encodeOrder(e), key)),
    });
    // Keyed by the order id: every event of the order on this partition, in order.
    const keyed = written(planChunk(new TrackerState(), chunk(order.order_id), options));
    assertEquals(keyed.records.map((r) => r.outcome), [
      "audited",
      "duplicate",
      "audited",
      "dead_lettered",
    ]);
    assertMatch(keyed.records[3]!.error!, /cannot follow "cancelled"/);
    // Without a key the order's events may be on several partitions: arrival order
    // is no violation, the late step is audited and flagged.
    const keyless = written(planChunk(new TrackerState(), chunk(null), options));
    assertEquals(keyless.records.map((r) => [r.outcome, r.out_of_order ?? false]), [
      ["audited", false],
      ["duplicate", false],
      ["audited", false],
      ["audited", true],
    ]);
  },
});

Deno.test({
  name: "an empty chunk is a programming error",
  permissions: "none",
  fn() {
    assertThrows(
      () =>
        planChunk(
          new TrackerState(),
          { topic: "t", partition: 0, end: 0, messages: [] },
          options,
        ),
      RangeError,
    );
  },
});

Deno.test({
  name: "offsets that went back under the trail are found, not skipped as redeliveries",
  permissions: "none",
  async fn(t) {
    const orders = createOrderGenerator({ seed: 12, now: () => NOW });
    /** A chunk of partition 0 with new orders at `offsets`, fetched with `highWatermark`. */
    const fetched = (offsets: number[], highWatermark: number): Chunk => ({
      topic: "orders",
      partition: 0,
      end: fetchedEnd({ highWatermark, lastOffset: offsets.at(-1) }),
      messages: offsets.map((offset) => message(offset, encodeOrder(orders.next()))),
    });
    const audited = () => {
      const state = new TrackerState();
      written(planChunk(state, fetched([0, 1, 2], 3), options));
      return state;
    };
    await t.step(
      "the partition now ends before the last audited offset (a smaller recreated topic)",
      () => {
        const plan = planChunk(audited(), fetched([0, 1], 2), options);
        assert(plan.kind === "offsets-went-back" && !plan.definite);
        assertMatch(plan.reason, /ends at offset 2, but the trail has audited it up to offset 2/);
      },
    );
    await t.step(
      "not when the batch's records reach past a high watermark read before them",
      () => {
        const plan = planChunk(audited(), fetched([3, 4, 5], 1), options);
        assert(plan.kind === "write", JSON.stringify(plan));
        assertEquals([plan.records.length, plan.redelivered, plan.commitOffset], [3, 0, 6]);
      },
    );
    await t.step(
      "another message at the last audited offset (a recreated topic that grew past it)",
      () => {
        const newer = [0, 1, 2, 3].map((offset) => ({
          ...message(offset, encodeOrder(orders.next())),
          timestamp: NOW + 60_000 + offset,
        }));
        const plan = planChunk(
          audited(),
          { topic: "orders", partition: 0, end: 4, messages: newer },
          options,
        );
        assert(plan.kind === "offsets-went-back" && plan.definite);
        assertMatch(plan.reason, /offset 2 of partition 0 holds another message/);
      },
    );
  },
});

Deno.test({
  name: "a batch is cut into chunks by message count and by bytes, in order",
  permissions: "none",
  async fn(t) {
    const cases: Array<
      [string, number[], { maxMessages: number; maxBytes: number }, Array<[number, number]>]
    > = [
      ["empty", [], { maxMessages: 3, maxBytes: 100 }, []],
      ["one chunk", [10, 10, 10], { maxMessages: 3, maxBytes: 100 }, [[0, 3]]],
      ["by count", [1, 1, 1, 1, 1, 1, 1], { maxMessages: 3, maxBytes: 100 }, [[0, 3], [3, 6], [
        6,
        7,
      ]]],
      ["by bytes", [40, 40, 40, 10], { maxMessages: 10, maxBytes: 100 }, [[0, 2], [2, 4]]],
      ["a message over the limit alone", [10, 500, 10], { maxMessages: 10, maxBytes: 100 }, [
        [0, 1],
        [1, 2],
        [2, 3],
      ]],
    ];
    for (const [name, sizes, limits, expected] of cases) {
      await t.step(name, () => assertEquals(chunkBounds(sizes, limits), expected));
    }
  },
});

Deno.test({
  name: "a batch beyond the trail (beyondTrail) is never planned as offsets that went back",
  permissions: "none",
  fn() {
    const random = seededRandom(33);
    const pick = <T>(xs: readonly T[]) => xs[Math.floor(random() * xs.length)]!;
    const orders = createOrderGenerator({ seed: 33, now: () => NOW });
    const sent: OrderEvent[] = [];
    // A value: a new event, one sent before (a duplicate), another step of a
    // sent order (maybe a break of its lifecycle), or bad input.
    const value = (): Uint8Array | string | null => {
      const roll = random();
      if (roll < 0.1 || sent.length === 0) return pick(["not json", "{}", null]);
      if (roll < 0.3) return encodeOrder(pick(sent));
      if (roll < 0.45) return encodeOrder(withStatus(pick(sent), pick(["paid", "cancelled"])));
      const order = orders.next();
      sent.push(order);
      return encodeOrder(order);
    };
    let plans = 0;
    for (let round = 0; round < 40; round++) {
      const state = new TrackerState();
      const next = [0, 0];
      const batch = (partition: number, from: number, length: number) => {
        const messages = Array.from({ length }, (_, i) => {
          const v = value();
          const key = typeof v === "object" && v !== null && random() < 0.7
            ? JSON.parse(new TextDecoder().decode(v)).order_id
            : null;
          // Sometimes the same time as an earlier offset's message.
          return { ...message(from + i, v, key), timestamp: NOW + Math.floor(random() * 50) };
        });
        // Mostly past the batch; sometimes below its records, as a fetch's
        // high watermark, read before them, can be (seconds old after a
        // broker's unclean restart).
        const highWatermark = random() < 0.3
          ? Math.floor(random() * (from + length))
          : from + length + Math.floor(random() * 10);
        const end = fetchedEnd({ highWatermark, lastOffset: from + length - 1 });
        return { topic: "orders", partition, end, messages };
      };
      for (let step = 0; step < 12; step++) {
        const partition = random() < 0.5 ? 0 : 1;
        const first = next[partition]! + (random() < 0.3 ? Math.floor(random() * 5) : 0);
        const chunk = batch(partition, first, 1 + Math.floor(random() * 20));
        // Past the last audited offset of its partition, with or without a gap.
        assert(beyondTrail(state, { ...chunk, firstOffset: first }));
        const plan = planChunk(state, chunk, options);
        plans++;
        assert(plan.kind === "write", `beyond the trail, planned as ${JSON.stringify(plan)}`);
        next[partition] = chunk.messages.at(-1)!.offset + 1;
      }
      // Not beyond: a batch from the last audited offset on (a redelivery).
      const last = state.lastOffset("orders", 0);
      if (last !== undefined) {
        assert(!beyondTrail(state, { topic: "orders", partition: 0, firstOffset: last }));
      }
    }
    assertEquals(plans, 480);
  },
});

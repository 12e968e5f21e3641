/** Unit: the audited events index — lookups by order id, age order, capacity, checkpoint keys. */
import { assert, assertEquals, assertThrows } from "./assert.ts";
import { EventIndex, EventKeys, KEY_BLOCK_EVENTS, STATUS_BITS } from "../lib/event_index.ts";

const { created, paid, delivered } = STATUS_BITS;

Deno.test({
  name: "an event index gives each order's audited statuses as bits, and lists them as keys",
  permissions: "none",
  fn() {
    const index = new EventIndex(10);
    assertEquals(index.flags("o-1"), 0);
    index.add("o-1", created);
    index.add("o-2", created);
    index.add("o-1", paid);
    index.add("o-1", paid); // already there: nothing changes
    assertEquals(index.flags("o-1"), created | paid);
    assertEquals(index.flags("o-2"), created);
    assertEquals(index.size, 3);
    assertEquals(index.keys(), ["o-1/created", "o-2/created", "o-1/paid"]);
  },
});

Deno.test({
  name: "an event index forgets its oldest events first and rebuilds from keys in the same order",
  permissions: "none",
  fn() {
    const index = new EventIndex(3);
    for (
      const [id, bit] of [["a", created], ["b", created], ["a", paid], ["c", created]] as const
    ) {
      index.add(id, bit);
    }
    // a/created went first; a keeps its later event.
    assertEquals(index.keys(), ["b/created", "a/paid", "c/created"]);
    assertEquals([index.flags("a"), index.size], [paid, 3]);
    index.add("a", delivered);
    index.add("d", created);
    assertEquals(index.keys(), ["c/created", "a/delivered", "d/created"]);
    assertEquals(index.flags("b"), 0, "an order with no event left is gone");
    const copy = EventIndex.from(["x/created", "y/nonsense", ...index.keys()], 3);
    assertEquals(copy.keys(), ["c/created", "a/delivered", "d/created"], "the oldest are left out");
    // Keys with a slash in the order id, and no lifecycle state: only the first is an event.
    const odd = EventIndex.from(
      ["a/b/paid", "plain", "c/unknown", "d/constructor", 7 as unknown as string],
      5,
    );
    assertEquals(odd.keys(), ["a/b/paid"]);
    assertEquals(odd.flags("a/b"), paid);
  },
});

Deno.test({
  name: "an event index costs the same per event after a million forgotten",
  permissions: "none",
  fn() {
    const index = new EventIndex(1_000);
    const time = (from: number) => {
      const started = performance.now();
      for (let i = from; i < from + 100_000; i++) index.add(`order-${i}`, created);
      return performance.now() - started;
    };
    const first = time(0);
    for (let i = 1; i <= 10; i++) time(i * 100_000);
    // The better of two: one slice may meet a collection or the machine's other work.
    const last = Math.min(time(1_100_000), time(1_200_000));
    assertEquals(index.size, 1_000);
    assert(last < first * 5 + 100, `first ${first.toFixed(0)} ms, last ${last.toFixed(0)} ms`);
  },
});

Deno.test({
  name: "an index's snapshot is a copy whose keys are made by range, and lists them all as JSON",
  permissions: "none",
  fn() {
    const index = new EventIndex(4);
    for (const [id, bit] of [["a", created], ["b", created], ["a", paid]] as const) {
      index.add(id, bit);
    }
    const snapshot = index.snapshot();
    index.add("c", created);
    index.add("d", created); // a/created is forgotten by the index, not by the snapshot.
    assertEquals(snapshot.length, 3);
    assertEquals(snapshot.slice(0, 3), ["a/created", "b/created", "a/paid"]);
    assertEquals(snapshot.slice(1, 2), ["b/created"]);
    assertEquals(snapshot.slice(2, 99), ["a/paid"], "a range past the end stops at the end");
    assertEquals(snapshot.slice(3, 3), []);
    assertEquals(JSON.parse(JSON.stringify({ keys: snapshot })), {
      keys: ["a/created", "b/created", "a/paid"],
    });
    assertEquals(index.snapshot().slice(0, 4), index.keys());
    assertEquals(
      EventIndex.from(snapshot, 4).keys(),
      ["a/created", "b/created", "a/paid"],
      "an index rebuilds from a snapshot as from its keys",
    );
    assertThrows(() => new EventKeys(["a"], []), RangeError);
  },
});

Deno.test({
  name:
    "a snapshot's encoded blocks are its keys, and a whole block is encoded once in its index's life",
  permissions: "none",
  fn() {
    const B = KEY_BLOCK_EVENTS;
    const index = new EventIndex(3 * B);
    let next = 0;
    const addEvents = (n: number) => {
      for (const end = next + n; next < end; next++) index.add(`o-${next}`, created);
    };
    const encoded: string[][] = [];
    const encode = (keys: string[]) => {
      encoded.push(keys);
      return new TextEncoder().encode(keys.map((k) => `${k}\n`).join(""));
    };
    const text = (blocks: Iterable<Uint8Array>) =>
      [...blocks].map((b) => new TextDecoder().decode(b)).join("");
    const expected = (snapshot: EventKeys) =>
      snapshot.slice(0, snapshot.length).map((k) => `${k}\n`).join("");

    assertEquals(text(index.snapshot().encodedBlocks(encode)), "", "no events, no blocks");
    addEvents(B + 10);
    const first = index.snapshot();
    const firstBlocks = [...first.encodedBlocks(encode)];
    assertEquals(text(firstBlocks), expected(first));
    assertEquals(encoded.map((keys) => keys.length), [B, 10]);

    // Later: the whole block is not encoded again; the partial one is, with what followed.
    encoded.length = 0;
    addEvents(B);
    const second = index.snapshot();
    const secondBlocks = [...second.encodedBlocks(encode)];
    assertEquals(text(secondBlocks), expected(second));
    assertEquals(encoded.map((keys) => keys.length), [B, 10], "block 1 now, and the last 10");
    assert(secondBlocks[0] === firstBlocks[0], "block 0's bytes are reused");

    // Past the capacity the oldest are forgotten: the first block is partial and encoded anew,
    // the others are reused, and the snapshot still lists exactly what the index remembers.
    encoded.length = 0;
    addEvents(B + 7);
    const third = index.snapshot();
    assertEquals(third.length, 3 * B);
    const thirdBlocks = [...third.encodedBlocks(encode)];
    assertEquals(text(thirdBlocks), expected(third));
    assertEquals(third.slice(0, 1), [`o-${next - 3 * B}/created`]);
    assertEquals(encoded.map((keys) => keys.length), [B - (next - 3 * B), B, 17]);
    assert(thirdBlocks[1] === secondBlocks[1], "block 1's bytes are reused");

    // Another encoder starts afresh: nothing of the first one's bytes is mixed in.
    const other = (keys: string[]) => new TextEncoder().encode(keys.join(";") + ";");
    const fourth = index.snapshot();
    assertEquals(
      text(fourth.encodedBlocks(other)),
      fourth.slice(0, fourth.length).map((k) => `${k};`).join(""),
    );
    // A snapshot keeps its events while the index goes on.
    const kept = expected(fourth);
    addEvents(2 * B);
    assertEquals(text(fourth.encodedBlocks(other)), kept.replaceAll("\n", ";"));
  },
});

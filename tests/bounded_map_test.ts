/** Unit: the bounded map — eviction order, refresh on set, and cost that does not grow with age. */
import { assert, assertEquals, assertThrows } from "./assert.ts";
import { BoundedMap } from "../lib/bounded_map.ts";

Deno.test({
  name: "past its capacity the map evicts the entry set longest ago",
  permissions: "none",
  fn() {
    const map = new BoundedMap<string, number>(3);
    map.set("a", 1);
    map.set("b", 2);
    map.set("c", 3);
    map.set("a", 10); // a is now the newest
    map.set("d", 4); // evicts b
    assertEquals([...map.entries()], [["c", 3], ["a", 10], ["d", 4]]);
    assertEquals(map.has("b"), false);
    map.delete("c");
    map.set("e", 5);
    assertEquals([...map.entries()], [["a", 10], ["d", 4], ["e", 5]]);
    map.deleteWhere((value) => value > 4);
    assertEquals([...map.entries()], [["d", 4]]);
    assertThrows(() => new BoundedMap(0), RangeError);
  },
});

Deno.test({
  name: "refreshing a few keys forever keeps memory and order right",
  permissions: "none",
  fn() {
    const map = new BoundedMap<number, number>(100);
    for (let i = 0; i < 200_000; i++) map.set(i % 50, i);
    assertEquals(map.size, 50);
    assertEquals([...map.entries()].map(([k]) => k), Array.from({ length: 50 }, (_, i) => i));
  },
});

Deno.test({
  name: "updates at the cap cost the same after a million evictions as at the start",
  permissions: "none",
  fn() {
    const capacity = 100_000;
    const map = new BoundedMap<string, number>(capacity);
    const slice = (from: number) => {
      const started = performance.now();
      for (let i = from; i < from + 100_000; i++) map.set(`order-${i}/created`, i);
      return performance.now() - started;
    };
    slice(0); // fill to the cap
    const first = Math.min(slice(100_000), slice(200_000));
    for (let from = 300_000; from < 1_100_000; from += 100_000) slice(from);
    const last = Math.min(slice(1_100_000), slice(1_200_000));
    assertEquals(map.size, capacity);
    // Generous: timing on a shared machine. The Map it replaces went from 50 ms to 2.9 s.
    assert(
      last < first * 5 + 100,
      `first ${first.toFixed(0)} ms, after 1M evictions ${last.toFixed(0)} ms`,
    );
  },
});

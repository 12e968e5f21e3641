/** Unit: the range set behind the delivery checker's constant memory. */
import { assertEquals } from "./assert.ts";
import { RangeSet } from "../lib/range_set.ts";

function naive(members: Iterable<number>) {
  return new Set(members);
}

Deno.test({
  name: "a range set holds what was added, merges neighbours and reports duplicates",
  permissions: "none",
  fn() {
    const set = new RangeSet();
    for (const n of [5, 6, 7, 1, 3, 2, 10]) assertEquals(set.add(n), true);
    assertEquals(set.add(6), false);
    assertEquals(set.ranges(), [[1, 3], [5, 7], [10, 10]]);
    assertEquals(set.size, 7);
    set.add(4);
    assertEquals(set.ranges(), [[1, 7], [10, 10]]);
    assertEquals([set.first, set.last], [1, 10]);
    assertEquals(set.gaps(0), [[0, 0], [8, 9]]);
    assertEquals(set.has(9), false);
  },
});

Deno.test({
  name: "a range set agrees with a plain set on random inserts, gaps and differences",
  permissions: "none",
  fn() {
    let seed = 7;
    const random = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    for (let round = 0; round < 50; round++) {
      const a = new RangeSet();
      const b = new RangeSet();
      const plainA = naive([]);
      const plainB = naive([]);
      for (let i = 0; i < 300; i++) {
        const x = random(400);
        assertEquals(a.add(x), !plainA.has(x));
        plainA.add(x);
        const y = random(400);
        b.add(y);
        plainB.add(y);
      }
      assertEquals(a.size, plainA.size);
      for (let x = 0; x < 400; x++) assertEquals(a.has(x), plainA.has(x));
      const missing = [...plainA].filter((x) => !plainB.has(x)).sort((p, q) => p - q);
      assertEquals(a.minus(b, { limit: 5 }), { count: missing.length, first: missing.slice(0, 5) });
      const holes: number[] = [];
      for (const [s, e] of a.gaps(0)) for (let x = s; x <= e; x++) holes.push(x);
      assertEquals(
        holes,
        Array.from({ length: a.last! + 1 }, (_, x) => x).filter((x) => !plainA.has(x)),
      );
    }
  },
});

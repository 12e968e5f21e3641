/**
 * Unit: group commit (coalescer.ts) — one flush at a time, what is submitted
 * meanwhile goes together into the next, failures reach every item of their
 * flush, and a sticky failure every item after it.
 */
import { assertEquals, assertRejects } from "./assert.ts";
import { Coalescer } from "../lib/coalescer.ts";

/** A flush that records its groups and finishes when the test says so. */
function heldFlush() {
  const groups: number[][] = [];
  const pending: Array<PromiseWithResolvers<void>> = [];
  const flush = (items: number[]) => {
    groups.push(items);
    const done = Promise.withResolvers<void>();
    pending.push(done);
    return done.promise;
  };
  return { groups, pending, flush };
}

Deno.test("items submitted during a flush go together, in order, into the next one", async () => {
  const { groups, pending, flush } = heldFlush();
  const coalescer = new Coalescer(flush, { sticky: false });
  const first = coalescer.submit(1);
  const later = [2, 3, 4].map((n) => coalescer.submit(n));
  assertEquals(groups, [[1]], "one flush at a time");
  assertEquals(coalescer.busy, true);
  pending[0]!.resolve();
  await first;
  await new Promise((resolve) => setTimeout(resolve, 0));
  assertEquals(groups, [[1], [2, 3, 4]]);
  pending[1]!.resolve();
  await Promise.all(later);
  assertEquals(coalescer.busy, false);
  const alone = coalescer.submit(5);
  assertEquals(groups.at(-1), [5], "idle: flushed at once");
  pending[2]!.resolve();
  await alone;
});

Deno.test("a failed flush rejects each of its items; without stickiness the next flush runs", async () => {
  const { groups, pending, flush } = heldFlush();
  const coalescer = new Coalescer(flush, { sticky: false });
  const first = coalescer.submit(1);
  const [second, third] = [2, 3].map((n) => coalescer.submit(n));
  pending[0]!.resolve();
  await first;
  await new Promise((resolve) => setTimeout(resolve, 0));
  pending[1]!.reject(new Error("commit refused"));
  await assertRejects(second!, /commit refused/);
  await assertRejects(third!, /commit refused/);
  const fourth = coalescer.submit(4);
  assertEquals(groups, [[1], [2, 3], [4]]);
  pending[2]!.resolve();
  await fourth;
});

Deno.test("after a sticky failure nothing more is flushed and every later item fails with it", async () => {
  const { groups, pending, flush } = heldFlush();
  const coalescer = new Coalescer(flush, { sticky: true });
  const first = coalescer.submit(1);
  const queued = coalescer.submit(2);
  pending[0]!.reject(new Error("disk full"));
  await assertRejects(first, /disk full/);
  await assertRejects(queued, /disk full/);
  await assertRejects(coalescer.submit(3), /disk full/);
  assertEquals(groups, [[1]], "the queued item and the later one were never flushed");
});

Deno.test("while more items are on their way, the first flush waits for the next turn and takes them all", async () => {
  const { groups, pending, flush } = heldFlush();
  let coming = 3;
  let asked = 0;
  const coalescer = new Coalescer(flush, {
    sticky: false,
    gather: () => {
      asked++;
      return coming > 0;
    },
  });
  const submitted = [1, 2, 3].map((n) => {
    coming--;
    return coalescer.submit(n);
  });
  assertEquals(groups, [], "nothing flushed in the turn the items arrive");
  assertEquals(coalescer.busy, true);
  await new Promise((resolve) => setTimeout(resolve, 0));
  assertEquals(groups, [[1, 2, 3]]);
  assertEquals(asked, 1, "asked once, by the first item");
  pending[0]!.resolve();
  await Promise.all(submitted);
  const alone = coalescer.submit(4);
  assertEquals(groups.at(-1), [4], "nothing more coming: flushed at once");
  pending[1]!.resolve();
  await alone;
});

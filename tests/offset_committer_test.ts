/**
 * Unit: the tracker's offset commits off the fetch path (offset_committer.ts)
 * — offsets handed over together go in one commit, the newest per partition;
 * one commit at a time, spaced by the interval; a join forgets what is
 * pending and drops offsets of older generations; a failed commit keeps its
 * offsets for the next one or the final flush. And which consumer crashes the
 * tracker starts the consumer again after (kafka.ts `transientCrash`).
 */
import { assert, assertEquals, assertRejects } from "./assert.ts";
import { type CommitOffset, OffsetCommitter } from "../lib/offset_committer.ts";
import { transientCrash } from "../lib/kafka.ts";

/** A commit that records its offsets and finishes when the test says so. */
function heldCommit() {
  const commits: Array<Array<[number, number]>> = [];
  const pending: Array<PromiseWithResolvers<void>> = [];
  const commit = (offsets: CommitOffset[]) => {
    commits.push(offsets.map((o) => [o.partition, o.offset]));
    const done = Promise.withResolvers<void>();
    pending.push(done);
    return done.promise;
  };
  return { commits, pending, commit };
}

/** Long enough for a scheduled commit (a timer) and its answer's handling. */
const turn = () => new Promise((resolve) => setTimeout(resolve, 5));
const at = (partition: number, offset: number): CommitOffset => ({
  topic: "orders",
  partition,
  offset,
});

Deno.test("offsets handed over in one turn go in one commit, the newest per partition", async () => {
  const { commits, pending, commit } = heldCommit();
  const committer = new OffsetCommitter(commit, { onError: () => {} });
  const g = committer.generation;
  committer.submit(at(0, 10), g);
  committer.submit(at(1, 5), g);
  committer.submit(at(0, 12), g);
  committer.submit(at(0, 11), g); // Handed over late: never moves an offset back.
  assertEquals(commits, [], "not at once: others of this turn join");
  await turn();
  assertEquals(commits, [[[0, 12], [1, 5]]]);
  committer.submit(at(1, 7), g);
  committer.submit(at(2, 3), g);
  await turn();
  assertEquals(commits.length, 1, "one commit at a time");
  pending[0]!.resolve();
  await turn();
  assertEquals(commits[1], [[1, 7], [2, 3]], "what came meanwhile, together");
  pending[1]!.resolve();
  await turn();
  assertEquals(committer.pending, []);
  assertEquals(committer.running, false);
});

Deno.test("commits are spaced by the interval; a flush does not wait for it", async () => {
  const times: number[] = [];
  const committer = new OffsetCommitter((_offsets) => {
    times.push(performance.now());
    return Promise.resolve();
  }, { onError: () => {}, intervalMs: 300 });
  const g = committer.generation;
  committer.submit(at(0, 1), g);
  await turn();
  committer.submit(at(0, 2), g);
  await turn();
  assertEquals(times.length, 1, "the second waits for the interval");
  await new Promise((resolve) => setTimeout(resolve, 400));
  assertEquals(times.length, 2);
  assert(times[1]! - times[0]! >= 290, `spaced: ${times[1]! - times[0]!} ms`);
  committer.submit(at(0, 3), g);
  await committer.flush();
  assertEquals(times.length, 3, "the flush committed at once");
  await new Promise((resolve) => setTimeout(resolve, 400));
  assertEquals(times.length, 3, "what the flush took is not committed again");
  committer.close();
});

Deno.test("a join forgets pending offsets and drops those of the generation before", async () => {
  const { commits, pending, commit } = heldCommit();
  const committer = new OffsetCommitter(commit, { onError: () => {} });
  const old = committer.generation;
  committer.submit(at(0, 10), old);
  await turn();
  committer.submit(at(0, 20), old); // Waits behind the running commit.
  committer.newGeneration();
  assertEquals(committer.pending, [], "forgotten at the join");
  committer.submit(at(0, 30), old); // A batch of before the join, synced after it.
  assertEquals(committer.pending, [], "an older generation's offset is dropped");
  // The commit sent before the join fails (the member's generation is gone):
  // its offsets are not kept for the new generation.
  pending[0]!.reject(
    Object.assign(new Error("The generation is gone"), { type: "ILLEGAL_GENERATION" }),
  );
  await turn();
  assertEquals(committer.pending, []);
  committer.submit(at(0, 5), committer.generation);
  await turn();
  assertEquals(commits.at(-1), [[0, 5]], "the new generation's offsets are committed");
  pending.at(-1)!.resolve();
  await turn();
  assertEquals(commits.length, 2, "nothing of the old generation was sent");
});

Deno.test("a failed commit keeps its offsets: tried again after the retry time, with newer ones, and at the flush", async () => {
  const { commits, pending, commit } = heldCommit();
  const errors: unknown[] = [];
  const committer = new OffsetCommitter(commit, {
    onError: (e) => errors.push(e),
    retryMs: 200,
  });
  const g = committer.generation;
  committer.submit(at(0, 10), g);
  committer.submit(at(1, 4), g);
  await turn();
  pending[0]!.reject(new Error("Broker away"));
  await turn();
  assertEquals(errors.length, 1, "told once");
  assertEquals(commits.length, 1, "not tried again at once");
  assertEquals(committer.pending.map((o) => [o.partition, o.offset]), [[0, 10], [1, 4]]);
  committer.submit(at(1, 6), g); // Joins the kept ones; waits for the retry time too.
  await turn();
  assertEquals(commits.length, 1);
  await new Promise((resolve) => setTimeout(resolve, 250));
  assertEquals(commits[1], [[0, 10], [1, 6]], "the retry carries the kept offsets and the newer");
  pending[1]!.reject(new Error("Broker still away"));
  await turn();
  const flushed = committer.flush();
  flushed.catch(() => {}); // Awaited below.
  await turn();
  assertEquals(commits[2], [[0, 10], [1, 6]], "the flush commits what is kept, at once");
  pending[2]!.reject(new Error("Broker gone"));
  await assertRejects(() => flushed, /Broker gone/);
  assertEquals(committer.pending.length, 2, "still kept after a failed flush");
  const again = committer.flush();
  await turn();
  pending[3]!.resolve();
  await again;
  assertEquals(committer.pending, []);
  committer.close();
  committer.submit(at(0, 11), g);
  await new Promise((resolve) => setTimeout(resolve, 250));
  assertEquals(commits.length, 4, "nothing after close");
});

Deno.test("offsets handed over while a flush commits are committed after it", async () => {
  const { commits, pending, commit } = heldCommit();
  const committer = new OffsetCommitter(commit, { onError: () => {} });
  const g = committer.generation;
  committer.submit(at(0, 1), g);
  const flushed = committer.flush();
  await turn();
  assertEquals(commits, [[[0, 1]]]);
  committer.submit(at(0, 2), g); // During the flush's commit: one commit at a time.
  await turn();
  assertEquals(commits.length, 1);
  pending[0]!.resolve();
  await flushed;
  await turn();
  assertEquals(commits[1], [[0, 2]], "not stranded");
  pending[1]!.resolve();
  await turn();
  assertEquals(committer.pending, []);
});

Deno.test("transientCrash: the crashes a cluster coming back cures, found among the causes", () => {
  const named = (name: string, cause?: unknown) =>
    Object.assign(new Error(name), { name }, cause === undefined ? {} : { cause });
  assert(transientCrash(named("KafkaJSGroupCoordinatorNotFound")));
  assert(transientCrash(named("KafkaJSLockTimeout")));
  assert(transientCrash(named("KafkaJSError", named("KafkaJSGroupCoordinatorNotFound"))));
  assert(!transientCrash(named("KafkaJSSASLAuthenticationError")), "a bad password is not cured");
  assert(!transientCrash(named("KafkaJSNonRetriableError")));
  assert(!transientCrash(new Error("plain")));
  assert(!transientCrash(undefined));
});

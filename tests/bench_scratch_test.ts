/**
 * Unit: a benchmark's claim on what it makes: its file format, and its lock,
 * which tells a live run's claim from what a killed run left.
 */
import { join } from "node:path";
import { assert, assertEquals, assertRejects } from "./assert.ts";
import {
  claimScratch,
  encodeClaim,
  parseClaim,
  sameBrokers,
  type ScratchClaim,
} from "../tasks/_bench_scratch.ts";

const CLAIM: ScratchClaim = {
  brokers: ["127.0.0.1:9092"],
  topics: ["bench-tracker-1a2b3c4d", "bench-tracker-1a2b3c4d-dlq"],
  groups: ["bench-tracker-1a2b3c4d"],
  dirs: [".state/bench/tracker-1a2b3c4d"],
};

Deno.test({
  name: "a claim reads back as written, and anything else is refused with the reason",
  permissions: "none",
  fn() {
    const text = encodeClaim(CLAIM);
    assert(text.endsWith("\n") && !text.slice(0, -1).includes("\n"), "one line");
    assertEquals(parseClaim(text), { ok: true, claim: CLAIM });
    const record = JSON.parse(text);
    for (
      const [why, bad, error] of [
        ["not JSON", "{", "not JSON"],
        ["another format", JSON.stringify({ ...record, format: "x" }), "not a"],
        ["another version", JSON.stringify({ ...record, version: 2 }), "version 2, expected 1"],
        ["topics not a list", JSON.stringify({ ...record, topics: "a" }), 'field "topics"'],
        ["an empty name", JSON.stringify({ ...record, dirs: [""] }), 'field "dirs"'],
        ["a group not a name", JSON.stringify({ ...record, groups: [1] }), 'field "groups"'],
        ["no brokers", JSON.stringify({ ...record, brokers: undefined }), 'field "brokers"'],
      ] as const
    ) {
      const parsed = parseClaim(bad);
      assert(!parsed.ok && parsed.error.includes(error), `${why}: ${JSON.stringify(parsed)}`);
    }
  },
});

Deno.test({
  name: "the same brokers in another order or repeated are the same cluster's",
  permissions: "none",
  fn() {
    assert(sameBrokers(["b:9092", "a:9092"], ["a:9092", "b:9092", "a:9092"]));
    assert(!sameBrokers(["a:9092"], ["a:9093"]));
    assert(!sameBrokers(["a:9092", "b:9092"], ["a:9092"]));
  },
});

Deno.test("a held claim is locked, so no other run takes it for a killed run's; released, it is gone", async () => {
  const dir = await Deno.makeTempDir();
  const tryLock = async (path: string) => {
    const file = await Deno.open(path, { read: true, write: true });
    try {
      return await file.tryLock(true);
    } finally {
      file.close();
    }
  };
  const claims = async () => {
    const names: string[] = [];
    for await (const entry of Deno.readDir(dir)) names.push(entry.name);
    return names;
  };
  try {
    const held = await claimScratch(dir, CLAIM);
    const [name] = await claims();
    assert(name?.endsWith(".json"), String(name));
    const path = join(dir, name!);
    assertEquals(parseClaim(await Deno.readTextFile(path)), { ok: true, claim: CLAIM });
    assertEquals(await tryLock(path), false, "locked while its run lives");
    await held.release();
    assertEquals(await claims(), [], "released: gone");

    // Left (its run could not delete what it made): unlocked, for the next run.
    const left = await claimScratch(dir, CLAIM);
    left.leave();
    const [leftName] = await claims();
    assertEquals(await tryLock(join(dir, leftName!)), true);
    // Releasing after leaving changes nothing: the claim is the next run's now.
    await left.release();
    assertEquals(await claims(), [leftName]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a claim cannot be made where no directory can be", async () => {
  const file = await Deno.makeTempFile();
  try {
    await assertRejects(() => claimScratch(join(file, "claims"), CLAIM));
  } finally {
    await Deno.remove(file);
  }
});

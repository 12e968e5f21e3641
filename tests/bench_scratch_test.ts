/**
 * Unit: a benchmark's claim on what it makes: its file format, and its lock,
 * which tells a live run's claim from what a killed run left.
 */
import { join } from "node:path";
import { assert, assertEquals, assertRejects } from "./assert.ts";
import {
  claimsDir,
  clearOrphans,
  type DeleteScratch,
  encodeClaim,
  holdClaim,
  parseClaim,
  sameBrokers,
  type ScratchClaim,
} from "../tasks/_bench_scratch.ts";
import { resolveConfig } from "../lib/config.ts";
import { TRACKER_LOCK_FILE_NAME } from "../lib/constants.ts";

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
    const held = await holdClaim(dir, CLAIM);
    const [name] = await claims();
    assert(name?.endsWith(".json"), String(name));
    const path = join(dir, name!);
    assertEquals(parseClaim(await Deno.readTextFile(path)), { ok: true, claim: CLAIM });
    assertEquals(await tryLock(path), false, "locked while its run lives");
    await held.release();
    assertEquals(await claims(), [], "released: gone");

    // Left (its run could not delete all it made): unlocked, naming what it owes, for the next run.
    const left = await holdClaim(dir, CLAIM);
    await left.leave({ topics: CLAIM.topics, groups: CLAIM.groups, dirs: [] });
    const [leftName] = await claims();
    assertEquals(await tryLock(join(dir, leftName!)), true);
    assertEquals(parseClaim(await Deno.readTextFile(join(dir, leftName!))), {
      ok: true,
      claim: { ...CLAIM, dirs: [] },
    });
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
    await assertRejects(() => holdClaim(join(file, "claims"), CLAIM));
  } finally {
    await Deno.remove(file);
  }
});

/** A state directory with claims in it, and a fake Kafka that records what it is asked to delete. */
async function orphanage(options: { failGroups?: boolean } = {}) {
  const state = await Deno.makeTempDir();
  const config = resolveConfig({ STATE_DIR: state, KAFKA_BROKERS: "127.0.0.1:9092" });
  const deleted: string[] = [];
  const remove: DeleteScratch = (_config, { topics, groups = [] }) => {
    if (groups.length > 0 && options.failGroups) {
      return Promise.reject(new Error("The group is not empty"));
    }
    deleted.push(...topics.map((t) => `topic ${t}`), ...groups.map((g) => `group ${g}`));
    return Promise.resolve();
  };
  const said: string[] = [];
  const clear = () => clearOrphans(config, { clientId: "test", say: (l) => said.push(l), remove });
  const orphan = async (claim: ScratchClaim) => (await holdClaim(claimsDir(config), claim)).leave();
  const claimFiles = async () => {
    const names: string[] = [];
    for await (const entry of Deno.readDir(claimsDir(config))) names.push(entry.name);
    return names;
  };
  const exists = (path: string) => Deno.stat(path).then(() => true, () => false);
  return { state, config, deleted, said, clear, orphan, claimFiles, exists };
}

Deno.test("what a dead run claimed is removed: its topics, groups and scratch directory, nothing else", async () => {
  const { state, config, deleted, said, clear, orphan, claimFiles, exists } = await orphanage();
  try {
    const scratch = join(state, "bench", "tracker-1a2b3c4d");
    const outside = await Deno.makeTempDir();
    await Deno.mkdir(scratch, { recursive: true });
    await orphan({
      ...CLAIM,
      dirs: [scratch, outside, claimsDir(config), join(state, "bench", "..", "kafka")],
    });
    // A live run's claim, and a dead run's on another cluster, are not touched.
    const live = await holdClaim(claimsDir(config), { ...CLAIM, topics: ["live"] });
    await orphan({ ...CLAIM, brokers: ["elsewhere:9092"], topics: ["other"] });
    await clear();
    assertEquals(deleted, [
      "topic bench-tracker-1a2b3c4d",
      "topic bench-tracker-1a2b3c4d-dlq",
      "group bench-tracker-1a2b3c4d",
    ]);
    assertEquals(await exists(scratch), false);
    assertEquals(await exists(outside), true, "only directories under <STATE_DIR>/bench/");
    assertEquals(await exists(claimsDir(config)), true, "never the claims");
    await Deno.remove(outside);
    assertEquals(said, [
      "Removed what a killed benchmark left: topics bench-tracker-1a2b3c4d, bench-tracker-1a2b3c4d-dlq; groups bench-tracker-1a2b3c4d; directory " +
      scratch,
    ]);
    assertEquals((await claimFiles()).length, 2, "the live run's and the other cluster's");
    await live.release();
  } finally {
    await Deno.remove(state, { recursive: true });
  }
});

Deno.test("a dead run's group that cannot be deleted yet stays claimed for the next benchmark", async () => {
  const { state, deleted, said, clear, orphan, claimFiles, config } = await orphanage({
    failGroups: true,
  });
  try {
    await orphan({ ...CLAIM, dirs: [] });
    await clear();
    assertEquals(deleted, ["topic bench-tracker-1a2b3c4d", "topic bench-tracker-1a2b3c4d-dlq"]);
    assertEquals(said, [
      "Removed what a killed benchmark left: topics bench-tracker-1a2b3c4d, bench-tracker-1a2b3c4d-dlq. " +
      "Cannot delete its groups yet: The group is not empty; the next benchmark tries again",
    ]);
    const [name] = await claimFiles();
    assertEquals(parseClaim(await Deno.readTextFile(join(claimsDir(config), name!))), {
      ok: true,
      claim: { ...CLAIM, topics: [], dirs: [] },
    });
  } finally {
    await Deno.remove(state, { recursive: true });
  }
});

Deno.test("a claim whose tracker still runs is left; a file that is no claim is removed", async () => {
  const { state, deleted, said, clear, orphan, claimFiles, config } = await orphanage();
  try {
    const scratch = join(state, "bench", "e2e-1a2b3c4d");
    await Deno.mkdir(scratch, { recursive: true });
    const lock = await Deno.open(join(scratch, TRACKER_LOCK_FILE_NAME), {
      create: true,
      write: true,
    });
    await lock.lock(true);
    await orphan({ ...CLAIM, dirs: [scratch] });
    await Deno.writeTextFile(join(claimsDir(config), "torn.json"), "{");
    await clear();
    lock.close();
    assertEquals(deleted, []);
    assertEquals(said.sort(), [
      `Left what a killed benchmark claimed for a later run: its tracker still runs in ${scratch}`,
      `Removed ${join(claimsDir(config), "torn.json")}: not a benchmark's claim (not JSON)`,
    ]);
    assertEquals((await claimFiles()).length, 1);
  } finally {
    await Deno.remove(state, { recursive: true });
  }
});

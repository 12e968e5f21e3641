/**
 * Unit: the tracker's one writer of the trail (audit_writer.ts) — chunks of
 * concurrent batches handed over during a write share the next append, in
 * order, dead letters first; a chunk planned into the state and not yet
 * written keeps every checkpoint back. A real trail in a temporary directory.
 */
import { join } from "node:path";
import { assert, assertEquals, assertRejects, assertThrows } from "./assert.ts";
import { AuditTrail, type TrailOptions } from "../lib/audit_trail.ts";
import { auditedRecord, type AuditRecord } from "../lib/audit_record.ts";
import { closedSegments } from "../lib/segmented_log.ts";
import { assertReopensAsLeft, checkpointChanged } from "./trail_support.ts";
import { createOrderGenerator } from "../lib/order_generator.ts";
import { AuditWriter, REFUSALS_BEFORE_HOLD } from "../lib/audit_writer.ts";
import type { DeadLetterMessage } from "../lib/dead_letter.ts";

const AT = Date.UTC(2026, 10, 27, 12, 0, 0);
const EPOCH = { clusterId: "cluster-A", topic: "orders", reason: "a new trail" };

async function withTrail(
  fn: (trail: AuditTrail, options: TrailOptions) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "audit_writer_test_" });
  const options: TrailOptions = {
    paths: {
      dataDir: dir,
      auditFile: join(dir, "tracker.events"),
      checkpointFile: join(dir, "tracker.checkpoint"),
      quarantineFile: join(dir, "tracker.events.quarantine"),
      trackerLock: join(dir, "tracker.lock"),
    },
    // Small segments: an append of 60 records rotates, which checkpoints when allowed.
    segmentBytes: 64 * 1024,
    retentionBytes: 0,
  };
  try {
    const { trail } = await AuditTrail.open(options);
    await trail.beginEpoch(EPOCH);
    await fn(trail, options);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** `count` audit records of generated orders on one partition, offsets from `from` on. */
function records(partition: number, count: number, from = 0): AuditRecord[] {
  const orders = createOrderGenerator({ seed: partition * 1_000 + from + 1, now: () => AT });
  return Array.from({ length: count }, (_, i) =>
    auditedRecord(AT, {
      topic: "orders",
      partition,
      offset: from + i,
      key: null,
      timestamp: AT + i,
      size: 1_000,
    }, orders.next()));
}

Deno.test("chunks handed over during a write share the next append in order; one planned and unwritten holds the checkpoint back", async () => {
  await withTrail(async (trail, options) => {
    const appends: number[][] = [];
    const published: DeadLetterMessage[][] = [];
    const writer = new AuditWriter({
      append: (batch, opts) => {
        appends.push(batch.map((r) => r.kafka_partition * 1_000 + r.kafka_offset));
        return trail.append(batch, opts);
      },
    }, (letters) => {
      published.push([...letters]);
      return Promise.resolve();
    });
    const plan = async (rs: AuditRecord[]) => {
      const slot = await writer.slot();
      for (const r of rs) trail.state.apply(r);
      return slot;
    };
    const [a, b, c, d] = [records(0, 60), records(1, 5), records(2, 5), records(1, 5, 5)];
    const before = await Deno.readTextFile(options.paths.checkpointFile);
    const writeA = (await plan(a)).write({ records: a, deadLetters: [] });
    const writeB = (await plan(b)).write({ records: b, deadLetters: [] });
    const letter = { key: "k", value: "v" } as unknown as DeadLetterMessage;
    const writeC = (await plan(c)).write({ records: c, deadLetters: [letter] });
    // Planned into the state while the others are written: not on disk yet.
    const slotD = await plan(d);
    assertEquals(writer.unwritten, 4);
    await Promise.all([writeA, writeB, writeC]);
    assertEquals(appends, [
      a.map((r) => r.kafka_offset),
      [...b, ...c].map((r) => r.kafka_partition * 1_000 + r.kafka_offset),
    ]);
    assertEquals(published, [[letter]], "the dead letters of the shared append, before it");
    assert((await closedSegments(options.paths.auditFile)).length >= 1, "the first append rotated");
    assert(
      !await checkpointChanged(options.paths.checkpointFile, before, 1_000),
      "no checkpoint while a planned chunk is not on disk",
    );
    await slotD.write({ records: d, deadLetters: [] });
    assertEquals(writer.unwritten, 0);
    assert(
      await checkpointChanged(options.paths.checkpointFile, before, 5_000),
      "the rotation's checkpoint, once nothing else is planned",
    );
    await assertReopensAsLeft(trail, options, { audited: 75, replayedLines: 0 });
  });
});

Deno.test("a slot given up unused no longer holds the checkpoint back", async () => {
  await withTrail(async (trail, options) => {
    const writer = new AuditWriter(trail, () => Promise.resolve());
    const before = await Deno.readTextFile(options.paths.checkpointFile);
    const unused = await writer.slot();
    const slot = await writer.slot();
    const a = records(0, 60);
    for (const r of a) trail.state.apply(r);
    unused.unused();
    await slot.write({ records: a, deadLetters: [] });
    assert(await checkpointChanged(options.paths.checkpointFile, before, 5_000));
    assertThrows(() => unused.unused(), /twice/);
    trail.abandon();
  });
});

Deno.test("after a failed write every chunk handed over fails with it and no checkpoint is allowed again", async () => {
  const asked: boolean[] = [];
  let fail = true;
  const writer = new AuditWriter({
    append: (_records, opts) => {
      const checkpoint = opts?.checkpoint;
      if (typeof checkpoint === "function") asked.push(checkpoint());
      return fail ? Promise.reject(new Error("No space left on device")) : Promise.resolve();
    },
  }, () => Promise.resolve());
  // Three batches plan at once; two hand their chunks over while the third plans.
  const [slotA, slotB, slotC] = [await writer.slot(), await writer.slot(), await writer.slot()];
  const first = slotA.write({ records: records(0, 1), deadLetters: [] });
  const second = slotB.write({ records: records(1, 1), deadLetters: [] });
  await assertRejects(first, /No space left/);
  await assertRejects(second, /No space left/);
  fail = false;
  await assertRejects(slotC.write({ records: records(2, 1), deadLetters: [] }), /No space left/);
  await assertRejects(
    (await writer.slot()).write({ records: records(3, 1), deadLetters: [] }),
    /No space left/,
  );
  assertEquals(
    asked,
    [false],
    "asked once (one append of two chunks), while the third was planned",
  );
  assert(writer.unwritten > 0, "the failed chunks still count as unwritten");
});

Deno.test("a checkpoint refused again and again holds new chunks back until the writer drains, then is taken", async () => {
  await withTrail(async (trail, options) => {
    const writer = new AuditWriter(trail, () => Promise.resolve());
    const before = await Deno.readTextFile(options.paths.checkpointFile);
    // Another broker's batch, planning all along: every append sees it.
    const other = await writer.slot();
    const otherRecords = records(9, 5);
    for (const r of otherRecords) trail.state.apply(r);
    let from = 0;
    for (let i = 0; i < REFUSALS_BEFORE_HOLD; i++) {
      assertEquals(writer.holding, false, `not holding before refusal ${i + 1}`);
      const slot = await writer.slot();
      // 60 records rotate the 64 KiB segment: a checkpoint is due from the first on.
      const rs = records(0, 60, from);
      from += 60;
      for (const r of rs) trail.state.apply(r);
      await slot.write({ records: rs, deadLetters: [] });
    }
    assertEquals(writer.holding, true);
    let granted = false;
    const next = writer.slot().then((slot) => {
      granted = true;
      return slot;
    });
    await new Promise((resolve) => setTimeout(resolve, 100));
    assertEquals(granted, false, "a new chunk waits while the other is planned");
    assert(
      !await checkpointChanged(options.paths.checkpointFile, before, 200),
      "no checkpoint yet",
    );
    await other.write({ records: otherRecords, deadLetters: [] });
    const slot = await next;
    assertEquals(writer.holding, false);
    assert(
      await checkpointChanged(options.paths.checkpointFile, before, 5_000),
      "the checkpoint, taken once the writer drained",
    );
    slot.unused();
    await assertReopensAsLeft(trail, options, { audited: REFUSALS_BEFORE_HOLD * 60 + 5 });
  });
});

/**
 * Unit: the audit trail on disk — torn-tail repair, the lock, checkpoints and
 * replay, rebuild, rotation, retention, epochs, refusal after a failed write.
 * Real files in a temporary directory.
 */
import { join } from "node:path";
import { assert, assertEquals, assertMatch, assertRejects } from "./assert.ts";
import { AuditLockedError, AuditTrail, type TrailOptions } from "../lib/audit_trail.ts";
import {
  auditedRecord,
  type AuditRecord,
  deadLetterRecord,
  encodeAuditLines,
  parseTrailLine,
} from "../lib/audit_record.ts";
import { closedSegments, SegmentedLog, splitTornTail } from "../lib/segmented_log.ts";
import { assertReopensAsLeft, checkpointChanged } from "./trail_support.ts";
import { createOrderGenerator } from "../lib/order_generator.ts";
import {
  encodeCheckpoint,
  encodeCheckpointParts,
  parseCheckpoint,
} from "../lib/trail_checkpoint.ts";
import { KEY_BLOCK_EVENTS } from "../lib/event_index.ts";

const AT = Date.UTC(2026, 10, 25, 12, 0, 0);

async function withTrailDir(
  fn: (options: TrailOptions, dir: string) => Promise<void>,
  { segmentBytes = 1024 * 1024, retentionBytes = 0 } = {},
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "audit_trail_test_" });
  const paths = {
    dataDir: dir,
    auditFile: join(dir, "tracker.events"),
    checkpointFile: join(dir, "tracker.checkpoint"),
    quarantineFile: join(dir, "tracker.events.quarantine"),
    trackerLock: join(dir, "tracker.lock"),
  };
  try {
    await fn({ paths, segmentBytes, retentionBytes }, dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** `count` audit records of generated orders, offsets from `from` on (partition offset % 3). */
function records(count: number, from = 0): AuditRecord[] {
  const orders = createOrderGenerator({ seed: from + 1, now: () => AT });
  return Array.from({ length: count }, (_, i) =>
    auditedRecord(AT, {
      topic: "orders",
      partition: (from + i) % 3,
      offset: Math.floor((from + i) / 3),
      key: null,
      timestamp: AT + i,
      size: 1_000,
    }, orders.next()));
}

async function lines(path: string): Promise<string[]> {
  return (await Deno.readTextFile(path)).trimEnd().split("\n").filter(Boolean);
}

const epochOf = { clusterId: "cluster-A", topic: "orders", reason: "a new trail" };

/** The error a promise rejects with (fails the test if it resolves). */
async function rejection(promise: Promise<unknown>): Promise<Error> {
  return await promise.then(
    () => {
      throw new Error("expected a rejection");
    },
    (error: Error) => error,
  );
}

Deno.test({
  name: "splitTornTail separates the bytes after the last newline",
  permissions: "none",
  fn() {
    const bytes = new TextEncoder().encode('{"a":1}\n{"b":2}\n{"c":');
    const { completeLength, tail } = splitTornTail(bytes);
    assertEquals(completeLength, 16);
    assertEquals(new TextDecoder().decode(tail), '{"c":');
    assertEquals(splitTornTail(new TextEncoder().encode("x\n")).tail.length, 0);
    assertEquals(splitTornTail(new TextEncoder().encode("torn")).completeLength, 0);
  },
});

Deno.test("opening the trail moves a torn last line to quarantine and keeps the rest", async () => {
  await withTrailDir(async (options) => {
    const { paths } = options;
    const good = encodeAuditLines([
      deadLetterRecord(AT, { topic: "orders", partition: 2, offset: 41, key: null, size: 9 }, {
        class: "schema",
        message: "x",
      }),
    ]);
    await Deno.writeTextFile(paths.auditFile, good + '{"timestamp":"2026-11-25T12:0');
    const { trail, report } = await AuditTrail.open(options);
    assertEquals(report.repairedBytes, 29);
    assertEquals(trail.totals.dead_lettered, 1);
    await trail.close();
    assertEquals(await Deno.readTextFile(paths.auditFile), good);
    assertEquals(await Deno.readTextFile(paths.quarantineFile), '{"timestamp":"2026-11-25T12:0\n');
    assertEquals((await Deno.stat(paths.auditFile)).mode! & 0o777, 0o640);
  });
});

Deno.test("a second tracker cannot open a trail that another holds", async () => {
  await withTrailDir(async (options) => {
    const first = await AuditTrail.open(options);
    // A lock is per open file description, so a second open in this process conflicts too.
    await assertRejects(() => AuditTrail.open(options), AuditLockedError);
    await first.trail.close();
    const again = await AuditTrail.open(options);
    await again.trail.close();
  });
});

Deno.test("after a clean close the next open reads nothing; after a crash only what followed the checkpoint", async () => {
  await withTrailDir(async (options) => {
    const { trail } = await AuditTrail.open(options);
    await trail.beginEpoch(epochOf);
    const batch = records(300);
    for (const r of batch) trail.state.apply(r);
    await trail.append(batch);
    await trail.close();
    const reopened = await AuditTrail.open(options);
    assertEquals(reopened.report.replayedLines, 0);
    assertEquals(reopened.trail.totals.audited, 300);
    const later = records(100, 300);
    for (const r of later) reopened.trail.state.apply(r);
    await reopened.trail.append(later);
    const expected = reopened.trail.state.snapshot();
    reopened.trail.abandon(); // a crash: no checkpoint for these 100
    const afterCrash = await AuditTrail.open(options);
    assertEquals(afterCrash.report.replayedLines, 100);
    assertEquals(afterCrash.trail.totals.audited, 400);
    assertEquals(afterCrash.trail.state.snapshot(), expected);
    assertEquals(afterCrash.trail.epoch.cluster_id, "cluster-A");
    await afterCrash.trail.close();

    // Without the checkpoint, everything is rebuilt from the trail, to the same state.
    await Deno.remove(options.paths.checkpointFile);
    const rebuilt = await AuditTrail.open(options);
    assertEquals(rebuilt.report.rebuiltBecause, "there was no checkpoint");
    assertEquals(rebuilt.report.replayedLines, 401, "400 records and the segment header");
    assertEquals(rebuilt.trail.state.snapshot(), expected);
    await rebuilt.trail.close();
  });
});

Deno.test("appends reuse and outgrow their line buffer, and each writes its own lines whole", async () => {
  await withTrailDir(async (options) => {
    const { trail } = await AuditTrail.open(options);
    await trail.beginEpoch(epochOf);
    // Larger, smaller, then two at once: the line buffer is outgrown and
    // reused. (Overlapping appends catch a shared buffer only when the first
    // one's write is still pending as the second encodes: a check, not a proof.)
    const batches = [records(50), records(200, 50), records(10, 250), records(40, 260)];
    for (const batch of batches) for (const r of batch) trail.state.apply(r);
    await trail.append(batches[0]!);
    await trail.append(batches[1]!);
    await Promise.all([trail.append(batches[2]!), trail.append(batches[3]!)]);
    const written = (await lines(options.paths.auditFile)).slice(1); // after the header
    assertEquals(written, encodeAuditLines(batches.flat()).trimEnd().split("\n"));
    await trail.close();
  });
});

Deno.test("a checkpoint that does not fit the files is not trusted: the trail is read again", async () => {
  await withTrailDir(async (options) => {
    const { trail } = await AuditTrail.open(options);
    await trail.append(records(10));
    await trail.close();
    await Deno.truncate(options.paths.auditFile, 0); // the trail replaced behind its back
    const reopened = await AuditTrail.open(options);
    assertMatch(reopened.report.rebuiltBecause ?? "", /holds 0 bytes/);
    assertEquals(reopened.trail.totals.lines, 0);
    await reopened.trail.close();
  });
});

Deno.test("the trail rotates by size; every segment begins with its header; totals span them", async () => {
  await withTrailDir(async (options) => {
    const { trail } = await AuditTrail.open(options);
    await trail.beginEpoch(epochOf);
    for (let from = 0; from < 200; from += 20) await trail.append(records(20, from));
    await trail.close();
    const closed = await closedSegments(options.paths.auditFile);
    assert(closed.length >= 3, `${closed.length} closed segments`);
    assertEquals(closed, closed.map((_, i) => i + 1));
    for (const n of [...closed, closed.length + 1]) {
      const file = n > closed.length
        ? options.paths.auditFile
        : `${options.paths.auditFile}.${String(n).padStart(6, "0")}`;
      const first = parseTrailLine((await lines(file))[0]!, 1);
      assert(first.ok && first.kind === "header", `segment ${n} starts with a header`);
      assertEquals([first.header.trail_segment, first.header.epoch.number], [n, 1]);
    }
    const reopened = await AuditTrail.open(options);
    assertEquals(reopened.trail.totals.audited, 200);
    await reopened.trail.close();
  }, { segmentBytes: 64 * 1024 });
});

Deno.test("an append made while later records are already planned writes no checkpoint; the next one does", async () => {
  await withTrailDir(async (options) => {
    const { trail } = await AuditTrail.open(options);
    await trail.beginEpoch(epochOf);
    const written = records(60);
    for (const r of written) trail.state.apply(r);
    // Planned while `written` is being written (the tracker's next chunk): in
    // the state, not on disk. The append rotates the segment, which would
    // checkpoint: that checkpoint would count `planned` as audited.
    const planned = records(30, 60);
    for (const r of planned) trail.state.apply(r);
    const before = await Deno.readTextFile(options.paths.checkpointFile);
    await trail.append(written, { checkpoint: false });
    assert((await closedSegments(options.paths.auditFile)).length >= 1, "the append rotated");
    const changed = (deadlineMs: number) =>
      checkpointChanged(options.paths.checkpointFile, before, deadlineMs);
    assert(!await changed(1_000), "no checkpoint while records are planned ahead of the disk");
    // The next append, with nothing planned after it, writes the checkpoint due.
    await trail.append(planned);
    assert(await changed(5_000), "the rotation's checkpoint, once allowed");
    await assertReopensAsLeft(trail, options, { audited: 90, replayedLines: 0 });
  }, { segmentBytes: 64 * 1024 });
});

Deno.test("checkpoints of a state of several key blocks, the later ones reusing the earlier ones' bytes, read back as the state", async () => {
  await withTrailDir(async (options) => {
    const { trail } = await AuditTrail.open(options);
    await trail.beginEpoch(epochOf);
    // About 24 segments, each rotation a checkpoint (skipped while one is written).
    for (let from = 0; from < 12_000; from += 500) {
      const chunk = records(500, from);
      for (const r of chunk) trail.state.apply(r);
      await trail.append(chunk);
    }
    const expected = trail.state.snapshot();
    const events = expected.eventKeys.length;
    assert(events > 2 * KEY_BLOCK_EVENTS, `${events} events`);
    await trail.close();
    const reopened = await AuditTrail.open(options);
    try {
      assertEquals(reopened.report.replayedLines, 0, "the checkpoint was read, not rebuilt");
      assertEquals(reopened.trail.state.snapshot(), expected);
    } finally {
      await reopened.trail.close();
    }
  });
});

Deno.test("retention deletes the oldest segments but never the newest closed one; totals stay", async () => {
  await withTrailDir(async (options) => {
    const { trail } = await AuditTrail.open(options);
    await trail.beginEpoch(epochOf);
    for (let from = 0; from < 400; from += 20) await trail.append(records(20, from));
    await trail.close();
    const closed = await closedSegments(options.paths.auditFile);
    assert(closed[0]! > 1, `the first segments are gone: ${closed}`);
    let bytes = (await Deno.stat(options.paths.auditFile)).size;
    for (const n of closed) {
      bytes += (await Deno.stat(`${options.paths.auditFile}.${String(n).padStart(6, "0")}`)).size;
    }
    assert(bytes <= 200 * 1024 + 64 * 1024, `${bytes} bytes kept`);
    const reopened = await AuditTrail.open(options);
    assertEquals(reopened.trail.totals.audited, 400, "lifetime counts survive retention");
    await reopened.trail.close();
  }, { segmentBytes: 64 * 1024, retentionBytes: 200 * 1024 });
});

Deno.test("a new epoch forgets offsets, in the running tracker and when the trail is read again", async () => {
  await withTrailDir(async (options) => {
    const { trail } = await AuditTrail.open(options);
    await trail.beginEpoch(epochOf);
    const first = records(30);
    for (const r of first) trail.state.apply(r);
    await trail.append(first);
    assertEquals(trail.state.lastOffsets("orders").get(0), 9);
    const epoch = await trail.beginEpoch({
      clusterId: "cluster-B",
      topic: "orders",
      reason: "another cluster",
    });
    assertEquals([epoch.number, epoch.continues_offsets], [2, false]);
    assertEquals(trail.state.lastOffsets("orders").size, 0);
    const second = records(3);
    for (const r of second) trail.state.apply(r);
    await trail.append(second);
    const expected = trail.state.snapshot();
    await trail.close();
    assertEquals(
      (await closedSegments(options.paths.auditFile)).length,
      1,
      "the epoch began a segment",
    );
    await Deno.remove(options.paths.checkpointFile);
    const rebuilt = await AuditTrail.open(options);
    assertEquals(rebuilt.trail.state.snapshot(), expected);
    assertEquals(rebuilt.trail.epoch.cluster_id, "cluster-B");
    await rebuilt.trail.close();
  });
});

Deno.test("a line with an unknown value stops start-up with its file and line number", async () => {
  await withTrailDir(async (options) => {
    const line = encodeAuditLines(records(1)).replace(
      '"status":"created"',
      '"status":"teleported"',
    );
    await Deno.writeTextFile(options.paths.auditFile, encodeAuditLines(records(2)) + line);
    const error = await rejection(AuditTrail.open(options));
    assert(error instanceof SyntaxError);
    assertMatch(
      error.message,
      /tracker\.events: Cannot parse audit line 3: status "teleported"/,
    );
    // The lock was released: the trail can be opened once repaired.
    await Deno.writeTextFile(options.paths.auditFile, encodeAuditLines(records(2)));
    (await AuditTrail.open(options)).trail.abandon();
  });
});

Deno.test("after a failed write nothing more is appended, not even once the disk has room again", async () => {
  await withTrailDir(async ({ paths }) => {
    // A file whose first write fails as a full disk does, and whose later writes would succeed.
    let writes = 0;
    const openFile = async (path: string, options: Deno.OpenOptions) => {
      const file = await Deno.open(path, options);
      const write = file.write.bind(file);
      file.write = (bytes: Uint8Array) => {
        if (writes++ === 0) {
          return Promise.reject(new Error("No space left on device (os error 28)"));
        }
        return write(bytes);
      };
      return file;
    };
    const { log } = await SegmentedLog.open(paths.auditFile, { openFile });
    const bytes = new TextEncoder().encode("{}\n");
    const failed = await rejection(log.append(bytes, { sync: true }));
    assertMatch(failed.message, /No space left/);
    const refused = await rejection(log.append(bytes, { sync: true }));
    assertMatch(
      refused.message,
      /an earlier write failed \(No space left.*restart to repair its tail/,
    );
    assertEquals(writes, 1, "the refused append did not write");
    log.close();
    assertEquals(await Deno.readTextFile(paths.auditFile), "");
  });
});

Deno.test("a rotation cut short before its new header gets the header at the next start", async () => {
  await withTrailDir(async (options) => {
    const { trail } = await AuditTrail.open(options);
    await trail.beginEpoch(epochOf);
    await trail.append(records(5));
    await trail.close();
    // The crash: the active segment renamed away, no new one begun.
    await Deno.rename(options.paths.auditFile, `${options.paths.auditFile}.000001`);
    const reopened = await AuditTrail.open(options);
    await reopened.trail.close();
    const first = parseTrailLine((await lines(options.paths.auditFile))[0]!, 1);
    assert(first.ok && first.kind === "header");
    assertEquals([first.header.trail_segment, first.header.epoch.number], [2, 1]);
  });
});

Deno.test({
  name: "a checkpoint round-trips through its format; one cut short is refused",
  permissions: "none",
  fn() {
    const checkpoint = {
      trail_id: "t",
      written_at: "2026-11-26T12:00:00.000Z",
      position: { segment: 3, bytes: 1_234 },
      epoch: {
        number: 2,
        cluster_id: "c",
        topic: "orders",
        started_at: "2026-11-26T12:00:00.000Z",
        reason: "another cluster",
        continues_offsets: false,
      },
      totals: {
        lines: 9,
        audited: 7,
        dead_lettered: 1,
        duplicate: 1,
        by_status: { created: 3, paid: 2, shipped: 1, delivered: 1, cancelled: 0 },
      },
      deleted: { segments: 1, bytes: 99 },
      state: {
        offsets: [["orders", 0, 41, "1/2/abcd"], ["orders", 1, 7, null]] as Array<
          [string, number, number, string | null]
        >,
        eventKeys: ["a0000000-0000-4000-8000-000000000000/created"],
        openOrders: [["a0000000-0000-4000-8000-000000000000", "created", 0]] as Array<
          [string, "created", number]
        >,
      },
    };
    const text = encodeCheckpoint(checkpoint);
    assertEquals(parseCheckpoint(text), { ok: true, checkpoint });
    const cut = parseCheckpoint(text.slice(0, text.lastIndexOf("a0000000")));
    assert(!cut.ok);
    assertMatch(cut.error, /state lines, expected 2 \(cut short\?\)/);
    assert(!parseCheckpoint("{}").ok);
    // Many keys and orders: written in parts, the same text, read back whole.
    const big = {
      ...checkpoint,
      state: {
        ...checkpoint.state,
        eventKeys: Array.from({ length: 45_001 }, (_, i) => `k${i}/created`),
        openOrders: Array.from(
          { length: 20_001 },
          (_, i) => [`o${i}`, "created", i % 3] as [string, "created", number],
        ),
      },
    };
    const parts = [...encodeCheckpointParts(big)];
    assert(parts.length >= 5, `${parts.length} parts`);
    assertEquals(parts.join(""), encodeCheckpoint(big));
    assertEquals(parseCheckpoint(parts.join("")), { ok: true, checkpoint: big });
  },
});

/** Unit: the audit trail on disk — torn-tail repair, the lock, append and sync. */
import { join } from "node:path";
import { assertEquals, assertRejects } from "./assert.ts";
import { AuditFile, AuditLockedError, splitTornTail } from "../lib/audit_trail.ts";
import { deadLetterRecord, encodeAuditLines, parseAuditLine } from "../lib/audit_record.ts";

const at = Date.UTC(2026, 10, 25, 12, 0, 0);
const where = { topic: "orders", partition: 2, offset: 41, key: "k", size: 1234 };

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
  const dir = await Deno.makeTempDir();
  const path = join(dir, "tracker.events");
  const quarantinePath = join(dir, "tracker.events.quarantine");
  try {
    const good = encodeAuditLines([deadLetterRecord(at, where, { class: "schema", message: "x" })]);
    await Deno.writeTextFile(path, good + '{"timestamp":"2026-11-25T12:0');
    const { audit, repairedBytes } = await AuditFile.open({
      path,
      lockPath: join(dir, "tracker.lock"),
      quarantinePath,
    });
    assertEquals(repairedBytes, 29);
    await audit.append([
      deadLetterRecord(at, { ...where, offset: 42 }, { class: "schema", message: "y" }),
    ]);
    audit.close();
    const lines = (await Deno.readTextFile(path)).trimEnd().split("\n");
    assertEquals(
      lines.map((l, i) => {
        const parsed = parseAuditLine(l, i + 1);
        return parsed.ok ? parsed.record.kafka_offset : parsed.error;
      }),
      [41, 42],
    );
    assertEquals(await Deno.readTextFile(quarantinePath), '{"timestamp":"2026-11-25T12:0\n');
    assertEquals((await Deno.stat(path)).mode! & 0o777, 0o640);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a second tracker cannot open a trail that another holds", async () => {
  const dir = await Deno.makeTempDir();
  const options = {
    path: join(dir, "tracker.events"),
    lockPath: join(dir, "tracker.lock"),
    quarantinePath: join(dir, "q"),
  };
  try {
    const first = await AuditFile.open(options);
    // A lock is per open file description, so a second open in this process conflicts too.
    await assertRejects(() => AuditFile.open(options), AuditLockedError);
    first.audit.close();
    const again = await AuditFile.open(options);
    again.audit.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

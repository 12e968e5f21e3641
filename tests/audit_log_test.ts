import { join } from "node:path";
import { assert, assertEquals, assertRejects, assertThrows } from "./assert.ts";
import {
  auditedRecord,
  AuditFile,
  AuditLockedError,
  deadLetterRecord,
  formatAuditLines,
  parseAuditLine,
  splitTornTail,
} from "../lib/audit_log.ts";
import { createOrderGenerator } from "../lib/order_generator.ts";

const at = Date.UTC(2026, 10, 25, 12, 0, 0);
const where = { topic: "orders", partition: 2, offset: 41, key: "k", size: 1234 };

Deno.test({
  name: "an audit line carries the Kafka coordinates, outcome, latency and the order",
  permissions: "none",
  fn() {
    const order = createOrderGenerator({ seed: 5, now: () => at - 250 }).next();
    const line = formatAuditLines([auditedRecord(at, where, order)]);
    assert(line.endsWith("\n") && line.indexOf("\n") === line.length - 1, "one line");
    const record = parseAuditLine(line.trimEnd(), 1);
    assertEquals(record.timestamp, "2026-11-25T12:00:00.000Z");
    assertEquals(record.event_type, "order_created");
    assertEquals(
      [record.kafka_topic, record.kafka_partition, record.kafka_offset, record.kafka_key],
      ["orders", 2, 41, "k"],
    );
    assertEquals(record.message_size, 1234);
    assertEquals(record.outcome, "audited");
    assertEquals(record.deserialized, true);
    assertEquals(record.latency_ms, 250);
    assertEquals(record.order, order);
  },
});

Deno.test({
  name: "a dead-letter line records the error class and message but no order",
  permissions: "none",
  fn() {
    const record = deadLetterRecord(at, where, { class: "deserialization", message: "bad" });
    assertEquals(record.outcome, "dead_lettered");
    assertEquals(record.deserialized, false);
    assertEquals(record.error_class, "deserialization");
    assertEquals(record.order, null);
  },
});

Deno.test({
  name: "parseAuditLine names the line of a corrupt record",
  permissions: "none",
  fn() {
    assertThrows(() => parseAuditLine("{not json", 7), SyntaxError, "line 7");
    assertThrows(() => parseAuditLine('{"a":1}', 8), SyntaxError, "line 8: not an audit record");
  },
});

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
    const good = formatAuditLines([deadLetterRecord(at, where, { class: "schema", message: "x" })]);
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
    assertEquals(lines.length, 2);
    assertEquals(lines.map((l, i) => parseAuditLine(l, i + 1).kafka_offset), [41, 42]);
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

/** Unit: the dead-letter format — builder and header parser. */
import { Buffer } from "node:buffer";
import { assert, assertEquals, assertMatch } from "./assert.ts";
import {
  deadLetterBytes,
  deadLetterMessage,
  DLQ_HEADERS,
  MAX_ERROR_HEADER_CHARS,
  parseDeadLetterHeaders,
  parseRedriveOf,
  REDRIVE_HEADERS,
  redriveCount,
  redriveMessage,
  splitIntoSends,
} from "../lib/dead_letter.ts";
import { deadLetterRecord } from "../lib/audit_record.ts";
import { MAX_SEND_BYTES } from "../lib/constants.ts";

const encoder = new TextEncoder();

Deno.test({
  name: "a dead letter keeps the original key, bytes and headers and says where and why",
  permissions: "none",
  fn() {
    const message = {
      offset: 17,
      key: encoder.encode("k-1"),
      value: encoder.encode("{bad"),
      headers: { trace: "abc", [DLQ_HEADERS.errorClass]: "forged" },
    };
    const record = deadLetterRecord(Date.UTC(2026, 0, 1), {
      topic: "orders",
      partition: 2,
      offset: 17,
      key: "k-1",
      size: 4,
    }, { class: "deserialization", message: "Cannot parse order: not UTF-8 JSON" });
    const letter = deadLetterMessage({ topic: "orders", partition: 2, message }, record);
    assertEquals(letter.key, message.key);
    assertEquals(letter.value, message.value);
    assertEquals(letter.headers.trace, "abc");
    assertEquals(letter.headers[DLQ_HEADERS.errorClass], "deserialization", "ours win a clash");
    // Read back as KafkaJS hands headers over: Buffers.
    const asRead = Object.fromEntries(
      Object.entries(letter.headers).map(([k, v]) => [k, Buffer.from(v)]),
    );
    const parsed = parseDeadLetterHeaders(asRead);
    assert(parsed.ok);
    assertEquals(parsed.source, {
      topic: "orders",
      partition: 2,
      offset: 17,
      errorClass: "deserialization",
      error: "Cannot parse order: not UTF-8 JSON",
      failedAt: "2026-01-01T00:00:00.000Z",
      redriveCount: 0,
    });
  },
});

Deno.test({
  name: "a redriven copy carries the original key, bytes and headers, its count and its letter",
  permissions: "none",
  async fn(t) {
    const stored = {
      partition: 0,
      offset: 41,
      key: encoder.encode("k-1"),
      value: encoder.encode("{bad"),
      headers: {
        trace: Buffer.from("abc"),
        [DLQ_HEADERS.sourceTopic]: Buffer.from("orders"),
        [DLQ_HEADERS.sourcePartition]: Buffer.from("2"),
        [DLQ_HEADERS.sourceOffset]: Buffer.from("17"),
        [DLQ_HEADERS.errorClass]: Buffer.from("deserialization"),
        [REDRIVE_HEADERS.count]: Buffer.from("1"),
        [REDRIVE_HEADERS.of]: Buffer.from("orders-dlq/0/3"),
      },
    };
    const parsed = parseDeadLetterHeaders(stored.headers);
    assert(parsed.ok);
    assertEquals(parsed.source.redriveCount, 1);
    const copy = redriveMessage(stored, { dlqTopic: "orders-dlq", source: parsed.source });
    await t.step("to its source partition, with the original key, bytes and headers", () => {
      assertEquals([copy.partition, copy.key, copy.value], [2, stored.key, stored.value]);
      assertEquals(String(copy.headers.trace), "abc");
      assert(
        Object.keys(copy.headers).every((name) => !name.startsWith("dlq.")),
        "none of the dead letter's own headers",
      );
    });
    await t.step("counted once more, naming the letter it was made from", () => {
      assertEquals(copy.headers[REDRIVE_HEADERS.count], "2");
      assertEquals(copy.headers[REDRIVE_HEADERS.of], "orders-dlq/0/41");
      assertEquals(parseRedriveOf(copy.headers), {
        dlqTopic: "orders-dlq",
        partition: 0,
        offset: 41,
      });
    });
    await t.step("rejected again by the tracker, the new dead letter keeps the count", () => {
      const asConsumed = Object.fromEntries(
        Object.entries(copy.headers).map(([k, v]) => [k, Buffer.from(v)]),
      );
      const record = deadLetterRecord(Date.UTC(2026, 0, 2), {
        topic: "orders",
        partition: 2,
        offset: 90,
        key: "k-1",
        size: 4,
      }, { class: "deserialization", message: "Cannot parse order: not UTF-8 JSON" });
      const again = deadLetterMessage({
        topic: "orders",
        partition: 2,
        message: { offset: 90, key: copy.key, value: copy.value, headers: asConsumed },
      }, record);
      const reread = parseDeadLetterHeaders(again.headers);
      assert(reread.ok);
      assertEquals([reread.source.offset, reread.source.redriveCount], [90, 2]);
    });
    await t.step("a count that is not one reads as never redriven", () => {
      for (const bad of ["", "x", "-1", "1.5"]) {
        assertEquals(redriveCount({ [REDRIVE_HEADERS.count]: bad }), 0, bad);
      }
      assertEquals(redriveCount(undefined), 0);
    });
  },
});

Deno.test({
  name: "headers without a source are not read as a dead letter",
  permissions: "none",
  fn() {
    for (
      const headers of [
        undefined,
        { [DLQ_HEADERS.sourcePartition]: "1", [DLQ_HEADERS.sourceOffset]: "2" },
        {
          [DLQ_HEADERS.sourceTopic]: "t",
          [DLQ_HEADERS.sourcePartition]: "x",
          [DLQ_HEADERS.sourceOffset]: "2",
        },
        {
          [DLQ_HEADERS.sourceTopic]: "t",
          [DLQ_HEADERS.sourcePartition]: "1",
          [DLQ_HEADERS.sourceOffset]: "-3",
        },
      ]
    ) {
      const parsed = parseDeadLetterHeaders(headers);
      assert(!parsed.ok);
      assertMatch(parsed.error, /^Cannot read dead letter: header dlq\.source\./);
    }
  },
});

Deno.test({
  name: "dead letters go out in sends under the broker's batch limit, in order",
  permissions: "none",
  fn() {
    const record = deadLetterRecord(0, {
      topic: "orders",
      partition: 0,
      offset: 0,
      key: null,
      size: 1,
    }, {
      class: "schema",
      message: "x".repeat(5_000),
    });
    const letters = Array.from({ length: 3_000 }, (_, i) =>
      deadLetterMessage({
        topic: "orders",
        partition: 0,
        message: { offset: i, key: encoder.encode(`k-${i}`), value: new Uint8Array(1_500) },
      }, record));
    assertEquals(letters[0]!.headers[DLQ_HEADERS.errorMessage]!.length, MAX_ERROR_HEADER_CHARS);
    const sends = splitIntoSends(letters);
    assert(sends.length > 1);
    assertEquals(sends.flat(), letters, "every letter once, in order");
    for (const send of sends) {
      const bytes = send.reduce((sum, l) => sum + deadLetterBytes(l), 0);
      assert(bytes <= MAX_SEND_BYTES, `${bytes} bytes in one send`);
    }
    const huge = { ...letters[0]!, value: new Uint8Array(900 * 1024) };
    assertEquals(splitIntoSends([letters[0]!, huge, letters[1]!]).map((s) => s.length), [1, 1, 1]);
  },
});

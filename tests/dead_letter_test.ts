/** Unit: the dead-letter format — builder and header parser. */
import { Buffer } from "node:buffer";
import { assert, assertEquals, assertMatch } from "./assert.ts";
import {
  deadLetterBytes,
  deadLetterMessage,
  DLQ_HEADERS,
  MAX_ERROR_HEADER_CHARS,
  parseDeadLetterHeaders,
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

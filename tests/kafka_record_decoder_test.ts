/**
 * Unit: the one-pass record batch decoder returns what KafkaJS's own batch
 * decoder returns, field for field, for every kind of record and batch it
 * takes; what it cannot decode exactly it leaves to KafkaJS, reading nothing;
 * and KafkaJS's fetch path uses it.
 */
import { Buffer } from "node:buffer";
import { assert, assertEquals } from "./assert.ts";
import {
  batchDecoding,
  KAFKAJS_RECORD_CODEC,
  ORIGINAL_BATCH_DECODER,
} from "../lib/kafka_codec_patch.ts";
import { decodeBatch } from "../lib/kafka_record_decoder.ts";
import { seededRandom } from "./random.ts";

type Headers = Record<string, Buffer | null | Array<Buffer | null>>;
interface RecordSpec {
  offsetDelta: number;
  timestampDelta: number;
  key: Buffer | null;
  value: Buffer | null;
  headers?: Headers;
}
interface BatchSpec {
  firstOffset?: number;
  firstTimestamp?: number;
  maxTimestamp?: number;
  compression?: number;
  records: RecordSpec[];
}
type Encoded = { buffer: Buffer };
const codec = KAFKAJS_RECORD_CODEC as unknown as {
  RecordBatch: (spec: Record<string, unknown>) => Promise<Encoded>;
  Record: (spec: RecordSpec) => Encoded;
  Decoder: new (buffer: Buffer) => { offset: number; buffer: Buffer };
  decodeMessages: (decoder: unknown) => Promise<Array<{ offset: string }>>;
};

/** The bytes of one batch, as a producer (KafkaJS's encoder) writes it. */
async function encodeBatch(spec: BatchSpec): Promise<Buffer> {
  const records = spec.records.map((r) => codec.Record(r));
  const encoded = await codec.RecordBatch({
    firstOffset: String(spec.firstOffset ?? 0),
    firstTimestamp: spec.firstTimestamp ?? 1_700_000_000_000,
    maxTimestamp: spec.maxTimestamp ?? 1_700_000_000_500,
    lastOffsetDelta: spec.records.at(-1)?.offsetDelta ?? 0,
    compression: spec.compression ?? 0,
    records,
  });
  return encoded.buffer;
}

function randomBytes(next: () => number, max: number): Buffer {
  return Buffer.from(
    Array.from({ length: Math.floor(next() * max) }, () => Math.floor(next() * 256)),
  );
}

function randomRecords(next: () => number, count: number): RecordSpec[] {
  // Repeated names, names of one length that differ ("trace", "track"), an
  // ASCII name as long as a non-ASCII one's text ("x-source", "é-source"), and
  // a name whose UTF-8 bytes are the character codes of another ("é" is
  // C3 A9; "Ã©" is those two characters).
  const keys = ["trace", "track", "é-source", "x-source", "é", "Ã©", "", "x"];
  let offsetDelta = 0;
  return Array.from({ length: count }, () => {
    const headers: Headers = {};
    const headerCount = Math.floor(next() * 4);
    for (let h = 0; h < headerCount; h++) {
      const key = keys[Math.floor(next() * keys.length)]!;
      const value = randomBytes(next, 20); // KafkaJS cannot encode a null one
      const old = headers[key];
      headers[key] = old === undefined ? value : [...(Array.isArray(old) ? old : [old]), value];
    }
    const record: RecordSpec = {
      offsetDelta,
      timestampDelta: Math.floor((next() - 0.3) * 2 ** (next() < 0.1 ? 40 : 20)),
      key: next() < 0.2 ? null : randomBytes(next, 40),
      value: next() < 0.1 ? null : randomBytes(next, next() < 0.1 ? 20_000 : 600),
      headers,
    };
    offsetDelta += 1 + (next() < 0.1 ? Math.floor(next() * 1000) : 0);
    return record;
  });
}

/** KafkaJS's decoding of the batch at the start of `bytes`, and where it stopped. */
async function kafkaDecoded(bytes: Buffer): Promise<{ batch: unknown; next: number }> {
  const decoder = new codec.Decoder(bytes);
  const batch = await ORIGINAL_BATCH_DECODER(decoder);
  return { batch, next: decoder.offset };
}

/** Sets bits of a batch's attributes (the encoder writes none of these flags). */
function withAttributes(bytes: Buffer, bits: number): Buffer {
  const copy = Buffer.from(bytes);
  copy.writeInt16BE(copy.readInt16BE(21) | bits, 21);
  return copy;
}

Deno.test({
  name: "one-pass decoding returns KafkaJS's decoding of random batches, field for field",
  permissions: "none",
  async fn() {
    for (let seed = 1; seed <= 60; seed++) {
      const next = seededRandom(seed);
      const firstOffset = [0, 5, 2 ** 40, 2 ** 53 - 10_000_000][seed % 4]!;
      const bytes = await encodeBatch({
        firstOffset,
        firstTimestamp: seed % 5 === 0 ? -1 : 1_700_000_000_000 + seed,
        records: randomRecords(next, 1 + Math.floor(next() * 40)),
      });
      // Plain, append-time stamped, transactional and control batches.
      for (const bits of [0, 0x08, 0x10, 0x20]) {
        const batch = withAttributes(bytes, bits);
        const fast = decodeBatch(batch, 0);
        assert(fast !== undefined, `seed ${seed}, attributes ${bits}: not decoded`);
        assertEquals(fast, await kafkaDecoded(batch), `seed ${seed}, attributes ${bits}`);
      }
    }
  },
});

Deno.test({
  name: "one-pass decoding reads batches back to back, each from where the last ended",
  permissions: "none",
  async fn() {
    const next = seededRandom(7);
    const parts = [
      await encodeBatch({ firstOffset: 100, records: randomRecords(next, 5) }),
      await encodeBatch({ firstOffset: 200, records: randomRecords(next, 1) }),
      await encodeBatch({ firstOffset: 300, records: randomRecords(next, 12) }),
    ];
    const bytes = Buffer.concat(parts);
    let at = 0;
    for (const part of parts) {
      const fast = decodeBatch(bytes, at)!;
      assertEquals(fast.batch, (await kafkaDecoded(part)).batch);
      at = fast.next;
    }
    assertEquals(at, bytes.length);
  },
});

Deno.test({
  name: "batches the one-pass decoder cannot decode exactly are left to KafkaJS",
  permissions: "none",
  async fn(t) {
    const next = seededRandom(11);
    const records = randomRecords(next, 8);
    await t.step("compressed", async () => {
      assertEquals(decodeBatch(await encodeBatch({ records, compression: 1 }), 0), undefined);
    });
    await t.step("cut short by the fetch size (KafkaJS: a partial batch)", async () => {
      const bytes = await encodeBatch({ records });
      for (const cut of [1, 30, 61, 62, bytes.length - 1]) {
        assertEquals(decodeBatch(bytes.subarray(0, cut), 0), undefined, `cut at ${cut}`);
      }
    });
    await t.step("an offset or timestamp beyond 2^53", async () => {
      const far = await encodeBatch({ firstOffset: 2 ** 53, records });
      assertEquals(decodeBatch(far, 0), undefined);
      // KafkaJS's Long arithmetic decodes it, through the patched path as well.
      const { batch } = await kafkaDecoded(far);
      assertEquals(
        (batch as { records: { offset: string }[] }).records[0]!.offset,
        "9007199254740992",
      );
      const late = await encodeBatch({ firstTimestamp: 2 ** 53 - 1, records });
      assertEquals(decodeBatch(late, 0), undefined);
    });
    await t.step("a header named __proto__", async () => {
      // Defined as an own key (an assignment would set the prototype instead).
      const spec = [{ ...records[0]!, headers: JSON.parse('{"__proto__": ""}') as Headers }];
      const bytes = await encodeBatch({ records: spec });
      assertEquals(decodeBatch(bytes, 0), undefined);
    });
    await t.step("a record longer than its batch", async () => {
      const bytes = Buffer.from(await encodeBatch({ records: records.slice(0, 1) }));
      // The first record's length varint follows the 61 header bytes.
      bytes[61] = 0x7e; // 63, zigzag: longer than what is left
      assertEquals(decodeBatch(bytes, 0), undefined);
    });
  },
});

Deno.test({
  name: "KafkaJS's fetch response decoding takes its record batches through the one-pass decoder",
  permissions: "none",
  async fn() {
    const next = seededRandom(3);
    const batches = Buffer.concat([
      await encodeBatch({ firstOffset: 10, records: randomRecords(next, 4) }),
      await encodeBatch({ firstOffset: 20, records: randomRecords(next, 3), compression: 1 }),
    ]);
    const size = Buffer.alloc(4);
    size.writeInt32BE(batches.length);
    const before = { ...batchDecoding };
    const records = await codec.decodeMessages(new codec.Decoder(Buffer.concat([size, batches])));
    assertEquals(records.length, 7);
    assertEquals(batchDecoding.onePass - before.onePass, 1);
    assertEquals(batchDecoding.kafkajs - before.kafkajs, 1);
  },
});

/**
 * Unit: the KafkaJS encoder speed patch writes the very bytes KafkaJS's own
 * varint writers write, for every kind of value a record carries, and its
 * guard refuses an encoder of another shape.
 */
import { assertEquals } from "./assert.ts";
import { assertRefusedShapes } from "./patch_support.ts";
import {
  encoderShapeProblem,
  KafkaEncoder,
  ORIGINAL_WRITERS,
  patchEncoder,
} from "../lib/kafka_codec_patch.ts";

type Writer = (this: unknown, value: unknown) => unknown;
type EncoderLike = { buffer: Uint8Array; writeUVarInt: Writer; writeVarLong: Writer };
const EncoderClass = KafkaEncoder as new (size?: number) => EncoderLike;

function bytes(write: (encoder: EncoderLike) => void): number[] {
  const encoder = new EncoderClass(1);
  write(encoder);
  return [...encoder.buffer];
}

Deno.test({
  name: "patched varint writers write the same bytes as KafkaJS's own",
  permissions: "none",
  async fn(t) {
    const unsigned = [
      0,
      1,
      127,
      128,
      255,
      300,
      16_383,
      16_384,
      2 ** 21,
      2 ** 28,
      2 ** 31,
      2 ** 32 - 1,
    ];
    const signed = [
      0,
      1,
      -1,
      63,
      -64,
      64,
      1_500,
      -1_500,
      2 ** 30,
      -(2 ** 30),
      2 ** 31 - 1,
      -(2 ** 31),
      // Outside 32 bits: the original code path.
      2 ** 31,
      -(2 ** 31) - 1,
      2 ** 40,
      Number.MAX_SAFE_INTEGER,
    ];
    await t.step("writeUVarInt", () => {
      for (const value of unsigned) {
        const expected = bytes((e) => ORIGINAL_WRITERS.writeUVarInt.call(e, value));
        assertEquals(bytes((e) => e.writeUVarInt(value)), expected, `value ${value}`);
      }
    });
    await t.step("writeVarLong", () => {
      for (const value of signed) {
        const expected = bytes((e) => ORIGINAL_WRITERS.writeVarLong.call(e, value));
        assertEquals(bytes((e) => e.writeVarLong(value)), expected, `value ${value}`);
      }
    });
    await t.step("many values in a row grow the buffer like the original", () => {
      const values = Array.from({ length: 500 }, (_, i) => i * 7919 - 100_000);
      const expected = bytes((e) => {
        for (const v of values) ORIGINAL_WRITERS.writeVarLong.call(e, v);
      });
      assertEquals(bytes((e) => values.forEach((v) => e.writeVarLong(v))), expected);
    });
  },
});

Deno.test({
  name: "an encoder of another shape is refused with an error naming what differs",
  permissions: "none",
  async fn(t) {
    assertEquals(encoderShapeProblem(KafkaEncoder), undefined);
    class NoVarLong {
      writeUVarInt() {}
      ensureAvailable() {}
    }
    class NoBuf {
      offset = 0;
      writeUVarInt() {}
      writeVarLong() {}
      ensureAvailable() {}
    }
    const cases: Array<[string, unknown, RegExp]> = [
      ["not a class", {}, /not a class/],
      ["no writeVarLong", NoVarLong, /no writeVarLong method/],
      ["no buf", NoBuf, /no buf Buffer/],
    ];
    await assertRefusedShapes(t, {
      part: "protocol encoder",
      shapeProblem: encoderShapeProblem,
      patch: patchEncoder,
      cases,
    });
  },
});

/**
 * A speed patch of KafkaJS 2.2.4's protocol encoder, part of the Kafka adapter
 * (only lib/kafka.ts imports it). KafkaJS writes every varint of a record
 * (its length, offset and timestamp deltas, key and value lengths, header
 * count and lengths) by building a JS array, then a Buffer from it, then
 * copying that Buffer into the encoder: about eight small Buffers per record,
 * and the 64-bit ones go through a Long first. Under Deno a Buffer costs
 * about a microsecond to create, which made varints about a tenth of the
 * producer's CPU. The patched writers put the same bytes straight into the
 * encoder's buffer; values outside the fast path go to the original code.
 * A growing encoder takes its new buffer unfilled (Buffer.allocUnsafe, from
 * Node's pool when small): every byte up to the offset is written before it
 * is read, and nothing past the offset ever leaves the encoder.
 */
import Encoder from "kafkajs/src/protocol/encoder.js";
import { Buffer } from "node:buffer";

interface EncoderInstance {
  buf: Buffer;
  offset: number;
  ensureAvailable(length: number): void;
  writeUVarInt(value: number): EncoderInstance;
  writeVarLong(value: unknown): EncoderInstance;
}
type EncoderClass = { prototype: EncoderInstance; new (initialSize?: number): EncoderInstance };

/**
 * Throws the one error of every KafkaJS patch when what it patches has another
 * shape than the patch was written for (a KafkaJS upgrade).
 *
 * @param problem what differs, or undefined when nothing does
 */
export function refuseUnpatchable(part: string, problem: string | undefined, module: string): void {
  if (problem === undefined) return;
  throw new Error(
    `Cannot patch KafkaJS's ${part}: ${problem}. The patch in ${module} is written for kafkajs 2.2.4; check it against the installed version`,
  );
}

/** At most 5 bytes for an unsigned 32-bit varint. */
const MAX_VARINT32_BYTES = 5;

/**
 * What in KafkaJS's encoder differs from what the patch relies on, or
 * undefined: `writeUVarInt`, `writeVarLong` and `ensureAvailable` methods, and
 * instances with a `buf` byte array and a numeric `offset`.
 */
export function encoderShapeProblem(encoderClass: unknown): string | undefined {
  if (typeof encoderClass !== "function") return "it is not a class";
  const proto = (encoderClass as EncoderClass).prototype;
  for (const method of ["writeUVarInt", "writeVarLong", "ensureAvailable"] as const) {
    if (typeof proto?.[method] !== "function") return `it has no ${method} method`;
  }
  let probe: EncoderInstance;
  try {
    probe = new (encoderClass as EncoderClass)(16);
  } catch (error) {
    return `it cannot be constructed as in 2.2.4 (${(error as Error).message})`;
  }
  if (!Buffer.isBuffer(probe.buf)) return "its instances have no buf Buffer";
  if (typeof probe.offset !== "number") return "its instances have no offset number";
  return undefined;
}

/** Writes `value` (an unsigned 32-bit integer) as a varint at the encoder's offset. */
function putUVarInt(encoder: EncoderInstance, value: number): void {
  encoder.ensureAvailable(MAX_VARINT32_BYTES);
  const buf = encoder.buf;
  let offset = encoder.offset;
  while ((value & 0xffffff80) !== 0) {
    buf[offset++] = (value & 0x7f) | 0x80;
    value >>>= 7;
  }
  buf[offset++] = value & 0x7f;
  encoder.offset = offset;
}

/**
 * Installs the patch on `encoderClass`.
 *
 * @throws {Error} when the class does not have the shape the patch relies on
 */
export function patchEncoder(encoderClass: unknown): void {
  refuseUnpatchable(
    "protocol encoder",
    encoderShapeProblem(encoderClass),
    "lib/kafka_codec_patch.ts",
  );
  const proto = (encoderClass as EncoderClass).prototype;
  const writeVarLong = proto.writeVarLong;
  proto.ensureAvailable = function (this: EncoderInstance, length: number) {
    const needed = this.offset + length;
    if (needed <= this.buf.length) return;
    const grown = Buffer.allocUnsafe(1 << (32 - Math.clz32(needed))); // As KafkaJS sizes it.
    this.buf.copy(grown, 0, 0, this.offset);
    this.buf = grown;
  };
  proto.writeUVarInt = function (this: EncoderInstance, value: number) {
    putUVarInt(this, value);
    return this;
  };
  proto.writeVarLong = function (this: EncoderInstance, value: unknown) {
    // A 32-bit integer's 64-bit zigzag is its 32-bit zigzag: the same bytes.
    if (typeof value === "number" && (value | 0) === value) {
      putUVarInt(this, ((value << 1) ^ (value >> 31)) >>> 0);
      return this;
    }
    return writeVarLong.call(this, value);
  };
}

/** The original writers, kept for the test that compares their bytes with the patched ones. */
export const ORIGINAL_WRITERS = {
  writeUVarInt: (Encoder as unknown as EncoderClass).prototype.writeUVarInt,
  writeVarLong: (Encoder as unknown as EncoderClass).prototype.writeVarLong,
};

/** The installed KafkaJS's encoder class (for the tests). */
export const KafkaEncoder: unknown = Encoder;

patchEncoder(Encoder);

/**
 * Speed patches of KafkaJS 2.2.4's protocol encoding, part of the Kafka adapter
 * (only lib/kafka.ts imports it, before KafkaJS itself: see the grouping patch
 * below).
 *
 * Produce requests (versions 3 to 7, uncompressed) are encoded in one pass by
 * kafka_produce_encoder.ts; a request it does not write exactly as KafkaJS
 * does goes to KafkaJS's own encoder. KafkaJS's producer groups a send's
 * messages by partition copying the partition's array for every message
 * (quadratic: 3-4% of the main thread for sends of 1,000); the grouping is
 * replaced, before KafkaJS's producer module captures it, by one that appends;
 * so is the request framing (`frameRequest`), which copied every request twice.
 * Fetched record batches are decoded in one pass where they can be
 * (kafka_record_decoder.ts): KafkaJS's batch decoder is replaced before its
 * fetch response decoder captures it.
 *
 * The encoder: KafkaJS writes every varint of a record
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
import produceRequests from "kafkajs/src/protocol/requests/produce/index.js";
import Long from "kafkajs/src/utils/long.js";
import kafkaDecoder from "kafkajs/src/protocol/decoder.js";
import recordBatchEncoding from "kafkajs/src/protocol/recordBatch/v0/index.js";
import recordEncoder from "kafkajs/src/protocol/recordBatch/record/v0/index.js";
import { Buffer } from "node:buffer";
import { createRequire } from "node:module";
import { encodeProduceRequest, type ProduceRequestData } from "./kafka_produce_encoder.ts";
import { decodeBatch } from "./kafka_record_decoder.ts";

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

/** Produce request versions whose body kafka_produce_encoder.ts writes. */
const ONE_PASS_VERSIONS = [3, 4, 5, 6, 7];
/** KafkaJS's compression type "none". */
const NO_COMPRESSION = 0;

type ProduceArgs = Omit<ProduceRequestData, "producerId"> & {
  producerId?: unknown;
  compression?: number;
};
type ProduceBuilder = (args: ProduceArgs) => {
  request: { apiVersion: number; encode(): Promise<unknown> };
  response: unknown;
};
type ProduceModule = { versions: string[]; protocol(options: { version: number }): ProduceBuilder };

/** Requests encoded in one pass, and those left to KafkaJS (for tests and checks). */
export const produceEncoding = { onePass: 0, kafkajs: 0 };

/**
 * What in KafkaJS's Produce request module differs from what the patch
 * relies on, or undefined: a `protocol({ version })` giving, for versions 3 to
 * 7, a builder whose request has that `apiVersion` and an `encode` method.
 */
export function produceShapeProblem(module: unknown): string | undefined {
  const produce = module as Partial<ProduceModule> | undefined;
  if (typeof produce?.protocol !== "function" || !Array.isArray(produce.versions)) {
    return "it has no protocol function and versions list";
  }
  for (const version of ONE_PASS_VERSIONS) {
    if (!produce.versions.includes(String(version))) return `it has no version ${version}`;
    const build = produce.protocol({ version });
    if (typeof build !== "function") return `its version ${version} is not a request builder`;
    const { request } = build({
      acks: -1,
      timeout: 1,
      transactionalId: null,
      producerEpoch: 0,
      topicData: [],
    });
    if (request?.apiVersion !== version || typeof request.encode !== "function") {
      return `its version ${version} builds no request with apiVersion and encode`;
    }
  }
  return undefined;
}

/** KafkaJS's producer id (a Long, a decimal string or a number; -1 when absent) as a bigint. */
function producerIdOf(value: unknown): bigint {
  if (value === undefined || value === null) return -1n;
  return BigInt.asIntN(
    64,
    BigInt((Long as { fromValue(v: unknown): object }).fromValue(value).toString()),
  );
}

/** A KafkaJS encoder holding `bytes` (KafkaJS frames the request from `buf` and `offset`). */
function asEncoder(bytes: Uint8Array): EncoderInstance {
  const encoder = new (Encoder as unknown as EncoderClass)(0);
  encoder.buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  encoder.offset = bytes.byteLength;
  return encoder;
}

/**
 * Installs the one-pass Produce encoder on KafkaJS's Produce request module.
 *
 * @throws {Error} when the module does not have the shape the patch relies on
 */
export function patchProduceRequest(module: unknown): void {
  refuseUnpatchable("Produce request", produceShapeProblem(module), "lib/kafka_codec_patch.ts");
  const produce = module as ProduceModule;
  const protocol = produce.protocol;
  produce.protocol = ({ version }) => {
    const build = protocol({ version });
    if (!ONE_PASS_VERSIONS.includes(version)) return build;
    return (args) => {
      const built = build(args);
      const encode = built.request.encode;
      built.request.encode = () => {
        const bytes = (args.compression ?? NO_COMPRESSION) === NO_COMPRESSION
          ? encodeProduceRequest({ ...args, producerId: producerIdOf(args.producerId) })
          : undefined;
        if (bytes === undefined) {
          produceEncoding.kafkajs++;
          return encode();
        }
        produceEncoding.onePass++;
        return Promise.resolve(asEncoder(bytes));
      };
      return built;
    };
  };
}

/** KafkaJS's own Produce request builders, kept for the test that compares their bytes. */
export const ORIGINAL_PRODUCE_PROTOCOL: ProduceModule["protocol"] =
  (produceRequests as ProduceModule).protocol;

/** KafkaJS's Produce request module, patched once this module has loaded (for the tests). */
export const KafkaProduceRequests: unknown = produceRequests;

patchProduceRequest(produceRequests);

type Grouping = (options: {
  topic: string;
  partitionMetadata: unknown[];
  messages: unknown[];
  partitioner: (
    options: { topic: string; partitionMetadata: unknown[]; message: unknown },
  ) => number;
}) => Record<number, unknown[]>;

/** Sends whose messages the replacement grouping sorted by partition (for tests and checks). */
export const groupingCalls = { count: 0 };

/**
 * KafkaJS's `groupMessagesPerPartition`, appending instead of copying: the
 * same partitioner calls in the same order, the same object of arrays.
 */
export const groupMessagesPerPartition: Grouping = (
  { topic, partitionMetadata, messages, partitioner },
) => {
  groupingCalls.count++;
  const grouped: Record<number, unknown[]> = {};
  if (partitionMetadata.length === 0) return grouped;
  for (const message of messages) {
    const partition = partitioner({ topic, partitionMetadata, message });
    (grouped[partition] ??= []).push(message);
  }
  return grouped;
};

/** Requests framed by `frameRequest` (for tests and checks). */
export const framedRequests = { count: 0 };

type RequestFraming = (options: {
  correlationId: number;
  clientId: string | null | undefined;
  request: { apiKey: number; apiVersion: number; encode(): Promise<unknown> };
}) => Promise<EncoderInstance>;

/**
 * KafkaJS's request framing (protocol/request.js) in one buffer: size, API
 * key and version, correlation id, client id, then the request's bytes copied
 * once. KafkaJS writes the header into a 512-byte encoder, grows it to the
 * next power of two above the request (a copy), then copies that into another
 * encoder behind the size (a second copy and growth): 2% of the main thread at
 * full speed, about 5% at a set rate, where requests are small and many.
 */
export const frameRequest: RequestFraming = async (
  { correlationId, clientId, request: { apiKey, apiVersion, encode } },
) => {
  framedRequests.count++;
  const payload = (await encode()) as EncoderInstance;
  if (payload === null || typeof payload !== "object" || !Buffer.isBuffer(payload.buf)) {
    throw new Error("value should be an instance of Encoder"); // As KafkaJS's writeEncoder.
  }
  const idLength = clientId == null ? 0 : Buffer.byteLength(clientId, "utf8");
  const headerBytes = 2 + 2 + 4 + 2 + idLength;
  const frame = Buffer.allocUnsafe(4 + headerBytes + payload.offset);
  frame.writeInt32BE(headerBytes + payload.offset, 0);
  frame.writeInt16BE(apiKey, 4);
  frame.writeInt16BE(apiVersion, 6);
  frame.writeInt32BE(correlationId, 8);
  frame.writeInt16BE(clientId == null ? -1 : idLength, 12);
  if (clientId != null) frame.write(clientId, 14, idLength, "utf8");
  payload.buf.copy(frame, 4 + headerBytes, 0, payload.offset);
  const encoder = new (Encoder as unknown as EncoderClass)(0);
  encoder.buf = frame;
  encoder.offset = frame.length;
  return encoder;
};

// Relative to KafkaJS's protocol/encoder.js, which this module has loaded.
const GROUPING_MODULE = "../producer/groupMessagesPerPartition.js";
const SENDING_MODULE = "../producer/sendMessages.js";
const FRAMING_MODULE = "./request.js";
const CONNECTION_MODULE = "../network/connection.js";
const BATCH_DECODER_MODULE = "./recordBatch/v0/decoder.js";
const FETCH_MESSAGES_MODULE = "./requests/fetch/v4/decodeMessages.js";
const ENCODER_FILE = "/kafkajs/src/protocol/encoder.js";

type Require = ReturnType<typeof createRequire> & {
  cache: Record<string, { exports: unknown } | undefined>;
};

/**
 * A require from KafkaJS's encoder module, found in the module cache: it
 * resolves KafkaJS's files within its package, where a process without read
 * permission may load code (a resolution from lib/ would look for a
 * node_modules folder beside it first, which needs read permission there).
 */
function kafkaRequire(): Require {
  const cache = (createRequire(import.meta.url) as Require).cache;
  const encoderFile = Object.keys(cache).find((path) =>
    path.replaceAll("\\", "/").endsWith(ENCODER_FILE)
  );
  refuseUnpatchable(
    "module cache",
    encoderFile === undefined ? "its encoder module is not in the module cache" : undefined,
    "lib/kafka_codec_patch.ts",
  );
  return createRequire(encoderFile!) as Require;
}

/**
 * Puts `replacement` in KafkaJS's module cache in place of module `path`,
 * where `user` (not loaded yet: this module is imported before KafkaJS) will
 * take it from; returns the original.
 *
 * @throws {Error} when `user` already took the original, or the original is not a function of `arity` arguments
 */
function replaceModule(
  part: string,
  { path, user, arity }: { path: string; user: string; arity: number },
  replacement: unknown,
): unknown {
  const require = kafkaRequire();
  const cache = require.cache;
  const resolved = require.resolve(path);
  const original = require(resolved);
  const entry = cache[resolved];
  refuseUnpatchable(
    part,
    cache[require.resolve(user)] !== undefined
      ? `${user} was loaded before the patch (import lib/kafka_codec_patch.ts before KafkaJS)`
      : typeof original !== "function" || original.length !== arity
      ? `it is not a function of ${arity} argument(s)`
      : entry === undefined
      ? "it is not in the module cache"
      : undefined,
    "lib/kafka_codec_patch.ts",
  );
  entry!.exports = replacement;
  return original;
}

replaceModule(
  "message grouping",
  { path: GROUPING_MODULE, user: SENDING_MODULE, arity: 1 },
  groupMessagesPerPartition,
);

/** KafkaJS's own request framing, kept for the test that compares its bytes. */
export const ORIGINAL_FRAMING = replaceModule(
  "request framing",
  { path: FRAMING_MODULE, user: CONNECTION_MODULE, arity: 1 },
  frameRequest,
) as RequestFraming;

/** Record batches decoded in one pass, and those left to KafkaJS (compressed, cut short). */
export const batchDecoding = { onePass: 0, kafkajs: 0 };

interface FetchDecoder {
  buffer: Buffer;
  offset: number;
}
type BatchDecoder = (decoder: FetchDecoder) => Promise<unknown>;

/** KafkaJS's own record batch decoder, for what the one-pass one leaves, and its test. */
export const ORIGINAL_BATCH_DECODER: BatchDecoder = replaceModule(
  "record batch decoder",
  { path: BATCH_DECODER_MODULE, user: FETCH_MESSAGES_MODULE, arity: 1 },
  decodeRecordBatch,
) as BatchDecoder;

/** KafkaJS's record batch decoder, in one pass where kafka_record_decoder.ts can. */
function decodeRecordBatch(decoder: FetchDecoder): Promise<unknown> {
  const decoded = decodeBatch(decoder.buffer, decoder.offset);
  if (decoded === undefined) {
    batchDecoding.kafkajs++;
    return ORIGINAL_BATCH_DECODER(decoder);
  }
  batchDecoding.onePass++;
  decoder.offset = decoded.next;
  return Promise.resolve(decoded.batch);
}

/**
 * KafkaJS's record codec, for the test that compares the one-pass decoder
 * with it: its batch and record encoders, its decoder class, and its fetch
 * response's record set decoder (which takes the patched batch decoder).
 */
export const KAFKAJS_RECORD_CODEC = {
  RecordBatch: (recordBatchEncoding as { RecordBatch: unknown }).RecordBatch,
  Record: recordEncoder as unknown,
  Decoder: kafkaDecoder as unknown,
  decodeMessages: kafkaRequire()(FETCH_MESSAGES_MODULE) as unknown,
};

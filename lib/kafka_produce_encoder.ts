/**
 * The body of a Kafka Produce request, versions 3 to 7 (record batches of
 * magic 2, uncompressed), written in one pass into one buffer: the bytes
 * KafkaJS 2.2.4 writes, without its per-record encoders. KafkaJS builds an
 * encoder per record and per header (a 512-byte buffer each, grown for a
 * 1.5 KB value), then copies every record into the batch, the batch into its
 * frame, the frame into the partition's and topic's encoders: about 30% of the
 * producer's main thread at full speed, with 7% more in its byte-at-a-time
 * CRC-32C. Here every size is computed first, each value is copied once, and
 * the checksum is crc32c.ts's. Pure; kafka_codec_patch.ts installs it.
 *
 * Messages outside what it writes exactly as KafkaJS does (a timestamp of
 * their own, a key or value that is neither a string nor a Buffer, a header
 * value that is neither) make it answer undefined, and KafkaJS's own encoder
 * is used for that request.
 */
import { Buffer } from "node:buffer";
import { crc32c } from "./crc32c.ts";

/** A message as KafkaJS's producer hands it to the Produce request. */
export interface ProduceMessage {
  key?: unknown;
  value?: unknown;
  headers?: unknown;
  timestamp?: unknown;
}

/** A Produce request's arguments, as KafkaJS's broker passes them. */
export interface ProduceRequestData {
  transactionalId: string | null | undefined;
  acks: number;
  timeout: number;
  /** The producer id, a signed 64-bit integer (-1: none). */
  producerId: bigint;
  producerEpoch: number;
  topicData: ReadonlyArray<{
    topic: string;
    partitions: ReadonlyArray<{
      partition: number;
      firstSequence?: number | undefined;
      messages: readonly ProduceMessage[];
    }>;
  }>;
}

/** Record-batch attribute: the batch is part of a transaction. */
const TRANSACTIONAL_ATTRIBUTE = 16;
const MAGIC_BYTE = 2;
/** Batch bytes before the records' CRC-covered part: offset, length, leader epoch, magic, CRC. */
const BATCH_PREFIX_BYTES = 8 + 4 + 4 + 1 + 4;
/** The CRC-covered header: attributes … first sequence, then the record count. */
const BATCH_BODY_HEADER_BYTES = 2 + 4 + 8 + 8 + 8 + 2 + 4 + 4;

/** Bytes of the unsigned varint `value` (a uint32). */
function uvarintSize(value: number): number {
  if (value < 0x80) return 1;
  if (value < 0x4000) return 2;
  if (value < 0x200000) return 3;
  if (value < 0x10000000) return 4;
  return 5;
}

/** Bytes of the zigzag varint `value` (an int32). */
function varintSize(value: number): number {
  return uvarintSize(((value << 1) ^ (value >> 31)) >>> 0);
}

/** UTF-8 bytes of `text` as encodeInto writes it (a lone surrogate becomes U+FFFD, 3 bytes). */
function utf8Length(text: string): number {
  let bytes = text.length;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x80) continue;
    if (code < 0x800) {
      bytes += 1;
      continue;
    }
    // 3 bytes for one unit, or 4 for a surrogate pair's two.
    bytes += 2;
    if (code >= 0xd800 && code <= 0xdbff) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) i++;
    }
  }
  return bytes;
}

/** A key, value or header value KafkaJS would write, as bytes or text; else undefined. */
type Bytes = Uint8Array | string | null;

function isBuffer(value: unknown): value is Uint8Array {
  // KafkaJS tells raw bytes by Buffer.isBuffer; a plain Uint8Array it would
  // stringify, which is left to KafkaJS.
  return Buffer.isBuffer(value);
}

/** Size of a varint-length-prefixed field (-1 length for null), or -1 when unsupported. */
function fieldSize(value: unknown): number {
  if (value === null || value === undefined) return 1;
  if (typeof value === "string") {
    const length = utf8Length(value);
    return varintSize(length) + length;
  }
  if (isBuffer(value)) return varintSize(value.length) + value.length;
  return -1;
}

/** The headers of a message as KafkaJS flattens them (an array value: one header each), or undefined. */
function headerList(headers: unknown): Array<[string, Bytes]> | undefined {
  const list: Array<[string, Bytes]> = [];
  if (headers === undefined || headers === null) return list;
  if (typeof headers !== "object") return undefined;
  for (const key of Object.keys(headers)) {
    const value = (headers as Record<string, unknown>)[key];
    for (const one of Array.isArray(value) ? value : [value]) {
      if (typeof one !== "string" && !isBuffer(one)) return undefined;
      list.push([key, one]);
    }
  }
  return list;
}

const utf8 = new TextEncoder();

/** Writes into one buffer, growing nothing: the size is known first. */
class Writer {
  readonly bytes: Uint8Array;
  readonly view: DataView;
  offset = 0;

  constructor(size: number) {
    this.bytes = new Uint8Array(size);
    this.view = new DataView(this.bytes.buffer);
  }

  int8(value: number): void {
    this.bytes[this.offset++] = value;
  }
  int16(value: number): void {
    this.view.setInt16(this.offset, value);
    this.offset += 2;
  }
  int32(value: number): void {
    this.view.setInt32(this.offset, value);
    this.offset += 4;
  }
  int64(value: bigint): void {
    this.view.setBigInt64(this.offset, value);
    this.offset += 8;
  }
  uvarint(value: number): void {
    const bytes = this.bytes;
    let offset = this.offset;
    while (value >= 0x80) {
      bytes[offset++] = (value & 0x7f) | 0x80;
      value >>>= 7;
    }
    bytes[offset++] = value;
    this.offset = offset;
  }
  varint(value: number): void {
    this.uvarint(((value << 1) ^ (value >> 31)) >>> 0);
  }
  /** UTF-8 text whose length is known (`length` bytes). */
  text(value: string, length: number): void {
    if (length === value.length) {
      // ASCII: one byte per unit, no encoder call.
      const bytes = this.bytes;
      let offset = this.offset;
      for (let i = 0; i < value.length; i++) bytes[offset++] = value.charCodeAt(i);
    } else {
      utf8.encodeInto(value, this.bytes.subarray(this.offset, this.offset + length));
    }
    this.offset += length;
  }
  /** A STRING: int16 length (-1 for null), then UTF-8. */
  string(value: string | null): void {
    if (value === null) return this.int16(-1);
    const length = utf8Length(value);
    this.int16(length);
    this.text(value, length);
  }
  /** A varint-length-prefixed field (-1 for null). */
  field(value: Bytes | undefined): void {
    if (value === null || value === undefined) return this.varint(-1);
    if (typeof value === "string") {
      const length = utf8Length(value);
      this.varint(length);
      this.text(value, length);
      return;
    }
    this.varint(value.length);
    this.bytes.set(value, this.offset);
    this.offset += value.length;
  }
}

/** A message that this encoder writes, with its sizes. */
interface Planned {
  key: Bytes;
  value: Bytes;
  headers: Array<[string, Bytes]>;
  /** The record's bytes after its length varint. */
  bodySize: number;
}

function isInt(value: unknown, bits: 16 | 32): value is number {
  const limit = 2 ** (bits - 1);
  return typeof value === "number" && Number.isInteger(value) && value >= -limit && value < limit;
}

/**
 * The Produce request body KafkaJS 2.2.4 would write for `data` (versions 3
 * to 7 share it), or undefined when a message or argument is outside what this
 * encoder writes exactly as KafkaJS does.
 *
 * @param options.now the batches' timestamp, taken once per partition as KafkaJS does (default Date.now)
 */
export function encodeProduceRequest(
  data: ProduceRequestData,
  { now = Date.now }: { now?: () => number } = {},
): Uint8Array | undefined {
  const { transactionalId, acks, timeout, producerEpoch, topicData } = data;
  if (!isInt(acks, 16) || !isInt(timeout, 32) || !isInt(producerEpoch, 16)) return undefined;
  if (transactionalId !== null && transactionalId !== undefined) {
    if (typeof transactionalId !== "string") return undefined;
  }
  let size = 2 + (transactionalId ? utf8Length(transactionalId) : 0) + 2 + 4 + 4;
  const plans: Planned[][][] = [];
  for (const { topic, partitions } of topicData) {
    if (typeof topic !== "string") return undefined;
    size += 2 + utf8Length(topic) + 4;
    const topicPlans: Planned[][] = [];
    for (const { partition, firstSequence = 0, messages } of partitions) {
      if (!isInt(partition, 32) || !isInt(firstSequence, 32) || messages.length === 0) {
        return undefined;
      }
      const planned: Planned[] = [];
      let recordsSize = 0;
      for (let i = 0; i < messages.length; i++) {
        const message = messages[i]!;
        if (message.timestamp !== undefined && message.timestamp !== null) return undefined;
        const keySize = fieldSize(message.key);
        const valueSize = fieldSize(message.value);
        const headers = headerList(message.headers);
        if (keySize < 0 || valueSize < 0 || headers === undefined) return undefined;
        let headersSize = varintSize(headers.length);
        for (const [name, value] of headers) headersSize += fieldSize(name) + fieldSize(value);
        // Attributes, timestamp delta (0: one timestamp per batch), offset delta.
        const bodySize = 1 + 1 + varintSize(i) + keySize + valueSize + headersSize;
        recordsSize += varintSize(bodySize) + bodySize;
        planned.push({
          key: (message.key ?? null) as Bytes,
          value: (message.value ?? null) as Bytes,
          headers,
          bodySize,
        });
      }
      // Partition id and record-set size, then the batch.
      size += 4 + 4 + BATCH_PREFIX_BYTES + BATCH_BODY_HEADER_BYTES + recordsSize;
      topicPlans.push(planned);
    }
    plans.push(topicPlans);
  }

  const out = new Writer(size);
  out.string(transactionalId ?? null);
  out.int16(acks);
  out.int32(timeout);
  out.int32(topicData.length);
  topicData.forEach(({ topic, partitions }, t) => {
    out.string(topic);
    out.int32(partitions.length);
    partitions.forEach(({ partition, firstSequence = 0 }, p) => {
      const planned = plans[t]![p]!;
      const timestamp = BigInt(now());
      out.int32(partition);
      const recordSetSizeAt = out.offset;
      out.offset += 4;
      out.int64(0n); // First offset: the broker assigns it.
      const batchLengthAt = out.offset;
      out.offset += 4;
      out.int32(0); // Partition leader epoch.
      out.int8(MAGIC_BYTE);
      const crcAt = out.offset;
      out.offset += 4;
      const bodyStart = out.offset;
      out.int16(transactionalId ? TRANSACTIONAL_ATTRIBUTE : 0);
      out.int32(planned.length - 1); // Last offset delta.
      out.int64(timestamp); // First timestamp.
      out.int64(timestamp); // Max timestamp.
      out.int64(data.producerId);
      out.int16(producerEpoch);
      out.int32(firstSequence);
      out.int32(planned.length);
      planned.forEach(({ key, value, headers, bodySize }, i) => {
        out.varint(bodySize);
        out.int8(0); // Attributes.
        out.int8(0); // Timestamp delta 0, as a varint.
        out.varint(i);
        out.field(key);
        out.field(value);
        out.varint(headers.length);
        for (const [name, headerValue] of headers) {
          out.field(name);
          out.field(headerValue);
        }
      });
      const end = out.offset;
      out.view.setInt32(recordSetSizeAt, end - recordSetSizeAt - 4);
      out.view.setInt32(batchLengthAt, end - batchLengthAt - 4);
      out.view.setUint32(crcAt, crc32c(out.bytes, bodyStart, end));
    });
  });
  if (out.offset !== size) {
    throw new Error(`Cannot encode a Produce request: wrote ${out.offset} bytes of ${size}`);
  }
  return out.bytes;
}

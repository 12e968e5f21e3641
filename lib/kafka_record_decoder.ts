/**
 * A one-pass decoder of an uncompressed Kafka record batch (magic 2), part of
 * the Kafka adapter (kafka_codec_patch.ts puts it in KafkaJS's fetch path).
 * It returns what KafkaJS 2.2.4's own batch decoder returns, value for value.
 *
 * KafkaJS decodes each record through a Buffer of the record and a decoder
 * object of its own. It reads the timestamp delta as a Long, then parses the
 * batch's first offset and first timestamp from their decimal strings into
 * Longs again for every record, adds and prints them back. That was about a
 * fifth of the tracker's main thread.
 *
 * Here offsets and timestamps are numbers, and key and value are views of
 * the fetched bytes, as KafkaJS's are. A batch the fast path cannot decode
 * exactly as KafkaJS does (compressed, cut short by the fetch size, an offset
 * or timestamp beyond 2^53, malformed) is left to KafkaJS: `decodeBatch`
 * returns undefined and reads nothing.
 */
import { Buffer } from "node:buffer";

/** KafkaJS's timestamp types (kafkajs/src/protocol/timestampTypes.js). */
const CREATE_TIME = 0;
const LOG_APPEND_TIME = 1;

const COMPRESSION_MASK = 0x07;
const TIMESTAMP_TYPE_FLAG = 0x08;
const TRANSACTIONAL_FLAG = 0x10;
const CONTROL_FLAG = 0x20;

/** Bytes of a batch before its records: offset, length, header fields, record count. */
const BATCH_HEAD_BYTES = 61;
/** From the batch's start to where its `length` counts from. */
const LENGTH_FROM = 12;
/** 2^53: beyond it numbers are not exact. */
const SAFE = 2 ** 53;

/** The batch fields every record of a batch refers to, as KafkaJS names them. */
export interface BatchContext {
  firstOffset: string;
  firstTimestamp: string;
  partitionLeaderEpoch: number;
  inTransaction: boolean;
  isControlBatch: boolean;
  lastOffsetDelta: number;
  producerId: string;
  producerEpoch: number;
  firstSequence: number;
  maxTimestamp: string;
  timestampType: number;
}

/** A record as KafkaJS's record decoder returns it. */
export interface DecodedRecord {
  magicByte: number;
  attributes: number;
  timestamp: string;
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, Buffer | null | Array<Buffer | null>>;
  isControlRecord: boolean;
  batchContext: BatchContext & { magicByte: number };
}

/** A decoded batch: its context's fields and its records. */
export type DecodedBatch = BatchContext & { records: DecodedRecord[] };

/** The header key `Reader.text` read last. */
let lastHeaderKey = "";

/** Thrown inside the fast path when the batch is not one it decodes exactly. */
class NotFast extends Error {}
const NOT_FAST = new NotFast();

/**
 * Reads through one batch's bytes. Every read checks its bound (`end`), so a
 * malformed batch stops the fast path instead of reading garbage.
 */
class Reader {
  pos: number;
  constructor(readonly buf: Buffer, pos: number, public end: number) {
    this.pos = pos;
  }

  byte(): number {
    if (this.pos >= this.end) throw NOT_FAST;
    return this.buf[this.pos++]!;
  }

  /** A zigzag varint of 32 bits, computed as KafkaJS's `readVarInt` does. */
  varInt(): number {
    let result = 0;
    let shift = 0;
    let byte;
    do {
      if (shift > 28) throw NOT_FAST;
      byte = this.byte();
      result += (byte & 0x7f) << shift;
      shift += 7;
    } while (byte >= 0x80);
    return (result >>> 1) ^ -(result & 1);
  }

  /** A zigzag varint of 64 bits whose value is within ±2^52 (else not fast). */
  varLong(): number {
    let result = 0;
    let scale = 1;
    let byte;
    do {
      if (scale > 2 ** 49) throw NOT_FAST;
      byte = this.byte();
      result += (byte & 0x7f) * scale;
      scale *= 128;
    } while (byte >= 0x80);
    if (result >= SAFE) throw NOT_FAST;
    return result % 2 === 0 ? result / 2 : -(result + 1) / 2;
  }

  /** `length` bytes as a Buffer over the same memory (KafkaJS's `slice`); null for -1. */
  bytes(length: number): Buffer | null {
    if (length === -1) return null;
    if (length < 0 || this.pos + length > this.end) throw NOT_FAST;
    const view = this.buf.subarray(this.pos, this.pos + length);
    this.pos += length;
    return view;
  }

  /**
   * A header key: UTF-8 text, or null for -1 (KafkaJS's `readVarIntString`).
   * Bytes that are the ASCII of the key read last are that key again: each
   * order carries the same header, and decoding its name was an op call per
   * record (0.35 → 0.25 µs a record of a batch of orders).
   */
  text(length: number): string | null {
    if (length === -1) return null;
    if (length < 0 || this.pos + length > this.end) throw NOT_FAST;
    const buf = this.buf;
    const start = this.pos;
    this.pos += length;
    const last = lastHeaderKey;
    if (last.length === length) {
      let i = 0;
      while (i < length && buf[start + i]! < 0x80 && buf[start + i] === last.charCodeAt(i)) i++;
      if (i === length) return last;
    }
    lastHeaderKey = buf.toString("utf8", start, start + length);
    return lastHeaderKey;
  }
}

/** A 64-bit integer as a number, when it is exact. */
function exact(value: bigint): number {
  if (value >= BigInt(SAFE) || value <= -BigInt(SAFE)) throw NOT_FAST;
  return Number(value);
}

/**
 * Decodes the batch at `start` of `buf` when it is uncompressed and whole;
 * undefined otherwise (then nothing is read: KafkaJS decodes it).
 *
 * @returns the batch and where the next one starts
 */
export function decodeBatch(
  buf: Buffer,
  start: number,
): { batch: DecodedBatch; next: number } | undefined {
  if (start + BATCH_HEAD_BYTES > buf.length) return undefined;
  const length = buf.readInt32BE(start + 8);
  const end = start + LENGTH_FROM + length;
  if (length < BATCH_HEAD_BYTES - LENGTH_FROM || end > buf.length) return undefined;
  const attributes = buf.readInt16BE(start + 21);
  if ((attributes & COMPRESSION_MASK) !== 0) return undefined;
  const firstOffset = buf.readBigInt64BE(start);
  const firstTimestamp = buf.readBigInt64BE(start + 27);
  try {
    const context: BatchContext = {
      firstOffset: firstOffset.toString(),
      firstTimestamp: firstTimestamp.toString(),
      partitionLeaderEpoch: buf.readInt32BE(start + 12),
      inTransaction: (attributes & TRANSACTIONAL_FLAG) > 0,
      isControlBatch: (attributes & CONTROL_FLAG) > 0,
      lastOffsetDelta: buf.readInt32BE(start + 23),
      producerId: buf.readBigInt64BE(start + 43).toString(),
      producerEpoch: buf.readInt16BE(start + 51),
      firstSequence: buf.readInt32BE(start + 53),
      maxTimestamp: buf.readBigInt64BE(start + 35).toString(),
      timestampType: (attributes & TIMESTAMP_TYPE_FLAG) > 0 ? LOG_APPEND_TIME : CREATE_TIME,
    };
    const magicByte = buf.readInt8(start + 16);
    const records = decodeRecords(buf, start, end, {
      context,
      recordContext: { ...context, magicByte },
      firstOffset: exact(firstOffset),
      firstTimestamp: exact(firstTimestamp),
    });
    return { batch: { ...context, records }, next: end };
  } catch (error) {
    if (error instanceof NotFast) return undefined;
    throw error;
  }
}

function decodeRecords(
  buf: Buffer,
  start: number,
  end: number,
  { context, recordContext, firstOffset, firstTimestamp }: {
    context: BatchContext;
    recordContext: DecodedRecord["batchContext"];
    firstOffset: number;
    firstTimestamp: number;
  },
): DecodedRecord[] {
  const count = buf.readInt32BE(start + BATCH_HEAD_BYTES - 4);
  if (count === -1) return [];
  if (count < 0) throw NOT_FAST;
  // KafkaJS also asks for a max timestamp, which as a decimal string always is one.
  const appendTime = context.timestampType === LOG_APPEND_TIME;
  const reader = new Reader(buf, start + BATCH_HEAD_BYTES, end);
  const records: DecodedRecord[] = new Array(count);
  for (let i = 0; i < count; i++) {
    const size = reader.varInt();
    const recordEnd = reader.pos + size;
    if (size < 0 || recordEnd > end) throw NOT_FAST;
    reader.end = recordEnd;
    const attributes = reader.byte() << 24 >> 24; // Int8, as KafkaJS reads it
    const timestampDelta = reader.varLong();
    const offsetDelta = reader.varInt();
    const key = reader.bytes(reader.varInt());
    const value = reader.bytes(reader.varInt());
    const headers = readHeaders(reader);
    const timestamp = firstTimestamp + timestampDelta;
    const offset = firstOffset + offsetDelta;
    if (Math.abs(timestamp) >= SAFE || offset >= SAFE) throw NOT_FAST;
    records[i] = {
      magicByte: recordContext.magicByte,
      attributes,
      timestamp: appendTime ? context.maxTimestamp : String(timestamp),
      offset: String(offset),
      key,
      value,
      headers,
      isControlRecord: context.isControlBatch,
      batchContext: recordContext,
    };
    // KafkaJS reads a record within its own length and skips what is left.
    reader.pos = recordEnd;
    reader.end = end;
  }
  return records;
}

/** Headers folded into an object as KafkaJS folds them: repeated keys gather in an array. */
function readHeaders(reader: Reader): DecodedRecord["headers"] {
  const headers: DecodedRecord["headers"] = {};
  const count = reader.varInt();
  if (count < -1) throw NOT_FAST; // KafkaJS fails on it
  for (let i = 0; i < count; i++) {
    // A null key becomes "null", as in KafkaJS's object spread.
    const key = String(reader.text(reader.varInt()));
    // An assignment would set the prototype; KafkaJS's spread defines the key.
    if (key === "__proto__") throw NOT_FAST;
    const value = reader.bytes(reader.varInt());
    const old = headers[key];
    headers[key] = old === undefined
      ? value
      : Array.isArray(old)
      ? old.concat([value])
      : [old, value];
  }
  return headers;
}

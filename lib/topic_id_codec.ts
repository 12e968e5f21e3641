/**
 * Kafka's Metadata request and response at version 10, the first to carry
 * topic ids (KIP-516), as far as the tracker needs them: which id a topic
 * name has now. A topic deleted and created again keeps its name and starts
 * its offsets afresh; only its id tells the two apart. KafkaJS 2.2.4 speaks
 * Metadata up to version 6, so the Kafka adapter (kafka.ts) sends these bytes
 * on a connection of its own. Pure: bytes in, values out.
 *
 * Version 10 is a flexible version: the request header carries a tagged-field
 * section after the client id, the response header one after the correlation
 * id, and arrays and strings are "compact" (lengths as unsigned varints, plus
 * one). KafkaJS writes the header up to the client id; the body below begins
 * with the header's empty tagged-field section.
 */

/** Metadata's API key. */
export const METADATA_API_KEY = 3;
/** The first Metadata version whose topics carry their id. */
export const TOPIC_ID_METADATA_VERSION = 10;

/** A topic's entry in a Metadata response: its error code and id. */
export interface TopicIdEntry {
  /** Kafka's error code for the topic: 0, or 3 (UNKNOWN_TOPIC_OR_PARTITION) when it does not exist. */
  errorCode: number;
  /** The id as Kafka's tools print it (base64url, 22 characters); null when zero (no such topic). */
  topicId: string | null;
  partitions: number;
}

/** Kafka's UNKNOWN_TOPIC_OR_PARTITION error code. */
export const UNKNOWN_TOPIC_OR_PARTITION = 3;

function unsignedVarInt(value: number): number[] {
  const bytes: number[] = [];
  while (value >= 0x80) {
    bytes.push((value & 0x7f) | 0x80);
    value >>>= 7;
  }
  bytes.push(value);
  return bytes;
}

/**
 * The body of a Metadata v10 request for `topics` by name (no auto-creation,
 * no authorized operations), preceded by the request header's empty
 * tagged-field section.
 */
export function encodeTopicIdRequest(topics: readonly string[]): Uint8Array {
  const text = new TextEncoder();
  const bytes: number[] = [0]; // header: no tagged fields
  bytes.push(...unsignedVarInt(topics.length + 1));
  for (const topic of topics) {
    bytes.push(...new Array<number>(16).fill(0)); // topic id: zero, asked by name
    const name = text.encode(topic);
    bytes.push(...unsignedVarInt(name.length + 1), ...name);
    bytes.push(0); // no tagged fields
  }
  // allow_auto_topic_creation, include_cluster_authorized_operations,
  // include_topic_authorized_operations, then no tagged fields.
  bytes.push(0, 0, 0, 0);
  return Uint8Array.from(bytes);
}

/** Reads a Metadata v10 response's fields in order; throws a RangeError past the end. */
class Reader {
  #at = 0;
  readonly #view: DataView;
  readonly #text = new TextDecoder("utf-8", { fatal: true });

  constructor(readonly bytes: Uint8Array) {
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  #take(length: number): number {
    const at = this.#at;
    if (length < 0 || at + length > this.bytes.byteLength) {
      throw new RangeError(`Cannot read a Metadata response: it ends before byte ${at + length}`);
    }
    this.#at += length;
    return at;
  }

  int16(): number {
    return this.#view.getInt16(this.#take(2));
  }

  int32(): number {
    return this.#view.getInt32(this.#take(4));
  }

  boolean(): boolean {
    return this.bytes[this.#take(1)] !== 0;
  }

  unsignedVarInt(): number {
    let value = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      const byte = this.bytes[this.#take(1)]!;
      value += (byte & 0x7f) * 2 ** shift;
      if (byte < 0x80) return value;
    }
    throw new RangeError("Cannot read a Metadata response: a varint is longer than 5 bytes");
  }

  /** A compact (nullable) string: null for length 0. */
  compactString(): string | null {
    const length = this.unsignedVarInt() - 1;
    if (length < 0) return null;
    const at = this.#take(length);
    return this.#text.decode(this.bytes.subarray(at, at + length));
  }

  uuid(): Uint8Array {
    const at = this.#take(16);
    return this.bytes.subarray(at, at + 16);
  }

  /** A compact array's element count (0 for a null array). */
  compactArrayLength(): number {
    return Math.max(0, this.unsignedVarInt() - 1);
  }

  /** Skips a tagged-field section. */
  taggedFields(): void {
    const count = this.unsignedVarInt();
    for (let i = 0; i < count; i++) {
      this.unsignedVarInt(); // tag
      this.#take(this.unsignedVarInt());
    }
  }
}

/** A topic id as Kafka prints it: base64url without padding; null when all zero. */
export function formatTopicId(id: Uint8Array): string | null {
  if (id.every((byte) => byte === 0)) return null;
  let binary = "";
  for (const byte of id) binary += String.fromCharCode(byte);
  return btoa(binary).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

/**
 * The topics of a Metadata v10 response body (what follows the correlation
 * id, beginning with the response header's tagged fields), by name.
 *
 * @throws {RangeError} when the bytes end before the response does
 */
export function decodeTopicIdResponse(bytes: Uint8Array): Map<string, TopicIdEntry> {
  const read = new Reader(bytes);
  read.taggedFields(); // response header
  read.int32(); // throttle_time_ms
  for (let n = read.compactArrayLength(); n > 0; n--) {
    read.int32(); // node_id
    read.compactString(); // host
    read.int32(); // port
    read.compactString(); // rack
    read.taggedFields();
  }
  read.compactString(); // cluster_id
  read.int32(); // controller_id
  const topics = new Map<string, TopicIdEntry>();
  for (let n = read.compactArrayLength(); n > 0; n--) {
    const errorCode = read.int16();
    const name = read.compactString();
    const topicId = formatTopicId(read.uuid());
    read.boolean(); // is_internal
    const partitions = read.compactArrayLength();
    for (let p = 0; p < partitions; p++) {
      read.int16(); // error_code
      read.int32(); // partition_index
      read.int32(); // leader_id
      read.int32(); // leader_epoch
      for (let r = 0; r < 3; r++) { // replica, isr and offline nodes
        for (let k = read.compactArrayLength(); k > 0; k--) read.int32();
      }
      read.taggedFields();
    }
    read.int32(); // topic_authorized_operations
    read.taggedFields();
    if (name !== null) topics.set(name, { errorCode, topicId, partitions });
  }
  read.int32(); // cluster_authorized_operations
  read.taggedFields();
  return topics;
}

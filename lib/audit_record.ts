/**
 * The audit line format, owned here alone: the `AuditRecord` type (one JSON
 * line of `tracker.events` per consumed message), its builders, its encoder and
 * the one parser every reader uses (tracker start-up, monitor, verify, tests).
 * Pure.
 * Long (about 350 lines) because a trail has two kinds of line, the audit
 * record and the segment header, and each reader needs both.
 */
import {
  ORDER_STATUSES,
  type OrderEvent,
  type OrderStatus,
  type OrderSummary,
  parseOrderValue,
  RECEIVED_STATUSES,
  type ReceivedOrder,
  REJECTION_CLASSES,
  type RejectionClass,
} from "./order.ts";

export const AUDIT_OUTCOMES = ["audited", "dead_lettered", "duplicate"] as const;
export type AuditOutcome = typeof AUDIT_OUTCOMES[number];

/** Where an audited order's end-to-end latency was measured from. */
export const LATENCY_SOURCES = ["produced_at", "kafka_timestamp"] as const;
export type LatencySource = typeof LATENCY_SOURCES[number];

/** One line of `tracker.events`. Field names follow the original Go tracker's records. */
export interface AuditRecord {
  /** When the tracker received the message (RFC 3339 UTC). */
  timestamp: string;
  /** The order's event type as received, or "rejected" for input that is not a valid order. */
  event_type: string;
  kafka_topic: string;
  kafka_partition: number;
  kafka_offset: number;
  kafka_key: string | null;
  /** The Kafka record's timestamp (ms since the epoch); null in lines written before it was kept. */
  kafka_timestamp: number | null;
  message_size: number;
  /** Whether the value was valid JSON. */
  deserialized: boolean;
  outcome: AuditOutcome;
  order_id: string | null;
  /** The order's status as received (`pending` from the original system); audited and duplicate records. */
  status: string | null;
  /** The lifecycle state that status is (`pending` is `created`); audited and duplicate records. */
  lifecycle: OrderStatus | null;
  error_class: RejectionClass | null;
  error: string | null;
  /** From the order's creation to this record; null when unknown. */
  latency_ms: number | null;
  /** What `latency_ms` counts from: the order's `produced_at`, else the Kafka record time. */
  latency_source: LatencySource | null;
  /**
   * Set (true) on an order event audited although its lifecycle step arrived
   * out of order: a message without a key, whose order's events may be spread
   * over partitions, where arrival order means nothing.
   */
  out_of_order?: true;
  /**
   * The order exactly as received (its bytes, embedded as they came when they
   * are one line); null when rejected: the dead-letter topic keeps those bytes.
   * Undefined on a record the tracker built from an order parsed on another
   * thread: its line embeds the order's text or bytes, and `auditedOrder`
   * reads it from there. Read it as an order with `auditedOrder`, which
   * validates it.
   */
  order: Record<string, unknown> | null | undefined;
}

/** The message coordinates and size every record carries. */
export interface MessageCoordinates {
  topic: string;
  partition: number;
  offset: number;
  key: string | null;
  /** The Kafka record's timestamp (ms), when known. */
  timestamp?: number | null;
  size: number;
}

/**
 * What identifies the message at an offset well enough to notice that the
 * offset now holds another one (a recreated topic, a wiped broker): its record
 * timestamp, size and key. Undefined when the timestamp is unknown.
 */
export function messageFingerprint(
  { timestamp, size, key }: { timestamp: number | null; size: number; key: string | null },
): string | undefined {
  if (timestamp === null) return undefined;
  return `${timestamp}/${size}/${key === null ? "-" : hashText(key)}`;
}

/** The fingerprint of the message an audit record describes. */
export function recordFingerprint(record: AuditRecord): string | undefined {
  return messageFingerprint({
    timestamp: record.kafka_timestamp,
    size: record.message_size,
    key: record.kafka_key,
  });
}

/** FNV-1a, 32 bits, as 8 hex digits: a short stand-in for a key of any length. */
function hashText(text: string): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash.toString(16).padStart(8, "0");
}

/** A valid order as `parseOrder` accepted it: the validated view (or its summary) and what came. */
export interface AcceptedOrder {
  order: OrderSummary;
  received?: ReceivedOrder;
}

/**
 * The exact text of the order a record carries, for the encoder to embed
 * verbatim, and its bytes where the message's bytes were kept: on the record
 * under these symbols (JSON, keys and entries leave them out). Not in
 * WeakMaps keyed by the records: V8's scavenger pays for each entry whose
 * key is young, and a WeakMap entry per audited order made the tracker's
 * scavenges several times longer than the rest of its garbage did.
 */
const ORDER_TEXT = Symbol("order text");
const ORDER_BYTES = Symbol("order bytes");

/** A record with what its line embeds as the order (set by `orderRecord`). */
interface Embedding {
  [ORDER_TEXT]?: string | undefined;
  [ORDER_BYTES]?: Uint8Array | undefined;
}

function orderText(record: AuditRecord): string | undefined {
  return (record as AuditRecord & Embedding)[ORDER_TEXT];
}

function orderBytes(record: AuditRecord): Uint8Array | undefined {
  return (record as AuditRecord & Embedding)[ORDER_BYTES];
}

/** Builds the record of an accepted order. */
export function auditedRecord(
  at: number,
  message: MessageCoordinates,
  accepted: AcceptedOrder | OrderEvent,
  { outOfOrder = false }: { outOfOrder?: boolean } = {},
): AuditRecord {
  const { order } = asAccepted(accepted);
  const produced = order.produced_at;
  const timestamp = message.timestamp ?? null;
  const [latency, source]: [number | null, LatencySource | null] = produced !== undefined
    ? [at - produced, "produced_at"]
    : timestamp !== null
    ? [at - timestamp, "kafka_timestamp"]
    : [null, null];
  return orderRecord(at, message, accepted, {
    outcome: "audited",
    latency_ms: latency === null ? null : Math.max(0, latency),
    latency_source: source,
    ...(outOfOrder ? { out_of_order: true as const } : {}),
  });
}

/** Builds the record of a message sent to the dead-letter topic. */
export function deadLetterRecord(
  at: number,
  message: MessageCoordinates,
  rejection: { class: RejectionClass; message: string },
): AuditRecord {
  return {
    ...common(at, message),
    event_type: "rejected",
    deserialized: rejection.class !== "deserialization" && rejection.class !== "oversize",
    outcome: "dead_lettered",
    order_id: null,
    status: null,
    lifecycle: null,
    error_class: rejection.class,
    error: rejection.message,
    latency_ms: null,
    latency_source: null,
    order: null,
  };
}

/** Builds the record of an event already in the trail (same order id and lifecycle state). */
export function duplicateRecord(
  at: number,
  message: MessageCoordinates,
  accepted: AcceptedOrder | OrderEvent,
): AuditRecord {
  return orderRecord(at, message, accepted, {
    outcome: "duplicate",
    latency_ms: null,
    latency_source: null,
  });
}

function asAccepted(accepted: AcceptedOrder | OrderEvent): Required<AcceptedOrder> {
  if ("order" in accepted) {
    if (accepted.received !== undefined) {
      return { order: accepted.order, received: accepted.received };
    }
    throw new TypeError(
      "Cannot build an audit record: the order's summary comes without what was received",
    );
  }
  return {
    order: accepted,
    received: { status: accepted.status, json: { ...accepted }, text: null },
  };
}

const embeddedDecoder = new TextDecoder();

/**
 * The order as its line embeds it: the value, or for an order parsed on
 * another thread its text or bytes parsed here. Null when it has none.
 */
function embeddedOrder(record: AuditRecord): unknown {
  return record.order !== undefined ? record.order : JSON.parse(embeddedText(record));
}

/** A record of a valid order, audited or duplicate, with the order as received. */
function orderRecord(
  at: number,
  message: MessageCoordinates,
  accepted: AcceptedOrder | OrderEvent,
  outcome: Pick<AuditRecord, "outcome" | "latency_ms" | "latency_source" | "out_of_order">,
): AuditRecord {
  const { order, received } = asAccepted(accepted);
  // The fields of `common` written out, not spread: this runs once per order
  // audited, and one literal of one shape costs a third of a spread and a rest.
  const record: AuditRecord = {
    timestamp: receiveTime(at),
    kafka_topic: message.topic,
    kafka_partition: message.partition,
    kafka_offset: message.offset,
    kafka_key: message.key,
    kafka_timestamp: message.timestamp ?? null,
    message_size: message.size,
    event_type: order.metadata.event_type,
    deserialized: true,
    outcome: outcome.outcome,
    order_id: order.order_id,
    status: received.status,
    lifecycle: order.status,
    error_class: null,
    error: null,
    latency_ms: outcome.latency_ms,
    latency_source: outcome.latency_source,
    order: received.json,
  };
  if (outcome.out_of_order) record.out_of_order = true;
  const embedding = record as AuditRecord & Embedding;
  // Both always set, so that every record of an order has one shape.
  embedding[ORDER_TEXT] = received.text ?? undefined;
  embedding[ORDER_BYTES] = received.bytes ?? undefined;
  return record;
}

/** The receive time of the last record, as text: a chunk's records share it. */
let lastTime = { at: NaN, text: "" };

function receiveTime(at: number): string {
  if (at !== lastTime.at) lastTime = { at, text: new Date(at).toISOString() };
  return lastTime.text;
}

/** The coordinates every record starts with (a dead letter's; `orderRecord` writes them out). */
function common(at: number, message: MessageCoordinates) {
  return {
    timestamp: receiveTime(at),
    kafka_topic: message.topic,
    kafka_partition: message.partition,
    kafka_offset: message.offset,
    kafka_key: message.key,
    kafka_timestamp: message.timestamp ?? null,
    message_size: message.size,
  };
}

/**
 * Serialises records as JSON Lines (each ends with "\n"), as text: the lines
 * `encodeAuditLineBytes` writes.
 */
export function encodeAuditLines(records: readonly AuditRecord[]): string {
  return embeddedDecoder.decode(encodeAuditLineBytes(records));
}

function num(value: number | null): string {
  return value !== null && Number.isFinite(value) ? String(value) : "null";
}

/** The text of the order a line embeds: as received when kept, else its value's JSON. */
function embeddedText(record: AuditRecord): string {
  const text = orderText(record);
  if (text !== undefined) return text;
  const bytes = orderBytes(record);
  if (bytes !== undefined) return embeddedDecoder.decode(bytes);
  if (record.order === undefined) {
    throw new TypeError("Cannot encode an audit line: its order has neither a value nor its text");
  }
  return JSON.stringify(record.order);
}

const lineEncoder = new TextEncoder();

/**
 * Writes audit lines as UTF-8 straight into one buffer: a line's head byte by
 * byte (its field names encoded once, its values as JSON.stringify writes
 * them), and an order received as one line copied from the message's bytes.
 * No head is built as text and then encoded: a line of a 1,500-byte order
 * took 2.5 µs that way, 1.2 µs this way.
 */
class LineWriter {
  #out: Uint8Array;
  #pos = 0;

  constructor(into: Uint8Array | number) {
    this.#out = typeof into === "number" ? new Uint8Array(into) : into;
  }

  /** Makes room for `bytes` more. */
  ensure(bytes: number): void {
    if (this.#pos + bytes <= this.#out.length) return;
    const bigger = new Uint8Array(Math.max(this.#out.length * 2, this.#pos + bytes));
    bigger.set(this.#out.subarray(0, this.#pos));
    this.#out = bigger;
  }

  /** Bytes already encoded, short ones (a loop costs less than a call to `set`). */
  raw(bytes: Uint8Array): void {
    const out = this.#out;
    let pos = this.#pos;
    for (let i = 0; i < bytes.length; i++) out[pos++] = bytes[i]!;
    this.#pos = pos;
  }

  /** A number as JSON writes it: null when not finite. */
  number(value: number | null): void {
    const text = num(value);
    const out = this.#out;
    let pos = this.#pos;
    for (let i = 0; i < text.length; i++) out[pos++] = text.charCodeAt(i);
    this.#pos = pos;
  }

  /** Text as JSON writes it: quoted, escaped where needed; null for null. */
  text(text: string | null): void {
    if (text === null) return this.raw(NULL);
    const out = this.#out;
    let pos = this.#pos;
    out[pos++] = 0x22; // "
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      // Printable ASCII but `"` and `\\` stands as it is (nearly always, every
      // character); any other takes JSON.stringify's way.
      if (c < 0x20 || c > 0x7e || c === 0x22 || c === 0x5c) return this.#stringified(text);
      out[pos++] = c;
    }
    out[pos++] = 0x22;
    this.#pos = pos;
  }

  #stringified(text: string): void {
    this.#pos +=
      lineEncoder.encodeInto(JSON.stringify(text), this.#out.subarray(this.#pos)).written;
  }

  /** Bytes of any length. */
  bytes(value: Uint8Array): void {
    this.#out.set(value, this.#pos);
    this.#pos += value.byteLength;
  }

  /** Ends a line: the `}` of its record and the newline. */
  lineEnd(): void {
    this.#out[this.#pos++] = 0x7d; // }
    this.#out[this.#pos++] = 0x0a; // \n
  }

  /** What was written, as a view of the buffer. */
  view(): Uint8Array {
    return this.#out.subarray(0, this.#pos);
  }
}

/** A line's field names and punctuation, in the order of the format, encoded once. */
const HEAD = {
  timestamp: lineEncoder.encode('{"timestamp":'),
  topic: lineEncoder.encode(',"kafka_topic":'),
  partition: lineEncoder.encode(',"kafka_partition":'),
  offset: lineEncoder.encode(',"kafka_offset":'),
  key: lineEncoder.encode(',"kafka_key":'),
  kafkaTimestamp: lineEncoder.encode(',"kafka_timestamp":'),
  size: lineEncoder.encode(',"message_size":'),
  eventType: lineEncoder.encode(',"event_type":'),
  deserialized: lineEncoder.encode(',"deserialized":true,"outcome":'),
  notDeserialized: lineEncoder.encode(',"deserialized":false,"outcome":'),
  orderId: lineEncoder.encode(',"order_id":'),
  status: lineEncoder.encode(',"status":'),
  lifecycle: lineEncoder.encode(',"lifecycle":'),
  errorClass: lineEncoder.encode(',"error_class":'),
  error: lineEncoder.encode(',"error":'),
  latency: lineEncoder.encode(',"latency_ms":'),
  latencySource: lineEncoder.encode(',"latency_source":'),
  outOfOrder: lineEncoder.encode(',"out_of_order":true,"order":'),
  order: lineEncoder.encode(',"order":'),
};
const NULL = lineEncoder.encode("null");

/**
 * Bytes a head takes at most beside its text fields: every field name and
 * punctuation (all variants counted), and five numbers of at most 25
 * characters each, as `String` writes a double (`-1.7976931348623157e+308`).
 */
const HEAD_FIXED_BYTES = Object.values(HEAD).reduce((sum, bytes) => sum + bytes.length, 0) +
  5 * 25;

/** The most UTF-8 bytes JSON.stringify writes for a text: 6 per UTF-16 unit (`\\u0000`), quotes. */
function textBound(text: string | null): number {
  return text === null ? 4 : text.length * 6 + 2;
}

/** How many bytes a record's head may take. */
function headBound(r: AuditRecord): number {
  return HEAD_FIXED_BYTES + textBound(r.timestamp) + textBound(r.kafka_topic) +
    textBound(r.kafka_key) + textBound(r.event_type) + textBound(r.outcome) +
    textBound(r.order_id) + textBound(r.status) + textBound(r.lifecycle) +
    textBound(r.error_class) + textBound(r.error) + textBound(r.latency_source);
}

/**
 * A line up to its order's value: every field but `order`, in the order the
 * builders give them, which is the format's; exactly what JSON.stringify
 * writes for them (a test holds it to that).
 */
function writeHead(w: LineWriter, r: AuditRecord): void {
  w.raw(HEAD.timestamp);
  w.text(r.timestamp);
  w.raw(HEAD.topic);
  w.text(r.kafka_topic);
  w.raw(HEAD.partition);
  w.number(r.kafka_partition);
  w.raw(HEAD.offset);
  w.number(r.kafka_offset);
  w.raw(HEAD.key);
  w.text(r.kafka_key);
  w.raw(HEAD.kafkaTimestamp);
  w.number(r.kafka_timestamp);
  w.raw(HEAD.size);
  w.number(r.message_size);
  w.raw(HEAD.eventType);
  w.text(r.event_type);
  w.raw(r.deserialized ? HEAD.deserialized : HEAD.notDeserialized);
  w.text(r.outcome);
  w.raw(HEAD.orderId);
  w.text(r.order_id);
  w.raw(HEAD.status);
  w.text(r.status);
  w.raw(HEAD.lifecycle);
  w.text(r.lifecycle);
  w.raw(HEAD.errorClass);
  w.text(r.error_class);
  w.raw(HEAD.error);
  w.text(r.error);
  w.raw(HEAD.latency);
  w.number(r.latency_ms);
  w.raw(HEAD.latencySource);
  w.text(r.latency_source);
  w.raw(r.out_of_order ? HEAD.outOfOrder : HEAD.order);
}

/**
 * Serialises records as JSON Lines (each ends with "\n") in UTF-8. An order
 * received as one line is embedded as it came, copied from the message's
 * bytes; `order` is the last field of a line.
 *
 * @param options.into a buffer to write into when it holds at least the
 *   records' order bytes and 1 KiB per record (the lines are then a view of
 *   it, unless they outgrow it; else of a new buffer)
 */
export function encodeAuditLineBytes(
  records: readonly AuditRecord[],
  { into }: { into?: Uint8Array | undefined } = {},
): Uint8Array {
  let size = 0;
  for (const record of records) size += (orderBytes(record)?.byteLength ?? 0) + 1024;
  const w = new LineWriter(into !== undefined && into.length >= size ? into : size);
  for (const record of records) {
    const value = orderBytes(record) ?? lineEncoder.encode(embeddedText(record));
    w.ensure(headBound(record) + value.byteLength + 2);
    writeHead(w, record);
    w.bytes(value);
    w.lineEnd();
  }
  return w.view();
}

export type AuditLineResult =
  | { ok: true; record: AuditRecord }
  | { ok: false; error: string };

const OUTCOMES: ReadonlySet<unknown> = new Set(AUDIT_OUTCOMES);
const STATUSES: ReadonlySet<unknown> = new Set(ORDER_STATUSES);
const ERROR_CLASSES: ReadonlySet<unknown> = new Set(REJECTION_CLASSES);
const SOURCES: ReadonlySet<unknown> = new Set(LATENCY_SOURCES);

/**
 * Parses one line of the trail. Every field a reader relies on is checked, so
 * a reader never meets a value it does not know (an unknown status is an
 * error with the line number, not a TypeError later); the embedded order is
 * checked on demand by `auditedOrder`.
 */
export function parseAuditLine(line: string, lineNumber: number): AuditLineResult {
  const parsed = parseTrailLine(line, lineNumber);
  if (!parsed.ok) return parsed;
  if (parsed.kind === "header") {
    return {
      ok: false,
      error: `Cannot parse audit line ${lineNumber}: a segment header, not an audit record`,
    };
  }
  return { ok: true, record: parsed.record };
}

/** What is wrong with a parsed JSON value as an audit record, or undefined when nothing is. */
function auditProblem(value: unknown): string | undefined {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return "not an audit record";
  }
  const r = value as Record<string, unknown>;
  const stringOrNull = (v: unknown) => v === null || typeof v === "string";
  const offset = (v: unknown) => Number.isSafeInteger(v) && (v as number) >= 0;
  if (!OUTCOMES.has(r.outcome)) {
    return `outcome ${quote(r.outcome)} is not one of ${AUDIT_OUTCOMES}`;
  }
  if (typeof r.kafka_topic !== "string") return "kafka_topic is not a string";
  if (!offset(r.kafka_partition)) return "kafka_partition is not an integer >= 0";
  if (!offset(r.kafka_offset)) return "kafka_offset is not an integer >= 0";
  if (typeof r.timestamp !== "string" || Number.isNaN(timestampMs(r.timestamp))) {
    return "timestamp is not a date-time";
  }
  if (!stringOrNull(r.kafka_key)) return "kafka_key is not a string or null";
  if (r.kafka_timestamp === undefined) r.kafka_timestamp = null; // lines from before it was kept
  if (r.kafka_timestamp !== null && !Number.isSafeInteger(r.kafka_timestamp)) {
    return "kafka_timestamp is not an integer or null";
  }
  if (!offset(r.message_size)) return "message_size is not an integer >= 0";
  if (!stringOrNull(r.order_id)) return "order_id is not a string or null";
  if (
    r.status !== null &&
    (typeof r.status !== "string" || !Object.hasOwn(RECEIVED_STATUSES, r.status))
  ) {
    return `status ${quote(r.status)} is not one of ${Object.keys(RECEIVED_STATUSES)}`;
  }
  // Lines from before the lifecycle state was kept: the status was one.
  if (r.lifecycle === undefined) {
    r.lifecycle = r.status === null ? null : RECEIVED_STATUSES[r.status as string];
  }
  if (r.lifecycle !== null && !STATUSES.has(r.lifecycle)) {
    return `lifecycle ${quote(r.lifecycle)} is not one of ${ORDER_STATUSES}`;
  }
  if (r.outcome !== "dead_lettered" && (r.order_id === null || r.lifecycle === null)) {
    return `an ${r.outcome} record has no order_id or status`;
  }
  if (r.error_class !== null && !ERROR_CLASSES.has(r.error_class)) {
    return `error_class ${quote(r.error_class)} is not one of ${REJECTION_CLASSES}`;
  }
  if (!stringOrNull(r.error)) return "error is not a string or null";
  if (r.latency_ms !== null && typeof r.latency_ms !== "number") {
    return "latency_ms is not a number or null";
  }
  if (r.latency_source === undefined) {
    r.latency_source = r.latency_ms === null ? null : "produced_at"; // older lines
  }
  if (r.latency_source !== null && !SOURCES.has(r.latency_source)) {
    return `latency_source ${quote(r.latency_source)} is not one of ${LATENCY_SOURCES}`;
  }
  if (r.out_of_order !== undefined && r.out_of_order !== true) return "out_of_order is not true";
  if (r.order !== null && (typeof r.order !== "object" || Array.isArray(r.order))) {
    return "order is not an object or null";
  }
  return undefined;
}

/** A short, bounded rendering of a bad value for an error message. */
function quote(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 40 ? `${text.slice(0, 39)}…` : text;
}

/** The validated order of an audited record, or undefined when it has none or it is not valid. */
export function auditedOrder(record: AuditRecord): OrderEvent | undefined {
  const order = embeddedOrder(record);
  if (order === null) return undefined;
  const parsed = parseOrderValue(order);
  return parsed.ok ? parsed.order : undefined;
}

/**
 * A trail epoch: one topic on one cluster. Offsets are only comparable within
 * an epoch; a trail whose cluster or topic changes, or whose topic's offsets
 * went back (recreated), starts a new one rather than skip new messages.
 */
export interface TrailEpoch {
  /** 1, 2, …; 0 for a trail written before epochs were recorded. */
  number: number;
  /** The Kafka cluster id; null when unknown (an old trail). */
  cluster_id: string | null;
  topic: string | null;
  /**
   * The topic's id (KIP-516) when the epoch began: another id later means it
   * was deleted and created again. Absent in epochs of before it was recorded,
   * or of brokers before Kafka 2.8.
   */
  topic_id?: string;
  started_at: string;
  /** Why the epoch started, in a sentence fragment. */
  reason: string;
  /** True when the epoch adopted the previous one's offsets (an old trail on the same cluster). */
  continues_offsets: boolean;
  /**
   * Present when the running tracker was sent back to the partitions' first
   * offsets as the epoch began: until the epoch audits a message, a start or
   * rejoin sends it back again (its commit of them may not have landed).
   */
  from_first_offsets?: true;
}

/** The first line of every trail segment since epochs are recorded. */
export interface SegmentHeader {
  /** The segment's number: 1 for the first, then one more for each. */
  trail_segment: number;
  /** Random id of the whole trail: a reader seeing another id is reading another trail. */
  trail_id: string;
  epoch: TrailEpoch;
  created_at: string;
}

/** Serialises a segment header as a trail line (ends with "\n"). */
export function encodeSegmentHeader(header: SegmentHeader): string {
  return JSON.stringify(header) + "\n";
}

export type TrailLineResult =
  | { ok: true; kind: "record"; record: AuditRecord }
  | { ok: true; kind: "header"; header: SegmentHeader }
  | { ok: false; error: string };

/** A line of a trail segment as parsed: an audit record or the segment's header. */
export type TrailLine = Exclude<TrailLineResult, { ok: false }>;

/** Parses one line of a trail segment: an audit record or the segment's header. */
export function parseTrailLine(
  line: string,
  lineNumber: number,
  { withOrder = true }: {
    /**
     * False for readers that never look at the order (state rebuild, verify,
     * the monitor): `order` is then left unread and null, and the line costs a
     * quarter of the parsing.
     */
    withOrder?: boolean;
  } = {},
): TrailLineResult {
  let value: unknown;
  try {
    value = withOrder ? JSON.parse(line) : parseWithoutOrder(line);
  } catch {
    return { ok: false, error: `Cannot parse audit line ${lineNumber}: not valid JSON` };
  }
  if (typeof value === "object" && value !== null && "trail_segment" in value) {
    const problem = headerProblem(value as Record<string, unknown>);
    return problem === undefined
      ? { ok: true, kind: "header", header: value as SegmentHeader }
      : { ok: false, error: `Cannot parse audit line ${lineNumber}: ${problem}` };
  }
  const problem = auditProblem(value);
  if (problem !== undefined) {
    return { ok: false, error: `Cannot parse audit line ${lineNumber}: ${problem}` };
  }
  return { ok: true, kind: "record", record: value as AuditRecord };
}

/**
 * A line's fields before its `order`, which the encoder writes last. Quotes in
 * string values are escaped, so the first `,"order":` outside the order is the
 * field itself. When the cut does not parse (a line of another shape), the
 * whole line is parsed instead.
 */
function parseWithoutOrder(line: string): unknown {
  const cut = line.indexOf(',"order":');
  if (cut > 0) {
    try {
      return { ...JSON.parse(`${line.slice(0, cut)}}`), order: null };
    } catch {
      // Not the shape the encoder writes: read all of it.
    }
  }
  return JSON.parse(line);
}

/** The last timestamp parsed: the records of a chunk share theirs. */
let lastParsedTime = { text: "", ms: NaN };

/** The milliseconds of a record's timestamp (NaN when it is not a date-time). */
export function timestampMs(text: string): number {
  if (text !== lastParsedTime.text) lastParsedTime = { text, ms: Date.parse(text) };
  return lastParsedTime.ms;
}

/** The fields of an audit record the monitor shows. */
export type AuditSample = Pick<
  AuditRecord,
  | "timestamp"
  | "kafka_partition"
  | "kafka_offset"
  | "outcome"
  | "order_id"
  | "status"
  | "lifecycle"
  | "error_class"
  | "latency_ms"
  | "latency_source"
>;

export type TrailSampleResult =
  | { ok: true; kind: "record"; record: AuditSample }
  | { ok: true; kind: "header"; header: SegmentHeader }
  | { ok: false; error: string };

/**
 * Parses one line of a trail segment for the monitor: the fields it shows of
 * an audit record (`AuditSample`), or the segment's header. It accepts and
 * rejects the lines `parseTrailLine` does (without the order), with the same
 * errors; a line as `encodeAuditLines` writes it is read by one regular
 * expression instead, at a fraction of the cost: the monitor reads thousands a
 * second, and JSON.parse spends most of its time making an object of fields
 * the monitor never reads.
 */
export function parseTrailSample(line: string, lineNumber: number): TrailSampleResult {
  const sample = readEncodedSample(line);
  if (sample !== undefined) return { ok: true, kind: "record", record: sample };
  return parseTrailLine(line, lineNumber, { withOrder: false });
}

const RECEIVED_STATUS_NAMES = Object.keys(RECEIVED_STATUSES);
/** A JSON string (its quotes and escapes included). */
const JSON_STRING = String
  .raw`"[^"\\\x00-\x1f]*(?:\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4})[^"\\\x00-\x1f]*)*"`;
/** An integer of at most 15 digits as JSON writes it: always a safe integer. */
const SAFE_INTEGER = String.raw`(?:0|[1-9]\d{0,14})`;
const oneOf = (values: readonly string[]) => `"(${values.join("|")})"`;

/**
 * An audit line's fields before `order`, exactly as `encodeAuditLines` writes
 * them: in its order, without spaces, each value of a type `auditProblem`
 * accepts (a fixed set's strings from that set, integers of at most 15
 * digits). It captures the fields of an `AuditSample`, in that type's order;
 * the order id in one of two groups: its text when it has no escape, else the
 * JSON string to decode.
 */
const ENCODED_HEAD = new RegExp(
  [
    String.raw`\{"timestamp":"([^"\\\x00-\x1f]*)"`,
    `"kafka_topic":${JSON_STRING}`,
    `"kafka_partition":(${SAFE_INTEGER})`,
    `"kafka_offset":(${SAFE_INTEGER})`,
    `"kafka_key":(?:${JSON_STRING}|null)`,
    `"kafka_timestamp":(?:-?${SAFE_INTEGER}|null)`,
    `"message_size":${SAFE_INTEGER}`,
    `"event_type":${JSON_STRING}`,
    `"deserialized":(?:true|false)`,
    `"outcome":${oneOf(AUDIT_OUTCOMES)}`,
    String.raw`"order_id":(?:"([^"\\\x00-\x1f]*)"|(${JSON_STRING})|null)`,
    `"status":(?:${oneOf(RECEIVED_STATUS_NAMES)}|null)`,
    `"lifecycle":(?:${oneOf(ORDER_STATUSES)}|null)`,
    `"error_class":(?:${oneOf(REJECTION_CLASSES)}|null)`,
    `"error":(?:${JSON_STRING}|null)`,
    `"latency_ms":(-?${SAFE_INTEGER}|null)`,
    `"latency_source":(?:${oneOf(LATENCY_SOURCES)}|null)(?:,"out_of_order":true)?,"order":`,
  ].join(","),
  "y",
);

/**
 * The sample of a line written by `encodeAuditLines`; undefined for a line of
 * any other shape or with a value `auditProblem` would reject (the caller then
 * parses it the general way, which says why).
 */
function readEncodedSample(line: string): AuditSample | undefined {
  ENCODED_HEAD.lastIndex = 0;
  const m = ENCODED_HEAD.exec(line);
  if (m === null) return undefined;
  // The expression matched only values of their sets; absent groups are nulls.
  const outcome = m[4] as AuditSample["outcome"];
  const lifecycle = (m[8] ?? null) as OrderStatus | null;
  const orderId = m[5] ?? (m[6] === undefined ? null : JSON.parse(m[6]) as string);
  if (outcome !== "dead_lettered" && (orderId === null || lifecycle === null)) return undefined;
  const timestamp = m[1]!;
  if (Number.isNaN(timestampMs(timestamp))) return undefined;
  return {
    timestamp,
    kafka_partition: Number(m[2]),
    kafka_offset: Number(m[3]),
    outcome,
    order_id: orderId,
    status: m[7] ?? null,
    lifecycle,
    // Its constant: a model keeps a dead letter's class for minutes, and a
    // string cut from the line would hold on to the text it was cut from.
    error_class: m[9] === undefined ? null : REJECTION_CLASSES.find((c) => c === m[9])!,
    latency_ms: m[10] === "null" ? null : Number(m[10]),
    latency_source: (m[11] ?? null) as LatencySource | null,
  };
}

function headerProblem(h: Record<string, unknown>): string | undefined {
  if (!Number.isSafeInteger(h.trail_segment) || (h.trail_segment as number) < 1) {
    return "trail_segment is not an integer >= 1";
  }
  if (typeof h.trail_id !== "string") return "trail_id is not a string";
  if (typeof h.created_at !== "string") return "created_at is not a string";
  const e = h.epoch as Record<string, unknown> | null;
  if (typeof e !== "object" || e === null) return "epoch is not an object";
  if (!Number.isSafeInteger(e.number) || (e.number as number) < 0) {
    return "epoch.number is not an integer >= 0";
  }
  if (e.cluster_id !== null && typeof e.cluster_id !== "string") {
    return "epoch.cluster_id is not a string or null";
  }
  if (e.topic !== null && typeof e.topic !== "string") return "epoch.topic is not a string or null";
  if (e.topic_id !== undefined && typeof e.topic_id !== "string") {
    return "epoch.topic_id is not a string";
  }
  if (typeof e.started_at !== "string" || typeof e.reason !== "string") {
    return "epoch.started_at or epoch.reason is not a string";
  }
  if (typeof e.continues_offsets !== "boolean") return "epoch.continues_offsets is not a boolean";
  if (e.from_first_offsets !== undefined && e.from_first_offsets !== true) {
    return "epoch.from_first_offsets is not true";
  }
  return undefined;
}

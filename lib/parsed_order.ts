/**
 * Parse results as they cross from the tracker's parsing thread to its main
 * one: the few fields of each order the tracker decides on and records, and
 * how its audit line embeds the order. The main thread already holds the
 * message's bytes, so a one-line order (the usual case) comes back without
 * its text; the line then embeds the bytes as they came. Also how a batch of
 * message values travels there: packed into one transferable buffer. Pure.
 */
import {
  ACCEPTED_EVENT_TYPES,
  type OrderSummary,
  parseOrder,
  type ParseResult,
  RECEIVED_STATUSES,
  type ReceivedOrder,
  type Rejection,
} from "./order.ts";

/**
 * The parses of a batch of messages, as the parsing thread sends them: in
 * columns, mostly small numbers, which cross threads far cheaper than an
 * object per message. Index i is the i-th message.
 */
export interface ParsedBatchWire {
  /** The order id of an accepted order; "" where the message was rejected. */
  orderIds: string[];
  /** Index into RECEIVED_STATUS_NAMES of the status as sent (it says the lifecycle state). */
  statuses: Uint8Array;
  /** Index into ACCEPTED_EVENT_TYPES of `metadata.event_type`. */
  eventTypes: Uint8Array;
  /** `produced_at`; NaN where the order has none. */
  producedAt: Float64Array;
  /**
   * The one-line text the audit line embeds, where that is not the message's
   * bytes exactly (a byte-order mark, a multi-line value): [index, text].
   */
  texts: Array<[number, string]>;
  /** The rejections: [index, rejection]. */
  rejections: Array<[number, Rejection]>;
}

const STATUS_NAMES = Object.keys(RECEIVED_STATUSES);

/** Message values packed for the parsing thread: their bytes end to end, and where each ends. */
export interface PackedValues {
  bytes: Uint8Array;
  /** Per value, its end in `bytes`; -1 for a null value (a tombstone). */
  ends: Int32Array;
}

/** Packs message values into one buffer that can be transferred, not copied. */
export function packValues(values: readonly (Uint8Array | null)[]): PackedValues {
  let size = 0;
  for (const value of values) size += value?.byteLength ?? 0;
  const bytes = new Uint8Array(size);
  const ends = new Int32Array(values.length);
  let offset = 0;
  values.forEach((value, i) => {
    if (value === null) {
      ends[i] = -1;
      return;
    }
    bytes.set(value, offset);
    offset += value.byteLength;
    ends[i] = offset;
  });
  return { bytes, ends };
}

/** The values `packValues` packed, as views of its buffer. */
export function unpackValues({ bytes, ends }: PackedValues): Array<Uint8Array | null> {
  const values: Array<Uint8Array | null> = [];
  let start = 0;
  for (const end of ends) {
    if (end < 0) {
      values.push(null);
      continue;
    }
    values.push(bytes.subarray(start, end));
    start = end;
  }
  return values;
}

/**
 * Columns for `n` parses, filled by `putResult` as each message is parsed, so
 * a parsed tree dies with its message and a request holds only its columns.
 * Parsing a whole request first and keeping the trees to the end cost 9.5
 * µs an order for 8,000 orders, 6.3 this way (the trees outlived the young
 * generation); at the tracker's 500 a request both cost 5.5.
 */
function emptyWire(n: number): ParsedBatchWire {
  return {
    orderIds: new Array<string>(n).fill(""),
    statuses: new Uint8Array(n),
    eventTypes: new Uint8Array(n),
    producedAt: new Float64Array(n).fill(NaN),
    texts: [],
    rejections: [],
  };
}

/** Puts what of the i-th parse crosses to the main thread into `wire`. */
function putResult(wire: ParsedBatchWire, i: number, result: ParseResult): void {
  if (!result.ok) {
    wire.rejections.push([i, result.rejection]);
    return;
  }
  const { order, received } = result;
  wire.orderIds[i] = order.order_id;
  wire.statuses[i] = indexIn(STATUS_NAMES, received.status);
  wire.eventTypes[i] = indexIn(ACCEPTED_EVENT_TYPES, order.metadata.event_type);
  if (order.produced_at !== undefined) wire.producedAt[i] = order.produced_at;
  // A multi-line value is embedded as its one-line JSON, as the encoder
  // would write the parsed value.
  if (!received.bytes) wire.texts.push([i, received.text ?? JSON.stringify(received.json)]);
}

function indexIn(names: readonly string[], name: string): number {
  const index = names.indexOf(name);
  if (index < 0) throw new RangeError(`Cannot send a parse: "${name}" is not an accepted value`);
  return index;
}

const asciiDecoder = new TextDecoder();

/**
 * The packed values' bytes as one text when they are all ASCII (as generated
 * orders are): decoded in one call, each value's text is then a slice of it
 * at its byte offsets. Undefined otherwise: each value is then decoded on its
 * own (a byte-order mark, a bad byte or a character beyond ASCII).
 */
export function asciiText(bytes: Uint8Array): string | undefined {
  const all = asciiDecoder.decode(bytes);
  // Every sequence beyond ASCII decodes to fewer characters than its bytes,
  // or to U+FFFD when it is not UTF-8: same length and no U+FFFD is ASCII.
  return all.length === bytes.length && !all.includes("\uFFFD") ? all : undefined;
}

/** Parses and validates packed values (on the parsing thread) for the main one. */
export function parseWire(
  packed: PackedValues,
  { maxBytes }: { maxBytes: number },
): ParsedBatchWire {
  const all = asciiText(packed.bytes);
  const values = unpackValues(packed);
  const wire = emptyWire(values.length);
  // One message at a time, each parse put into the columns before the next (emptyWire).
  values.forEach((value, i) => {
    const start = (value?.byteOffset ?? 0) - packed.bytes.byteOffset;
    const asciiText = all === undefined || value === null
      ? undefined
      : all.substring(start, start + value.byteLength);
    putResult(wire, i, parseOrder(value, { maxBytes, asciiText }));
  });
  return wire;
}

/**
 * The parse results the tracker plans with, from what crossed and the
 * messages' own bytes (`values`, which a one-line order's audit line embeds).
 */
export function fromWire(
  wire: ParsedBatchWire,
  values: readonly (Uint8Array | null)[],
): ParseResult<OrderSummary>[] {
  const texts = new Map(wire.texts);
  const rejections = new Map(wire.rejections);
  return values.map((value, i) => {
    const rejection = rejections.get(i);
    if (rejection !== undefined) return { ok: false, rejection };
    const status = STATUS_NAMES[wire.statuses[i]!]!;
    const order: OrderSummary = {
      order_id: wire.orderIds[i]!,
      status: RECEIVED_STATUSES[status]!,
      metadata: { event_type: ACCEPTED_EVENT_TYPES[wire.eventTypes[i]!]! },
    };
    const producedAt = wire.producedAt[i]!;
    if (!Number.isNaN(producedAt)) order.produced_at = producedAt;
    const text = texts.get(i);
    const received: ReceivedOrder = text === undefined
      ? { status, text: null, bytes: value }
      : { status, text, bytes: null };
    return { ok: true, order, received };
  });
}

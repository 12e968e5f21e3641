/**
 * What a chunk of consumed messages produces, decided without any I/O: one
 * audit record per message that is not a redelivery, a dead letter for each
 * rejected one, and whether its offsets may be committed. Or, when the
 * partition's offsets went back under the trail (a recreated topic, another
 * cluster), nothing but that finding. The tracker's shell then publishes the
 * dead letters, appends and syncs the records, and commits. Pure (time is
 * passed in).
 */
import {
  type AcceptedOrder,
  auditedRecord,
  type AuditRecord,
  deadLetterRecord,
  duplicateRecord,
  type MessageCoordinates,
  messageFingerprint,
} from "./audit_record.ts";
import { type DeadLetterMessage, deadLetterMessage, type SourceMessage } from "./dead_letter.ts";
import { type OrderSummary, parseOrder, type ParseResult } from "./order.ts";
import type { TrackerState } from "./tracker_state.ts";

/** Consecutive messages of one partition, as consumed. */
export interface Chunk {
  topic: string;
  partition: number;
  /**
   * Where the partition ends at least, as its batch's fetch showed
   * (`fetchedEnd`): its high watermark, or past the batch's last message
   * when that lies beyond it; so never before this chunk's last message.
   */
  end: number;
  messages: readonly SourceMessage[];
}

export type ChunkPlan =
  | {
    kind: "write";
    /** One per message that is not a redelivery, in offset order. */
    records: AuditRecord[];
    /** The dead letters to publish (acknowledged) before the records are appended. */
    deadLetters: DeadLetterMessage[];
    /** Messages already in the trail: nothing is written for them. */
    redelivered: number;
    /**
     * The offset to commit once the records are synced (the last message's
     * offset + 1), or null while skipped redeliveries are not yet confirmed by
     * the message at the last audited offset: committing them could lose them.
     */
    commitOffset: number | null;
  }
  | {
    /** The partition's offsets went back under the trail: start a new trail epoch. */
    kind: "offsets-went-back";
    /** Why, in a sentence fragment for the health log. */
    reason: string;
    /**
     * True when certain (another message at an audited offset); false when
     * only the batch's high watermark says so (a new leader's may lag a moment).
     */
    definite: boolean;
  };

/**
 * Messages per chunk at most: one audit write and fdatasync each (the chunks
 * ready together share them). A fetched batch (up to 1 MiB) of orders is one
 * or two chunks; one of many small messages makes more, so that one chunk's
 * write and sync run while the next is planned.
 */
export const CHUNK_MAX_MESSAGES = 1_000;
/** Message bytes per chunk at most: bounds a write, and what waits for its sync. */
export const CHUNK_MAX_BYTES = 1024 * 1024;

/**
 * Splits a fetched batch into chunks `[start, end)`, in order, each at most
 * `maxMessages` messages and `maxBytes` of values (a larger message is a chunk
 * of its own). Larger chunks mean fewer fdatasyncs per order; smaller ones
 * more overlap of writing and planning.
 */
export function chunkBounds(
  sizes: readonly number[],
  { maxMessages = CHUNK_MAX_MESSAGES, maxBytes = CHUNK_MAX_BYTES }: {
    maxMessages?: number;
    maxBytes?: number;
  } = {},
): Array<[number, number]> {
  const bounds: Array<[number, number]> = [];
  let start = 0;
  let bytes = 0;
  sizes.forEach((size, i) => {
    if (i > start && (i - start >= maxMessages || bytes + size > maxBytes)) {
      bounds.push([start, i]);
      start = i;
      bytes = 0;
    }
    bytes += size;
  });
  if (start < sizes.length) bounds.push([start, sizes.length]);
  return bounds;
}

/**
 * Where a fetched batch shows its partition to end at least: at its high
 * watermark, and past its own last message. The high watermark a fetch
 * reports is read before its records are (Kafka's `Partition.readRecords`),
 * so records appended meanwhile can lie at or past it (in CI, right after a
 * broker's unclean restart, one fetch reported 1707 with records past 1761).
 * Pure.
 */
export function fetchedEnd(
  { highWatermark, lastOffset }: { highWatermark: number; lastOffset: number | undefined },
): number {
  return lastOffset === undefined ? highWatermark : Math.max(highWatermark, lastOffset + 1);
}

const keyDecoder = new TextDecoder();

/**
 * A message key as text. Keys are order ids (the producer's and the
 * original's): when the key's bytes are the ASCII of the parsed order's id,
 * that string is the key, and no other is decoded and kept.
 */
function keyText(key: Uint8Array, orderId: string | undefined): string {
  if (orderId !== undefined && orderId.length === key.length) {
    let same = true;
    for (let i = 0; i < key.length && same; i++) {
      same = key[i]! < 0x80 && key[i] === orderId.charCodeAt(i);
    }
    if (same) return orderId;
  }
  return keyDecoder.decode(key);
}

function coordinates(
  chunk: Chunk,
  message: SourceMessage,
  parsed: ParseResult<OrderSummary>,
): MessageCoordinates {
  return {
    topic: chunk.topic,
    partition: chunk.partition,
    offset: message.offset,
    key: message.key === null
      ? null
      : keyText(message.key, parsed.ok ? parsed.order.order_id : undefined),
    timestamp: message.timestamp ?? null,
    size: message.value?.byteLength ?? 0,
  };
}

/**
 * Plans a non-empty chunk. `state` takes each record into account as it is
 * planned, so later messages of the chunk see earlier ones (duplicates,
 * lifecycle); if the records then fail to reach the disk, the tracker stops and
 * a restart rebuilds the state from the trail.
 *
 * @param options.now the receive time written into the records (ms)
 * @param options.maxOrderBytes larger messages are rejected unread
 * @param options.parsed the messages' values already parsed (one per message,
 *   with the same `maxOrderBytes`, e.g. on another thread); else parsed here
 */
export function planChunk(
  state: TrackerState,
  chunk: Chunk,
  { now, maxOrderBytes, parsed: given }: {
    now: number;
    maxOrderBytes: number;
    parsed?: readonly ParseResult<OrderSummary>[];
  },
): ChunkPlan {
  const last = chunk.messages.at(-1);
  if (last === undefined) throw new RangeError("Cannot plan a chunk: it has no messages");
  if (given !== undefined && given.length !== chunk.messages.length) {
    throw new RangeError(
      `Cannot plan a chunk: ${given.length} parse results for ${chunk.messages.length} messages`,
    );
  }
  const audited = state.lastOffset(chunk.topic, chunk.partition);
  const { end } = chunk;
  if (audited !== undefined && end <= audited) {
    return {
      kind: "offsets-went-back",
      reason:
        `partition ${chunk.partition} ends at offset ${end}, but the trail has audited it up to offset ${audited}`,
      definite: false,
    };
  }
  const records: AuditRecord[] = [];
  const deadLetters: DeadLetterMessage[] = [];
  let redelivered = 0;
  for (const [i, message] of chunk.messages.entries()) {
    const parsed = given?.[i] ?? parseOrder(message.value, { maxBytes: maxOrderBytes });
    const where = coordinates(chunk, message, parsed);
    const decision = state.decide({
      ...where,
      keyed: where.key !== null,
      fingerprint: () => messageFingerprint({ ...where, timestamp: where.timestamp ?? null }),
    }, parsed);
    let record: AuditRecord;
    switch (decision.kind) {
      case "reused":
        return {
          kind: "offsets-went-back",
          reason:
            `offset ${decision.offset} of partition ${chunk.partition} holds another message than the one audited there`,
          definite: true,
        };
      case "redelivered":
        redelivered++;
        continue;
      case "audit":
        record = auditedRecord(now, where, accepted(parsed), { outOfOrder: decision.outOfOrder });
        break;
      case "duplicate":
        record = duplicateRecord(now, where, accepted(parsed));
        break;
      case "reject":
        record = deadLetterRecord(now, where, decision.rejection);
        deadLetters.push(deadLetterMessage({ ...chunk, message }, record));
        break;
    }
    records.push(record);
    state.apply(record);
  }
  const unverified = state.replayUnverified(chunk.topic, chunk.partition);
  return {
    kind: "write",
    records,
    deadLetters,
    redelivered,
    commitOffset: unverified ? null : last.offset + 1,
  };
}

/**
 * Whether every offset of a batch from `firstOffset` on lies beyond the last
 * one the trail audited in its partition. Planning such a batch never finds
 * that the partition's offsets went back: a message is only checked against
 * the trail at an offset up to the last audited one, and the end its chunks
 * are checked against (`fetchedEnd`) is past the batch's own offsets. Pure.
 */
export function beyondTrail(
  state: Pick<TrackerState, "lastOffset">,
  { topic, partition, firstOffset }: { topic: string; partition: number; firstOffset: number },
): boolean {
  const last = state.lastOffset(topic, partition);
  return last === undefined || firstOffset > last;
}

/** The accepted order of a parse the state decided to record (it only decides so on one). */
function accepted(parsed: ParseResult<OrderSummary>): AcceptedOrder {
  if (!parsed.ok) throw new TypeError("Cannot record an order: its message was rejected");
  return parsed;
}

/**
 * What a chunk of consumed messages produces, decided without any I/O: one
 * audit record per message that is not a redelivery, and a dead letter for each
 * rejected one. The tracker's shell then publishes the dead letters, appends
 * and syncs the records, and commits. Pure (time is passed in).
 */
import {
  auditedRecord,
  type AuditRecord,
  deadLetterRecord,
  duplicateRecord,
  type MessageCoordinates,
} from "./audit_record.ts";
import { type DeadLetterMessage, deadLetterMessage, type SourceMessage } from "./dead_letter.ts";
import { parseOrder } from "./order.ts";
import type { TrackerState } from "./tracker_state.ts";

/** Consecutive messages of one partition, as consumed. */
export interface Chunk {
  topic: string;
  partition: number;
  messages: readonly SourceMessage[];
}

export interface ChunkPlan {
  /** One per message that is not a redelivery, in offset order. */
  records: AuditRecord[];
  /** The dead letters to publish (acknowledged) before the records are appended. */
  deadLetters: DeadLetterMessage[];
  /** Messages already in the trail: nothing is written for them. */
  redelivered: number;
  /** The offset to commit once the records are synced: the last message's offset + 1. */
  commitOffset: number;
}

const keyDecoder = new TextDecoder();

function coordinates(chunk: Chunk, message: SourceMessage): MessageCoordinates {
  return {
    topic: chunk.topic,
    partition: chunk.partition,
    offset: message.offset,
    key: message.key === null ? null : keyDecoder.decode(message.key),
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
 */
export function planChunk(
  state: TrackerState,
  chunk: Chunk,
  { now, maxOrderBytes }: { now: number; maxOrderBytes: number },
): ChunkPlan {
  const records: AuditRecord[] = [];
  const deadLetters: DeadLetterMessage[] = [];
  let redelivered = 0;
  for (const message of chunk.messages) {
    const where = coordinates(chunk, message);
    const decision = state.decide(where, parseOrder(message.value, { maxBytes: maxOrderBytes }));
    let record: AuditRecord;
    switch (decision.kind) {
      case "redelivered":
        redelivered++;
        continue;
      case "audit":
        record = auditedRecord(now, where, decision.order);
        break;
      case "duplicate":
        record = duplicateRecord(now, where, decision.order);
        break;
      case "reject":
        record = deadLetterRecord(now, where, decision.rejection);
        deadLetters.push(deadLetterMessage({ ...chunk, message }, record));
        break;
    }
    records.push(record);
    state.apply(record);
  }
  const last = chunk.messages.at(-1);
  if (last === undefined) throw new RangeError("Cannot plan a chunk: it has no messages");
  return { records, deadLetters, redelivered, commitOffset: last.offset + 1 };
}

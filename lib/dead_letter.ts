/**
 * The dead-letter record format, owned here alone: the original key and bytes
 * of a message the tracker could not accept, with its source and the reason in
 * headers. The header names, the builder the tracker uses and the parser that
 * verify and the tests use. Pure.
 */
import type { AuditRecord } from "./audit_record.ts";
import { MAX_SEND_BYTES } from "./constants.ts";

/** Headers the tracker puts on a dead-letter record. */
export const DLQ_HEADERS = {
  sourceTopic: "dlq.source.topic",
  sourcePartition: "dlq.source.partition",
  sourceOffset: "dlq.source.offset",
  errorClass: "dlq.error.class",
  errorMessage: "dlq.error.message",
  failedAt: "dlq.failed.at",
} as const;

/**
 * Headers `dlq:redrive` puts on the copy it sends back to the source topic:
 * how many times this message has been redriven, and which dead letter the
 * copy was made from (`<dlq topic>/<partition>/<offset>`, so a re-run can find
 * copies a crash left unrecorded). The tracker keeps both when it dead-letters
 * the copy again, so the count carries forward.
 */
export const REDRIVE_HEADERS = {
  count: "x-redrive-count",
  of: "x-redrive-of",
} as const;

/** A message as the tracker received it: what a dead letter carries on. */
export interface SourceMessage {
  offset: number;
  /** The Kafka record timestamp (ms), when known. */
  timestamp?: number | null;
  key: Uint8Array | null;
  value: Uint8Array | null;
  headers?: Readonly<Record<string, unknown>> | undefined;
}

/** A dead letter, ready to publish. */
export interface DeadLetterMessage {
  key: Uint8Array | null;
  value: Uint8Array | null;
  headers: Record<string, string | Uint8Array>;
}

/**
 * The dead letter of `message` (consumed at `topic`/`partition`), rejected as
 * `record` says: the original key, value and headers, plus the source and the
 * reason. The message's own headers are kept unless they clash with ours.
 */
export function deadLetterMessage(
  { topic, partition, message }: { topic: string; partition: number; message: SourceMessage },
  record: AuditRecord,
): DeadLetterMessage {
  const headers: Record<string, string | Uint8Array> = {};
  for (const [name, value] of Object.entries(message.headers ?? {})) {
    if (typeof value === "string" || value instanceof Uint8Array) headers[name] = value;
  }
  // A redriven copy rejected again keeps its count, written back as a number.
  const count = redriveCount(message.headers);
  if (count > 0) headers[REDRIVE_HEADERS.count] = String(count);
  Object.assign(headers, {
    [DLQ_HEADERS.sourceTopic]: topic,
    [DLQ_HEADERS.sourcePartition]: String(partition),
    [DLQ_HEADERS.sourceOffset]: String(message.offset),
    [DLQ_HEADERS.errorClass]: record.error_class ?? "unknown",
    [DLQ_HEADERS.errorMessage]: bounded(record.error ?? ""),
    [DLQ_HEADERS.failedAt]: record.timestamp,
  });
  return { key: message.key, value: message.value, headers };
}

function bounded(text: string): string {
  return text.length <= MAX_ERROR_HEADER_CHARS
    ? text
    : `${text.slice(0, MAX_ERROR_HEADER_CHARS - 1)}…`;
}

/** How many times a message was redriven (its REDRIVE_HEADERS.count; 0 when absent or not a count). */
export function redriveCount(headers: Readonly<Record<string, unknown>> | undefined): number {
  const n = Number(headerText(headers?.[REDRIVE_HEADERS.count]) ?? "0");
  return Number.isSafeInteger(n) && n > 0 ? n : 0;
}

/** Where a dead letter came from and why, read back from its headers. */
export interface DeadLetterSource {
  topic: string;
  partition: number;
  offset: number;
  errorClass: string;
  error: string;
  failedAt: string;
  /** Times the message had been redriven when it was dead-lettered (0: never). */
  redriveCount: number;
}

export type DeadLetterResult = { ok: true; source: DeadLetterSource } | {
  ok: false;
  error: string;
};

const textDecoder = new TextDecoder();

function headerText(value: unknown): string | undefined {
  if (typeof value === "string") return value;
  if (value instanceof Uint8Array) return textDecoder.decode(value);
  return undefined;
}

/** Reads a dead letter's headers (as KafkaJS hands them over: Buffers or strings). */
export function parseDeadLetterHeaders(
  headers: Readonly<Record<string, unknown>> | undefined,
): DeadLetterResult {
  const h = headers ?? {};
  const topic = headerText(h[DLQ_HEADERS.sourceTopic]);
  const partition = Number(headerText(h[DLQ_HEADERS.sourcePartition]));
  const offset = Number(headerText(h[DLQ_HEADERS.sourceOffset]));
  if (topic === undefined || topic === "") {
    return {
      ok: false,
      error: `Cannot read dead letter: header ${DLQ_HEADERS.sourceTopic} is missing`,
    };
  }
  if (!Number.isSafeInteger(partition) || partition < 0) {
    return {
      ok: false,
      error: `Cannot read dead letter: header ${DLQ_HEADERS.sourcePartition} is not a partition`,
    };
  }
  if (!Number.isSafeInteger(offset) || offset < 0) {
    return {
      ok: false,
      error: `Cannot read dead letter: header ${DLQ_HEADERS.sourceOffset} is not an offset`,
    };
  }
  return {
    ok: true,
    source: {
      topic,
      partition,
      offset,
      errorClass: headerText(h[DLQ_HEADERS.errorClass]) ?? "",
      error: headerText(h[DLQ_HEADERS.errorMessage]) ?? "",
      failedAt: headerText(h[DLQ_HEADERS.failedAt]) ?? "",
      redriveCount: redriveCount(h),
    },
  };
}

/** A dead letter as read back from the dead-letter topic. */
export interface StoredDeadLetter {
  /** Where it is in the dead-letter topic. */
  partition: number;
  offset: number;
  key: Uint8Array | null;
  value: Uint8Array | null;
  headers: Readonly<Record<string, unknown>>;
}

/** The copy of a message a redrive sends to its source topic, at its source partition. */
export interface RedriveMessage extends DeadLetterMessage {
  partition: number;
}

/**
 * The copy `dlq:redrive` sends back: the original key and bytes, the original
 * headers (ours of the dead letter left out), the redrive count plus one and
 * the dead letter it came from.
 */
export function redriveMessage(
  letter: StoredDeadLetter,
  { dlqTopic, source }: { dlqTopic: string; source: DeadLetterSource },
): RedriveMessage {
  const ours = new Set<string>([...Object.values(DLQ_HEADERS), ...Object.values(REDRIVE_HEADERS)]);
  const headers: Record<string, string | Uint8Array> = {};
  for (const [name, value] of Object.entries(letter.headers)) {
    if (ours.has(name)) continue;
    if (typeof value === "string" || value instanceof Uint8Array) headers[name] = value;
  }
  headers[REDRIVE_HEADERS.count] = String(source.redriveCount + 1);
  headers[REDRIVE_HEADERS.of] = redriveOf(dlqTopic, letter);
  return { key: letter.key, value: letter.value, headers, partition: source.partition };
}

/** The value of REDRIVE_HEADERS.of for a dead letter at `partition`/`offset` of `dlqTopic`. */
export function redriveOf(
  dlqTopic: string,
  { partition, offset }: { partition: number; offset: number },
): string {
  return `${dlqTopic}/${partition}/${offset}`;
}

/** Reads REDRIVE_HEADERS.of back: the dead letter a copy was made from, or undefined. */
export function parseRedriveOf(
  headers: Readonly<Record<string, unknown>> | undefined,
): { dlqTopic: string; partition: number; offset: number } | undefined {
  const text = headerText(headers?.[REDRIVE_HEADERS.of]);
  const match = text === undefined ? null : /^(.+)\/(\d+)\/(\d+)$/.exec(text);
  if (match === null) return undefined;
  return { dlqTopic: match[1]!, partition: Number(match[2]), offset: Number(match[3]) };
}

/** The error text a dead letter's header carries at most. */
export const MAX_ERROR_HEADER_CHARS = 1_024;
/** What a record adds to a batch besides its key, value and headers (a generous bound). */
const RECORD_OVERHEAD_BYTES = 64;

/** About how many bytes a dead letter takes in a record batch. */
export function deadLetterBytes(letter: DeadLetterMessage): number {
  let bytes = RECORD_OVERHEAD_BYTES + (letter.key?.byteLength ?? 0) +
    (letter.value?.byteLength ?? 0);
  for (const [name, value] of Object.entries(letter.headers)) {
    bytes += name.length * 3 + (typeof value === "string" ? value.length * 3 : value.byteLength) +
      8;
  }
  return bytes;
}

/**
 * Splits dead letters into sends of at most `maxBytes` each, in order; a
 * letter larger than that goes alone.
 */
export function splitIntoSends(
  letters: readonly DeadLetterMessage[],
  maxBytes: number = MAX_SEND_BYTES,
): DeadLetterMessage[][] {
  const sends: DeadLetterMessage[][] = [];
  let current: DeadLetterMessage[] = [];
  let bytes = 0;
  for (const letter of letters) {
    const size = deadLetterBytes(letter);
    if (current.length > 0 && bytes + size > maxBytes) {
      sends.push(current);
      current = [];
      bytes = 0;
    }
    current.push(letter);
    bytes += size;
  }
  if (current.length > 0) sends.push(current);
  return sends;
}

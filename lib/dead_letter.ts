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

/** Where a dead letter came from and why, read back from its headers. */
export interface DeadLetterSource {
  topic: string;
  partition: number;
  offset: number;
  errorClass: string;
  error: string;
  failedAt: string;
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
    },
  };
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

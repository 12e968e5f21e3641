/**
 * The dead-letter record format, owned here alone: the original key and bytes
 * of a message the tracker could not accept, with its source and the reason in
 * headers. The header names, the builder the tracker uses and the parser that
 * verify and the tests use. Pure.
 */
import type { AuditRecord } from "./audit_record.ts";

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
    [DLQ_HEADERS.errorMessage]: record.error ?? "",
    [DLQ_HEADERS.failedAt]: record.timestamp,
  });
  return { key: message.key, value: message.value, headers };
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

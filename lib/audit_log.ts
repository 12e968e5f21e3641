/**
 * The tracker's audit trail: one JSON line per consumed message, append-only,
 * synced to disk before any offset is committed. The record format, the parser
 * and the torn-tail split are pure; `AuditFile` is the thin file shell (lock,
 * repair, append + fdatasync).
 */
import type { OrderEvent, RejectionClass } from "./order.ts";

export const AUDIT_OUTCOMES = ["audited", "dead_lettered", "duplicate"] as const;
export type AuditOutcome = typeof AUDIT_OUTCOMES[number];

/** One line of `tracker.events`. Field names follow the original Go tracker's records. */
export interface AuditRecord {
  /** When the tracker received the message (RFC 3339 UTC). */
  timestamp: string;
  /** The order's event type, or "rejected" for input that is not a valid order. */
  event_type: string;
  kafka_topic: string;
  kafka_partition: number;
  kafka_offset: number;
  kafka_key: string | null;
  message_size: number;
  /** Whether the value was valid JSON. */
  deserialized: boolean;
  outcome: AuditOutcome;
  order_id: string | null;
  status: string | null;
  error_class: RejectionClass | null;
  error: string | null;
  /** From the order's produce time to this record; null when unknown. */
  latency_ms: number | null;
  /** The order itself; null when rejected or a duplicate (already in the trail). */
  order: OrderEvent | null;
}

/** The message coordinates and size every record carries. */
export interface MessageCoordinates {
  topic: string;
  partition: number;
  offset: number;
  key: string | null;
  size: number;
}

/** Builds the record of an accepted order. */
export function auditedRecord(
  at: number,
  message: MessageCoordinates,
  order: OrderEvent,
): AuditRecord {
  return {
    ...common(at, message),
    event_type: order.metadata.event_type,
    deserialized: true,
    outcome: "audited",
    order_id: order.order_id,
    status: order.status,
    error_class: null,
    error: null,
    latency_ms: Math.max(0, at - order.produced_at),
    order,
  };
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
    error_class: rejection.class,
    error: rejection.message,
    latency_ms: null,
    order: null,
  };
}

/** Builds the record of an event already in the trail (same order id and event type). */
export function duplicateRecord(
  at: number,
  message: MessageCoordinates,
  order: OrderEvent,
): AuditRecord {
  return {
    ...common(at, message),
    event_type: order.metadata.event_type,
    deserialized: true,
    outcome: "duplicate",
    order_id: order.order_id,
    status: order.status,
    error_class: null,
    error: null,
    latency_ms: null,
    order: null,
  };
}

function common(at: number, message: MessageCoordinates) {
  return {
    timestamp: new Date(at).toISOString(),
    kafka_topic: message.topic,
    kafka_partition: message.partition,
    kafka_offset: message.offset,
    kafka_key: message.key,
    message_size: message.size,
  };
}

/** Serialises records as JSON Lines (each ends with "\n"). */
export function formatAuditLines(records: readonly AuditRecord[]): string {
  let text = "";
  for (const record of records) text += JSON.stringify(record) + "\n";
  return text;
}

/**
 * Parses one line of the trail.
 *
 * @throws {SyntaxError} naming the line when it is not an audit record
 */
export function parseAuditLine(line: string, lineNumber: number): AuditRecord {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (error) {
    throw new SyntaxError(`Cannot parse audit line ${lineNumber}: not valid JSON`, {
      cause: error,
    });
  }
  const record = value as Partial<AuditRecord> | null;
  if (
    typeof record !== "object" || record === null ||
    typeof record.kafka_topic !== "string" || typeof record.kafka_partition !== "number" ||
    typeof record.kafka_offset !== "number" ||
    !(AUDIT_OUTCOMES as readonly unknown[]).includes(record.outcome)
  ) {
    throw new SyntaxError(`Cannot parse audit line ${lineNumber}: not an audit record`);
  }
  return record as AuditRecord;
}

/**
 * Splits file contents into the complete lines and a torn tail: the bytes after
 * the last newline, left by a crash in the middle of a write. Pure.
 */
export function splitTornTail(bytes: Uint8Array): { completeLength: number; tail: Uint8Array } {
  const lastNewline = bytes.lastIndexOf(0x0a);
  const completeLength = lastNewline + 1;
  return { completeLength, tail: bytes.subarray(completeLength) };
}

/** Thrown when another tracker holds the audit file. */
export class AuditLockedError extends Error {
  override name = "AuditLockedError";
}

/** Calls `onLine` for each complete line of a file, streaming (large trails never sit in memory). */
export async function forEachLine(
  path: string,
  onLine: (line: string, lineNumber: number) => void,
): Promise<number> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true });
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return 0;
    throw error;
  }
  const decoder = new TextDecoder();
  let pending = "";
  let lineNumber = 0;
  for await (const chunk of file.readable) {
    pending += decoder.decode(chunk, { stream: true });
    let start = 0;
    for (let end = pending.indexOf("\n"); end !== -1; end = pending.indexOf("\n", start)) {
      lineNumber++;
      onLine(pending.slice(start, end), lineNumber);
      start = end + 1;
    }
    pending = pending.slice(start);
  }
  return lineNumber;
}

/**
 * The audit file of one tracker: locked against a second tracker, repaired on
 * open, appended and synced.
 */
export class AuditFile {
  #file: Deno.FsFile;
  #lock: Deno.FsFile;
  #encoder = new TextEncoder();
  #closed = false;

  private constructor(file: Deno.FsFile, lock: Deno.FsFile) {
    this.#file = file;
    this.#lock = lock;
  }

  /**
   * Takes the lock, moves a torn last line to the quarantine file and opens the
   * trail for appending.
   *
   * @returns the file and, if a tail was repaired, its size in bytes
   * @throws {AuditLockedError} when another tracker holds the lock
   */
  static async open(
    { path, lockPath, quarantinePath }: { path: string; lockPath: string; quarantinePath: string },
  ): Promise<{ audit: AuditFile; repairedBytes: number }> {
    const lock = await Deno.open(lockPath, { create: true, write: true, mode: 0o640 });
    if (!await lock.tryLock(true)) {
      lock.close();
      throw new AuditLockedError(
        `Cannot open ${path}: another tracker holds ${lockPath}; give each tracker its own DATA_DIR`,
      );
    }
    try {
      const repairedBytes = await repairTornTail(path, quarantinePath);
      const file = await Deno.open(path, { create: true, append: true, mode: 0o640 });
      // The trail holds customers' personal data: never world-readable, whoever created it.
      if (Deno.build.os !== "windows") await Deno.chmod(path, 0o640);
      return { audit: new AuditFile(file, lock), repairedBytes };
    } catch (error) {
      lock.close();
      throw error;
    }
  }

  /** Appends the records and syncs them to disk (fdatasync); returns the bytes written. */
  async append(records: readonly AuditRecord[]): Promise<number> {
    if (records.length === 0) return 0;
    const bytes = this.#encoder.encode(formatAuditLines(records));
    let written = 0;
    while (written < bytes.length) written += await this.#file.write(bytes.subarray(written));
    await this.#file.syncData();
    return written;
  }

  /** Closes the file and releases the lock. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#file.close();
    this.#lock.close();
  }
}

/** Bytes read per step when looking backwards for the last newline. */
const TAIL_SCAN_BYTES = 64 * 1024;

/** Finds where the torn tail starts by reading backwards from the end (never the whole file). */
async function tornTailStart(file: Deno.FsFile, size: number): Promise<number> {
  let end = size;
  while (end > 0) {
    const start = Math.max(0, end - TAIL_SCAN_BYTES);
    const chunk = new Uint8Array(end - start);
    await file.seek(start, Deno.SeekMode.Start);
    let read = 0;
    while (read < chunk.length) {
      const n = await file.read(chunk.subarray(read));
      if (n === null) break;
      read += n;
    }
    const { completeLength } = splitTornTail(chunk);
    if (completeLength > 0) return start + completeLength;
    end = start;
  }
  return 0;
}

async function repairTornTail(path: string, quarantinePath: string): Promise<number> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true });
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return 0;
    throw error;
  }
  let tail: Uint8Array;
  let completeLength: number;
  try {
    const { size } = await file.stat();
    completeLength = await tornTailStart(file, size);
    tail = new Uint8Array(size - completeLength);
    await file.seek(completeLength, Deno.SeekMode.Start);
    let read = 0;
    while (read < tail.length) {
      const n = await file.read(tail.subarray(read));
      if (n === null) break;
      read += n;
    }
  } finally {
    file.close();
  }
  if (tail.length === 0) return 0;
  const quarantine = await Deno.open(quarantinePath, { create: true, append: true, mode: 0o640 });
  try {
    await quarantine.write(new Uint8Array([...tail, 0x0a]));
    await quarantine.syncData();
  } finally {
    quarantine.close();
  }
  await Deno.truncate(path, completeLength);
  return tail.length;
}

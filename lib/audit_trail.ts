/**
 * The tracker's audit trail on disk: append-only JSON Lines (the format is
 * audit_record.ts's), synced to disk before any offset is committed. The
 * torn-tail split is pure; `AuditFile` is the thin file shell (lock, repair,
 * append + fdatasync) and `forEachLine` streams a file's lines.
 */
import { type AuditRecord, encodeAuditLines } from "./audit_record.ts";

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
    const bytes = this.#encoder.encode(encodeAuditLines(records));
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

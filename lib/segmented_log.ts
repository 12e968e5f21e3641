/**
 * An append-only JSON Lines file kept as segments: the active file at `path`
 * (the one appended to) and closed segments `path.000001`, `path.000002`, …
 * renamed from it when it grows past a size. Used by the audit trail and the
 * producer's outcomes. The shell for appends (a write, then fdatasync when
 * asked), rotation, retention and the repair of a torn last line; reading is
 * `readSegments` (or `forEachLine` on each segment) in order (`segmentPaths`).
 *
 * A failed write leaves the file as it was or with a partial last line: from
 * then on every append is refused, so nothing is ever written after a partial
 * line; a restart quarantines it.
 */
import { basename, dirname } from "node:path";

/** The file name of closed segment `n` of the log at `path`. */
export function segmentPath(path: string, n: number): string {
  return `${path}.${String(n).padStart(6, "0")}`;
}

/** The numbers of the closed segments of the log at `path`, oldest first. */
export async function closedSegments(path: string): Promise<number[]> {
  const prefix = `${basename(path)}.`;
  const numbers: number[] = [];
  try {
    for await (const entry of Deno.readDir(dirname(path))) {
      if (!entry.isFile || !entry.name.startsWith(prefix)) continue;
      const suffix = entry.name.slice(prefix.length);
      if (/^\d{6,}$/.test(suffix)) numbers.push(Number(suffix));
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return numbers.sort((a, b) => a - b);
}

/** Every segment of the log at `path`, oldest first: the closed ones, then the active one. */
export async function segmentPaths(path: string): Promise<Array<{ number: number; path: string }>> {
  const closed = await closedSegments(path);
  return [
    ...closed.map((n) => ({ number: n, path: segmentPath(path, n) })),
    { number: (closed.at(-1) ?? 0) + 1, path },
  ];
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

/** Opens a file for reading, or returns undefined when it does not exist. */
export async function openIfExists(path: string): Promise<Deno.FsFile | undefined> {
  try {
    return await Deno.open(path, { read: true });
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
}

/** Calls `onLine` for each complete line of a file from byte `from` on, streaming; returns the count. */
export async function forEachLine(
  path: string,
  onLine: (line: string, lineNumber: number) => void,
  { from = 0 }: { from?: number } = {},
): Promise<number> {
  const file = await openIfExists(path);
  if (file === undefined) return 0;
  if (from > 0) await file.seek(from, Deno.SeekMode.Start);
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
 * Calls `onParsed` for each line of each segment, oldest first, as `parse`
 * reads it; streams, so a log of any size never sits in memory.
 *
 * @param options.onSegmentDone told each segment once it is read
 * @throws {SyntaxError} naming the segment file and line of a line `parse` refuses
 */
export async function readSegments<S extends { path: string }, R extends { ok: boolean }>(
  segments: readonly S[],
  parse: (text: string, lineNumber: number) => R,
  onParsed: (parsed: NoInfer<Exclude<R, { ok: false }>>) => void,
  { onSegmentDone }: { onSegmentDone?: ((segment: S) => void) | undefined } = {},
): Promise<void> {
  for (const segment of segments) {
    await forEachLine(segment.path, (text, n) => {
      const parsed = parse(text, n);
      if (!parsed.ok) {
        throw new SyntaxError(`${segment.path}: ${(parsed as { error?: string }).error}`);
      }
      onParsed(parsed as Exclude<R, { ok: false }>);
    });
    onSegmentDone?.(segment);
  }
}

/** Bytes read per step when looking backwards for the last newline. */
const TAIL_SCAN_BYTES = 64 * 1024;

/** Up to `length` bytes of `file` from byte `at` (fewer at its end). */
export async function readAt(file: Deno.FsFile, at: number, length: number): Promise<Uint8Array> {
  const bytes = new Uint8Array(length);
  await file.seek(at, Deno.SeekMode.Start);
  let read = 0;
  while (read < length) {
    const n = await file.read(bytes.subarray(read));
    if (n === null) break;
    read += n;
  }
  return bytes.subarray(0, read);
}

/**
 * Fills `buffer` with the bytes of `file` from byte `at` (less at its end) and
 * returns the part filled. For a reader that follows a growing file ten times
 * a second: it reuses one buffer rather than leave megabytes a second to the
 * garbage collector, and reads synchronously, as a read from the page cache
 * takes less than handing it to another thread and back.
 */
export function readIntoSync(
  file: Deno.FsFile,
  { at, buffer }: { at: number; buffer: Uint8Array },
): Uint8Array {
  if (buffer.length === 0) return buffer;
  file.seekSync(at, Deno.SeekMode.Start);
  let read = 0;
  while (read < buffer.length) {
    const n = file.readSync(buffer.subarray(read));
    if (n === null) break;
    read += n;
  }
  return buffer.subarray(0, read);
}

/** The first line of a file (without its newline); undefined when it is missing or has none. */
export async function firstLine(path: string): Promise<string | undefined> {
  const file = await openIfExists(path);
  if (file === undefined) return undefined;
  try {
    const decoder = new TextDecoder();
    let text = "";
    for (let at = 0;;) {
      const bytes = await readAt(file, at, TAIL_SCAN_BYTES);
      if (bytes.length === 0) return undefined;
      text += decoder.decode(bytes, { stream: true });
      const newline = text.indexOf("\n");
      if (newline !== -1) return text.slice(0, newline);
      at += bytes.length;
    }
  } finally {
    file.close();
  }
}

/**
 * The complete lines among the last `maxBytes` of a file, oldest first: a line
 * the window cuts at its start is left out, and so is a torn last line. Reads
 * the end of the file only, whatever its size; empty when the file is missing.
 */
export async function lastLines(
  path: string,
  { maxBytes = TAIL_SCAN_BYTES }: { maxBytes?: number } = {},
): Promise<string[]> {
  const file = await openIfExists(path);
  if (file === undefined) return [];
  try {
    const { size } = await file.stat();
    // One byte before the window: a newline there means the window starts at a line.
    const from = Math.max(0, size - maxBytes - 1);
    const bytes = await readAt(file, from, size - from);
    const complete = bytes.subarray(0, splitTornTail(bytes).completeLength);
    const start = from === 0 ? 0 : complete.indexOf(0x0a) + 1;
    if (start === 0 && from > 0) return [];
    return new TextDecoder().decode(complete.subarray(start)).split("\n").filter((l) => l !== "");
  } finally {
    file.close();
  }
}

/** Where the torn tail starts, found by reading backwards from the end (never the whole file). */
async function tornTailStart(file: Deno.FsFile, size: number): Promise<number> {
  for (let end = size; end > 0;) {
    const start = Math.max(0, end - TAIL_SCAN_BYTES);
    const { completeLength } = splitTornTail(await readAt(file, start, end - start));
    if (completeLength > 0) return start + completeLength;
    end = start;
  }
  return 0;
}

/** Moves a torn last line of `path` to `quarantinePath`; returns its size in bytes. */
async function repairTornTail(path: string, quarantinePath: string): Promise<number> {
  const file = await openIfExists(path);
  if (file === undefined) return 0;
  let tail: Uint8Array;
  let completeLength: number;
  try {
    const { size } = await file.stat();
    completeLength = await tornTailStart(file, size);
    tail = await readAt(file, completeLength, size - completeLength);
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

/** Makes renames and creations in a directory durable. */
async function syncDirectory(path: string): Promise<void> {
  if (Deno.build.os === "windows") return;
  const dir = await Deno.open(path, { read: true });
  try {
    await dir.sync();
  } finally {
    dir.close();
  }
}

const OWNER_AND_GROUP = 0o640;

/** The writer of a segmented log. */
export class SegmentedLog {
  readonly path: string;
  #file: Deno.FsFile;
  #bytes: number;
  #number: number;
  #failure: Error | undefined;
  #closed = false;

  private constructor(path: string, file: Deno.FsFile, bytes: number, number: number) {
    this.path = path;
    this.#file = file;
    this.#bytes = bytes;
    this.#number = number;
  }

  /**
   * Opens the log for appending, after moving a torn last line of the active
   * segment to `quarantinePath` (when given).
   *
   * @returns the log and the size of the repaired tail (0 when there was none)
   */
  static async open(
    path: string,
    { quarantinePath, openFile = Deno.open }: {
      quarantinePath?: string;
      /** Opens the active segment (tests pass one whose writes fail). */
      openFile?: (path: string, options: Deno.OpenOptions) => Promise<Deno.FsFile>;
    } = {},
  ): Promise<{ log: SegmentedLog; repairedBytes: number }> {
    const repairedBytes = quarantinePath === undefined
      ? 0
      : await repairTornTail(path, quarantinePath);
    const file = await openFile(path, { create: true, append: true, mode: OWNER_AND_GROUP });
    const { size, isFile } = await file.stat();
    // The files hold customers' personal data: never world-readable, whoever created them.
    if (Deno.build.os !== "windows" && isFile) await Deno.chmod(path, OWNER_AND_GROUP);
    const number = ((await closedSegments(path)).at(-1) ?? 0) + 1;
    return { log: new SegmentedLog(path, file, size, number), repairedBytes };
  }

  /** The active segment's number. */
  get segment(): number {
    return this.#number;
  }

  /** Bytes in the active segment. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Appends bytes and, with `sync`, fdatasyncs them. Refused for good after a failed write. */
  async append(bytes: Uint8Array, { sync }: { sync: boolean }): Promise<void> {
    if (this.#failure) {
      throw new Error(
        `Cannot append to ${this.path}: an earlier write failed (${this.#failure.message}); restart to repair its tail`,
        { cause: this.#failure },
      );
    }
    if (this.#closed) throw new Error(`Cannot append to ${this.path}: it is closed`);
    try {
      let written = 0;
      while (written < bytes.length) written += await this.#file.write(bytes.subarray(written));
      if (sync) await this.#file.syncData();
      this.#bytes += bytes.length;
    } catch (error) {
      this.#failure = error as Error;
      throw error;
    }
  }

  /**
   * Closes the active segment as `path.<n>` and starts a new, empty one.
   * Durable: the directory is synced too.
   */
  async rotate(): Promise<void> {
    if (this.#failure) throw new Error(`Cannot rotate ${this.path}: an earlier write failed`);
    await this.#file.syncData();
    this.#file.close();
    await Deno.rename(this.path, segmentPath(this.path, this.#number));
    this.#number++;
    this.#file = await Deno.open(this.path, { create: true, append: true, mode: OWNER_AND_GROUP });
    this.#bytes = 0;
    await syncDirectory(dirname(this.path) || ".");
  }

  /**
   * Deletes the oldest closed segments while all segments together exceed
   * `maxBytes`; the newest closed segment is always kept (it carries the
   * numbering on).
   *
   * @returns what was deleted
   */
  async enforceRetention(maxBytes: number): Promise<{ segments: number; bytes: number }> {
    const closed = await closedSegments(this.path);
    const sizes = await Promise.all(
      closed.map((n) => Deno.stat(segmentPath(this.path, n)).then((s) => s.size)),
    );
    let total = this.#bytes + sizes.reduce((a, b) => a + b, 0);
    const deleted = { segments: 0, bytes: 0 };
    for (let i = 0; i < closed.length - 1 && total > maxBytes; i++) {
      await Deno.remove(segmentPath(this.path, closed[i]!));
      total -= sizes[i]!;
      deleted.segments++;
      deleted.bytes += sizes[i]!;
    }
    return deleted;
  }

  /** Syncs and closes the active segment. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      if (!this.#failure) this.#file.syncDataSync();
    } finally {
      this.#file.close();
    }
  }
}

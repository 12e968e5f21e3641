/**
 * Follows a growing JSON Lines file, as `tail -F` does: returns complete new
 * lines, keeps a partial last line until it is complete, reads at most
 * `maxBytesPerPoll` per call so a large history is read over several polls,
 * and skips a line longer than `maxLineBytes` instead of stalling on it. The
 * file stays open between polls: when it is renamed away (rotation) the rest
 * of it is read first, then the new file at the path from its start. Only a
 * file cut short in place (truncated) starts over, with `reset`.
 */
import { openIfExists, readIntoSync } from "./segmented_log.ts";

export interface TailOptions {
  /** Bytes read per poll at most. Default 1 MiB. */
  maxBytesPerPoll?: number;
  /** Longer lines are skipped (and counted). Default 1 MiB. */
  maxLineBytes?: number;
}

export interface TailPoll {
  lines: string[];
  /** True when the file was truncated in place since the last poll (it is read again from 0). */
  reset: boolean;
  /** Bytes still unread after this poll (a backlog). */
  behindBytes: number;
}

export class FileTail {
  #path: string;
  #maxBytes: number;
  #file: Deno.FsFile | null = null;
  #inode: number | null = null;
  #offset = 0;
  #lines: LineSplitter;
  /** Lines cut off by a rotation. */
  #cutOff = 0;
  #readBuffer = new Uint8Array(0);

  constructor(path: string, options: TailOptions = {}) {
    this.#path = path;
    this.#maxBytes = options.maxBytesPerPoll ?? 1024 * 1024;
    this.#lines = new LineSplitter({ maxLineBytes: options.maxLineBytes ?? 1024 * 1024 });
  }

  /** Lines skipped for being too long, or cut off by a rotation. */
  get skippedLines(): number {
    return this.#lines.skippedLines + this.#cutOff;
  }

  #restart(): void {
    this.#offset = 0;
    this.#lines.clear();
  }

  /** The inode and size at the path now, or null when nothing is there. */
  #atPath(): { ino: number | null; size: number } | null {
    try {
      const info = Deno.statSync(this.#path);
      return { ino: info.ino, size: info.size };
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return null;
      throw error;
    }
  }

  /** Reads what was appended since the last poll. */
  async poll(): Promise<TailPoll> {
    if (this.#file === null) {
      this.#file = await openIfExists(this.#path) ?? null;
      if (this.#file === null) return { lines: [], reset: false, behindBytes: 0 };
      this.#inode = this.#file.statSync().ino;
      this.#restart();
    }
    // Synchronous: a stat takes less than handing it to another thread and back.
    const file = this.#file;
    const { size } = file.statSync();
    const atPath = this.#atPath();
    const rotated = atPath === null || atPath.ino !== this.#inode;
    let reset = false;
    if (!rotated && size < this.#offset) {
      this.#restart();
      reset = true;
    }
    const length = Math.max(0, Math.min(size - this.#offset, this.#maxBytes));
    // Read into again at every poll; its lines are decoded before the next read.
    if (this.#readBuffer.length < length) this.#readBuffer = new Uint8Array(length);
    const bytes = readIntoSync(file, {
      at: this.#offset,
      buffer: this.#readBuffer.subarray(0, length),
    });
    this.#offset += bytes.length;
    const lines = this.#lines.split(bytes);
    let behindBytes = size - this.#offset;
    if (rotated && behindBytes === 0) {
      // The old file is read to its end: go on with whatever is at the path now.
      if (this.#lines.pendingBytes > 0) this.#cutOff++;
      file.close();
      this.#file = null;
      behindBytes = atPath?.size ?? 0;
    }
    return { lines, reset, behindBytes };
  }

  /** Stops following; closes the file. */
  close(): void {
    this.#file?.close();
    this.#file = null;
  }
}

/** Bytes decoded at a time: below V8's large-object size, so a piece's text starts young. */
const PIECE_BYTES = 64 * 1024;

/**
 * Cuts a byte stream into lines: keeps a partial last line (and a UTF-8
 * character split across reads) until its newline arrives, and skips a line
 * longer than `maxLineBytes`, counting it. The complete lines of a read are
 * decoded in one call and cut in the text: a trail grows by megabytes a second,
 * and a decoder call per line, or a byte-by-byte search, cost several times more.
 */
export class LineSplitter {
  #maxLine: number;
  #partial: Uint8Array[] = [];
  #partialBytes = 0;
  #skipping = false;
  /** Keeps byte-order marks: a line loses its own below, wherever the reads fall. */
  #decoder = new TextDecoder("utf-8", { ignoreBOM: true });
  /** Lines skipped for being too long. */
  skippedLines = 0;

  constructor({ maxLineBytes = 1024 * 1024 }: { maxLineBytes?: number } = {}) {
    this.#maxLine = maxLineBytes;
  }

  /** Bytes of a line begun but not yet ended. */
  get pendingBytes(): number {
    return this.#partialBytes;
  }

  /** Drops the bytes up to and including the next newline: a read that starts mid-line. */
  skipToNextLine(): void {
    this.clear();
    this.#skipping = true;
  }

  /** Forgets a partial line (the file it came from is gone or starts over). */
  clear(): void {
    this.#partial = [];
    this.#partialBytes = 0;
    this.#skipping = false;
  }

  /** The complete lines `bytes` ends, in order. */
  split(bytes: Uint8Array): string[] {
    return this.splitAt(bytes, 0).map((line) => line.text);
  }

  /**
   * The complete lines `bytes` ends, each with the offset just past its newline,
   * `bytes` being read at offset `at` of its file.
   */
  splitAt(bytes: Uint8Array, at: number): Array<{ text: string; end: number }> {
    const lines: Array<{ text: string; end: number }> = [];
    this.eachLine(bytes, at, (text, end) => lines.push({ text, end }));
    return lines;
  }

  /**
   * Calls `onLine` with each complete line `bytes` ends, in order, and the
   * offset just past its newline, `bytes` being read at offset `at` of its
   * file. The text of a line is a slice of its piece's: read it and let go,
   * and at most a piece of the read is alive at a time, however much it is.
   */
  eachLine(bytes: Uint8Array, at: number, onLine: (text: string, end: number) => void): void {
    const last = bytes.lastIndexOf(0x0a);
    let from = 0;
    if (last !== -1 && (this.#partialBytes > 0 || this.#skipping)) {
      // The line begun in earlier reads ends at the first newline of this one.
      const first = bytes.indexOf(0x0a);
      const length = this.#partialBytes + first;
      if (this.#skipping) this.#skipping = false;
      else if (length > this.#maxLine) this.skippedLines++;
      else {
        const text = this.#decoder.decode(
          concat([...this.#partial, bytes.subarray(0, first)], length),
        );
        onLine(withoutBom(text), at + first + 1);
      }
      this.#partial = [];
      this.#partialBytes = 0;
      from = first + 1;
    }
    // In pieces of about PIECE_BYTES, each ending with a line: a piece's text
    // is garbage once its lines are read, and a small one is collected young.
    while (from <= last) {
      let end = from + PIECE_BYTES >= last ? last : bytes.lastIndexOf(0x0a, from + PIECE_BYTES);
      if (end < from) end = bytes.indexOf(0x0a, from + PIECE_BYTES); // A line longer than a piece.
      this.#split(bytes.subarray(from, end + 1), at + from, onLine);
      from = end + 1;
    }
    const rest = bytes.subarray(last + 1);
    if (rest.length > 0 && !this.#skipping) {
      if (this.#partialBytes + rest.length > this.#maxLine) {
        // Too long to keep: drop it and skip to its end.
        this.skippedLines++;
        this.clear();
        this.#skipping = true;
      } else {
        this.#partial.push(rest.slice());
        this.#partialBytes += rest.length;
      }
    }
  }

  /** Passes on the lines of `whole`, complete lines read at `wholeAt`, decoded in one call. */
  #split(whole: Uint8Array, wholeAt: number, onLine: (text: string, end: number) => void): void {
    const text = this.#decoder.decode(whole);
    // Only ASCII decodes to as many UTF-16 units as bytes: then a line's bytes
    // end where its text does; otherwise the newlines are found in the bytes.
    const sameOffsets = text.length === whole.length;
    let start = 0;
    let byteStart = 0;
    for (let newline = text.indexOf("\n"); newline !== -1; newline = text.indexOf("\n", start)) {
      const byteEnd = sameOffsets ? newline + 1 : whole.indexOf(0x0a, byteStart) + 1;
      if (byteEnd - 1 - byteStart > this.#maxLine) this.skippedLines++;
      else {
        const from = text.charCodeAt(start) === 0xfeff ? start + 1 : start;
        onLine(text.slice(from, newline), wholeAt + byteEnd);
      }
      start = newline + 1;
      byteStart = byteEnd;
    }
  }
}

/** A line without the byte-order mark it may begin with (a decoder drops a file's). */
function withoutBom(text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

function concat(parts: Uint8Array[], length: number): Uint8Array {
  if (parts.length === 1) return parts[0]!;
  const out = new Uint8Array(length);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/**
 * Follows a growing JSON Lines file, as `tail -F` does: returns complete new
 * lines, keeps a partial last line until it is complete, reads at most
 * `maxBytesPerPoll` per call so a large history is read over several polls,
 * and skips a line longer than `maxLineBytes` instead of stalling on it. The
 * file stays open between polls: when it is renamed away (rotation) the rest
 * of it is read first, then the new file at the path from its start. Only a
 * file cut short in place (truncated) starts over, with `reset`.
 */
import { openIfExists, readAt } from "./segmented_log.ts";

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
  async #atPath(): Promise<{ ino: number | null; size: number } | null> {
    try {
      const info = await Deno.stat(this.#path);
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
      this.#inode = (await this.#file.stat()).ino;
      this.#restart();
    }
    const file = this.#file;
    const { size } = await file.stat();
    const atPath = await this.#atPath();
    const rotated = atPath === null || atPath.ino !== this.#inode;
    let reset = false;
    if (!rotated && size < this.#offset) {
      this.#restart();
      reset = true;
    }
    const bytes = await readAt(
      file,
      this.#offset,
      Math.max(0, Math.min(size - this.#offset, this.#maxBytes)),
    );
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

/**
 * Cuts a byte stream into lines: keeps a partial last line (and a UTF-8
 * character split across reads) until its newline arrives, and skips a line
 * longer than `maxLineBytes`, counting it.
 */
export class LineSplitter {
  #maxLine: number;
  #partial: Uint8Array[] = [];
  #partialBytes = 0;
  #skipping = false;
  #decoder = new TextDecoder();
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
    let start = 0;
    for (let end = bytes.indexOf(0x0a); end !== -1; end = bytes.indexOf(0x0a, start)) {
      const piece = bytes.subarray(start, end);
      start = end + 1;
      if (this.#skipping) {
        this.#skipping = false;
        continue;
      }
      if (this.#partialBytes + piece.length > this.#maxLine) {
        this.skippedLines++;
        this.clear();
        continue;
      }
      this.#partial.push(piece);
      const text = this.#decoder.decode(concat(this.#partial, this.#partialBytes + piece.length));
      lines.push({ text, end: at + start });
      this.clear();
    }
    const rest = bytes.subarray(start);
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
    return lines;
  }
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

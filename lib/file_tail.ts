/**
 * Follows a growing JSON Lines file: returns complete new lines, keeps a
 * partial last line until it is complete, starts over when the file is
 * truncated, replaced (rotation) or deleted, reads at most `maxBytesPerPoll`
 * per call so a large history is read over several polls, and skips a line
 * longer than `maxLineBytes` instead of stalling on it.
 */

export interface TailOptions {
  /** Bytes read per poll at most. Default 1 MiB. */
  maxBytesPerPoll?: number;
  /** Longer lines are skipped (and counted). Default 1 MiB. */
  maxLineBytes?: number;
}

export interface TailPoll {
  lines: string[];
  /** True when the file was truncated, replaced or deleted since the last poll. */
  reset: boolean;
  /** Bytes still unread after this poll (a backlog). */
  behindBytes: number;
}

export class FileTail {
  #path: string;
  #maxBytes: number;
  #maxLine: number;
  #offset = 0;
  #inode: number | null = null;
  #partial: Uint8Array[] = [];
  #partialBytes = 0;
  #skipping = false;
  #decoder = new TextDecoder();
  /** Lines skipped for being too long. */
  skippedLines = 0;

  constructor(path: string, options: TailOptions = {}) {
    this.#path = path;
    this.#maxBytes = options.maxBytesPerPoll ?? 1024 * 1024;
    this.#maxLine = options.maxLineBytes ?? 1024 * 1024;
  }

  #restart(): void {
    this.#offset = 0;
    this.#partial = [];
    this.#partialBytes = 0;
    this.#skipping = false;
  }

  /** Reads what was appended since the last poll. */
  async poll(): Promise<TailPoll> {
    let file: Deno.FsFile;
    try {
      file = await Deno.open(this.#path, { read: true });
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
      const reset = this.#inode !== null || this.#offset > 0;
      this.#inode = null;
      this.#restart();
      return { lines: [], reset, behindBytes: 0 };
    }
    try {
      const info = await file.stat();
      let reset = false;
      if ((this.#inode !== null && info.ino !== this.#inode) || info.size < this.#offset) {
        this.#restart();
        reset = true;
      }
      this.#inode = info.ino;
      const toRead = Math.min(info.size - this.#offset, this.#maxBytes);
      if (toRead <= 0) return { lines: [], reset, behindBytes: 0 };
      const buffer = new Uint8Array(toRead);
      await file.seek(this.#offset, Deno.SeekMode.Start);
      let read = 0;
      while (read < toRead) {
        const n = await file.read(buffer.subarray(read));
        if (n === null) break;
        read += n;
      }
      this.#offset += read;
      return {
        lines: this.#split(buffer.subarray(0, read)),
        reset,
        behindBytes: info.size - this.#offset,
      };
    } finally {
      file.close();
    }
  }

  #split(bytes: Uint8Array): string[] {
    const lines: string[] = [];
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
        this.#partial = [];
        this.#partialBytes = 0;
        continue;
      }
      this.#partial.push(piece);
      lines.push(this.#decoder.decode(concat(this.#partial, this.#partialBytes + piece.length)));
      this.#partial = [];
      this.#partialBytes = 0;
    }
    const rest = bytes.subarray(start);
    if (rest.length > 0 && !this.#skipping) {
      if (this.#partialBytes + rest.length > this.#maxLine) {
        // Too long to keep: drop it and skip to its end.
        this.skippedLines++;
        this.#partial = [];
        this.#partialBytes = 0;
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

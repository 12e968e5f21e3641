/**
 * Reads the newest lines of a growing file and no more: each poll returns the
 * complete lines appended since the last one, but only those in its last
 * `maxBytes`, and says when it passed some over. For a pane of the newest
 * records of a file that grows faster than anyone reads it (the audit trail:
 * megabytes a second, of which the monitor shows a screenful). A file renamed
 * away is left for the one at the path; one cut short is read again from its
 * end. Synchronous: a stat and a read from the page cache cost less than the
 * hand-off to another thread and back.
 */
import { readIntoSync } from "./segmented_log.ts";

export interface FileEndPoll {
  lines: string[];
  /** True when lines between the last poll's and these were passed over (or the file changed). */
  gap: boolean;
}

const NEWLINE = 0x0a;

export class FileEnd {
  readonly #path: string;
  readonly #buffer: Uint8Array;
  readonly #decoder = new TextDecoder();
  #file: Deno.FsFile | null = null;
  #inode: number | null = null;
  /** The byte after the last complete line returned. */
  #end = 0;

  /** @param options.maxBytes the most read at a poll (its newest lines); default 64 KiB */
  constructor(path: string, { maxBytes = 64 * 1024 }: { maxBytes?: number } = {}) {
    this.#path = path;
    this.#buffer = new Uint8Array(maxBytes);
  }

  /** The lines appended since the last poll, of the newest `maxBytes` at most. */
  poll(): FileEndPoll {
    let gap = false;
    let info: Deno.FileInfo;
    try {
      info = Deno.statSync(this.#path);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return { lines: [], gap: false };
      throw error;
    }
    if (this.#file === null || info.ino !== this.#inode) {
      // Another file at the path (a rotation): its start does not follow what was read.
      gap = this.#file !== null;
      this.close();
      try {
        this.#file = Deno.openSync(this.#path, { read: true });
      } catch (error) {
        if (error instanceof Deno.errors.NotFound) return { lines: [], gap };
        throw error;
      }
      this.#inode = this.#file.statSync().ino;
      this.#end = 0;
    }
    const size = this.#file.statSync().size;
    if (size < this.#end) {
      gap = true;
      this.#end = 0;
    }
    if (size === this.#end) return { lines: [], gap };
    const from = Math.max(this.#end, size - this.#buffer.length);
    const bytes = readIntoSync(this.#file, {
      at: from,
      buffer: this.#buffer.subarray(0, size - from),
    });
    // A read that starts after the last line returned starts inside a line: drop its part.
    let start = 0;
    if (from > this.#end) {
      if (this.#end > 0) gap = true;
      const newline = bytes.indexOf(NEWLINE);
      if (newline < 0) return { lines: [], gap };
      start = newline + 1;
    }
    const last = bytes.lastIndexOf(NEWLINE);
    if (last < start) {
      // No complete line yet: read again from here next time.
      if (from > this.#end) this.#end = from + start;
      return { lines: [], gap };
    }
    this.#end = from + last + 1;
    const text = this.#decoder.decode(bytes.subarray(start, last));
    return { lines: text.split("\n"), gap };
  }

  /** Closes the file; idempotent. */
  close(): void {
    this.#file?.close();
    this.#file = null;
    this.#inode = null;
  }
}

/**
 * Follows a segmented trail as it grows, segment by segment: from a starting
 * position (the checkpoint's, or the oldest segment), through every closed
 * segment in number order, into the active one, and on when the active one is
 * rotated (renamed to the next number) while being read. Each line comes with
 * its segment and the byte where it ends, so a reader can tell lines before a
 * checkpoint from lines after it. At most `maxBytesPerPoll` per poll. A
 * segment deleted by retention before it was read is passed over.
 */
import { LineSplitter } from "./file_tail.ts";
import { closedSegments, openIfExists, readIntoSync, segmentPath } from "./segmented_log.ts";

export interface FollowedLine {
  text: string;
  segment: number;
  /** The byte offset just after this line in its segment. */
  end: number;
}

export interface FollowerPoll {
  /** How many lines this poll passed on. */
  lines: number;
  /**
   * True when the trail was replaced by another (its segments no longer reach
   * the one being read): this follower is done; a new one starts over.
   */
  reset: boolean;
  /** Bytes known to be unread (> 0 while a backlog remains). */
  behindBytes: number;
}

export class TrailFollower {
  readonly #path: string;
  readonly #maxBytes: number;
  #segment: number | undefined;
  #offset: number;
  #file: Deno.FsFile | null = null;
  /** Whether the open file is the active segment (opened at `path`, not by its number). */
  #openedActive = false;
  #inode: number | null = null;
  #lines = new LineSplitter();
  /** Read into again at every poll; its lines are decoded before the next read. */
  #readBuffer = new Uint8Array(0);

  constructor(
    path: string,
    { start, maxBytesPerPoll = 4 * 1024 * 1024 }: {
      start?: { segment: number; bytes: number };
      maxBytesPerPoll?: number;
    } = {},
  ) {
    this.#path = path;
    this.#maxBytes = maxBytesPerPoll;
    this.#segment = start?.segment;
    this.#offset = start?.bytes ?? 0;
    if (this.#offset > 0) {
      // Start at the byte before: a line beginning at the start position is
      // read whole, one it cuts into is dropped, as `tail` does.
      this.#offset--;
      this.#lines.skipToNextLine();
    }
  }

  /** The first `length` bytes of the read buffer, grown when too short. */
  #buffer(length: number): Uint8Array {
    if (this.#readBuffer.length < length) this.#readBuffer = new Uint8Array(length);
    return this.#readBuffer.subarray(0, length);
  }

  /** Lines too long to keep, skipped. */
  get skippedLines(): number {
    return this.#lines.skippedLines;
  }

  /** Opens the segment to read next: "open", "wait" (not there yet) or "replaced". */
  async #open(): Promise<"open" | "wait" | "replaced"> {
    const closed = await closedSegments(this.#path);
    const active = (closed.at(-1) ?? 0) + 1;
    if (this.#segment === undefined) this.#segment = closed[0] ?? active;
    if (closed.length > 0 && this.#segment < closed[0]!) {
      // Deleted by retention before it was read: on from the oldest one left.
      this.#segment = closed[0]!;
      this.#offset = 0;
      this.#lines.clear();
    }
    // The segment before this one was renamed away, yet no closed segment has
    // its number: not a rotation, another trail in this one's place.
    if (this.#segment > active) return "replaced";
    this.#openedActive = this.#segment === active;
    const path = this.#openedActive ? this.#path : segmentPath(this.#path, this.#segment);
    // Missing between the rename of a rotation and the new active file: look again.
    this.#file = await openIfExists(path) ?? null;
    if (this.#file === null) return "wait";
    this.#inode = this.#file.statSync().ino;
    return "open";
  }

  /** Whether the open active segment has been renamed away (rotated). */
  #rotatedAway(): boolean {
    if (!this.#openedActive) return true; // A closed segment never grows.
    try {
      return Deno.statSync(this.#path).ino !== this.#inode;
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return true;
      throw error;
    }
  }

  /**
   * Reads what was appended since the last poll, passing each line to `onLine`
   * as it is read: a poll may read megabytes, and a line held after its turn
   * holds the text it was cut from.
   */
  async poll(onLine: (line: FollowedLine) => void): Promise<FollowerPoll> {
    let lines = 0;
    let budget = this.#maxBytes;
    while (budget > 0) {
      if (this.#file === null) {
        const opened = await this.#open();
        if (opened === "wait") return { lines, reset: false, behindBytes: 0 };
        if (opened === "replaced") return { lines, reset: true, behindBytes: 1 };
      }
      const file = this.#file!;
      // Synchronous: a stat takes less than handing it to another thread and back.
      const { size } = file.statSync();
      const bytes = readIntoSync(file, {
        at: this.#offset,
        buffer: this.#buffer(Math.max(0, Math.min(size - this.#offset, budget))),
      });
      budget -= bytes.length;
      const segment = this.#segment!;
      this.#lines.eachLine(bytes, this.#offset, (text, end) => {
        lines++;
        onLine({ text, segment, end });
      });
      this.#offset += bytes.length;
      if (this.#offset < size) return { lines, reset: false, behindBytes: size - this.#offset };
      if (!this.#rotatedAway()) return { lines, reset: false, behindBytes: 0 };
      // This segment is complete: on to the next one.
      file.close();
      this.#file = null;
      this.#lines.clear();
      this.#segment!++;
      this.#offset = 0;
    }
    return { lines, reset: false, behindBytes: 1 };
  }

  /** Stops following; closes the open segment. */
  close(): void {
    this.#file?.close();
    this.#file = null;
  }
}

/**
 * The redrive record on disk (redrive_record.ts is its format): opened under
 * an exclusive lock (one redrive at a time; the kernel releases it when the
 * process dies, so a crash never leaves a stale lock), a torn last line cut
 * off, every line appended with fdatasync before the caller goes on.
 */
import { dirname } from "node:path";
import {
  encodeRedriveLine,
  parseRedriveLine,
  type RedriveLedger,
  type RedriveLine,
} from "./redrive_record.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Another redrive holds the record. */
export class RedriveLockedError extends Error {
  override name = "RedriveLockedError";
}

export class RedriveRecordFile {
  readonly #file: Deno.FsFile;
  #closed = false;

  private constructor(file: Deno.FsFile) {
    this.#file = file;
  }

  /**
   * Opens (creating it and its directory) the record at `path`, takes its lock
   * and applies every line to `ledger`. A last line without its newline (a
   * crash mid-write) is cut off: it was never synced, so what it started
   * never began (a `sending`) or is still in doubt (a `sent`).
   *
   * @throws {RedriveLockedError} when another redrive runs
   * @throws {SyntaxError} when a complete line is not a record line
   */
  static async open(path: string, ledger: RedriveLedger): Promise<RedriveRecordFile> {
    await Deno.mkdir(dirname(path), { recursive: true });
    const file = await Deno.open(path, { read: true, write: true, create: true, mode: 0o640 });
    try {
      if (!await file.tryLock(true)) {
        throw new RedriveLockedError(
          `Cannot redrive: another redrive holds ${path}; wait for it to finish`,
        );
      }
      const text = decoder.decode(await Deno.readFile(path));
      const complete = text.lastIndexOf("\n") + 1;
      if (complete < text.length) {
        await file.truncate(encoder.encode(text.slice(0, complete)).length);
      }
      const lines = text.slice(0, complete).split("\n");
      for (const [i, line] of lines.entries()) {
        if (line === "") continue;
        const parsed = parseRedriveLine(line, i + 1);
        if (!parsed.ok) throw new SyntaxError(`${parsed.error} (${path})`);
        ledger.apply(parsed.line);
      }
      await file.seek(0, Deno.SeekMode.End);
      return new RedriveRecordFile(file);
    } catch (error) {
      file.close();
      throw error;
    }
  }

  /** Appends a line and syncs it to disk before resolving. */
  async append(line: RedriveLine): Promise<void> {
    const bytes = encoder.encode(encodeRedriveLine(line));
    for (let written = 0; written < bytes.length;) {
      written += await this.#file.write(bytes.subarray(written));
    }
    await this.#file.syncData();
  }

  /** Closes the file and its lock. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#file.close();
  }
}

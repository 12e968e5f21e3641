/**
 * Writes the trail summary (trail_summary.ts) beside the trail: the tracker
 * adds each chunk's records once they are on disk, and a line goes out at the
 * first chunk or timer tick of each new second. Not synced: a cache the
 * monitor checks against the trail's positions, and reads the trail where a
 * line is missing. At SUMMARY_FILE_BYTES the file is renamed to `<path>.1`
 * (replacing the one before) and a new one begins: the monitor needs the last
 * few minutes, and memory and disk must not grow with uptime.
 */
import type { AuditRecord } from "./audit_record.ts";
import type { Logger } from "./logging.ts";
import type { TrailPosition, TrailTotals } from "./trail_checkpoint.ts";
import { encodeTrailSummary, SUMMARY_SECOND_MS, SummaryBuilder } from "./trail_summary.ts";

/** A summary file is renamed away at this size (about an hour at 5,000 orders/s). */
export const SUMMARY_FILE_BYTES = 4 * 1024 * 1024;
/** How often a line is due is looked at when no chunk comes. */
const TICK_MS = 250;

/** The trail as the summary needs it (AuditTrail has these). */
export interface SummarizedTrail {
  readonly trailId: string;
  /** The position after the last line appended. */
  readonly position: TrailPosition;
  readonly totals: Readonly<TrailTotals>;
}

/** The summary's rotated file. */
export function previousSummaryPath(path: string): string {
  return `${path}.1`;
}

export class TrailSummaryLog {
  readonly #path: string;
  readonly #trail: SummarizedTrail;
  readonly #log: Logger;
  readonly #builder: SummaryBuilder;
  readonly #encoder = new TextEncoder();
  #file: Deno.FsFile | undefined;
  #bytes = 0;
  #second: number;
  /**
   * The trail as of the last records added: an append in progress moves the
   * trail's position before its records are added here.
   */
  #through: { position: TrailPosition; totals: TrailTotals } | undefined;
  #timer: ReturnType<typeof setInterval> | undefined;
  /** Set once a write failed: no more lines (the monitor reads the trail instead). */
  #failed = false;

  constructor(path: string, { trail, log }: { trail: SummarizedTrail; log: Logger }) {
    this.#path = path;
    this.#trail = trail;
    this.#log = log;
    this.#builder = new SummaryBuilder(trail.position);
    this.#second = Math.floor(Date.now() / SUMMARY_SECOND_MS);
    const timer = setInterval(() => this.#flushIfDue(Date.now()), TICK_MS);
    // The tracker's lifetime is its consumer's, not this timer's.
    Deno.unrefTimer(timer);
    this.#timer = timer;
  }

  /**
   * Adds a chunk's records once they are on disk (and, at a new second, writes
   * a line). Call it as soon as their append resolves, before another append
   * starts: the trail's position and totals are read here as theirs.
   */
  add(records: readonly AuditRecord[]): void {
    if (this.#failed) return;
    this.#builder.add(records);
    const { position, totals } = this.#trail;
    this.#through = { position, totals: { ...totals, by_status: { ...totals.by_status } } };
    this.#flushIfDue(Date.now());
  }

  #flushIfDue(now: number): void {
    const second = Math.floor(now / SUMMARY_SECOND_MS);
    if (second === this.#second || !this.#builder.pending) return;
    this.#second = second;
    this.#flush(now);
  }

  /** Writes the line of what was added since the last one; synchronous, about 1 KB. */
  #flush(now: number): void {
    if (this.#failed || this.#through === undefined) return;
    const summary = this.#builder.take(this.#through.position, {
      trailId: this.#trail.trailId,
      totals: this.#through.totals,
      now,
    });
    if (summary === undefined) return;
    try {
      if (this.#file !== undefined && this.#bytes >= SUMMARY_FILE_BYTES) {
        this.#file.close();
        this.#file = undefined;
        Deno.renameSync(this.#path, previousSummaryPath(this.#path));
      }
      if (this.#file === undefined) {
        this.#file = Deno.openSync(this.#path, { create: true, append: true, mode: 0o640 });
        this.#bytes = this.#file.statSync().size;
      }
      const bytes = this.#encoder.encode(encodeTrailSummary(summary));
      for (let written = 0; written < bytes.length;) {
        written += this.#file.writeSync(bytes.subarray(written));
      }
      this.#bytes += bytes.length;
    } catch (error) {
      // Never fatal: the summary is a cache of the trail, which is on disk.
      this.#failed = true;
      this.#log.warn(
        "Cannot write the trail summary {path}: {error}; the monitor reads the trail instead",
        { path: this.#path, error: (error as Error).message },
      );
    }
  }

  /** Writes what is left and closes the file; idempotent. */
  close(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    this.#flush(Date.now());
    this.#file?.close();
    this.#file = undefined;
    this.#failed = true;
  }
}

/**
 * Feeds the monitor's model from the tracker's files without reading the
 * whole history: lifetime counts come from the trail's checkpoint, then the
 * trail is followed from the checkpoint's position (a little before it, for the
 * charts), across segment rotations; the health log is tailed across its own
 * rotations. Each line goes through its format's parser (a bad line is counted
 * and shown, never fatal). Everything starts over when the health log is
 * truncated or the trail is replaced by another (another trail id).
 */
import { parseTrailLine } from "./audit_record.ts";
import { FileTail } from "./file_tail.ts";
import { parseHealthLine } from "./health_record.ts";
import { MonitorModel } from "./monitor_model.ts";
import { parseCheckpointHead, type TrailPosition } from "./trail_checkpoint.ts";
import { firstLine } from "./segmented_log.ts";
import { TrailFollower } from "./trail_follower.ts";

/** Bytes per poll: audit lines carry whole orders, so read more of them. */
const HEALTH_BYTES_PER_POLL = 512 * 1024;
const AUDIT_BYTES_PER_POLL = 4 * 1024 * 1024;
/** Trail read before the checkpoint's position for the charts' recent history. */
const CHART_HISTORY_BYTES = 8 * 1024 * 1024;

/** The tracker's files the monitor reads. */
export interface MonitorFiles {
  healthLog: string;
  auditFile: string;
  checkpointFile: string;
}

export class MonitorFeed {
  readonly #files: MonitorFiles;
  #health!: FileTail;
  #trail: TrailFollower | undefined;
  /** Lines at or before this position are in the checkpoint's totals. */
  #countedUpTo: TrailPosition | undefined;
  #trailId: string | undefined;
  #skipped = 0;
  model!: MonitorModel;

  constructor(files: MonitorFiles) {
    this.#files = files;
    this.#startOver();
  }

  #startOver(): void {
    this.#trail?.close();
    this.#health?.close();
    this.model = new MonitorModel();
    this.#trail = undefined;
    this.#countedUpTo = undefined;
    this.#trailId = undefined;
    this.#skipped = 0;
    this.#health = new FileTail(this.#files.healthLog, { maxBytesPerPoll: HEALTH_BYTES_PER_POLL });
  }

  /** Starts following the trail: from the checkpoint when there is one, else from its start. */
  async #startTrail(): Promise<TrailFollower> {
    // Its first line has what the monitor needs; the state lines after it (tens of MB) are not read.
    const head = await firstLine(this.#files.checkpointFile).catch(() => undefined);
    const read = head === undefined ? undefined : parseCheckpointHead(head);
    if (read?.ok) {
      const { position, totals, trail_id } = read.head;
      this.model.setTotals(totals);
      this.#countedUpTo = position;
      this.#trailId = trail_id;
      return new TrailFollower(this.#files.auditFile, {
        start: {
          segment: position.segment,
          bytes: Math.max(0, position.bytes - CHART_HISTORY_BYTES),
        },
        maxBytesPerPoll: AUDIT_BYTES_PER_POLL,
      });
    }
    if (read && !read.ok) this.model.addUnreadable();
    return new TrailFollower(this.#files.auditFile, { maxBytesPerPoll: AUDIT_BYTES_PER_POLL });
  }

  #counted(segment: number, end: number): boolean {
    const upTo = this.#countedUpTo;
    return upTo === undefined || segment > upTo.segment ||
      (segment === upTo.segment && end > upTo.bytes);
  }

  /**
   * Reads what was appended since the last poll (bounded).
   *
   * @returns whether anything changed and how many bytes are still unread
   */
  async poll(): Promise<{ changed: boolean; behindBytes: number }> {
    this.#trail ??= await this.#startTrail();
    const [health, audit] = await Promise.all([this.#health.poll(), this.#trail.poll()]);
    if (health.reset || audit.reset) {
      // The health log was cut short, or another trail took this one's place:
      // old and new figures must not mix.
      this.#startOver();
      return { changed: true, behindBytes: 1 };
    }
    for (const line of health.lines) {
      const parsed = parseHealthLine(line);
      if (parsed.ok) this.model.addHealth(parsed.entry);
      else this.model.addUnreadable();
    }
    for (const [i, line] of audit.lines.entries()) {
      const count = this.#counted(line.segment, line.end);
      const parsed = parseTrailLine(line.text, i + 1, { withOrder: false });
      if (!parsed.ok) {
        this.model.addUnreadable();
        continue;
      }
      if (parsed.kind === "header") {
        if (this.#trailId !== undefined && parsed.header.trail_id !== this.#trailId) {
          this.#startOver(); // Another trail took this one's place.
          return { changed: true, behindBytes: 1 };
        }
        this.#trailId = parsed.header.trail_id;
        continue;
      }
      this.model.addAudit(parsed.record, { count });
    }
    // Lines too long to keep, or cut off by a rotation, were skipped by the tails.
    const skipped = this.#health.skippedLines + this.#trail.skippedLines;
    this.model.addUnreadable(skipped - this.#skipped);
    this.#skipped = skipped;
    return {
      changed: health.lines.length + audit.lines.length > 0,
      behindBytes: health.behindBytes + audit.behindBytes,
    };
  }

  /** Closes the files being followed. */
  close(): void {
    this.#trail?.close();
    this.#health.close();
  }
}

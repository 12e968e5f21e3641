/**
 * Feeds the monitor's model from the tracker's files without reading the
 * whole history: lifetime counts come from the trail's checkpoint, then the
 * trail is followed from the checkpoint's position (a little before it, for the
 * charts), across segment rotations; the health log is tailed across its own
 * rotations. Each line goes through its format's parser (a bad line is counted
 * and shown, never fatal). Everything starts over when the health log is
 * truncated or the trail is replaced by another (another trail id).
 */
import { parseTrailSample } from "./audit_record.ts";
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

/** The options of `addAudit`, made once: thousands of lines a second pass them. */
const COUNTED = { count: true } as const;
const NOT_COUNTED = { count: false } as const;

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
    const trail = this.#trail ??= await this.#startTrail();
    const health = await this.#health.poll();
    if (health.reset) return this.#replaced(); // The health log was cut short.
    for (const line of health.lines) {
      const parsed = parseHealthLine(line);
      if (parsed.ok) this.model.addHealth(parsed.entry);
      else this.model.addUnreadable();
    }
    // Each line is taken into the model as it is read: see TrailFollower.poll.
    let replaced = false;
    let n = 0;
    const audit = await trail.poll((line) => {
      if (replaced) return;
      const parsed = parseTrailSample(line.text, ++n);
      if (!parsed.ok) return this.model.addUnreadable();
      if (parsed.kind === "header") {
        // Another trail took this one's place.
        replaced = this.#trailId !== undefined && parsed.header.trail_id !== this.#trailId;
        this.#trailId = parsed.header.trail_id;
        return;
      }
      this.model.addAudit(
        parsed.record,
        this.#counted(line.segment, line.end) ? COUNTED : NOT_COUNTED,
      );
    });
    if (audit.reset || replaced) return this.#replaced();
    // Lines too long to keep, or cut off by a rotation, were skipped by the tails.
    const skipped = this.#health.skippedLines + trail.skippedLines;
    this.model.addUnreadable(skipped - this.#skipped);
    this.#skipped = skipped;
    return {
      changed: health.lines.length + audit.lines > 0,
      behindBytes: health.behindBytes + audit.behindBytes,
    };
  }

  /**
   * Starts over: the health log was cut short, or another trail took this
   * one's place; old and new figures must not mix.
   */
  #replaced(): { changed: boolean; behindBytes: number } {
    this.#startOver();
    return { changed: true, behindBytes: 1 };
  }

  /** Closes the files being followed. */
  close(): void {
    this.#trail?.close();
    this.#health.close();
  }
}

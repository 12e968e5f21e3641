/**
 * Feeds the monitor's model from the tracker's files without reading the
 * trail line by line: lifetime counts and the samples of the windows and
 * charts come from the trail summary (trail_summary.ts, a line a second), the
 * events pane from the trail's newest 64 KiB (file_end.ts), the rest from the
 * health log. Each summary line covers the trail from the previous one's
 * position; where the trail is read instead:
 * - a gap between two lines (a tracker that stopped without its last line):
 *   the lines in between, for the charts (the next line's totals count them);
 * - a line that begins before what was read of the trail: up to its end;
 * - no line for SUMMARY_STALE_MS, or none at all (a tracker older than the
 *   summary, or the trail of another system): everything after the last line
 *   (or the checkpoint), counted line by line, as before the summary existed.
 * Each line goes through its format's parser (a bad line is counted and shown,
 * never fatal). Everything starts over when the health log is truncated or the
 * trail is replaced by another (another trail id).
 */
import { parseTrailSample } from "./audit_record.ts";
import { FileEnd } from "./file_end.ts";
import { FileTail } from "./file_tail.ts";
import { parseHealthLine } from "./health_record.ts";
import { CHART_BUCKET_MS, CHART_BUCKETS, MonitorModel, RECENT_WINDOW_MS } from "./monitor_model.ts";
import { parseCheckpointHead, type TrailPosition } from "./trail_checkpoint.ts";
import { firstLine } from "./segmented_log.ts";
import { TrailFollower } from "./trail_follower.ts";
import { comparePositions, parseTrailSummary, type TrailSummary } from "./trail_summary.ts";
import { previousSummaryPath } from "./trail_summary_log.ts";

/** Bytes per poll: audit lines carry whole orders, so read more of them. */
const HEALTH_BYTES_PER_POLL = 512 * 1024;
const SUMMARY_BYTES_PER_POLL = 1024 * 1024;
const AUDIT_BYTES_PER_POLL = 4 * 1024 * 1024;
/** Trail read before a starting position for the charts' recent history. */
const CHART_HISTORY_BYTES = 8 * 1024 * 1024;
/** The newest trail bytes read for the events pane at a poll (about 35 lines at 5k msg/s). */
const EVENT_BYTES = 64 * 1024;
/**
 * The tracker writes a summary line every second it audits something; with
 * none for this long (stopped, idle, failing, or older than the summary) the
 * trail after the last one is read.
 */
export const SUMMARY_STALE_MS = 3_000;
/** Samples older than this reach no window or chart: a gap this old is not read. */
const SAMPLES_KEPT_MS = CHART_BUCKETS * CHART_BUCKET_MS + RECENT_WINDOW_MS;
/** Before any position: every line counts. */
const TRAIL_START: TrailPosition = { segment: -Infinity, bytes: 0 };

/** The tracker's files the monitor reads. */
export interface MonitorFiles {
  healthLog: string;
  auditFile: string;
  checkpointFile: string;
  summaryFile: string;
}

export interface FeedOptions {
  /** The clock (ms); default Date.now. */
  now?: () => number;
  /** Read the trail after the last summary line once none came for this long; default SUMMARY_STALE_MS. */
  staleAfterMs?: number;
}

export interface FeedPoll {
  /** Whether a figure may have changed (a record of the health log, the summary or the trail). */
  changed: boolean;
  /** Whether the events pane's rows changed. */
  eventsChanged: boolean;
  /** Bytes known to be unread (a backlog). */
  behindBytes: number;
}

/** The trail being read line by line, and how far. */
interface TrailRead {
  follower: TrailFollower;
  /** Lines ending after this are left (a summary line goes on from there); null: to the end. */
  stopAt: TrailPosition | null;
  /** Lines ending after this are counted; null: none (a summary line's totals hold them). */
  countAfter: TrailPosition | null;
  done: boolean;
  /** The follower's skipped lines already counted as unreadable. */
  skipped: number;
}

export class MonitorFeed {
  readonly #files: MonitorFiles;
  readonly #now: () => number;
  readonly #staleAfterMs: number;
  #health!: FileTail;
  #summaries!: FileTail;
  #events!: FileEnd;
  #begun = false;
  /** Summary lines read and not yet taken into the model, oldest first. */
  #queue: TrailSummary[] = [];
  /** Everything in the trail before this position is in the model's figures. */
  #cursor: TrailPosition | undefined;
  #read: TrailRead | undefined;
  #trailId: string | undefined;
  /** When (this clock) the last summary line was read, or the feed began. */
  #lastSummaryAt = 0;
  #skipped = 0;
  model!: MonitorModel;

  constructor(
    files: MonitorFiles,
    { now = Date.now, staleAfterMs = SUMMARY_STALE_MS }: FeedOptions = {},
  ) {
    this.#files = files;
    this.#now = now;
    this.#staleAfterMs = staleAfterMs;
    this.#startOver();
  }

  #startOver(): void {
    this.close();
    this.model = new MonitorModel();
    this.#begun = false;
    this.#queue = [];
    this.#cursor = undefined;
    this.#read = undefined;
    this.#trailId = undefined;
    this.#skipped = 0;
    this.#health = new FileTail(this.#files.healthLog, { maxBytesPerPoll: HEALTH_BYTES_PER_POLL });
    this.#summaries = new FileTail(this.#files.summaryFile, {
      maxBytesPerPoll: SUMMARY_BYTES_PER_POLL,
    });
    this.#events = new FileEnd(this.#files.auditFile, { maxBytes: EVENT_BYTES });
  }

  /**
   * The first poll: the trail's id, every summary line there is (the rotated
   * file's too), and where to begin: the summaries of the windows' span, else
   * the checkpoint, else the trail's start.
   */
  async #begin(now: number): Promise<void> {
    this.#begun = true;
    this.#lastSummaryAt = now;
    const headLine = await firstLine(this.#files.checkpointFile).catch(() => undefined);
    const head = headLine === undefined ? undefined : parseCheckpointHead(headLine);
    if (head && !head.ok) this.model.addUnreadable();
    const checkpoint = head?.ok ? head.head : undefined;
    this.#trailId = checkpoint?.trail_id ?? await this.#activeTrailId();

    const lines: string[] = [];
    const previous = await Deno.readTextFile(previousSummaryPath(this.#files.summaryFile)).catch(
      (error) => {
        if (error instanceof Deno.errors.NotFound) return "";
        throw error;
      },
    );
    lines.push(...previous.split("\n").filter((line) => line !== ""));
    for (let polled; (polled = await this.#summaries.poll()).lines.length > 0;) {
      lines.push(...polled.lines);
      if (polled.behindBytes === 0) break;
    }
    const summaries = this.#parseSummaries(lines);
    this.#trailId ??= summaries.at(-1)?.trail_id;
    const ours = summaries.filter((s) => s.trail_id === this.#trailId);
    // The lines whose seconds reach the windows, or the last one for its totals.
    const recent = ours.filter((s) => (s.seconds.at(-1)?.last_at ?? 0) >= now - SAMPLES_KEPT_MS);
    this.#queue = recent.length > 0 ? recent : ours.slice(-1);
    const last = this.#queue.at(-1);
    // A checkpoint taken well after the last summary line (a tracker that
    // writes none ran since) is nearer the trail's end than that line.
    const checkpointAhead = last !== undefined && checkpoint !== undefined &&
      comparePositions(checkpoint.position, last.through) > 0 &&
      Date.parse(checkpoint.written_at) - Date.parse(last.written_at) > SUMMARY_STALE_MS;
    if (last !== undefined && !checkpointAhead) return;
    // No summary (or a much older one): the trail from the checkpoint on,
    // counted line by line, and a little before it for the charts.
    this.#queue = [];
    if (checkpoint !== undefined) {
      this.model.setTotals(checkpoint.totals);
      this.#cursor = checkpoint.position;
      this.#startRead({
        from: {
          segment: checkpoint.position.segment,
          bytes: Math.max(0, checkpoint.position.bytes - CHART_HISTORY_BYTES),
        },
        stopAt: null,
        countAfter: checkpoint.position,
      });
    } else {
      this.#startRead({ from: undefined, stopAt: null, countAfter: TRAIL_START });
    }
  }

  /** The trail id in the active segment's header, if it has one. */
  async #activeTrailId(): Promise<string | undefined> {
    const line = await firstLine(this.#files.auditFile).catch(() => undefined);
    if (line === undefined) return undefined;
    const parsed = parseTrailSample(line, 1);
    return parsed.ok && parsed.kind === "header" ? parsed.header.trail_id : undefined;
  }

  #parseSummaries(lines: readonly string[]): TrailSummary[] {
    const summaries: TrailSummary[] = [];
    for (const line of lines) {
      const parsed = parseTrailSummary(line);
      if (parsed.ok) summaries.push(parsed.summary);
      else this.model.addUnreadable();
    }
    return summaries;
  }

  #startRead(
    { from, stopAt, countAfter }: {
      from: TrailPosition | undefined;
      stopAt: TrailPosition | null;
      countAfter: TrailPosition | null;
    },
  ): void {
    const follower = new TrailFollower(this.#files.auditFile, {
      ...(from === undefined ? {} : { start: from }),
      maxBytesPerPoll: AUDIT_BYTES_PER_POLL,
    });
    this.#read = { follower, stopAt, countAfter, done: false, skipped: 0 };
  }

  #endRead(): void {
    this.#read?.follower.close();
    this.#read = undefined;
  }

  /**
   * Reads what was appended since the last poll (bounded).
   *
   * @param options.events whether to read the trail's newest lines for the events pane (default true)
   * @returns whether the figures changed, whether the events did, and how many bytes are still unread
   */
  async poll(
    { events: readEvents = true }: { events?: boolean } = {},
  ): Promise<FeedPoll> {
    const now = this.#now();
    if (!this.#begun) await this.#begin(now);
    const health = await this.#health.poll();
    if (health.reset) return this.#replaced(); // The health log was cut short.
    for (const line of health.lines) {
      const parsed = parseHealthLine(line);
      if (parsed.ok) this.model.addHealth(parsed.entry);
      else this.model.addUnreadable();
    }
    const summaries = await this.#summaries.poll();
    for (const summary of this.#parseSummaries(summaries.lines)) {
      // Another trail took this one's place (its tracker writes its id).
      if (this.#trailId !== undefined && summary.trail_id !== this.#trailId) {
        return this.#replaced();
      }
      this.#trailId = summary.trail_id;
      this.#queue.push(summary);
    }
    if (summaries.lines.length > 0) this.#lastSummaryAt = now;
    const trail = await this.#advance(now);
    if (trail === "replaced") return this.#replaced();
    const events = readEvents ? this.#readEvents() : 0;
    if (events === "replaced") return this.#replaced();
    // Lines too long to keep, or cut off by a rotation, were skipped by the tails.
    const skipped = this.#health.skippedLines + this.#summaries.skippedLines;
    this.model.addUnreadable(skipped - this.#skipped);
    this.#skipped = skipped;
    return {
      changed: health.lines.length + summaries.lines.length + trail.lines > 0,
      eventsChanged: events > 0,
      behindBytes: health.behindBytes + summaries.behindBytes + trail.behindBytes,
    };
  }

  /**
   * Takes the summary lines read into the model, in trail order, reading the
   * trail where they do not reach (see the module's comment).
   */
  async #advance(now: number): Promise<{ lines: number; behindBytes: number } | "replaced"> {
    let lines = 0;
    let behindBytes = 0;
    while (true) {
      if (this.#read !== undefined) {
        // A summary line came: it says what a read to the end would count.
        if (this.#read.stopAt === null && this.#queue.length > 0) this.#endRead();
        else {
          const read = await this.#pollRead(this.#read);
          if (read === "replaced") return read;
          lines += read.lines;
          behindBytes += read.behindBytes;
          if (!this.#read.done) break;
          this.#endRead();
        }
      }
      const next = this.#queue[0];
      if (next === undefined) {
        if (this.#read === undefined && now - this.#lastSummaryAt >= this.#staleAfterMs) {
          // No summary comes: what follows the last one is read as it is written.
          this.#startRead({
            from: this.#cursor,
            stopAt: null,
            countAfter: this.#cursor ?? TRAIL_START,
          });
          continue;
        }
        break;
      }
      const cursor = this.#cursor;
      if (cursor === undefined || comparePositions(next.from, cursor) === 0) {
        this.model.addSummary(next);
        this.#cursor = next.through;
        this.#queue.shift();
        lines++;
        continue;
      }
      const toEnd = comparePositions(next.through, cursor);
      if (toEnd <= 0) {
        // Read from the trail already; where it ends, its totals are exact.
        if (toEnd === 0) this.model.addSummary(next, { samples: false });
        this.#queue.shift();
        continue;
      }
      if (comparePositions(next.from, cursor) > 0) {
        // A gap: the lines in between are in no summary line.
        const gapEnd = next.seconds[0]?.at ?? 0;
        if (gapEnd < now - SAMPLES_KEPT_MS) {
          this.#cursor = next.from; // Too old for any chart; next's totals count them.
          continue;
        }
        const from = next.from.segment === cursor.segment
          ? {
            segment: cursor.segment,
            bytes: Math.max(cursor.bytes, next.from.bytes - CHART_HISTORY_BYTES),
          }
          : cursor;
        this.#startRead({ from, stopAt: next.from, countAfter: null });
      } else {
        // It begins inside what was read: read on to its end, then take its totals.
        this.#startRead({ from: cursor, stopAt: next.through, countAfter: null });
      }
    }
    return { lines, behindBytes };
  }

  /** One poll of the trail read: samples (and counts, as it says) of the lines up to its end. */
  async #pollRead(
    read: TrailRead,
  ): Promise<{ lines: number; behindBytes: number } | "replaced"> {
    let replaced = false;
    let n = 0;
    const polled = await read.follower.poll((line) => {
      if (replaced || read.done) return;
      const at = { segment: line.segment, bytes: line.end };
      if (read.stopAt !== null && comparePositions(at, read.stopAt) > 0) {
        read.done = true;
        return;
      }
      const parsed = parseTrailSample(line.text, ++n);
      if (!parsed.ok) this.model.addUnreadable();
      else if (parsed.kind === "header") {
        replaced = this.#trailId !== undefined && parsed.header.trail_id !== this.#trailId;
        this.#trailId = parsed.header.trail_id;
      } else {
        const count = read.countAfter !== null && comparePositions(at, read.countAfter) > 0;
        this.model.addAudit(parsed.record, { count, event: false });
      }
      if (this.#cursor === undefined || comparePositions(at, this.#cursor) > 0) this.#cursor = at;
      if (read.stopAt !== null && comparePositions(at, read.stopAt) >= 0) read.done = true;
    });
    if (polled.reset || replaced) return "replaced";
    this.model.addUnreadable(read.follower.skippedLines - read.skipped);
    read.skipped = read.follower.skippedLines;
    if (read.stopAt !== null) {
      // The trail may not reach it (a torn line moved away): the summary's figures hold then.
      if (!read.done && polled.lines === 0 && polled.behindBytes === 0) read.done = true;
      if (
        read.done && (this.#cursor === undefined || comparePositions(read.stopAt, this.#cursor) > 0)
      ) {
        this.#cursor = read.stopAt;
      }
    }
    return { lines: polled.lines, behindBytes: read.done ? 0 : polled.behindBytes };
  }

  /** The events pane: the trail's newest lines since the last poll; how many were read. */
  #readEvents(): number | "replaced" {
    const { lines, gap } = this.#events.poll();
    if (gap) this.model.clearEvents();
    let n = 0;
    for (const line of lines) {
      const parsed = parseTrailSample(line, ++n);
      if (!parsed.ok) {
        // Counted here unless the trail is being read there anyway.
        if (this.#read === undefined) this.model.addUnreadable();
      } else if (parsed.kind === "header") {
        if (this.#trailId !== undefined && parsed.header.trail_id !== this.#trailId) {
          return "replaced";
        }
        this.#trailId = parsed.header.trail_id;
      } else this.model.addEvent(parsed.record);
    }
    return lines.length;
  }

  /**
   * Starts over: the health log was cut short, or another trail took this
   * one's place; old and new figures must not mix.
   */
  #replaced(): FeedPoll {
    this.#startOver();
    return { changed: true, eventsChanged: true, behindBytes: 1 };
  }

  /** Closes the files being followed. */
  close(): void {
    this.#endRead();
    this.#health?.close();
    this.#summaries?.close();
    this.#events?.close();
  }
}

/**
 * The tracker's audit trail on disk: segments of JSON Lines (the format is
 * audit_record.ts's; each segment opens with a header naming its epoch),
 * synced before any offset is committed, one tracker at a time (a lock file).
 * It owns the tracker's state: on open it loads the checkpoint and replays
 * only the lines written after it (or rebuilds both from every segment when
 * the checkpoint is missing or unreadable), so start-up does not grow with the
 * trail. It writes a new checkpoint every CHECKPOINT_MIN_BYTES or more of trail,
 * at each rotation and on close; it rotates by size and, when asked, deletes
 * the oldest segments (retention).
 * Long (about 400 lines) because loading (checkpoint or rebuild), appending,
 * rotating, retention and checkpointing are one object's life and share its state.
 */
import {
  type AuditRecord,
  encodeAuditLineBytes,
  encodeSegmentHeader,
  parseTrailLine,
  type SegmentHeader,
  type TrailEpoch,
} from "./audit_record.ts";
import type { Paths } from "./config.ts";
import { forEachLine, SegmentedLog, segmentPaths } from "./segmented_log.ts";
import {
  addToTotals,
  emptyTotals,
  encodeCheckpointParts,
  parseCheckpoint,
  type TrailCheckpoint,
  type TrailPosition,
  type TrailTotals,
} from "./trail_checkpoint.ts";
import { DEFAULT_LIMITS, TrackerState, type TrackerStateLimits } from "./tracker_state.ts";

/** A checkpoint is written once this much trail has been appended since the last one… */
export const CHECKPOINT_MIN_BYTES = 64 * 1024 * 1024;
/**
 * …or four times the last checkpoint's size, if more. With full state (half a
 * million event keys, 26 MB) a checkpoint takes about 0.2 s; every 105 MB of
 * trail that is about 5% of the tracker's time at full speed, and what a
 * restart after a crash reads stays near 100 MB (well under a second).
 */
const CHECKPOINT_SIZE_FACTOR = 4;

/**
 * The largest line buffer kept from one append for the next: a few fetches'
 * chunks. An append of the chunks ready together while batches go ahead
 * (order_tracker.ts's AHEAD_MAX_UNSYNCED_BYTES of orders unsynced, 16 MiB
 * when measured) sizes its buffer at up to about 30 MB;
 * with 16 MiB kept, such buffers were allocated afresh (zeroed, then faulted
 * in page by page) at each append, and copying the orders into their lines
 * took 11% of the main thread. At 64 MiB: +11% msg/s (median of 5 pairs of
 * 300k orders), peak RSS no higher.
 */
const MAX_LINE_BUFFER_BYTES = 64 * 1024 * 1024;

/** Thrown when another tracker holds the trail. */
export class AuditLockedError extends Error {
  override name = "AuditLockedError";
}

export interface TrailOptions {
  paths: Pick<Paths, "dataDir" | "auditFile" | "checkpointFile" | "quarantineFile" | "trackerLock">;
  /** The active segment is closed once it holds this many bytes. */
  segmentBytes: number;
  /** All segments together are kept under this many bytes (oldest deleted first); 0 keeps all. */
  retentionBytes: number;
  limits?: TrackerStateLimits;
}

/** What opening the trail found and did. */
export interface TrailOpenReport {
  /** Bytes of a torn last line moved to quarantine (0: none). */
  repairedBytes: number;
  /** Lines read after the checkpoint (or in all, when rebuilt). */
  replayedLines: number;
  /** Why the state was rebuilt from every segment, if it was. */
  rebuiltBecause: string | undefined;
  elapsedMs: number;
}

/** Whether `append`'s `checkpoint` option allows a checkpoint now (a function is asked only then). */
function allows(checkpoint: boolean | (() => boolean)): boolean {
  return typeof checkpoint === "function" ? checkpoint() : checkpoint;
}

/** The epoch of a trail with no header yet (new, or written before epochs were recorded). */
function unknownEpoch(reason: string): TrailEpoch {
  return {
    number: 0,
    cluster_id: null,
    topic: null,
    started_at: new Date().toISOString(),
    reason,
    continues_offsets: false,
  };
}

/** The audit trail of one tracker. */
export class AuditTrail {
  readonly state: TrackerState;
  readonly #options: TrailOptions;
  readonly #log: SegmentedLog;
  readonly #lock: Deno.FsFile;
  #trailId: string;
  #epoch: TrailEpoch;
  #totals: TrailTotals;
  #deleted: { segments: number; bytes: number };
  /** Bytes of trail appended since the last checkpoint, and that checkpoint's size. */
  #sinceCheckpoint = 0;
  #checkpointBytes = 0;
  #closed = false;
  /** The checkpoint being written in the background, if any. */
  #checkpointing: Promise<void> | undefined;
  /** A rotation's checkpoint waits for an append that allows one. */
  #checkpointDue = false;
  #checkpointFailure: Error | undefined;
  /**
   * The buffer the last append's lines were written into, free again once
   * that append is done: reused, a chunk's lines cost half as much as in a
   * new buffer, whose pages the system must zero first. Taken (undefined)
   * while an append writes from it.
   */
  #lineBuffer: Uint8Array | undefined;

  private constructor(
    options: TrailOptions,
    log: SegmentedLog,
    lock: Deno.FsFile,
    loaded: Loaded,
  ) {
    this.#options = options;
    this.#log = log;
    this.#lock = lock;
    this.state = loaded.state;
    this.#trailId = loaded.trailId;
    this.#epoch = loaded.epoch;
    this.#totals = loaded.totals;
    this.#deleted = loaded.deleted;
  }

  /**
   * Takes the lock, repairs a torn last line, and loads the state from the
   * checkpoint and the lines after it (or from every segment).
   *
   * @throws {AuditLockedError} when another tracker holds the lock
   * @throws {SyntaxError} naming the file and line when a line is not a trail line
   */
  static async open(
    options: TrailOptions,
  ): Promise<{ trail: AuditTrail; report: TrailOpenReport }> {
    const started = performance.now();
    const { paths } = options;
    await Deno.mkdir(paths.dataDir, { recursive: true });
    const lock = await Deno.open(paths.trackerLock, { create: true, write: true, mode: 0o640 });
    if (!await lock.tryLock(true)) {
      lock.close();
      throw new AuditLockedError(
        `Cannot open ${paths.auditFile}: another tracker holds ${paths.trackerLock}; give each tracker its own DATA_DIR`,
      );
    }
    try {
      const { log, repairedBytes } = await SegmentedLog.open(paths.auditFile, {
        quarantinePath: paths.quarantineFile,
      });
      let loaded: Loaded;
      try {
        loaded = await load(options);
      } catch (error) {
        log.close();
        throw error;
      }
      const trail = new AuditTrail(options, log, lock, loaded);
      if (log.bytes === 0 && loaded.epoch.number > 0) {
        // A crash between a rotation's rename and its new header: every segment opens with one.
        await log.append(trail.#header(), { sync: true });
      }
      if (loaded.rebuiltBecause !== undefined || loaded.replayedLines > 0) {
        await trail.#writeCheckpoint();
      }
      return {
        trail,
        report: {
          repairedBytes,
          replayedLines: loaded.replayedLines,
          rebuiltBecause: loaded.rebuiltBecause,
          elapsedMs: Math.round(performance.now() - started),
        },
      };
    } catch (error) {
      lock.close();
      throw error;
    }
  }

  get epoch(): TrailEpoch {
    return this.#epoch;
  }

  /** The id every segment's header carries. */
  get trailId(): string {
    return this.#trailId;
  }

  /** Where the next line goes: everything before it is appended and synced. */
  get position(): TrailPosition {
    return { segment: this.#log.segment, bytes: this.#log.bytes };
  }

  /** Lifetime counts of the trail. */
  get totals(): Readonly<TrailTotals> {
    return this.#totals;
  }

  /**
   * Appends the records, syncs them, and rotates or checkpoints when due.
   * `checkpoint: false` when the state already holds records not yet appended
   * (planned while these were written): a checkpoint then would say they are
   * on disk, so one that is due waits for an append that allows it. A
   * function is asked once the records are synced, and only when a
   * checkpoint is due: concurrent writers say then whether anything else is
   * planned.
   */
  async append(
    records: readonly AuditRecord[],
    { checkpoint = true }: { checkpoint?: boolean | (() => boolean) } = {},
  ): Promise<void> {
    if (this.#checkpointFailure) {
      throw new Error(`Cannot write the checkpoint: ${this.#checkpointFailure.message}`, {
        cause: this.#checkpointFailure,
      });
    }
    if (records.length === 0) return;
    const spare = this.#lineBuffer;
    this.#lineBuffer = undefined;
    const bytes = encodeAuditLineBytes(records, { into: spare });
    await this.#log.append(bytes, { sync: true });
    // Kept for the next append unless far larger than a chunk's lines need.
    if (bytes.buffer.byteLength <= MAX_LINE_BUFFER_BYTES) {
      this.#lineBuffer = new Uint8Array(bytes.buffer);
    }
    for (const record of records) addToTotals(this.#totals, record);
    this.#sinceCheckpoint += bytes.length;
    if (this.#log.bytes >= this.#options.segmentBytes) {
      await this.#rotate({ checkpoint });
    } else if (
      (this.#checkpointDue ||
        this.#sinceCheckpoint >=
          Math.max(CHECKPOINT_MIN_BYTES, CHECKPOINT_SIZE_FACTOR * this.#checkpointBytes)) &&
      allows(checkpoint)
    ) {
      this.#checkpointInBackground();
    }
  }

  /**
   * Starts a new epoch: a new segment whose header records it (the current
   * segment is used when it is still empty). Offsets are forgotten unless
   * `keepOffsets` (a trail adopted as it is).
   */
  async beginEpoch(
    { clusterId, topic, topicId, reason, keepOffsets = false, fromFirstOffsets = false }: {
      clusterId: string;
      topic: string;
      /** The topic's id, when the brokers tell it. */
      topicId?: string | undefined;
      reason: string;
      keepOffsets?: boolean;
      /** The running consumer is sent back to the partitions' first offsets (TrailEpoch). */
      fromFirstOffsets?: boolean;
    },
  ): Promise<TrailEpoch> {
    this.#epoch = {
      number: this.#epoch.number + 1,
      cluster_id: clusterId,
      topic,
      ...(topicId === undefined ? {} : { topic_id: topicId }),
      started_at: new Date().toISOString(),
      reason,
      continues_offsets: keepOffsets,
      ...(fromFirstOffsets ? { from_first_offsets: true as const } : {}),
    };
    if (!keepOffsets) this.state.resetOffsets();
    if (this.#log.bytes === 0) {
      await this.#log.append(this.#header(), { sync: true });
      await this.#writeCheckpoint();
    } else {
      await this.#rotate();
    }
    return this.#epoch;
  }

  #header(): Uint8Array {
    const header: SegmentHeader = {
      trail_segment: this.#log.segment,
      trail_id: this.#trailId,
      epoch: this.#epoch,
      created_at: new Date().toISOString(),
    };
    return new TextEncoder().encode(encodeSegmentHeader(header));
  }

  async #rotate(
    { checkpoint = true }: { checkpoint?: boolean | (() => boolean) } = {},
  ): Promise<void> {
    await this.#log.rotate();
    await this.#log.append(this.#header(), { sync: true });
    if (this.#options.retentionBytes > 0) {
      const deleted = await this.#log.enforceRetention(this.#options.retentionBytes);
      this.#deleted.segments += deleted.segments;
      this.#deleted.bytes += deleted.bytes;
    }
    if (allows(checkpoint)) this.#checkpointInBackground();
    else this.#checkpointDue = true;
  }

  /**
   * Starts writing a checkpoint of the trail as it is now (everything appended
   * is synced) without waiting for it: a checkpoint of half a million event
   * keys takes tens of milliseconds to encode and write, which every order
   * audited meanwhile would wait for. Its parts are written in slices, so the
   * next chunks are audited in between. Skipped while one is being written;
   * a failure fails the next append.
   */
  #checkpointInBackground(): void {
    if (this.#checkpointing !== undefined) return;
    const checkpoint = this.#checkpoint();
    this.#sinceCheckpoint = 0;
    this.#checkpointDue = false;
    this.#checkpointing = this.#writeCheckpointFile(checkpoint)
      .catch((error) => {
        this.#checkpointFailure ??= error as Error;
      })
      .finally(() => {
        this.#checkpointing = undefined;
      });
  }

  /** Writes a checkpoint of the trail as it is now, after one being written. */
  async #writeCheckpoint(): Promise<void> {
    await this.#checkpointing;
    const checkpoint = this.#checkpoint();
    this.#sinceCheckpoint = 0;
    await this.#writeCheckpointFile(checkpoint);
  }

  /** The trail as it is now: synced position, epoch, totals and a copy of the state. */
  #checkpoint(): TrailCheckpoint {
    return {
      trail_id: this.#trailId,
      written_at: new Date().toISOString(),
      position: { segment: this.#log.segment, bytes: this.#log.bytes },
      // Copies: appends go on while a background checkpoint is written.
      epoch: this.#epoch,
      totals: structuredClone(this.#totals),
      deleted: { ...this.#deleted },
      state: this.state.snapshot(),
    };
  }

  /** Writes `checkpoint` atomically (temporary file, sync, rename), part by part. */
  async #writeCheckpointFile(checkpoint: TrailCheckpoint): Promise<void> {
    const path = this.#options.paths.checkpointFile;
    const temporary = `${path}.tmp`;
    const encoder = new TextEncoder();
    const file = await Deno.open(temporary, {
      create: true,
      write: true,
      truncate: true,
      mode: 0o640,
    });
    let size = 0;
    try {
      for (const part of encodeCheckpointParts(checkpoint)) {
        const bytes = typeof part === "string" ? encoder.encode(part) : part;
        let written = 0;
        while (written < bytes.length) written += await file.write(bytes.subarray(written));
        size += bytes.length;
      }
      await file.syncData();
    } finally {
      file.close();
    }
    await Deno.rename(temporary, path);
    this.#checkpointBytes = size;
  }

  /** Writes a last checkpoint (so the next start reads nothing), closes the files and the lock. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      await this.#checkpointing;
      if (this.#sinceCheckpoint > 0 || this.#checkpointFailure) await this.#writeCheckpoint();
    } finally {
      this.#log.close();
      this.#lock.close();
    }
  }

  /** Closes without a checkpoint (after a failed write the state may be ahead of the disk). */
  abandon(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#log.close();
    } finally {
      this.#lock.close();
    }
  }
}

/** What `load` reconstructs. */
interface Loaded {
  state: TrackerState;
  trailId: string;
  epoch: TrailEpoch;
  totals: TrailTotals;
  deleted: { segments: number; bytes: number };
  replayedLines: number;
  rebuiltBecause: string | undefined;
}

/** Loads the state: from the checkpoint and what follows it, or from every segment. */
async function load(options: TrailOptions): Promise<Loaded> {
  const limits = options.limits ?? DEFAULT_LIMITS;
  const segments = await segmentPaths(options.paths.auditFile);
  const read = await readCheckpoint(options.paths.checkpointFile, segments);
  if (read.ok) {
    const { checkpoint } = read;
    const loaded: Loaded = {
      state: TrackerState.restore(checkpoint.state, limits),
      trailId: checkpoint.trail_id,
      epoch: checkpoint.epoch,
      totals: checkpoint.totals,
      deleted: checkpoint.deleted,
      replayedLines: 0,
      rebuiltBecause: undefined,
    };
    for (const segment of segments.filter((s) => s.number >= checkpoint.position.segment)) {
      const from = segment.number === checkpoint.position.segment ? checkpoint.position.bytes : 0;
      loaded.replayedLines += await replay(segment.path, loaded, { from });
    }
    return loaded;
  }
  const loaded: Loaded = {
    state: new TrackerState(limits),
    trailId: crypto.randomUUID(),
    epoch: unknownEpoch("a trail without a recorded epoch"),
    totals: emptyTotals(),
    deleted: { segments: 0, bytes: 0 },
    replayedLines: 0,
    rebuiltBecause: read.missing ? undefined : read.error,
  };
  for (const segment of segments) loaded.replayedLines += await replay(segment.path, loaded);
  if (loaded.replayedLines > 0 && read.missing) loaded.rebuiltBecause = "there was no checkpoint";
  if (segments[0]!.number > 1) {
    // Retention deleted the first segments; their counts are gone with them.
    loaded.deleted.segments = segments[0]!.number - 1;
  }
  return loaded;
}

/** Reads a segment's lines from `from` into `loaded`; returns how many lines it read. */
async function replay(path: string, loaded: Loaded, { from = 0 } = {}): Promise<number> {
  return await forEachLine(path, (line, n) => {
    const parsed = parseTrailLine(line, n, { withOrder: false });
    if (!parsed.ok) {
      throw new SyntaxError(
        `${path}: ${parsed.error}${from > 0 ? ` (counting from byte ${from})` : ""}`,
      );
    }
    if (parsed.kind === "header") {
      const { epoch, trail_id } = parsed.header;
      // A new epoch's offsets start afresh, as they did when it began; the
      // headers of later segments of the same epoch change nothing.
      if (epoch.number !== loaded.epoch.number && !epoch.continues_offsets) {
        loaded.state.resetOffsets();
      }
      loaded.trailId = trail_id;
      loaded.epoch = epoch;
      return;
    }
    loaded.state.apply(parsed.record);
    addToTotals(loaded.totals, parsed.record);
  }, { from });
}

/** The checkpoint, if it exists, parses and fits the segments on disk. */
async function readCheckpoint(
  path: string,
  segments: Array<{ number: number; path: string }>,
): Promise<
  { ok: true; checkpoint: TrailCheckpoint } | { ok: false; missing: boolean; error: string }
> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return { ok: false, missing: true, error: "" };
    throw error;
  }
  const parsed = parseCheckpoint(text);
  if (!parsed.ok) return { ok: false, missing: false, error: parsed.error };
  const { position } = parsed.checkpoint;
  const segment = segments.find((s) => s.number === position.segment);
  const size = segment === undefined
    ? -1
    : await Deno.stat(segment.path).then((s) => s.size, () => -1);
  if (size < position.bytes) {
    return {
      ok: false,
      missing: false,
      error: `the checkpoint is at byte ${position.bytes} of segment ${position.segment}, which ${
        size < 0 ? "does not exist" : `holds ${size} bytes`
      }`,
    };
  }
  return parsed;
}

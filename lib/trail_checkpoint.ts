/**
 * The trail's checkpoint format, owned here alone: where in the trail it was
 * taken (segment and byte), the epoch, lifetime totals for the monitor and
 * the tracker's state, so that start-up reads only what came after it. A cache:
 * the trail is the truth, and a missing or unreadable checkpoint is rebuilt
 * from it. Type, encoder and parser; pure.
 */
import type { AuditRecord, TrailEpoch } from "./audit_record.ts";
import { ORDER_STATUSES, type OrderStatus } from "./order.ts";
import { isStateSnapshot, type TrackerStateSnapshot } from "./tracker_state.ts";
import { EventKeys, KEY_BLOCK_EVENTS } from "./event_index.ts";

const CHECKPOINT_FORMAT = "order-tracking/trail-checkpoint";
const CHECKPOINT_VERSION = 1;

/** Lifetime counts of the whole trail, segments deleted by retention included. */
export interface TrailTotals {
  lines: number;
  audited: number;
  dead_lettered: number;
  duplicate: number;
  by_status: Record<OrderStatus, number>;
}

export function emptyTotals(): TrailTotals {
  return {
    lines: 0,
    audited: 0,
    dead_lettered: 0,
    duplicate: 0,
    by_status: Object.fromEntries(ORDER_STATUSES.map((s) => [s, 0])) as Record<OrderStatus, number>,
  };
}

/** Counts one record into `totals`. */
export function addToTotals(totals: TrailTotals, record: AuditRecord): void {
  totals.lines++;
  if (record.outcome === "audited") {
    totals.audited++;
    if (record.lifecycle !== null) totals.by_status[record.lifecycle]++;
  } else if (record.outcome === "dead_lettered") {
    totals.dead_lettered++;
  } else {
    totals.duplicate++;
  }
}

/** A place in the trail: segment number and byte offset within it. */
export interface TrailPosition {
  segment: number;
  bytes: number;
}

export interface TrailCheckpoint {
  trail_id: string;
  written_at: string;
  /** Everything before this position is accounted for below. */
  position: TrailPosition;
  epoch: TrailEpoch;
  totals: TrailTotals;
  /** What retention has deleted so far. */
  deleted: { segments: number; bytes: number };
  state: TrackerStateSnapshot;
}

/**
 * Serialises a checkpoint: a JSON line (position, epoch, totals, offsets and
 * the counts of what follows), then one line per audited event key and one
 * per open order ("id status partition"). Half a million plain lines are
 * joined and parsed several times faster than the same strings in JSON.
 */
export function encodeCheckpoint(checkpoint: TrailCheckpoint): string {
  const text = new TextDecoder();
  return [...encodeCheckpointParts(checkpoint)]
    .map((part) => typeof part === "string" ? part : text.decode(part)).join("");
}

/** Lines per part of `encodeCheckpointParts`: a millisecond or two of work each. */
const LINES_PER_PART = KEY_BLOCK_EVENTS;

const keyLineEncoder = new TextEncoder();

/** Event keys as the checkpoint's lines. */
function keyLines(keys: string[]): string {
  return keys.join("\n") + "\n";
}

/** Event keys as the checkpoint's lines, in UTF-8 (the one encoder an index's blocks are kept for). */
function encodeKeyLines(keys: string[]): Uint8Array {
  return keyLineEncoder.encode(keyLines(keys));
}

/**
 * The checkpoint's text in parts that together are `encodeCheckpoint`'s, for
 * a writer that lets other work run between them: text, or for the event
 * keys of a live index's snapshot its UTF-8 bytes (most of them encoded for
 * an earlier checkpoint already, see `EventKeys.encodedBlocks`).
 */
export function* encodeCheckpointParts(
  checkpoint: TrailCheckpoint,
): Generator<string | Uint8Array> {
  const { state, ...rest } = checkpoint;
  yield JSON.stringify({
    format: CHECKPOINT_FORMAT,
    version: CHECKPOINT_VERSION,
    ...rest,
    offsets: state.offsets,
    event_keys: state.eventKeys.length,
    open_orders: state.openOrders.length,
  }) + "\n";
  const keys = state.eventKeys;
  if (keys instanceof EventKeys) yield* keys.encodedBlocks(encodeKeyLines);
  else {
    for (let i = 0; i < keys.length; i += LINES_PER_PART) {
      yield keyLines(keys.slice(i, i + LINES_PER_PART));
    }
  }
  for (let i = 0; i < state.openOrders.length; i += LINES_PER_PART) {
    yield state.openOrders.slice(i, i + LINES_PER_PART)
      .map(([id, status, p]) => `${id} ${status} ${p}\n`).join("");
  }
}

export type CheckpointResult = { ok: true; checkpoint: TrailCheckpoint } | {
  ok: false;
  error: string;
};

/** The checkpoint's first line: everything but the state's key and order lines. */
export type CheckpointHead = Omit<TrailCheckpoint, "state"> & {
  offsets: unknown;
  /** How many event-key lines, then open-order lines, follow the head. */
  eventKeys: number;
  openOrders: number;
};

export type CheckpointHeadResult = { ok: true; head: CheckpointHead } | {
  ok: false;
  error: string;
};

/**
 * Parses a checkpoint's first line alone: position, epoch and totals, for a
 * reader that needs no state (the monitor).
 */
export function parseCheckpointHead(line: string): CheckpointHeadResult {
  const fail = (why: string): CheckpointHeadResult => ({
    ok: false,
    error: `Cannot read the checkpoint: ${why}`,
  });
  let value: Record<string, unknown>;
  try {
    value = JSON.parse(line);
  } catch {
    return fail("its first line is not valid JSON");
  }
  if (typeof value !== "object" || value === null) return fail("not an object");
  if (value.format !== CHECKPOINT_FORMAT) return fail("not a trail checkpoint");
  if (value.version !== CHECKPOINT_VERSION) {
    return fail(`version ${value.version} is not ${CHECKPOINT_VERSION}`);
  }
  const position = value.position as Record<string, unknown> | undefined;
  if (!Number.isSafeInteger(position?.segment) || !Number.isSafeInteger(position?.bytes)) {
    return fail("position is not a segment and a byte offset");
  }
  if (typeof value.trail_id !== "string" || typeof value.written_at !== "string") {
    return fail("trail_id or written_at is missing");
  }
  const epoch = value.epoch as Record<string, unknown> | undefined;
  if (!Number.isSafeInteger(epoch?.number) || typeof epoch?.reason !== "string") {
    return fail("epoch is missing");
  }
  const totals = value.totals as Record<string, unknown> | undefined;
  const counts = ["lines", "audited", "dead_lettered", "duplicate"];
  if (!totals || !counts.every((c) => Number.isSafeInteger(totals[c]))) {
    return fail("totals are missing");
  }
  const keys = value.event_keys;
  const orders = value.open_orders;
  if (!Number.isSafeInteger(keys) || !Number.isSafeInteger(orders)) {
    return fail("the counts of its state lines are missing");
  }
  return {
    ok: true,
    head: {
      trail_id: value.trail_id,
      written_at: value.written_at,
      position: { segment: position!.segment as number, bytes: position!.bytes as number },
      epoch: epoch as unknown as TrailEpoch,
      totals: { ...emptyTotals(), ...(totals as unknown as TrailTotals) },
      deleted: (value.deleted as TrailCheckpoint["deleted"]) ?? { segments: 0, bytes: 0 },
      offsets: value.offsets,
      eventKeys: keys as number,
      openOrders: orders as number,
    },
  };
}

/** Parses a checkpoint; anything unexpected is an error (the caller rebuilds from the trail). */
export function parseCheckpoint(text: string): CheckpointResult {
  const lines = text.split("\n");
  const read = parseCheckpointHead(lines[0]!);
  if (!read.ok) return read;
  const { offsets, eventKeys: keyCount, openOrders: orderCount, ...head } = read.head;
  if (lines.length !== 1 + keyCount + orderCount + 1 || lines.at(-1) !== "") {
    return {
      ok: false,
      error: `Cannot read the checkpoint: it has ${lines.length - 2} state lines, expected ${
        keyCount + orderCount
      } (cut short?)`,
    };
  }
  // The line counts above catch a checkpoint cut short; the keys are taken as
  // written (checking half a million of them would double the start-up time).
  const eventKeys = lines.slice(1, 1 + keyCount);
  const openOrders = lines.slice(1 + keyCount, -1).map((line) => {
    const [id, status, partition] = line.split(" ");
    return [id, status, Number(partition)];
  });
  const state = { offsets, eventKeys, openOrders };
  if (!isStateSnapshot(state)) {
    return { ok: false, error: "Cannot read the checkpoint: state is not a tracker state" };
  }
  return { ok: true, checkpoint: { ...head, state } };
}

/**
 * The trail summary format, owned here alone: what the tracker appended to its
 * audit trail, one line about every second, so the monitor need not read the
 * trail itself (at 5,000 orders/s the trail grows by about 8 MB/s, its summary
 * by about 1 KB/s). A line covers the trail from one position to another
 * (`from`, `through`; the next line goes on from `through`), carries the
 * trail's lifetime totals as of `through`, and, per second of audit time, the
 * samples the monitor's windows add up: counts, an exact latency histogram and
 * the dead letters by class. A cache, as the checkpoint is: the trail is the
 * truth, and a reader that finds a gap between two lines reads the trail
 * there. Type, encoder, parser, and the `SummaryBuilder` the tracker fills;
 * pure.
 */
import { type AuditRecord, timestampMs } from "./audit_record.ts";
import { ORDER_STATUSES } from "./order.ts";
import type { TrailPosition, TrailTotals } from "./trail_checkpoint.ts";

const SUMMARY_FORMAT = "order-tracking/trail-summary";
const SUMMARY_VERSION = 1;
/** The span of a summary's second. */
export const SUMMARY_SECOND_MS = 1_000;

/** The records of one second of audit time (their `timestamp`), duplicates left out of the samples. */
export interface SummarySecond {
  /** The second's start (ms since the epoch). */
  at: number;
  /** The newest record timestamp in it (ms), duplicates included. */
  last_at: number;
  /** Records audited or dead-lettered. */
  count: number;
  /** Of those, audited. */
  ok: number;
  /** Audited with a latency, and of those the ones counted from the Kafka record time. */
  timed: number;
  kafka_timestamp: number;
  /** Earliest produce time (timestamp minus latency) of the timed ones, null for none. */
  oldest_produced_at: number | null;
  /** Latency (ms) and how many had it, ascending: exact, so percentiles are too. */
  latency_ms: Array<[number, number]>;
  /** Dead letters by error class ("unknown" for none). */
  dead_letters: Record<string, number>;
}

/** One summary line. */
export interface TrailSummary {
  trail_id: string;
  written_at: string;
  /** The trail position this line goes on from (the previous line's `through`). */
  from: TrailPosition;
  /** Every record before this position is in `totals` and, from `from` on, in `seconds`. */
  through: TrailPosition;
  /** The trail's lifetime totals as of `through` (as the checkpoint keeps them). */
  totals: TrailTotals;
  /** The records between `from` and `through`, by second, oldest first. */
  seconds: SummarySecond[];
}

/** Orders positions in the trail: negative when `a` is before `b`. */
export function comparePositions(a: TrailPosition, b: TrailPosition): number {
  return a.segment - b.segment || a.bytes - b.bytes;
}

/** One summary line, with its newline. */
export function encodeTrailSummary(summary: TrailSummary): string {
  return JSON.stringify({ format: SUMMARY_FORMAT, version: SUMMARY_VERSION, ...summary }) + "\n";
}

export type TrailSummaryResult = { ok: true; summary: TrailSummary } | {
  ok: false;
  error: string;
};

/** Parses one summary line; anything not of its shape is an error naming the field. */
export function parseTrailSummary(line: string): TrailSummaryResult {
  const fail = (why: string): TrailSummaryResult => ({
    ok: false,
    error: `Cannot parse trail summary line: ${why}`,
  });
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return fail("not valid JSON");
  }
  if (!isObject(value) || value.format !== SUMMARY_FORMAT) return fail("not a trail summary");
  if (value.version !== SUMMARY_VERSION) {
    return fail(`version ${value.version} is not ${SUMMARY_VERSION}`);
  }
  if (typeof value.trail_id !== "string" || typeof value.written_at !== "string") {
    return fail("trail_id or written_at is not a string");
  }
  const from = position(value.from);
  const through = position(value.through);
  if (from === undefined) return fail("from is not a segment and a byte offset");
  if (through === undefined) return fail("through is not a segment and a byte offset");
  if (comparePositions(from, through) > 0) return fail("from is after through");
  const totals = parseTotals(value.totals);
  if (totals === undefined) return fail("totals are not the trail's counts");
  if (!Array.isArray(value.seconds)) return fail("seconds is not an array");
  const seconds: SummarySecond[] = [];
  for (const [i, item] of value.seconds.entries()) {
    const second = parseSecond(item);
    if (typeof second === "string") return fail(`seconds[${i}].${second}`);
    seconds.push(second);
  }
  return {
    ok: true,
    summary: {
      trail_id: value.trail_id,
      written_at: value.written_at,
      from,
      through,
      totals,
      seconds,
    },
  };
}

function position(value: unknown): TrailPosition | undefined {
  if (!isObject(value)) return undefined;
  const { segment, bytes } = value;
  if (!isCount(segment) || !isCount(bytes)) return undefined;
  return { segment, bytes };
}

function parseTotals(value: unknown): TrailTotals | undefined {
  if (!isObject(value) || !isObject(value.by_status)) return undefined;
  const { lines, audited, dead_lettered, duplicate, by_status } = value;
  if (![lines, audited, dead_lettered, duplicate].every(isCount)) return undefined;
  const byStatus = {} as TrailTotals["by_status"];
  for (const status of ORDER_STATUSES) {
    const n = by_status[status];
    if (!isCount(n)) return undefined;
    byStatus[status] = n;
  }
  return {
    lines: lines as number,
    audited: audited as number,
    dead_lettered: dead_lettered as number,
    duplicate: duplicate as number,
    by_status: byStatus,
  };
}

/** A second, or the name of the field that is wrong and why. */
function parseSecond(value: unknown): SummarySecond | string {
  if (!isObject(value)) return "is not an object";
  const { at, last_at, count, ok, timed, kafka_timestamp, oldest_produced_at } = value;
  if (!isCount(at) || at % SUMMARY_SECOND_MS !== 0) return "at is not the start of a second";
  if (!Number.isSafeInteger(last_at)) return "last_at is not an integer";
  for (const [name, n] of Object.entries({ count, ok, timed, kafka_timestamp })) {
    if (!isCount(n)) return `${name} is not a count`;
  }
  if (!((ok as number) <= (count as number) && (timed as number) <= (ok as number))) {
    return "ok is more than count, or timed more than ok";
  }
  if ((kafka_timestamp as number) > (timed as number)) return "kafka_timestamp is more than timed";
  if (oldest_produced_at !== null && typeof oldest_produced_at !== "number") {
    return "oldest_produced_at is not a number or null";
  }
  const latency = value.latency_ms;
  if (!Array.isArray(latency)) return "latency_ms is not an array";
  let histogramCount = 0;
  for (const entry of latency) {
    if (
      !Array.isArray(entry) || entry.length !== 2 || typeof entry[0] !== "number" ||
      !Number.isFinite(entry[0]) || !isCount(entry[1])
    ) return "latency_ms is not a list of [latency, count]";
    histogramCount += entry[1];
  }
  if (histogramCount !== timed) return "latency_ms does not add up to timed";
  const dead = value.dead_letters;
  if (!isObject(dead) || !Object.values(dead).every(isCount)) {
    return "dead_letters is not counts by error class";
  }
  return {
    at,
    last_at: last_at as number,
    count: count as number,
    ok: ok as number,
    timed: timed as number,
    kafka_timestamp: kafka_timestamp as number,
    oldest_produced_at,
    latency_ms: latency as Array<[number, number]>,
    dead_letters: dead as Record<string, number>,
  };
}

/** A second being added up. */
interface OpenSecond {
  lastAt: number;
  count: number;
  ok: number;
  timed: number;
  kafkaTimestamp: number;
  oldestProducedAt: number;
  latencies: Map<number, number>;
  deadLetters: Map<string, number>;
}

/**
 * Adds up records as they are written and hands out summary lines: the
 * tracker adds each chunk once it is on disk and takes a line about every
 * second. Memory holds the seconds since the last line taken.
 */
export class SummaryBuilder {
  #from: TrailPosition;
  #seconds = new Map<number, OpenSecond>();
  /** Where the last record went: a chunk's records share their timestamp. */
  #last: { key: number; second: OpenSecond } | undefined;

  /** @param from the trail position the first line goes on from (the trail's end when it opened) */
  constructor(from: TrailPosition) {
    this.#from = { ...from };
  }

  /** Whether records were added since the last line taken. */
  get pending(): boolean {
    return this.#seconds.size > 0;
  }

  /** Adds records that are on disk. */
  add(records: readonly AuditRecord[]): void {
    for (const record of records) {
      const at = timestampMs(record.timestamp);
      if (Number.isNaN(at)) continue;
      const key = Math.floor(at / SUMMARY_SECOND_MS);
      let second = this.#last?.key === key ? this.#last.second : this.#seconds.get(key);
      if (second === undefined) {
        second = {
          lastAt: at,
          count: 0,
          ok: 0,
          timed: 0,
          kafkaTimestamp: 0,
          oldestProducedAt: Infinity,
          latencies: new Map(),
          deadLetters: new Map(),
        };
        this.#seconds.set(key, second);
      }
      this.#last = { key, second };
      if (at > second.lastAt) second.lastAt = at;
      // Duplicates are in the totals only, as the monitor counts them.
      if (record.outcome === "duplicate") continue;
      second.count++;
      if (record.outcome === "dead_lettered") {
        const errorClass = record.error_class ?? "unknown";
        second.deadLetters.set(errorClass, (second.deadLetters.get(errorClass) ?? 0) + 1);
        continue;
      }
      second.ok++;
      const latency = record.latency_ms;
      if (latency === null) continue;
      second.timed++;
      if (record.latency_source === "kafka_timestamp") second.kafkaTimestamp++;
      second.latencies.set(latency, (second.latencies.get(latency) ?? 0) + 1);
      if (at - latency < second.oldestProducedAt) second.oldestProducedAt = at - latency;
    }
  }

  /**
   * The line for what was added since the last one, up to `through` (the
   * trail's position after the last records added); undefined when the trail
   * has not moved since.
   */
  take(
    through: TrailPosition,
    { trailId, totals, now }: { trailId: string; totals: Readonly<TrailTotals>; now: number },
  ): TrailSummary | undefined {
    if (comparePositions(through, this.#from) === 0 && this.#seconds.size === 0) return undefined;
    const seconds = [...this.#seconds].sort(([a], [b]) => a - b).map(([key, s]) => ({
      at: key * SUMMARY_SECOND_MS,
      last_at: s.lastAt,
      count: s.count,
      ok: s.ok,
      timed: s.timed,
      kafka_timestamp: s.kafkaTimestamp,
      oldest_produced_at: Number.isFinite(s.oldestProducedAt) ? s.oldestProducedAt : null,
      latency_ms: [...s.latencies].sort(([a], [b]) => a - b),
      dead_letters: Object.fromEntries(s.deadLetters),
    }));
    const summary: TrailSummary = {
      trail_id: trailId,
      written_at: new Date(now).toISOString(),
      from: this.#from,
      through: { ...through },
      totals: structuredClone(totals) as TrailTotals,
      seconds,
    };
    this.#from = summary.through;
    this.#seconds = new Map();
    this.#last = undefined;
    return summary;
  }
}

function isCount(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 0;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

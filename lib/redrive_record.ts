/**
 * The redrive record (`<DATA_DIR>/redrive/redriven.jsonl`): which dead
 * letters `dlq:redrive` has sent back, so no run sends one twice. One JSON
 * line per step of each batch, synced before the next step:
 *
 * - `sending`: the batch's dead-letter offsets and the end offsets of the
 *   target topic just before the send (where its copies can land);
 * - `sent`: the offsets whose copies are acknowledged (`recovered` when a
 *   later run found them in the target topic after a crash).
 *
 * A `sending` without its `sent` is a batch in doubt: its copies may or may
 * not be in the topic. The next run reads the target topic from the recorded
 * ends, records what it finds as sent and sends the rest again. Lines name
 * the cluster and the dead-letter topic, so another cluster's offsets never
 * count. Offsets are kept as ranges: memory grows with gaps, not letters.
 * The format, its parser and the ledger built from it. Pure.
 */
import { RangeSet } from "./range_set.ts";

interface LineBase {
  at: string;
  /** Identifies the batch: its `sending` and `sent` lines carry the same id. */
  batch: string;
  cluster_id: string;
  dlq_topic: string;
  /** Dead-letter offsets per dead-letter partition, as ranges ("12-15,20"). */
  dlq_offsets: Record<string, string>;
}

export interface SendingLine extends LineBase {
  kind: "sending";
  target_topic: string;
  /** Per target partition, its end offset before the send. */
  target_ends: Record<string, number>;
}

export interface SentLine extends LineBase {
  kind: "sent";
  recovered: boolean;
}

export type RedriveLine = SendingLine | SentLine;

export type RedriveLineResult = { ok: true; line: RedriveLine } | { ok: false; error: string };

/** One line of the record, with its newline. */
export function encodeRedriveLine(line: RedriveLine): string {
  return `${JSON.stringify(line)}\n`;
}

/** Ranges as the record writes them: "12-15,20". */
export function rangesText(set: RangeSet): string {
  return set.ranges().map(([a, b]) => (a === b ? `${a}` : `${a}-${b}`)).join(",");
}

/**
 * Ranges back from the record's text.
 *
 * @throws {SyntaxError} when the text is not ranges
 */
export function parseRanges(text: string): RangeSet {
  const set = new RangeSet();
  if (text === "") return set;
  for (const part of text.split(",")) {
    const match = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (match === null) throw new SyntaxError(`"${part}" is not an offset range`);
    const from = Number(match[1]);
    const to = match[2] === undefined ? from : Number(match[2]);
    for (let n = from; n <= to; n++) set.add(n);
  }
  return set;
}

/** Offsets per partition as the record writes them. */
export function offsetsText(offsets: ReadonlyMap<number, RangeSet>): Record<string, string> {
  return Object.fromEntries([...offsets].map(([p, set]) => [String(p), rangesText(set)]));
}

function isRecordOf<T>(value: unknown, check: (v: unknown) => v is T): value is Record<string, T> {
  return typeof value === "object" && value !== null && !Array.isArray(value) &&
    Object.entries(value).every(([k, v]) => /^\d+$/.test(k) && check(v));
}

const isString = (v: unknown): v is string => typeof v === "string";
const isOffset = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;

/** Parses one line of the record (1-based `lineNumber` for the message). */
export function parseRedriveLine(text: string, lineNumber: number): RedriveLineResult {
  const fail = (why: string): RedriveLineResult => ({
    ok: false,
    error: `Cannot read redrive record line ${lineNumber}: ${why}`,
  });
  let v: Record<string, unknown>;
  try {
    v = JSON.parse(text);
  } catch {
    return fail("not JSON");
  }
  if (typeof v !== "object" || v === null) return fail("not an object");
  for (const field of ["at", "batch", "cluster_id", "dlq_topic"]) {
    if (typeof v[field] !== "string") return fail(`field "${field}" is not a string`);
  }
  if (!isRecordOf(v.dlq_offsets, isString)) return fail(`field "dlq_offsets" is not offsets`);
  try {
    for (const ranges of Object.values(v.dlq_offsets)) parseRanges(ranges);
  } catch (error) {
    return fail(`field "dlq_offsets": ${(error as Error).message}`);
  }
  if (v.kind === "sending") {
    if (typeof v.target_topic !== "string") return fail(`field "target_topic" is not a string`);
    if (!isRecordOf(v.target_ends, isOffset)) return fail(`field "target_ends" is not offsets`);
    return { ok: true, line: v as unknown as SendingLine };
  }
  if (v.kind === "sent") {
    if (typeof v.recovered !== "boolean") return fail(`field "recovered" is not a boolean`);
    return { ok: true, line: v as unknown as SentLine };
  }
  return fail(`field "kind" is ${JSON.stringify(v.kind)}, expected "sending" or "sent"`);
}

/** What the record says for one cluster's dead-letter topic. */
export class RedriveLedger {
  readonly #clusterId: string;
  readonly #dlqTopic: string;
  #redriven = new Map<number, RangeSet>();
  #inDoubt = new Map<string, SendingLine>();
  #count = 0;

  constructor({ clusterId, dlqTopic }: { clusterId: string; dlqTopic: string }) {
    this.#clusterId = clusterId;
    this.#dlqTopic = dlqTopic;
  }

  /** Takes one line into account; lines of another cluster or topic are left out. */
  apply(line: RedriveLine): void {
    if (line.cluster_id !== this.#clusterId || line.dlq_topic !== this.#dlqTopic) return;
    if (line.kind === "sending") {
      this.#inDoubt.set(line.batch, line);
      return;
    }
    this.#inDoubt.delete(line.batch);
    for (const [partition, ranges] of Object.entries(line.dlq_offsets)) {
      let set = this.#redriven.get(Number(partition));
      if (set === undefined) this.#redriven.set(Number(partition), set = new RangeSet());
      for (const [a, b] of parseRanges(ranges).ranges()) {
        for (let n = a; n <= b; n++) if (set.add(n)) this.#count++;
      }
    }
  }

  /** Whether the dead letter at `partition`/`offset` was redriven (its copy acknowledged). */
  isRedriven(partition: number, offset: number): boolean {
    return this.#redriven.get(partition)?.has(offset) ?? false;
  }

  /** Dead letters redriven. */
  get redriven(): number {
    return this.#count;
  }

  /** Batches whose send was started and not recorded as done (a crash in between). */
  inDoubt(): SendingLine[] {
    return [...this.#inDoubt.values()];
  }
}

/**
 * The `sent` line that closes a batch in doubt: of its offsets, those whose
 * copies were found in the target topic (`found`: dead-letter partition and
 * offset of each copy seen). The others are then not redriven and go again.
 */
export function recoveredLine(
  sending: SendingLine,
  found: Iterable<{ partition: number; offset: number }>,
  { at }: { at: string },
): SentLine {
  const batch = new Map(
    Object.entries(sending.dlq_offsets).map(([p, ranges]) => [Number(p), parseRanges(ranges)]),
  );
  const seen = new Map<number, RangeSet>();
  for (const { partition, offset } of found) {
    if (!batch.get(partition)?.has(offset)) continue;
    let set = seen.get(partition);
    if (set === undefined) seen.set(partition, set = new RangeSet());
    set.add(offset);
  }
  return {
    kind: "sent",
    at,
    batch: sending.batch,
    cluster_id: sending.cluster_id,
    dlq_topic: sending.dlq_topic,
    dlq_offsets: offsetsText(seen),
    recovered: true,
  };
}

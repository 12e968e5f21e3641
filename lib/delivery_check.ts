/**
 * The delivery checker: from the tracker's audit trail(s), the producer's
 * outcomes, the dead letters and the committed offsets, finds what was lost
 * (acknowledged but neither audited nor dead-lettered), duplicated, skipped
 * (offset gaps) or committed too far. It streams: lines go in one at a time
 * and memory grows with the number of gaps and problems, not with the trail
 * (offsets are kept as ranges; order events in a Bloom filter, with a second
 * pass over the trail for the few that may repeat). Offsets are compared only
 * within an offset space: a trail epoch that did not continue the previous
 * one's offsets (another cluster, a recreated topic) starts a new space. Pure;
 * tasks/verify.ts reads the files and Kafka.
 * Long (about 470 lines) because the checker's passes, its report and the
 * report's text share the offset spaces they are about.
 */
import type { AckRecord } from "./ack_record.ts";
import type { AuditRecord, TrailLine } from "./audit_record.ts";
import { BloomFilter } from "./bloom_filter.ts";
import type { DeadLetterSource } from "./dead_letter.ts";
import { RangeSet } from "./range_set.ts";

/** How many items a report lists per problem (counts are always complete). */
const LIST_LIMIT = 20;

export interface PartitionReport {
  partition: number;
  /** Offsets covered by the trail or the DLQ. */
  covered: number;
  firstOffset: number | null;
  lastOffset: number | null;
  /** Missing offsets between the first expected and the last covered (as ranges "a-b"). */
  gaps: string[];
  committed: number | null;
  committedTooFar: boolean;
}

export interface SpaceReport {
  /** The epochs (per trail file) that wrote this space. */
  epochs: number[];
  clusterId: string | null;
  lines: number;
  partitions: PartitionReport[];
}

export interface DeliveryReport {
  topic: string;
  counts: {
    acknowledged: number;
    failed: number;
    indeterminate: number;
    /** Acknowledged by a cluster no trail epoch was written against (not checked). */
    otherCluster: number;
    auditLines: number;
    audited: number;
    deadLettered: number;
    duplicateEvents: number;
    dlqRecords: number;
    lost: number;
    /**
     * Acknowledged, not in the trail yet, at or past the group's committed
     * offset: still in Kafka for the tracker to consume (a running pipeline).
     */
    pending: number;
    unexpected: number;
    duplicateOffsets: number;
    duplicateOrders: number;
  };
  /** Acknowledged messages neither audited nor dead-lettered ("partition/offset order_id status"). */
  lost: string[];
  /** Audited offsets no acknowledgement accounts for (another producer, or a lost outcomes file). */
  unexpected: string[];
  /** Offsets written to the trail more than once within one offset space. */
  duplicateOffsets: string[];
  /** Order events (order id + status) audited more than once. */
  duplicateOrders: string[];
  indeterminate: { order: string; recovered: boolean }[];
  /** Every offset space of the trail, oldest first. */
  spaces: SpaceReport[];
  /** The partitions of the newest space (the one the tracker consumes now). */
  partitions: PartitionReport[];
  ok: boolean;
  /** One line per problem, empty when ok. */
  problems: string[];
}

/** The group's commits and the topic's first kept offsets, read before the trail. */
export interface CommittedBefore {
  offsets: ReadonlyMap<number, number>;
  clusterId: string;
  /** The first offset retention still keeps, per partition (absent: 0). */
  logStarts?: ReadonlyMap<number, number>;
}

function capped<T>(list: T[], item: T): void {
  if (list.length < LIST_LIMIT) list.push(item);
}

/** The offsets of one topic as written in one offset space. */
class Space {
  epochs = new Set<number>();
  lines = 0;
  covered = new Map<number, RangeSet>();
  audited = new Map<number, RangeSet>();
  acknowledged = new Map<number, RangeSet>();
  /**
   * @param key what the space is about, as its file opened it: cluster id,
   *   topic id and how many spaces of these that file had opened with this
   *   one (a topic whose offsets went back under the same id opens another).
   *   Spaces of two files meet by key: a trail in its third epoch and a new
   *   one begun on the same cluster's topic share theirs.
   */
  constructor(
    public clusterId: string | null,
    readonly fromZero: boolean,
    public key: string,
  ) {}

  static set(map: Map<number, RangeSet>, partition: number): RangeSet {
    let set = map.get(partition);
    if (set === undefined) map.set(partition, set = new RangeSet());
    return set;
  }
}

/** Where a trail file is: its current offset space. */
interface FileCursor {
  space: Space | undefined;
  /** How many spaces this file has opened. */
  opened: number;
  /** How many it has opened per cluster and topic id (`Space`'s key). */
  perIdentity: Map<string, number>;
}

/**
 * Checks delivery on one topic, fed line by line (`runPasses` feeds it from sources):
 * 1. `addTrailLine` for every line of every trail file (each file with its own cursor),
 *    and `addDeadLetter` for each dead letter;
 * 2. `addAck` for every outcome line, if there is an outcomes file;
 * 3. if `needsRecount()`, `recount` for every record of the trails again;
 * 4. `report`.
 */
export class DeliveryChecker {
  readonly #topic: string;
  readonly #fromOffsetZero: boolean;
  readonly #spaces: Space[] = [];
  readonly #events: BloomFilter;
  readonly #maybeRepeated = new Map<string, number>();
  #counts: DeliveryReport["counts"] = {
    acknowledged: 0,
    failed: 0,
    indeterminate: 0,
    otherCluster: 0,
    auditLines: 0,
    audited: 0,
    deadLettered: 0,
    duplicateEvents: 0,
    dlqRecords: 0,
    lost: 0,
    pending: 0,
    unexpected: 0,
    duplicateOffsets: 0,
    duplicateOrders: 0,
  };
  #lost: string[] = [];
  #duplicateOffsets: string[] = [];
  #indeterminate: Array<{ order: string; recovered: boolean }> = [];
  #hasAcks = false;
  readonly #committedBefore: CommittedBefore | undefined;

  /**
   * @param options.expectedLines about how many trail lines there are (sizes the Bloom filter)
   * @param options.fromOffsetZero expect coverage from offset 0 in a trail's first space
   * @param options.committedBefore the group's committed offsets (-1: none), the
   *   topic's first kept offsets and their cluster, read before the trail: an
   *   acknowledged message missing from the trail at or past both is pending
   *   (the tracker has yet to consume it), not lost; one retention deleted is lost
   */
  constructor(
    { topic, expectedLines, fromOffsetZero = true, committedBefore }: {
      topic: string;
      expectedLines: number;
      fromOffsetZero?: boolean;
      committedBefore?: CommittedBefore;
    },
  ) {
    this.#topic = topic;
    this.#committedBefore = committedBefore;
    this.#fromOffsetZero = fromOffsetZero;
    this.#events = new BloomFilter(expectedLines, 0.001);
  }

  /** A cursor for one trail file. */
  newFile(): FileCursor {
    return { space: undefined, opened: 0, perIdentity: new Map() };
  }

  #space(
    cursor: FileCursor,
    { clusterId, topicId }: { clusterId: string | null; topicId: string | null },
    { fresh }: { fresh: boolean },
  ): Space {
    if (!fresh && cursor.space !== undefined) return cursor.space;
    cursor.opened++;
    const key = this.#nextKey(cursor, { clusterId, topicId });
    const found = this.#spaces.find((s) => s.key === key);
    if (found) return (cursor.space = found);
    const space = new Space(clusterId, cursor.opened === 1 && this.#fromOffsetZero, key);
    this.#spaces.push(space);
    return (cursor.space = space);
  }

  /** The key of the next space `cursor`'s file opens about `identity` (see `Space`). */
  #nextKey(
    cursor: FileCursor,
    { clusterId, topicId }: { clusterId: string | null; topicId: string | null },
  ): string {
    const identity = JSON.stringify([clusterId, topicId]);
    const n = (cursor.perIdentity.get(identity) ?? 0) + 1;
    cursor.perIdentity.set(identity, n);
    return `${identity}#${n}`;
  }

  /** Pass 1: one trail line (a segment header or an audit record) of the file behind `cursor`. */
  addTrailLine(cursor: FileCursor, line: TrailLine): void {
    if (line.kind === "header") {
      const { epoch } = line.header;
      const current = cursor.space;
      if (current !== undefined && (epoch.continues_offsets || current.epochs.has(epoch.number))) {
        // Same space: a later segment of the epoch, or an old trail adopted as it was.
        if (current.clusterId === null) {
          // An old trail adopted: from here it is about the header's cluster and topic.
          current.clusterId = epoch.cluster_id;
          current.key = this.#nextKey(cursor, {
            clusterId: epoch.cluster_id,
            topicId: epoch.topic_id ?? null,
          });
        }
        current.epochs.add(epoch.number);
        return;
      }
      const identity = { clusterId: epoch.cluster_id, topicId: epoch.topic_id ?? null };
      this.#space(cursor, identity, { fresh: true }).epochs.add(epoch.number);
      return;
    }
    const r = line.record;
    if (r.kafka_topic !== this.#topic) return;
    const space = this.#space(cursor, { clusterId: null, topicId: null }, { fresh: false });
    space.lines++;
    this.#counts.auditLines++;
    if (!Space.set(space.covered, r.kafka_partition).add(r.kafka_offset)) {
      this.#counts.duplicateOffsets++;
      capped(this.#duplicateOffsets, `${r.kafka_partition}/${r.kafka_offset}`);
    }
    if (r.outcome === "audited") {
      this.#counts.audited++;
      Space.set(space.audited, r.kafka_partition).add(r.kafka_offset);
      const event = `${r.order_id}/${r.lifecycle}`;
      if (this.#events.add(event)) this.#maybeRepeated.set(event, 0);
    } else if (r.outcome === "dead_lettered") {
      this.#counts.deadLettered++;
    } else {
      this.#counts.duplicateEvents++;
    }
  }

  /** Pass 1: a dead letter read from the DLQ of cluster `clusterId`. */
  addDeadLetter(
    source: Pick<DeadLetterSource, "topic" | "partition" | "offset">,
    clusterId: string | null,
  ): void {
    if (source.topic !== this.#topic) return;
    this.#counts.dlqRecords++;
    const space = this.#spaces.findLast((s) => s.clusterId === clusterId || s.clusterId === null);
    if (space) Space.set(space.covered, source.partition).add(source.offset);
  }

  /** Pass 2: one outcome line of the producer. */
  addAck(ack: AckRecord): void {
    this.#hasAcks = true;
    if (ack.topic !== this.#topic) return;
    if (ack.outcome === "failed") {
      this.#counts.failed++;
      return;
    }
    if (ack.outcome === "indeterminate") {
      this.#counts.indeterminate++;
      const event = `${ack.order_id}/${ack.status}`;
      if (this.#indeterminate.length < 1_000) {
        this.#indeterminate.push({ order: event, recovered: this.#events.mayHave(event) });
      }
      return;
    }
    this.#counts.acknowledged++;
    const spaces = this.#spaces.filter((s) =>
      ack.cluster_id === undefined || s.clusterId === null || s.clusterId === ack.cluster_id
    );
    if (spaces.length === 0 && this.#spaces.length > 0) {
      this.#counts.otherCluster++;
      return;
    }
    const offset = ack.offset!;
    for (const space of spaces) Space.set(space.acknowledged, ack.partition).add(offset);
    if (!spaces.some((s) => s.covered.get(ack.partition)?.has(offset))) {
      if (this.#notConsumedYet(ack, offset)) {
        this.#counts.pending++;
        return;
      }
      this.#counts.lost++;
      capped(this.#lost, `${ack.partition}/${offset} ${ack.order_id} ${ack.status}`);
    }
  }

  #notConsumedYet(ack: AckRecord, offset: number): boolean {
    const committed = this.#committedBefore;
    if (committed === undefined) return false;
    if (ack.cluster_id !== undefined && ack.cluster_id !== committed.clusterId) return false;
    return offset >= Math.max(
      committed.offsets.get(ack.partition) ?? -1,
      committed.logStarts?.get(ack.partition) ?? 0,
    );
  }

  /** Whether some order events may repeat: pass 3 then counts them exactly. */
  needsRecount(): boolean {
    return this.#maybeRepeated.size > 0;
  }

  /** Pass 3: an audit record again (only events that may repeat are counted). */
  recount(record: AuditRecord): void {
    if (record.outcome !== "audited" || record.kafka_topic !== this.#topic) return;
    const event = `${record.order_id}/${record.lifecycle}`;
    const seen = this.#maybeRepeated.get(event);
    if (seen !== undefined) this.#maybeRepeated.set(event, seen + 1);
  }

  /**
   * The report.
   *
   * @param committed the group's committed offset per partition (-1: none), or undefined
   * @param clusterId the cluster the committed offsets come from (the newest space of it is compared)
   */
  report(
    { committed, clusterId }: { committed?: ReadonlyMap<number, number>; clusterId?: string } = {},
  ): DeliveryReport {
    const duplicateOrders = [...this.#maybeRepeated].filter(([, n]) => n > 1);
    this.#counts.duplicateOrders = duplicateOrders.length;
    const current = this.#spaces.findLast((s) =>
      clusterId === undefined || s.clusterId === clusterId || s.clusterId === null
    );
    const unexpected: string[] = [];
    this.#counts.unexpected = 0;
    const spaces = this.#spaces.map((space): SpaceReport => {
      if (this.#hasAcks) {
        for (const [partition, audited] of space.audited) {
          const missing = audited.minus(space.acknowledged.get(partition) ?? new RangeSet(), {
            limit: LIST_LIMIT,
          });
          this.#counts.unexpected += missing.count;
          for (const offset of missing.first) capped(unexpected, `${partition}/${offset}`);
        }
      }
      const partitions = new Set([
        ...space.covered.keys(),
        ...(space === current ? committed?.keys() ?? [] : []),
      ]);
      return {
        epochs: [...space.epochs].sort((a, b) => a - b),
        clusterId: space.clusterId,
        lines: space.lines,
        partitions: [...partitions].sort((a, b) => a - b).map((partition) =>
          partitionReport(
            space,
            partition,
            space === current ? committed?.get(partition) : undefined,
          )
        ),
      };
    });
    const latest = current === undefined ? [] : spaces[this.#spaces.indexOf(current)]!.partitions;
    const problems: string[] = [];
    const some = (list: string[], count: number) =>
      list.join(", ") + (count > list.length ? `, … (${count} in all)` : "");
    const c = this.#counts;
    if (c.lost) problems.push(`${c.lost} acknowledged but lost: ${some(this.#lost, c.lost)}`);
    if (c.duplicateOffsets) {
      problems.push(
        `${c.duplicateOffsets} offsets audited twice: ${
          some(this.#duplicateOffsets, c.duplicateOffsets)
        }`,
      );
    }
    const duplicates = duplicateOrders.slice(0, LIST_LIMIT).map(([event, n]) => `${event} ×${n}`);
    if (c.duplicateOrders) {
      problems.push(
        `${c.duplicateOrders} order events audited twice: ${some(duplicates, c.duplicateOrders)}`,
      );
    }
    let startsLate = false;
    for (const [i, space] of spaces.entries()) {
      const where = spaces.length > 1 ? ` (offset space ${i + 1})` : "";
      for (const p of space.partitions) {
        if (p.gaps.length) {
          problems.push(`partition ${p.partition}${where}: offsets skipped: ${p.gaps.join(", ")}`);
          const first = p.firstOffset ?? 0;
          startsLate ||= p.gaps[0] === (first === 1 ? "0" : `0-${first - 1}`);
        }
        if (p.committedTooFar) {
          problems.push(
            `partition ${p.partition}: committed ${p.committed} but the last audited or dead-lettered offset is ${
              p.lastOffset ?? "none"
            } (committed too far)`,
          );
        }
      }
    }
    if (startsLate) {
      problems.push(
        "a trail begun after offset 0 (a new data directory on a topic with older orders) is checked with --since-first",
      );
    }
    return {
      topic: this.#topic,
      counts: { ...c },
      lost: this.#lost,
      unexpected,
      duplicateOffsets: this.#duplicateOffsets,
      duplicateOrders: duplicates,
      indeterminate: this.#indeterminate,
      spaces,
      partitions: latest,
      ok: problems.length === 0,
      problems,
    };
  }
}

function partitionReport(
  space: Space,
  partition: number,
  committedOffset: number | undefined,
): PartitionReport {
  const covered = space.covered.get(partition) ?? new RangeSet();
  const first = covered.first ?? null;
  const last = covered.last ?? null;
  const gaps = first === null ? [] : covered.gaps(space.fromZero ? 0 : first, { limit: LIST_LIMIT })
    .map(([a, b]) => (a === b ? `${a}` : `${a}-${b}`));
  const hasCommit = committedOffset !== undefined && committedOffset >= 0;
  return {
    partition,
    covered: covered.size,
    firstOffset: first,
    lastOffset: last,
    gaps,
    committed: hasCommit ? committedOffset : null,
    committedTooFar: hasCommit && committedOffset > (last ?? -1) + 1,
  };
}

/**
 * Where a check reads from. Each source streams its items into the callback it
 * is given; files and Kafka stay with the caller.
 */
export interface DeliverySources {
  /** Each trail file: read once (`"read"`), and again (`"recount"`) when order events may repeat. */
  readonly trails: ReadonlyArray<
    (onLine: (line: TrailLine) => void, pass: "read" | "recount") => Promise<void> | void
  >;
  /** The dead letters, each with the cluster whose DLQ it was read from (null: not known). */
  readonly deadLetters?:
    | ((
      onLetter: (
        source: Pick<DeadLetterSource, "topic" | "partition" | "offset">,
        clusterId: string | null,
      ) => void,
    ) => Promise<void> | void)
    | undefined;
  /** The producer's outcomes, when there is an outcomes file. */
  readonly acks?: ((onAck: (ack: AckRecord) => void) => Promise<void> | void) | undefined;
}

/** Feeds `sources` to `checker` in the order its passes need; then call `report`. */
export async function runPasses(checker: DeliveryChecker, sources: DeliverySources): Promise<void> {
  for (const trail of sources.trails) {
    const cursor = checker.newFile();
    await trail((line) => checker.addTrailLine(cursor, line), "read");
  }
  await sources.deadLetters?.((source, clusterId) => checker.addDeadLetter(source, clusterId));
  await sources.acks?.((ack) => checker.addAck(ack));
  if (!checker.needsRecount()) return;
  for (const trail of sources.trails) {
    await trail((line) => line.kind === "record" && checker.recount(line.record), "recount");
  }
}

/** The report as readable text. */
export function formatReport(report: DeliveryReport): string {
  const c = report.counts;
  const lines = [
    `topic ${report.topic}`,
    `  producer   ${c.acknowledged} acknowledged, ${c.failed} failed, ${c.indeterminate} indeterminate (${
      report.indeterminate.filter((i) => i.recovered).length
    } recovered)${c.otherCluster ? `, ${c.otherCluster} on another cluster (not checked)` : ""}`,
    `  tracker    ${c.auditLines} audit lines: ${c.audited} audited, ${c.deadLettered} dead-lettered, ${c.duplicateEvents} duplicate events`,
    `  DLQ        ${c.dlqRecords} records from this topic`,
    `  lost ${c.lost}, unexpected ${c.unexpected}, duplicates ${
      c.duplicateOffsets + c.duplicateOrders
    }${c.pending ? `, pending ${c.pending} (acknowledged, still in Kafka for the tracker)` : ""}`,
  ];
  for (const [i, space] of report.spaces.entries()) {
    if (report.spaces.length > 1) {
      lines.push(
        `  offset space ${i + 1}: epoch ${space.epochs.join(", ") || "0"} on cluster ${
          space.clusterId ?? "unknown"
        }, ${space.lines} lines`,
      );
    }
    for (const p of space.partitions) {
      lines.push(
        `  partition ${p.partition}: offsets ${p.firstOffset ?? "-"}..${
          p.lastOffset ?? "-"
        } (${p.covered}), gaps ${p.gaps.length ? p.gaps.join(",") : "none"}, committed ${
          p.committed ?? "-"
        }${p.committedTooFar ? " (TOO FAR)" : ""}`,
      );
    }
  }
  lines.push(
    report.ok ? "OK: nothing lost, duplicated, skipped or committed too far" : "FAILED:",
    ...report.problems.map((p) => `  - ${p}`),
  );
  return lines.join("\n");
}

/**
 * The delivery checker: from the producer's outcomes, the tracker's audit
 * trail(s), the dead letters and the committed offsets, finds what was lost
 * (acknowledged but neither audited nor dead-lettered), duplicated, skipped
 * (offset gaps) or committed too far. Pure; tasks/verify.ts gathers the inputs.
 */
import type { AckRecord } from "./ack_record.ts";
import type { AuditRecord } from "./audit_record.ts";
import type { DeadLetterSource } from "./dead_letter.ts";

/** What the checker needs of an outcome line. */
export type AckInput = Pick<
  AckRecord,
  "outcome" | "order_id" | "status" | "topic" | "partition" | "offset"
>;

/** What the checker needs of an audit line. */
export type AuditInput = Pick<
  AuditRecord,
  "outcome" | "kafka_topic" | "kafka_partition" | "kafka_offset" | "order_id" | "status"
>;

/** A dead letter's source coordinates (from its headers). */
export type DeadLetterInput = Pick<DeadLetterSource, "topic" | "partition" | "offset">;

export interface PartitionReport {
  partition: number;
  /** Offsets covered by the trail or the DLQ. */
  covered: number;
  firstOffset: number | null;
  lastOffset: number | null;
  /** Missing offsets between the first and the last covered (as ranges "a-b"). */
  gaps: string[];
  committed: number | null;
  committedTooFar: boolean;
}

export interface DeliveryReport {
  topic: string;
  counts: {
    acknowledged: number;
    failed: number;
    indeterminate: number;
    auditLines: number;
    audited: number;
    deadLettered: number;
    duplicateEvents: number;
    dlqRecords: number;
  };
  /** Acknowledged messages neither audited nor dead-lettered ("partition/offset order_id"). */
  lost: string[];
  /** Audited orders no acknowledgement accounts for (another producer, or a lost acks log). */
  unexpected: string[];
  /** Offsets written to the trail more than once. */
  duplicateOffsets: string[];
  /** Order events (order id + status) audited more than once. */
  duplicateOrders: string[];
  indeterminate: { order: string; recovered: boolean }[];
  partitions: PartitionReport[];
  ok: boolean;
  /** One line per problem, empty when ok. */
  problems: string[];
}

const LIST_LIMIT = 20;

function ranges(sortedMissing: number[]): string[] {
  const out: string[] = [];
  let start: number | undefined;
  let previous = -2;
  for (const n of sortedMissing) {
    if (n !== previous + 1) {
      if (start !== undefined) out.push(start === previous ? `${start}` : `${start}-${previous}`);
      start = n;
    }
    previous = n;
  }
  if (start !== undefined) out.push(start === previous ? `${start}` : `${start}-${previous}`);
  return out;
}

/**
 * Checks delivery on one topic.
 *
 * @param inputs.acks the producer's outcomes, or undefined when there is no acks log
 * @param inputs.committed the group's committed offset per partition, or undefined
 * @param inputs.fromOffsetZero expect coverage from offset 0 (a topic the tracker read from its start)
 */
export function checkDelivery(
  inputs: {
    topic: string;
    acks: readonly AckInput[] | undefined;
    audit: readonly AuditInput[];
    deadLetters: readonly DeadLetterInput[];
    committed: ReadonlyMap<number, number> | undefined;
    fromOffsetZero?: boolean;
  },
): DeliveryReport {
  const { topic, acks = [], deadLetters, committed, fromOffsetZero = true } = inputs;
  const audit = inputs.audit.filter((r) => r.kafka_topic === topic);
  const place = (partition: number, offset: number) => `${partition}/${offset}`;

  const auditedAt = new Map<string, number>();
  const orderEvents = new Map<string, number>();
  const offsetsByPartition = new Map<number, Set<number>>();
  const cover = (partition: number, offset: number) => {
    let set = offsetsByPartition.get(partition);
    if (!set) offsetsByPartition.set(partition, set = new Set());
    set.add(offset);
  };
  for (const r of audit) {
    const key = place(r.kafka_partition, r.kafka_offset);
    auditedAt.set(key, (auditedAt.get(key) ?? 0) + 1);
    cover(r.kafka_partition, r.kafka_offset);
    if (r.outcome === "audited" && r.order_id !== null) {
      const event = `${r.order_id}/${r.status}`;
      orderEvents.set(event, (orderEvents.get(event) ?? 0) + 1);
    }
  }
  const dlqPlaces = new Set<string>();
  for (const d of deadLetters) {
    if (d.topic !== topic) continue;
    dlqPlaces.add(place(d.partition, d.offset));
    cover(d.partition, d.offset);
  }

  const acknowledged = acks.filter((a) => a.outcome === "acknowledged" && a.topic === topic);
  const ackedPlaces = new Set(acknowledged.map((a) => place(a.partition, a.offset ?? -1)));
  const lost = acknowledged
    .filter((a) => {
      const key = place(a.partition, a.offset ?? -1);
      return !auditedAt.has(key) && !dlqPlaces.has(key);
    })
    .map((a) => `${place(a.partition, a.offset ?? -1)} ${a.order_id} ${a.status}`);
  const unexpected = inputs.acks === undefined ? [] : audit
    .filter((r) =>
      r.outcome === "audited" && !ackedPlaces.has(place(r.kafka_partition, r.kafka_offset))
    )
    .map((r) => `${place(r.kafka_partition, r.kafka_offset)} ${r.order_id}`);
  const duplicateOffsets = [...auditedAt].filter(([, n]) => n > 1).map(([key, n]) =>
    `${key} ×${n}`
  );
  const duplicateOrders = [...orderEvents].filter(([, n]) => n > 1).map(([key, n]) =>
    `${key} ×${n}`
  );
  const indeterminate = acks
    .filter((a) => a.outcome === "indeterminate" && a.topic === topic)
    .map((a) => ({
      order: `${a.order_id}/${a.status}`,
      recovered: orderEvents.has(`${a.order_id}/${a.status}`),
    }));

  const partitions: PartitionReport[] = [];
  const allPartitions = new Set([...offsetsByPartition.keys(), ...(committed?.keys() ?? [])]);
  for (const partition of [...allPartitions].sort((a, b) => a - b)) {
    const offsets = [...(offsetsByPartition.get(partition) ?? [])].sort((a, b) => a - b);
    const first = offsets[0] ?? null;
    const last = offsets.at(-1) ?? null;
    const missing: number[] = [];
    if (last !== null) {
      const set = new Set(offsets);
      for (let o = fromOffsetZero ? 0 : first!; o <= last; o++) if (!set.has(o)) missing.push(o);
    }
    const committedOffset = committed?.get(partition);
    const hasCommit = committedOffset !== undefined && committedOffset >= 0;
    partitions.push({
      partition,
      covered: offsets.length,
      firstOffset: first,
      lastOffset: last,
      gaps: ranges(missing),
      committed: hasCommit ? committedOffset : null,
      committedTooFar: hasCommit && committedOffset > (last ?? -1) + 1,
    });
  }

  const problems: string[] = [];
  const some = (list: string[]) =>
    list.slice(0, LIST_LIMIT).join(", ") + (list.length > LIST_LIMIT ? ", …" : "");
  if (lost.length) problems.push(`${lost.length} acknowledged but lost: ${some(lost)}`);
  if (duplicateOffsets.length) {
    problems.push(`${duplicateOffsets.length} offsets audited twice: ${some(duplicateOffsets)}`);
  }
  if (duplicateOrders.length) {
    problems.push(`${duplicateOrders.length} order events audited twice: ${some(duplicateOrders)}`);
  }
  for (const p of partitions) {
    if (p.gaps.length) problems.push(`partition ${p.partition}: offsets skipped: ${some(p.gaps)}`);
    if (p.committedTooFar) {
      problems.push(
        `partition ${p.partition}: committed ${p.committed} but the last audited or dead-lettered offset is ${
          p.lastOffset ?? "none"
        } (committed too far)`,
      );
    }
  }
  return {
    topic,
    counts: {
      acknowledged: acknowledged.length,
      failed: acks.filter((a) => a.outcome === "failed").length,
      indeterminate: indeterminate.length,
      auditLines: audit.length,
      audited: audit.filter((r) => r.outcome === "audited").length,
      deadLettered: audit.filter((r) => r.outcome === "dead_lettered").length,
      duplicateEvents: audit.filter((r) => r.outcome === "duplicate").length,
      dlqRecords: dlqPlaces.size,
    },
    lost,
    unexpected,
    duplicateOffsets,
    duplicateOrders,
    indeterminate,
    partitions,
    ok: problems.length === 0,
    problems,
  };
}

/** The report as readable text. */
export function formatReport(report: DeliveryReport): string {
  const c = report.counts;
  const lines = [
    `topic ${report.topic}`,
    `  producer   ${c.acknowledged} acknowledged, ${c.failed} failed, ${c.indeterminate} indeterminate (${
      report.indeterminate.filter((i) => i.recovered).length
    } recovered)`,
    `  tracker    ${c.auditLines} audit lines: ${c.audited} audited, ${c.deadLettered} dead-lettered, ${c.duplicateEvents} duplicate events`,
    `  DLQ        ${c.dlqRecords} records from this topic`,
    `  lost ${report.lost.length}, unexpected ${report.unexpected.length}, duplicates ${
      report.duplicateOffsets.length + report.duplicateOrders.length
    }`,
    ...report.partitions.map((p) =>
      `  partition ${p.partition}: offsets ${p.firstOffset ?? "-"}..${
        p.lastOffset ?? "-"
      } (${p.covered}), gaps ${p.gaps.length ? p.gaps.join(",") : "none"}, committed ${
        p.committed ?? "-"
      }${p.committedTooFar ? " (TOO FAR)" : ""}`
    ),
    report.ok ? "OK: nothing lost, duplicated, skipped or committed too far" : "FAILED:",
    ...report.problems.map((p) => `  - ${p}`),
  ];
  return lines.join("\n");
}

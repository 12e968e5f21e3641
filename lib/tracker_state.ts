/**
 * What the tracker remembers between messages: the highest audited offset per
 * partition (redeliveries), the events already audited (duplicates) and each
 * open order's last status (lifecycle checks). Bounded in memory, rebuilt from
 * the audit trail on start. Pure.
 */
import type { AuditRecord } from "./audit_record.ts";
import {
  FINAL_STATUSES,
  isValidTransition,
  type OrderEvent,
  type OrderStatus,
  type ParseResult,
  type Rejection,
} from "./order.ts";

export type Decision =
  /** Offset already in the trail: skip, write nothing. */
  | { kind: "redelivered" }
  | { kind: "audit"; order: OrderEvent }
  /** Same order id and event type already audited. */
  | { kind: "duplicate"; order: OrderEvent }
  | { kind: "reject"; rejection: Rejection };

export interface TrackerStateLimits {
  /** Open orders whose status is kept; the oldest are forgotten past this. */
  maxOpenOrders: number;
  /** Audited event keys kept for duplicate detection. */
  maxEventKeys: number;
}

export const DEFAULT_LIMITS: TrackerStateLimits = {
  maxOpenOrders: 100_000,
  maxEventKeys: 500_000,
};

function eventKey(orderId: string, status: string): string {
  return `${orderId}/${status}`;
}

export class TrackerState {
  #limits: TrackerStateLimits;
  #maxOffset = new Map<string, number>();
  /** Open orders: last status and the partition it came from. */
  #openOrders = new Map<string, { status: OrderStatus; partition: number }>();
  #eventKeys = new Set<string>();

  constructor(limits: TrackerStateLimits = DEFAULT_LIMITS) {
    this.#limits = limits;
  }

  /** Highest offset in the trail per "topic/partition". */
  get maxOffsets(): ReadonlyMap<string, number> {
    return this.#maxOffset;
  }

  get openOrders(): number {
    return this.#openOrders.size;
  }

  /** Decides what to do with a parsed message at topic/partition/offset. */
  decide(
    { topic, partition, offset }: { topic: string; partition: number; offset: number },
    parsed: ParseResult,
  ): Decision {
    const audited = this.#maxOffset.get(`${topic}/${partition}`);
    if (audited !== undefined && offset <= audited) return { kind: "redelivered" };
    if (!parsed.ok) return { kind: "reject", rejection: parsed.rejection };
    const order = parsed.order;
    if (this.#eventKeys.has(eventKey(order.order_id, order.status))) {
      return { kind: "duplicate", order };
    }
    // A finished order is no longer open, but its final event key is remembered.
    const previous = this.#openOrders.get(order.order_id)?.status ??
      [...FINAL_STATUSES].find((final) => this.#eventKeys.has(eventKey(order.order_id, final)));
    if (!isValidTransition(previous, order.status)) {
      return {
        kind: "reject",
        rejection: {
          class: "validation",
          message:
            `Cannot accept order: status "${order.status}" cannot follow "${previous}" (lifecycle)`,
        },
      };
    }
    return { kind: "audit", order };
  }

  /**
   * Forgets the open orders of partitions this instance no longer owns. While
   * another member had them, it saw events this one did not: a later event
   * must then count as first seen, not as a lifecycle break.
   */
  keepPartitions(owned: ReadonlySet<number>): void {
    for (const [orderId, open] of this.#openOrders) {
      if (!owned.has(open.partition)) this.#openOrders.delete(orderId);
    }
  }

  /** Takes a record that is now in the trail into account. */
  apply(record: AuditRecord): void {
    const key = `${record.kafka_topic}/${record.kafka_partition}`;
    if ((this.#maxOffset.get(key) ?? -1) < record.kafka_offset) {
      this.#maxOffset.set(key, record.kafka_offset);
    }
    if (record.outcome !== "audited" || record.order_id === null || record.status === null) return;
    const status = record.status as OrderStatus;
    this.#eventKeys.add(eventKey(record.order_id, status));
    if (this.#eventKeys.size > this.#limits.maxEventKeys) {
      this.#eventKeys.delete(this.#eventKeys.values().next().value!);
    }
    this.#openOrders.delete(record.order_id);
    if (FINAL_STATUSES.has(status)) return;
    this.#openOrders.set(record.order_id, { status, partition: record.kafka_partition });
    if (this.#openOrders.size > this.#limits.maxOpenOrders) {
      this.#openOrders.delete(this.#openOrders.keys().next().value!);
    }
  }
}

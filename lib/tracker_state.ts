/**
 * What the tracker remembers between messages: the last audited offset per
 * partition with a fingerprint of its message (redeliveries, and offsets that
 * now hold another message), the events already audited (duplicates) and each
 * open order's last status (lifecycle checks). Bounded in memory with constant
 * cost per update, snapshotted into the trail's checkpoint and rebuilt from the
 * trail when there is none. Pure.
 */
import { type AuditRecord, recordFingerprint } from "./audit_record.ts";
import { BoundedMap } from "./bounded_map.ts";
import { EventIndex, type EventKeyList, STATUS_BITS } from "./event_index.ts";
import {
  FINAL_STATUSES,
  isValidTransition,
  ORDER_STATUSES,
  type OrderStatus,
  type OrderSummary,
  type ParseResult,
  type Rejection,
} from "./order.ts";

export type Decision =
  /** Offset already in the trail: skip, write nothing. */
  | { kind: "redelivered" }
  /** A valid order; `outOfOrder` when its lifecycle step arrived out of order without a key. */
  | { kind: "audit"; order: OrderSummary; outOfOrder: boolean }
  /** Same order id and event type already audited. */
  | { kind: "duplicate"; order: OrderSummary }
  | { kind: "reject"; rejection: Rejection }
  /**
   * The offset of the last audited message holds another message: the topic
   * was recreated or the cluster replaced, and the offsets skipped as
   * redeliveries before it were never audited.
   */
  | { kind: "reused"; offset: number };

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

/** Where a message was consumed, and what identifies it there. */
export interface MessagePlace {
  topic: string;
  partition: number;
  offset: number;
  /**
   * Whether the message has a key. A keyed order has all its events on one
   * partition, in order; without a key they may be spread over partitions,
   * where arrival order is no lifecycle order.
   */
  keyed: boolean;
  /**
   * See `messageFingerprint` (undefined when the message's timestamp is
   * unknown); a function, since only a redelivery of the last audited offset asks.
   */
  fingerprint?: (() => string | undefined) | undefined;
}

/** The state as plain data, for the checkpoint. Lists run from the oldest entry. */
export interface TrackerStateSnapshot {
  /** [topic, partition, last offset, fingerprint of its message or null] */
  offsets: Array<[string, number, number, string | null]>;
  /** "orderId/status" keys of audited events (made as read, in a live state's snapshot). */
  eventKeys: EventKeyList;
  /** [order id, last status, partition] of open orders. */
  openOrders: Array<[string, OrderStatus, number]>;
}

/**
 * The last audited message of a partition: its record, whose fingerprint is
 * worked out only when asked (once per replay), not for every record applied;
 * or, restored from a checkpoint, the fingerprint itself. Updated in place.
 */
interface LastAudited {
  offset: number;
  record: AuditRecord | undefined;
  fingerprint: string | undefined;
}

function fingerprintOf(last: LastAudited): string | undefined {
  return last.record !== undefined ? recordFingerprint(last.record) : last.fingerprint;
}

/** The final statuses in the order a finished order's last status is looked for. */
const FINAL_LIST: readonly OrderStatus[] = [...FINAL_STATUSES];

/** The latest place key: a chunk's messages share one, and a kept string is hashed once. */
let lastPlace = { topic: "", partition: -1, key: "" };

function placeKey(topic: string, partition: number): string {
  if (lastPlace.partition !== partition || lastPlace.topic !== topic) {
    lastPlace = { topic, partition, key: `${topic}/${partition}` };
  }
  return lastPlace.key;
}

export class TrackerState {
  #last = new Map<string, LastAudited>();
  #openOrders: BoundedMap<string, { status: OrderStatus; partition: number }>;
  #events: EventIndex;
  /**
   * Partitions whose consumption (this session) went back below the last
   * audited offset without reaching it yet: what was skipped there as a
   * redelivery is not confirmed until the message at that offset matches.
   */
  #unverified = new Set<string>();

  constructor(limits: TrackerStateLimits = DEFAULT_LIMITS) {
    this.#openOrders = new BoundedMap(limits.maxOpenOrders);
    this.#events = new EventIndex(limits.maxEventKeys);
  }

  /** Rebuilds a state from its snapshot (entries keep their age order). */
  static restore(
    snapshot: TrackerStateSnapshot,
    limits: TrackerStateLimits = DEFAULT_LIMITS,
  ): TrackerState {
    const state = new TrackerState(limits);
    for (const [topic, partition, offset, fingerprint] of snapshot.offsets) {
      state.#last.set(placeKey(topic, partition), {
        offset,
        record: undefined,
        fingerprint: fingerprint ?? undefined,
      });
    }
    state.#events = EventIndex.from(snapshot.eventKeys, limits.maxEventKeys);
    state.#openOrders = BoundedMap.from(
      snapshot.openOrders.map(([id, status, partition]) => [id, { status, partition }] as const),
      limits.maxOpenOrders,
    );
    return state;
  }

  /** The state as data (its event keys are made as read; as JSON, a plain list). */
  snapshot(): TrackerStateSnapshot {
    return {
      offsets: [...this.#last].map(([key, last]) => {
        const cut = key.lastIndexOf("/");
        return [
          key.slice(0, cut),
          Number(key.slice(cut + 1)),
          last.offset,
          fingerprintOf(last) ?? null,
        ];
      }),
      eventKeys: this.#events.snapshot(),
      openOrders: [...this.#openOrders.entries()].map((
        [id, open],
      ) => [id, open.status, open.partition]),
    };
  }

  /** The last audited offset of a partition, or undefined. */
  lastOffset(topic: string, partition: number): number | undefined {
    return this.#last.get(placeKey(topic, partition))?.offset;
  }

  /** The last audited offset of each partition of `topic`. */
  lastOffsets(topic: string): Map<number, number> {
    const offsets = new Map<number, number>();
    for (const [key, last] of this.#last) {
      const cut = key.lastIndexOf("/");
      if (key.slice(0, cut) === topic) offsets.set(Number(key.slice(cut + 1)), last.offset);
    }
    return offsets;
  }

  get openOrders(): number {
    return this.#openOrders.size;
  }

  /** Whether what was skipped in `partition` still waits for the last audited offset to match. */
  replayUnverified(topic: string, partition: number): boolean {
    return this.#unverified.has(placeKey(topic, partition));
  }

  /** Decides what to do with a parsed message at topic/partition/offset. */
  decide(where: MessagePlace, parsed: ParseResult<OrderSummary>): Decision {
    const place = placeKey(where.topic, where.partition);
    const last = this.#last.get(place);
    if (last !== undefined && where.offset <= last.offset) {
      if (where.offset < last.offset) {
        this.#unverified.add(place);
        return { kind: "redelivered" };
      }
      this.#unverified.delete(place);
      // Lines from before fingerprints were kept cannot tell: taken as the same message.
      const known = fingerprintOf(last);
      const given = where.fingerprint?.();
      const same = known === undefined || given === undefined || known === given;
      return same ? { kind: "redelivered" } : { kind: "reused", offset: where.offset };
    }
    // Past the last audited offset without meeting it (compacted away): nothing to compare.
    this.#unverified.delete(place);
    if (!parsed.ok) return { kind: "reject", rejection: parsed.rejection };
    const order = parsed.order;
    const audited = this.#events.flags(order.order_id);
    if ((audited & STATUS_BITS[order.status]) !== 0) return { kind: "duplicate", order };
    // A finished order is no longer open, but its final event is remembered.
    const previous = this.#openOrders.get(order.order_id)?.status ??
      (audited === 0
        ? undefined
        : FINAL_LIST.find((final) => (audited & STATUS_BITS[final]) !== 0));
    if (!isValidTransition(previous, order.status)) {
      // Ordering holds only within a partition: without a key, it is no violation.
      if (!where.keyed) return { kind: "audit", order, outOfOrder: true };
      return {
        kind: "reject",
        rejection: {
          class: "validation",
          message:
            `Cannot accept order: status "${order.status}" cannot follow "${previous}" (lifecycle)`,
        },
      };
    }
    return { kind: "audit", order, outOfOrder: false };
  }

  /**
   * Forgets the open orders of partitions this instance no longer owns. While
   * another member had them, it saw events this one did not: a later event
   * must then count as first seen, not as a lifecycle break.
   */
  keepPartitions(owned: ReadonlySet<number>): void {
    this.#openOrders.deleteWhere((open) => !owned.has(open.partition));
    this.#unverified.clear();
  }

  /**
   * Forgets every offset: a new trail epoch (another cluster, a recreated
   * topic) starts counting offsets again. Audited events stay remembered, so a
   * migrated copy of an order is still recognised as a duplicate.
   */
  resetOffsets(): void {
    this.#last.clear();
    this.#unverified.clear();
  }

  /** Takes a record that is now in the trail into account. */
  apply(record: AuditRecord): void {
    const place = placeKey(record.kafka_topic, record.kafka_partition);
    const last = this.#last.get(place);
    if (last === undefined) {
      this.#last.set(place, { offset: record.kafka_offset, record, fingerprint: undefined });
    } else if (last.offset < record.kafka_offset) {
      last.offset = record.kafka_offset;
      last.record = record;
      last.fingerprint = undefined;
    }
    const status = record.lifecycle;
    if (record.outcome !== "audited" || record.order_id === null || status === null) return;
    this.#events.add(record.order_id, STATUS_BITS[status]);
    // A step that arrived out of order does not move the order back.
    if (record.out_of_order) return;
    if (FINAL_STATUSES.has(status)) this.#openOrders.delete(record.order_id);
    else this.#openOrders.set(record.order_id, { status, partition: record.kafka_partition });
  }
}

/**
 * Whether a JSON value is a state snapshot (the checkpoint's parser uses it).
 * Every offset and open order is checked; of the event keys, that they are a
 * list of strings (there are half a million).
 */
export function isStateSnapshot(value: unknown): value is TrackerStateSnapshot {
  if (typeof value !== "object" || value === null) return false;
  const v = value as Record<string, unknown>;
  const statuses: ReadonlySet<unknown> = new Set(ORDER_STATUSES);
  return Array.isArray(v.offsets) && Array.isArray(v.eventKeys) && Array.isArray(v.openOrders) &&
    v.offsets.every((o) =>
      Array.isArray(o) && typeof o[0] === "string" && Number.isSafeInteger(o[1]) &&
      Number.isSafeInteger(o[2]) && (o[3] === null || typeof o[3] === "string")
    ) &&
    (v.eventKeys.length === 0 || typeof v.eventKeys[0] === "string") &&
    v.openOrders.every((o) =>
      Array.isArray(o) && typeof o[0] === "string" && statuses.has(o[1]) &&
      Number.isSafeInteger(o[2])
    );
}

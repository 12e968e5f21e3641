/**
 * The JSON text of generated order events, as `encodeOrder` (lib/order.ts)
 * writes it, with the part an order's events share stringified once: the
 * generator's events of one order share their items, amounts, address,
 * customer and inventory (about 1.3 KB of the 1.5), and an order has about
 * 3.7 events. JSON.stringify was a third of the generator thread's time.
 * Pure; the cache holds an order's shared text until its final event (or,
 * for events that never end their order, until it is among the oldest of
 * MAX_OPEN_ORDERS). Not a WeakMap keyed by the items: V8's scavenger pays for
 * each entry whose key is young, and the producer's heap then kept every
 * order's text and parts until a full collection, one every second at 5,000
 * orders/s, each a pause in its sends.
 */
import { BoundedMap } from "./bounded_map.ts";
import { FINAL_STATUSES, type OrderEvent } from "./order.ts";

/** Orders whose shared text is kept at most; past it the oldest go. */
export const MAX_OPEN_ORDERS = 4096;

/** An event's fields in the order the generator creates them. */
const EVENT_KEYS = [
  "order_id",
  "status",
  "items",
  "sub_total",
  "tax",
  "shipping_fee",
  "total",
  "currency",
  "payment_method",
  "shipping_address",
  "customer_info",
  "inventory_status",
  "sequence",
  "metadata",
  "produced_at",
] as const;
/** The fields an order's events share (between `status` and `sequence`). */
const SHARED_KEYS = EVENT_KEYS.slice(2, 12);

type EventRecord = Record<string, unknown>;

/** Whether `order` has exactly EVENT_KEYS, in that order, with defined ends. */
function hasEventShape(order: EventRecord): boolean {
  let i = 0;
  for (const key in order) {
    if (key !== EVENT_KEYS[i++]) return false;
  }
  return i === EVENT_KEYS.length && Array.isArray(order.items) &&
    typeof order.order_id === "string" && typeof order.status === "string" &&
    typeof order.sequence === "number" && typeof order.metadata === "object" &&
    order.metadata !== null && typeof order.produced_at === "number";
}

interface Shared {
  /** The shared fields' values the text was made from (objects by identity). */
  values: unknown[];
  /** `"items":…,"inventory_status":…`, without braces. */
  text: string;
}

/**
 * Order events' JSON text, reusing the text of the fields an order's events
 * share. Events that share parts must not change them (the generator's
 * contract); a shared field that differs (another value, or another object)
 * from the text made before is stringified again.
 */
export class OrderTextEncoder {
  /** By the order's items array, which the generator's events of one order share. */
  readonly #shared = new BoundedMap<object, Shared>(MAX_OPEN_ORDERS);

  /** Orders whose shared text is kept: those in progress, MAX_OPEN_ORDERS at most. */
  get keptOrders(): number {
    return this.#shared.size;
  }

  /** `JSON.stringify(order)`, character for character. */
  text(order: OrderEvent): string {
    const event = order as unknown as EventRecord;
    if (!hasEventShape(event)) return JSON.stringify(order);
    let shared = this.#shared.get(order.items);
    if (shared === undefined || !SHARED_KEYS.every((key, i) => event[key] === shared!.values[i])) {
      const part: EventRecord = {};
      for (const key of SHARED_KEYS) part[key] = event[key];
      shared = {
        values: SHARED_KEYS.map((key) => event[key]),
        text: JSON.stringify(part).slice(1, -1),
      };
      this.#shared.set(order.items, shared);
    }
    // An order has no events after its final one.
    if (FINAL_STATUSES.has(order.status)) this.#shared.delete(order.items);
    return `{"order_id":${JSON.stringify(order.order_id)},"status":${
      JSON.stringify(order.status)
    },${shared.text},"sequence":${JSON.stringify(order.sequence)},"metadata":${
      JSON.stringify(order.metadata)
    },"produced_at":${JSON.stringify(order.produced_at)}}`;
  }
}

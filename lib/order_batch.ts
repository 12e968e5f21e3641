/**
 * Batches of generated orders as the producer sends them: each order's wire
 * bytes packed into one buffer (so a batch crosses to another thread as one
 * transfer, not a copy per order) and the few fields the producer needs to
 * route and account for it. Pure: `takeOrders` draws from a generator.
 */
import type { OrderStatus } from "./order.ts";
import { OrderTextEncoder } from "./order_text.ts";
import type { OrderGenerator } from "./order_generator.ts";

/** What the producer needs of an order besides its bytes. */
export interface OrderRef {
  order_id: string;
  sequence: number;
  status: OrderStatus;
  event_type: string;
}

/** Orders in the order generated, their values packed end to end. */
export interface OrderBatch {
  refs: OrderRef[];
  /** All values, end to end. */
  bytes: Uint8Array;
  /** `ends[i]`: where value i ends in `bytes` (it starts where i − 1 ends). */
  ends: Uint32Array;
}

/** The wire bytes of order `index` of `batch` (a view, not a copy). */
export function orderValue(batch: OrderBatch, index: number): Uint8Array {
  const start = index === 0 ? 0 : batch.ends[index - 1]!;
  return batch.bytes.subarray(start, batch.ends[index]!);
}

/** Order texts, the part an order's events share stringified once (order_text.ts). */
const texts = new OrderTextEncoder();
const utf8 = new TextEncoder();
/** Room for one order's bytes at least, before the batch's buffer grows. */
const ORDER_BYTES_GUESS = 2048;

/**
 * Draws up to `count` orders from `generator`, stopping early once the values
 * reach `maxBytes` (at least one order is always taken when `count` > 0).
 * Each value is `encodeOrder`'s bytes, written straight into the batch's buffer.
 */
export function takeOrders(
  generator: OrderGenerator,
  { count, maxBytes }: { count: number; maxBytes: number },
): OrderBatch {
  const refs: OrderRef[] = [];
  const ends = new Uint32Array(count);
  let bytes = new Uint8Array(Math.min(maxBytes, count * ORDER_BYTES_GUESS) + ORDER_BYTES_GUESS);
  let total = 0;
  while (refs.length < count && total < maxBytes) {
    const order = generator.next();
    const text = texts.text(order);
    // UTF-8 takes at most 3 bytes per UTF-16 unit.
    if (total + text.length * 3 > bytes.length) {
      const grown = new Uint8Array(Math.max(bytes.length * 2, total + text.length * 3));
      grown.set(bytes.subarray(0, total));
      bytes = grown;
    }
    total += utf8.encodeInto(text, bytes.subarray(total)).written;
    ends[refs.length] = total;
    refs.push({
      order_id: order.order_id,
      sequence: order.sequence,
      status: order.status,
      event_type: order.metadata.event_type,
    });
  }
  return { refs, bytes: bytes.subarray(0, total), ends: ends.subarray(0, refs.length) };
}

/**
 * Splits a batch's messages, in order, into ranges `[start, end)` in which no
 * partition gets more than `capBytes`: each partition's share of a send is one
 * record batch, which the broker refuses above its message.max.bytes. A
 * message larger than the cap gets a range of its own.
 */
export function partitionRanges(
  messages: ReadonlyArray<{ partition: number; bytes: number }>,
  capBytes: number,
): Array<[number, number]> {
  const ranges: Array<[number, number]> = [];
  let start = 0;
  let shares = new Map<number, number>();
  messages.forEach(({ partition, bytes }, i) => {
    const share = shares.get(partition) ?? 0;
    if (share > 0 && share + bytes > capBytes) {
      ranges.push([start, i]);
      start = i;
      shares = new Map();
    }
    shares.set(partition, (shares.get(partition) ?? 0) + bytes);
  });
  if (start < messages.length) ranges.push([start, messages.length]);
  return ranges;
}

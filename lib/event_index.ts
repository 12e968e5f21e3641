/**
 * The audited events the tracker remembers (order id and lifecycle state),
 * bounded: past the capacity the oldest event is forgotten, in constant time
 * however long it runs. Indexed by order id, one number of status bits per
 * order, so a message costs one lookup of the id it came with; an index of
 * "id/status" strings cost a new string and its hash per lookup, up to four
 * per message, and a tenth of the tracker's time. The age order lives in a
 * ring of (id, bit) pairs in two plain arrays. Pure.
 */
import { ORDER_STATUSES, type OrderStatus } from "./order.ts";

/** Each status's bit in an order's flags. */
export const STATUS_BITS: Readonly<Record<OrderStatus, number>> = Object.fromEntries(
  ORDER_STATUSES.map((status, i) => [status, 1 << i]),
) as Record<OrderStatus, number>;

/** The bit of the status that `key` ends with from `from` on; 0 when it is none. */
function statusBitAt(key: string, from: number): number {
  const length = key.length - from;
  for (let i = 0; i < ORDER_STATUSES.length; i++) {
    const status = ORDER_STATUSES[i]!;
    if (status.length === length && key.startsWith(status, from)) return 1 << i;
  }
  return 0;
}

/** An event as the checkpoint lists it. */
function eventKey(orderId: string, status: OrderStatus): string {
  return `${orderId}/${status}`;
}

/**
 * Event keys ("id/status"), oldest first, by count and range: a plain list of
 * them (a checkpoint read back) or `EventKeys` (a live index's copy).
 */
export interface EventKeyList {
  readonly length: number;
  /** The keys from `start` up to `end` (exclusive). */
  slice(start: number, end: number): string[];
}

/** Events per block of `EventKeys.encodedBlocks`: a millisecond or two of work each. */
export const KEY_BLOCK_EVENTS = 5_000;

/**
 * What an index remembers of its events' encoded blocks between snapshots:
 * per block number (its first event's number since the index was made,
 * divided by KEY_BLOCK_EVENTS), the bytes `encode` made of its keys. A full
 * block never changes: events are added at the end and forgotten from the
 * start.
 */
interface BlockCache {
  encode: ((keys: string[]) => Uint8Array) | undefined;
  blocks: Map<number, Uint8Array>;
}

/**
 * A copy of an index's events that makes their keys only when a range is
 * read: a checkpoint of half a million events then copies two arrays (the ids
 * are shared), not half a million new strings at once, which held the
 * tracker for tens of milliseconds and lived on through every collection
 * while the checkpoint was written.
 */
export class EventKeys implements EventKeyList {
  readonly #first: number;
  readonly #cache: BlockCache | undefined;

  /**
   * @param ids the events' order ids, oldest first; @param bits their status bits
   * @param from.first the oldest event's number in its index (aligns the blocks)
   * @param from.cache the index's encoded blocks, shared by its snapshots
   */
  constructor(
    readonly ids: readonly string[],
    readonly bits: readonly number[],
    from?: { first: number; cache: BlockCache },
  ) {
    if (ids.length !== bits.length) {
      throw new RangeError(`Cannot list events: ${ids.length} ids for ${bits.length} statuses`);
    }
    this.#first = from?.first ?? 0;
    this.#cache = from?.cache;
  }

  get length(): number {
    return this.ids.length;
  }

  slice(start: number, end: number): string[] {
    const from = Math.max(0, start);
    const to = Math.min(this.ids.length, end);
    const keys = new Array<string>(Math.max(0, to - from));
    for (let i = from; i < to; i++) {
      keys[i - from] = eventKey(this.ids[i]!, ORDER_STATUSES[31 - Math.clz32(this.bits[i]!)]!);
    }
    return keys;
  }

  /** As JSON, the plain list of keys. */
  toJSON(): string[] {
    return this.slice(0, this.length);
  }

  /**
   * The keys, oldest first, through `encode` in consecutive ranges of at most
   * KEY_BLOCK_EVENTS, made as they are read. A range that is a whole block
   * of the index is encoded once in the index's life: later snapshots reuse
   * its bytes. So a checkpoint of half a million events encodes only those
   * since the last one (and the two blocks at its ends), not every key again
   * each time: that took 6% of the tracker's main thread over its first
   * 400,000 events, and more once its state is full (half a million keys for
   * a checkpoint every 50,000 or so orders). Every call must pass the same
   * `encode` (another one empties the cache).
   */
  *encodedBlocks(encode: (keys: string[]) => Uint8Array): Generator<Uint8Array> {
    const cache = this.#cache;
    if (cache !== undefined && cache.encode !== encode) {
      cache.encode = encode;
      cache.blocks.clear();
    }
    const first = this.#first;
    const end = first + this.length;
    for (let at = first; at < end;) {
      const block = Math.floor(at / KEY_BLOCK_EVENTS);
      const blockEnd = (block + 1) * KEY_BLOCK_EVENTS;
      const whole = at === block * KEY_BLOCK_EVENTS && blockEnd <= end;
      let bytes = whole ? cache?.blocks.get(block) : undefined;
      if (bytes === undefined) {
        bytes = encode(this.slice(at - first, Math.min(blockEnd, end) - first));
        if (whole) cache?.blocks.set(block, bytes);
      }
      yield bytes;
      at = Math.min(blockEnd, end);
    }
  }
}

export class EventIndex {
  readonly #capacity: number;
  /** Per order id, the bits of its audited statuses (never 0). */
  readonly #flags = new Map<string, number>();
  /** Events in the order they came, from #head on: ids and their status bits. */
  #ids: string[] = [];
  #bits: number[] = [];
  #head = 0;
  /** Events forgotten so far: the number of the oldest one remembered. */
  #forgotten = 0;
  readonly #blocks: BlockCache = { encode: undefined, blocks: new Map() };

  constructor(capacity: number) {
    if (!Number.isSafeInteger(capacity) || capacity < 1) {
      throw new RangeError(`Cannot create an event index: capacity ${capacity} is not >= 1`);
    }
    this.#capacity = capacity;
  }

  /**
   * Builds an index from event keys oldest first (as `keys()` gives them).
   * A key whose status is not a lifecycle state (or not a string: a damaged
   * checkpoint) is no event of this tracker's and is left out.
   */
  static from(list: EventKeyList, capacity: number): EventIndex {
    const index = new EventIndex(capacity);
    const flags = index.#flags;
    // A checkpoint read back is a plain list, taken as it is (no copy at
    // start-up); a live index's copy makes its keys here.
    const keys: readonly string[] = Array.isArray(list) ? list : list.slice(0, list.length);
    // Written out rather than through add(): start-up takes half a million.
    for (let i = Math.max(0, keys.length - capacity); i < keys.length; i++) {
      const key = keys[i];
      if (typeof key !== "string") continue;
      const cut = key.lastIndexOf("/");
      const bit = cut < 0 ? 0 : statusBitAt(key, cut + 1);
      if (bit === 0) continue;
      const id = key.slice(0, cut);
      const had = flags.get(id) ?? 0;
      if ((had & bit) !== 0) continue;
      flags.set(id, had | bit);
      index.#ids.push(id);
      index.#bits.push(bit);
    }
    return index;
  }

  /** Events remembered. */
  get size(): number {
    return this.#ids.length - this.#head;
  }

  /** The status bits of the order's audited events; 0 when none is remembered. */
  flags(orderId: string): number {
    return this.#flags.get(orderId) ?? 0;
  }

  /** Remembers an event (a no-op when remembered); forgets the oldest past the capacity. */
  add(orderId: string, bit: number): void {
    const flags = this.#flags.get(orderId) ?? 0;
    if ((flags & bit) !== 0) return;
    this.#flags.set(orderId, flags | bit);
    this.#ids.push(orderId);
    this.#bits.push(bit);
    if (this.size > this.#capacity) this.#forgetOldest();
  }

  #forgetOldest(): void {
    const id = this.#ids[this.#head]!;
    const left = (this.#flags.get(id) ?? 0) & ~this.#bits[this.#head]!;
    if (left === 0) this.#flags.delete(id);
    else this.#flags.set(id, left);
    this.#head++;
    this.#forgotten++;
    if (this.#head > 1024 && this.#head * 2 > this.#ids.length) {
      this.#ids = this.#ids.slice(this.#head);
      this.#bits = this.#bits.slice(this.#head);
      this.#head = 0;
    }
  }

  /** The events as "id/status" keys, oldest first. */
  keys(): string[] {
    return this.snapshot().slice(0, this.size);
  }

  /**
   * A copy of the events, oldest first, that makes their keys as they are
   * read, and shares the index's encoded blocks (`EventKeys.encodedBlocks`);
   * those of blocks now forgotten are dropped.
   */
  snapshot(): EventKeys {
    const oldest = Math.floor(this.#forgotten / KEY_BLOCK_EVENTS);
    for (const block of this.#blocks.blocks.keys()) {
      if (block < oldest) this.#blocks.blocks.delete(block);
    }
    return new EventKeys(this.#ids.slice(this.#head), this.#bits.slice(this.#head), {
      first: this.#forgotten,
      cache: this.#blocks,
    });
  }
}

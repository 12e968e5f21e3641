/**
 * A map with a capacity: setting a key makes it the newest, and past the
 * capacity the oldest entry is evicted, in constant time however long it runs.
 * A plain Map evicting through `keys().next()` is not constant: V8 leaves a hole
 * for each deleted entry and the iterator walks the holes at the front, so
 * 10k updates took 72 ms at the cap and 1.1 s after 140k evictions, still
 * rising. Here the age order lives in a queue of (key, stamp) pairs; an entry
 * set again leaves a stale pair behind, skipped on eviction and swept out when
 * stale pairs outnumber live ones. Pure.
 */

export class BoundedMap<K, V> {
  readonly #capacity: number;
  readonly #entries = new Map<K, { value: V; stamp: number }>();
  /** Keys in the order they were last set, with the stamp of that set; from #head on. */
  #queue: Array<{ key: K; stamp: number }> = [];
  #head = 0;
  #nextStamp = 0;

  constructor(capacity: number) {
    if (!Number.isSafeInteger(capacity) || capacity < 1) {
      throw new RangeError(`Cannot create a bounded map: capacity ${capacity} is not >= 1`);
    }
    this.#capacity = capacity;
  }

  get size(): number {
    return this.#entries.size;
  }

  get(key: K): V | undefined {
    return this.#entries.get(key)?.value;
  }

  has(key: K): boolean {
    return this.#entries.has(key);
  }

  /** Sets `key` as the newest entry; evicts the oldest past the capacity. */
  set(key: K, value: V): void {
    const stamp = this.#nextStamp++;
    this.#entries.set(key, { value, stamp });
    this.#queue.push({ key, stamp });
    while (this.#entries.size > this.#capacity) this.#evictOldest();
    // Sweep when the consumed front or the stale pairs outweigh the live ones:
    // each sweep follows as many cheap steps as it costs, so it stays O(1) amortized.
    const pending = this.#queue.length - this.#head;
    if (
      (this.#head > 1024 && this.#head > pending) || pending > 2 * this.#entries.size + 1024
    ) this.#compact();
  }

  delete(key: K): boolean {
    return this.#entries.delete(key);
  }

  /** Deletes every entry for which `drop` is true. */
  deleteWhere(drop: (value: V, key: K) => boolean): void {
    for (const [key, entry] of this.#entries) if (drop(entry.value, key)) this.#entries.delete(key);
  }

  /** Builds a map from entries oldest first (as `entries()` gives them). */
  static from<K, V>(entries: ReadonlyArray<readonly [K, V]>, capacity: number): BoundedMap<K, V> {
    const map = new BoundedMap<K, V>(capacity);
    const kept = entries.length > capacity ? entries.slice(entries.length - capacity) : entries;
    for (const [key, value] of kept) {
      const stamp = map.#nextStamp++;
      map.#entries.set(key, { value, stamp });
      map.#queue.push({ key, stamp });
    }
    return map;
  }

  /** Entries from the oldest to the newest. */
  *entries(): IterableIterator<[K, V]> {
    for (let i = this.#head; i < this.#queue.length; i++) {
      const { key, stamp } = this.#queue[i]!;
      const entry = this.#entries.get(key);
      if (entry !== undefined && entry.stamp === stamp) yield [key, entry.value];
    }
  }

  #evictOldest(): void {
    while (this.#head < this.#queue.length) {
      const { key, stamp } = this.#queue[this.#head++]!;
      if (this.#entries.get(key)?.stamp === stamp) {
        this.#entries.delete(key);
        return;
      }
    }
  }

  /** Drops stale pairs and the consumed front of the queue. */
  #compact(): void {
    const live: Array<{ key: K; stamp: number }> = [];
    for (let i = this.#head; i < this.#queue.length; i++) {
      const pair = this.#queue[i]!;
      if (this.#entries.get(pair.key)?.stamp === pair.stamp) live.push(pair);
    }
    this.#queue = live;
    this.#head = 0;
  }
}

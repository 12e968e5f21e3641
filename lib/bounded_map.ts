/**
 * Collections with a capacity, constant time per update however long they run.
 *
 * BoundedMap: a map with a capacity: setting a key makes it the newest, and past the
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

/**
 * A set with a capacity that forgets its oldest members first, for members
 * added once (audited event keys): a ring of members in the order they came
 * and a Set for lookups, so adding and forgetting are constant time with no
 * allocation beyond the member itself. Pure.
 */
export class BoundedSet<T> {
  readonly #capacity: number;
  #members = new Set<T>();
  /** Members in the order they came, from #head on; compacted as the front is used up. */
  #queue: T[] = [];
  #head = 0;

  constructor(capacity: number) {
    if (!Number.isSafeInteger(capacity) || capacity < 1) {
      throw new RangeError(`Cannot create a bounded set: capacity ${capacity} is not >= 1`);
    }
    this.#capacity = capacity;
  }

  /** Builds a set from members oldest first (as `members()` gives them); it takes the array. */
  static from<T>(members: T[], capacity: number): BoundedSet<T> {
    const set = new BoundedSet<T>(capacity);
    set.#queue = members.length > capacity ? members.slice(members.length - capacity) : members;
    set.#members = new Set(set.#queue);
    return set;
  }

  get size(): number {
    return this.#members.size;
  }

  has(member: T): boolean {
    return this.#members.has(member);
  }

  /** Adds a member (a no-op when present); forgets the oldest past the capacity. */
  add(member: T): void {
    if (this.#members.has(member)) return;
    this.#members.add(member);
    this.#queue.push(member);
    if (this.#members.size > this.#capacity) {
      this.#members.delete(this.#queue[this.#head]!);
      this.#head++;
      if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
        this.#queue = this.#queue.slice(this.#head);
        this.#head = 0;
      }
    }
  }

  /** The members, oldest first. */
  members(): T[] {
    return this.#queue.slice(this.#head);
  }
}

/**
 * A set of integers kept as sorted, disjoint ranges: offsets of a partition
 * that were audited, dead-lettered or acknowledged. Memory grows with the
 * number of gaps, not of offsets, so a trail of any length is checked in
 * constant memory when it has no holes. Appending in order is O(1); any other
 * insertion is a binary search. Pure.
 */
export class RangeSet {
  /** starts[i]..ends[i], inclusive, sorted and never touching each other. */
  #starts: number[] = [];
  #ends: number[] = [];
  #size = 0;

  /** How many integers the set holds. */
  get size(): number {
    return this.#size;
  }

  get first(): number | undefined {
    return this.#starts[0];
  }

  get last(): number | undefined {
    return this.#ends.at(-1);
  }

  /** The index of the last range starting at or before n, or -1. */
  #find(n: number): number {
    let lo = 0;
    let hi = this.#starts.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (this.#starts[mid]! <= n) lo = mid + 1;
      else hi = mid - 1;
    }
    return hi;
  }

  has(n: number): boolean {
    const i = this.#find(n);
    return i >= 0 && n <= this.#ends[i]!;
  }

  /** Adds n; false when it was already there. */
  add(n: number): boolean {
    const last = this.#ends.length - 1;
    if (last >= 0 && n === this.#ends[last]! + 1) {
      this.#ends[last] = n; // the common case: the next offset
      this.#size++;
      return true;
    }
    const i = this.#find(n);
    if (i >= 0 && n <= this.#ends[i]!) return false;
    const joinsLeft = i >= 0 && this.#ends[i]! + 1 === n;
    const joinsRight = i + 1 < this.#starts.length && this.#starts[i + 1]! - 1 === n;
    if (joinsLeft && joinsRight) {
      this.#ends[i] = this.#ends[i + 1]!;
      this.#starts.splice(i + 1, 1);
      this.#ends.splice(i + 1, 1);
    } else if (joinsLeft) {
      this.#ends[i] = n;
    } else if (joinsRight) {
      this.#starts[i + 1] = n;
    } else {
      this.#starts.splice(i + 1, 0, n);
      this.#ends.splice(i + 1, 0, n);
    }
    this.#size++;
    return true;
  }

  /** The ranges, in order, as [start, end] (inclusive). */
  ranges(): Array<[number, number]> {
    return this.#starts.map((start, i) => [start, this.#ends[i]!]);
  }

  /** The missing ranges between `from` and the last member (inclusive), at most `limit`. */
  gaps(from: number, { limit = Infinity }: { limit?: number } = {}): Array<[number, number]> {
    const gaps: Array<[number, number]> = [];
    let expected = from;
    for (let i = 0; i < this.#starts.length && gaps.length < limit; i++) {
      if (this.#starts[i]! > expected) gaps.push([expected, this.#starts[i]! - 1]);
      expected = Math.max(expected, this.#ends[i]! + 1);
    }
    return gaps;
  }

  /** How many members of this set `other` lacks, and the first few of them. */
  minus(
    other: RangeSet,
    { limit = Infinity }: { limit?: number } = {},
  ): { count: number; first: number[] } {
    let count = 0;
    const first: number[] = [];
    for (const [start, end] of this.ranges()) {
      for (let n = start; n <= end;) {
        const j = other.#find(n);
        if (j >= 0 && n <= other.#ends[j]!) {
          // Skip to the end of the other set's range that holds n.
          n = other.#ends[j]! + 1;
          continue;
        }
        // Up to the next member of `other`, or the end of this range.
        const next = j + 1 < other.#starts.length ? other.#starts[j + 1]! : Infinity;
        const stop = Math.min(end, next - 1);
        count += stop - n + 1;
        for (let k = n; k <= stop && first.length < limit; k++) first.push(k);
        n = stop + 1;
      }
    }
    return { count, first };
  }
}

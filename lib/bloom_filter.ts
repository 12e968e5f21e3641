/**
 * A Bloom filter over strings: "maybe seen" or "surely not", in about 10 bits
 * per key at a 1% false-positive rate. The delivery checker uses it to find the
 * few order events that may be duplicated without holding every event of a
 * large trail in memory. Pure.
 */
export class BloomFilter {
  readonly #bits: Uint8Array;
  readonly #bitCount: number;
  readonly #hashes: number;

  /**
   * @param expected how many keys will be added
   * @param falsePositiveRate the wanted rate of "maybe" for keys never added
   */
  constructor(expected: number, falsePositiveRate = 0.01) {
    const n = Math.max(1, expected);
    this.#bitCount = Math.max(64, Math.ceil(-n * Math.log(falsePositiveRate) / Math.LN2 ** 2));
    this.#hashes = Math.max(1, Math.round((this.#bitCount / n) * Math.LN2));
    this.#bits = new Uint8Array(Math.ceil(this.#bitCount / 8));
  }

  /** Two independent 32-bit hashes (FNV-1a with two seeds); the rest are their combinations. */
  #positions(key: string): number[] {
    let a = 0x811c9dc5;
    let b = 0x01000193 ^ 0x5bd1e995;
    for (let i = 0; i < key.length; i++) {
      const c = key.charCodeAt(i);
      a = Math.imul(a ^ c, 0x01000193) >>> 0;
      b = Math.imul(b ^ c, 0x5bd1e995) >>> 0;
    }
    const positions: number[] = [];
    for (let i = 0; i < this.#hashes; i++) {
      positions.push(((a + Math.imul(i, b)) >>> 0) % this.#bitCount);
    }
    return positions;
  }

  /** Adds a key; returns whether it may have been added before. */
  add(key: string): boolean {
    let seen = true;
    for (const p of this.#positions(key)) {
      const mask = 1 << (p & 7);
      if ((this.#bits[p >> 3]! & mask) === 0) {
        seen = false;
        this.#bits[p >> 3]! |= mask;
      }
    }
    return seen;
  }

  /** Whether a key may have been added (false: surely not). */
  mayHave(key: string): boolean {
    return this.#positions(key).every((p) => (this.#bits[p >> 3]! & (1 << (p & 7))) !== 0);
  }
}

/**
 * The tracker's offset commits, taken off the fetch path: a batch hands its
 * offset over once its lines are synced, and the next fetch does not wait
 * for the commit. One commit at a time, at most one every `intervalMs`;
 * offsets handed over meanwhile go together into the next, the newest per
 * partition.
 *
 * Offsets belong to a group generation: a rebalance or a join (a restarted
 * consumer, maybe another cluster after a wiped broker) starts a new one and
 * forgets what was not yet committed, and an offset handed over for an older
 * generation is dropped. After a join the consumer fetches from the committed
 * offsets again; the trail recognises what it already holds, and the commits
 * of those redeliveries move the offsets on. Each commit is one attempt, sent
 * at once after the generation was read: a commit retried inside the client
 * could land in the next generation. A failed commit keeps its offsets, and
 * they are tried again after `retryMs` (or with the next offsets, or at the
 * final flush) within the same generation.
 */

/** A partition's next offset to consume, to commit. */
export interface CommitOffset {
  topic: string;
  partition: number;
  offset: number;
}

function keyOf({ topic, partition }: CommitOffset): string {
  return `${topic}\0${partition}`;
}

export class OffsetCommitter {
  #generation = 0;
  /** Offsets handed over and not yet in a commit, per partition. */
  #pending = new Map<string, CommitOffset>();
  /** The commit being sent; never rejects. */
  #running: Promise<void> | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #lastStarted = -Infinity;
  #closed = false;
  readonly #commit: (offsets: CommitOffset[]) => Promise<void>;
  readonly #onError: (error: unknown) => void;
  readonly #intervalMs: number;
  readonly #retryMs: number;

  /**
   * @param commit sends one commit of these offsets (one per partition), one
   *   attempt; called synchronously after the generation they belong to was
   *   checked
   * @param options.onError told of a commit that failed (its offsets are kept)
   * @param options.intervalMs a commit starts at least this long after the
   *   one before; a flush does not wait
   * @param options.retryMs after a failed commit, the next starts this late
   */
  constructor(
    commit: (offsets: CommitOffset[]) => Promise<void>,
    { onError, intervalMs = 0, retryMs = 1_000 }: {
      onError: (error: unknown) => void;
      intervalMs?: number;
      retryMs?: number;
    },
  ) {
    this.#commit = commit;
    this.#onError = onError;
    this.#intervalMs = intervalMs;
    this.#retryMs = retryMs;
  }

  /** The generation offsets handed over now belong to. */
  get generation(): number {
    return this.#generation;
  }

  /** A rebalance or join: what is pending is forgotten, and later offsets of older generations are dropped. */
  newGeneration(): void {
    this.#generation++;
    this.#pending.clear();
  }

  /**
   * Hands over an offset whose lines (and all before it in its partition) are
   * synced, of the generation `generation` (read when its batch was taken).
   */
  submit(offset: CommitOffset, generation: number): void {
    if (generation !== this.#generation || this.#closed) return;
    this.#keep(offset);
    this.#schedule(0);
  }

  /** Offsets handed over and not yet committed. */
  get pending(): CommitOffset[] {
    return [...this.#pending.values()];
  }

  /** Whether a commit is being sent. */
  get running(): boolean {
    return this.#running !== undefined;
  }

  /**
   * Commits what is pending now, after the running commit and without
   * waiting for the interval; rejects with the commit's error (its offsets
   * are kept).
   */
  async flush(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    while (this.#running !== undefined) await this.#running;
    if (this.#pending.size === 0) return;
    const once = this.#commitOnce();
    this.#running = once.then(() => this.#settled(0), () => this.#settled(this.#retryMs));
    await once;
  }

  /** No more commits: a scheduled one is cancelled and later offsets are dropped. */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #keep(offset: CommitOffset): void {
    const key = keyOf(offset);
    const held = this.#pending.get(key);
    if (held === undefined || held.offset < offset.offset) this.#pending.set(key, offset);
  }

  /** The next commit, after the running one and `intervalMs` after the last start (at least `delayMs` from now). */
  #schedule(delayMs: number): void {
    if (
      this.#closed || this.#timer !== undefined || this.#running !== undefined ||
      this.#pending.size === 0
    ) {
      return;
    }
    const wait = Math.max(delayMs, this.#lastStarted + this.#intervalMs - performance.now());
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (this.#closed || this.#running !== undefined || this.#pending.size === 0) return;
      this.#running = this.#commitOnce().then(
        () => this.#settled(0),
        (error) => {
          try {
            this.#onError(error);
          } catch {
            // Only a report: the offsets are kept either way.
          }
          this.#settled(this.#retryMs);
        },
      );
    }, Math.max(0, wait));
  }

  /** A commit ended: the next one is scheduled at once (offsets came meanwhile, or were kept). */
  #settled(delayMs: number): void {
    this.#running = undefined;
    this.#schedule(delayMs);
  }

  /** One commit of everything pending; on failure the offsets are kept if still of this generation. */
  async #commitOnce(): Promise<void> {
    const generation = this.#generation;
    const offsets = [...this.#pending.values()];
    this.#pending.clear();
    this.#lastStarted = performance.now();
    try {
      await this.#commit(offsets);
    } catch (error) {
      if (generation === this.#generation) { for (const o of offsets) this.#keep(o); }
      throw error;
    }
  }
}

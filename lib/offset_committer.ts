/**
 * The tracker's offset commits, taken off the fetch path: a batch hands its
 * offset over once its lines are synced, and the next fetch does not wait
 * for the commit. One commit at a time; offsets handed over during one go
 * together into the next, the newest per partition.
 *
 * Offsets belong to a group generation: a join (a rebalance, a restarted
 * consumer, maybe another cluster after a wiped broker) starts a new one and
 * forgets what was not yet committed, and an offset handed over for an older
 * generation is dropped. After a join the consumer fetches from the committed
 * offsets again; the trail recognises what it already holds, and the commits
 * of those redeliveries move the offsets on. A commit that fails keeps its
 * offsets for the next one (or the last one, at shutdown) within the same
 * generation.
 */
import { setImmediate } from "node:timers";

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
  #running: Promise<void> | undefined;
  #scheduled = false;
  readonly #commit: (offsets: CommitOffset[]) => Promise<void>;
  readonly #onError: (error: unknown) => void;
  readonly #intervalMs: number;
  #lastStarted = -Infinity;

  /**
   * @param commit sends one commit of these offsets (one per partition)
   * @param options.onError told of a commit that failed (its offsets are kept)
   * @param options.intervalMs a commit starts at least this long after the
   *   one before (offsets handed over meanwhile wait and go together); a
   *   flush does not wait
   */
  constructor(
    commit: (offsets: CommitOffset[]) => Promise<void>,
    { onError, intervalMs = 0 }: { onError: (error: unknown) => void; intervalMs?: number },
  ) {
    this.#commit = commit;
    this.#onError = onError;
    this.#intervalMs = intervalMs;
  }

  /** The generation offsets handed over now belong to. */
  get generation(): number {
    return this.#generation;
  }

  /** A join: what is pending is forgotten, and later offsets of older generations are dropped. */
  newGeneration(): void {
    this.#generation++;
    this.#pending.clear();
  }

  /**
   * Hands over an offset whose lines are synced, of the generation `generation`
   * (read when its batch was taken); committed in the next turn of the event
   * loop with the others handed over by then, or after the running commit.
   */
  submit(offset: CommitOffset, generation: number): void {
    if (generation !== this.#generation) return;
    this.#keep(offset);
    if (this.#running === undefined && !this.#scheduled) {
      this.#scheduled = true;
      setImmediate(() => {
        this.#scheduled = false;
        if (this.#running === undefined) this.#run();
      });
    }
  }

  /** Offsets handed over and not yet committed. */
  get pending(): CommitOffset[] {
    return [...this.#pending.values()];
  }

  /**
   * Commits what is pending now (after the running commit); resolves once
   * nothing is pending, rejects with the last commit's error otherwise.
   */
  async flush(): Promise<void> {
    await this.#running;
    if (this.#pending.size === 0) return;
    this.#lastStarted = performance.now();
    const offsets = this.#take();
    const generation = this.#generation;
    try {
      await this.#commit(offsets);
    } catch (error) {
      if (generation === this.#generation) { for (const o of offsets) this.#keep(o); }
      throw error;
    }
  }

  #keep(offset: CommitOffset): void {
    const key = keyOf(offset);
    const held = this.#pending.get(key);
    if (held === undefined || held.offset < offset.offset) this.#pending.set(key, offset);
  }

  #take(): CommitOffset[] {
    const offsets = [...this.#pending.values()];
    this.#pending.clear();
    return offsets;
  }

  #run(): void {
    this.#running = (async () => {
      // Offsets handed over during a commit go in the next one. A failed
      // commit keeps its offsets for the next hand-over or the final flush,
      // and is not tried again at once (a broker away would make it spin).
      while (this.#pending.size > 0) {
        const wait = this.#lastStarted + this.#intervalMs - performance.now();
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
        if (this.#pending.size === 0) return; // Taken by a flush meanwhile.
        this.#lastStarted = performance.now();
        const offsets = this.#take();
        const generation = this.#generation;
        try {
          await this.#commit(offsets);
        } catch (error) {
          if (generation === this.#generation) { for (const o of offsets) this.#keep(o); }
          this.#onError(error);
          return;
        }
      }
    })().finally(() => {
      this.#running = undefined;
    });
  }

  /** Resolves once no commit runs. */
  async idle(): Promise<void> {
    while (this.#running !== undefined || this.#scheduled) {
      await (this.#running ?? new Promise((resolve) => setImmediate(resolve)));
    }
  }
}

/**
 * Group commit: one flush at a time, and what is submitted while one runs
 * goes together into the next. The tracker's concurrent batches share one
 * append + fdatasync this way, and one offset commit.
 */
import { setImmediate } from "node:timers";

interface Waiting<T> {
  item: T;
  done: PromiseWithResolvers<void>;
}

export class Coalescer<T> {
  #queue: Waiting<T>[] = [];
  #flushing = false;
  #failure: Error | undefined;
  readonly #flush: (items: T[]) => Promise<void>;
  readonly #sticky: boolean;
  readonly #gather: () => boolean;
  #gathering = false;

  /**
   * @param flush writes items in the order submitted; its failure rejects
   *   them all
   * @param options.sticky after a failed flush every later submit fails with
   *   its error and nothing more is flushed (writes to a file whose tail may
   *   now be torn); otherwise the next flush tries again
   * @param options.gather asked when an item arrives with no flush running:
   *   true when more items are on their way in this turn of the event loop
   *   (the flush then starts at the next turn, once, with all of them)
   */
  constructor(
    flush: (items: T[]) => Promise<void>,
    { sticky, gather = () => false }: { sticky: boolean; gather?: () => boolean },
  ) {
    this.#flush = flush;
    this.#sticky = sticky;
    this.#gather = gather;
  }

  /** Resolves once a flush holding `item` has finished. */
  submit(item: T): Promise<void> {
    if (this.#failure) return Promise.reject(this.#failure);
    const done = Promise.withResolvers<void>();
    this.#queue.push({ item, done });
    if (!this.#flushing && !this.#gathering) {
      if (this.#gather()) {
        this.#gathering = true;
        setImmediate(() => {
          this.#gathering = false;
          if (!this.#flushing) void this.#drain();
        });
      } else {
        void this.#drain();
      }
    }
    return done.promise;
  }

  /** Items submitted and not yet flushed, or being flushed. */
  get busy(): boolean {
    return this.#flushing || this.#gathering || this.#queue.length > 0;
  }

  async #drain(): Promise<void> {
    this.#flushing = true;
    try {
      while (this.#queue.length > 0) {
        const group = this.#queue;
        this.#queue = [];
        if (this.#failure) {
          for (const { done } of group) done.reject(this.#failure);
          continue;
        }
        try {
          await this.#flush(group.map((w) => w.item));
          for (const { done } of group) done.resolve();
        } catch (error) {
          if (this.#sticky) this.#failure = error as Error;
          for (const { done } of group) done.reject(error);
        }
      }
    } finally {
      this.#flushing = false;
    }
  }
}

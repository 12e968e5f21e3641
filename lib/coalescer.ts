/**
 * Group commit: one flush at a time, and what is submitted while one runs
 * goes together into the next. The tracker's concurrent batches share one
 * append + fdatasync this way, and one offset commit.
 */

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

  /**
   * @param flush writes items in the order submitted; its failure rejects
   *   them all
   * @param options.sticky after a failed flush every later submit fails with
   *   its error and nothing more is flushed (writes to a file whose tail may
   *   now be torn); otherwise the next flush tries again
   */
  constructor(flush: (items: T[]) => Promise<void>, { sticky }: { sticky: boolean }) {
    this.#flush = flush;
    this.#sticky = sticky;
  }

  /** Resolves once a flush holding `item` has finished. */
  submit(item: T): Promise<void> {
    if (this.#failure) return Promise.reject(this.#failure);
    const done = Promise.withResolvers<void>();
    this.#queue.push({ item, done });
    if (!this.#flushing) void this.#drain();
    return done.promise;
  }

  /** Items submitted and not yet flushed, or being flushed. */
  get busy(): boolean {
    return this.#flushing || this.#queue.length > 0;
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

/**
 * Where the producer takes its orders from: a generator on a worker thread
 * (order_worker.ts), asked for one batch at a time, or on this thread. At full
 * speed the next batch is asked for as soon as one arrives, so it is generated
 * while the current one is sent; at a set rate each batch is made when due, so
 * an order's `produced_at` is not older than its send.
 */
import { type OrderBatch, takeOrders } from "./order_batch.ts";
import { createOrderGenerator, type OrderGenerator } from "./order_generator.ts";

export type WorkerRequest =
  | { kind: "start"; seed: number | undefined }
  | { kind: "take"; count: number; maxBytes: number };
export type WorkerReply = { kind: "batch"; batch: OrderBatch } | { kind: "error"; message: string };

/** Batches of generated orders, from a worker thread. `close()` ends the worker. */
export class OrderSource {
  /** The generator, when it runs on this thread. */
  readonly #local: OrderGenerator | undefined;
  readonly #worker: Worker | undefined;
  readonly #replies: Array<PromiseWithResolvers<OrderBatch>> = [];
  /** A batch asked for ahead, with its size. */
  #ahead: { count: number; maxBytes: number; batch: Promise<OrderBatch> } | undefined;
  #closed = false;

  /**
   * @param options.onWorker generate on a worker thread (default true); on
   *   this thread otherwise, where a batch of a few orders costs less to make
   *   than to ask a thread for
   * @param options.clock on this thread, the time each order is stamped with
   */
  constructor(
    { seed, onWorker = true, clock }: {
      seed: number | undefined;
      onWorker?: boolean;
      /** The time each order is stamped with, on this thread (default: now). */
      clock?: () => number;
    },
  ) {
    if (!onWorker) {
      this.#local = createOrderGenerator({ seed, ...(clock ? { now: clock } : {}) });
      return;
    }
    this.#worker = new Worker(new URL("./order_worker.ts", import.meta.url).href, {
      type: "module",
    });
    this.#worker.onmessage = (event: MessageEvent<WorkerReply>) => {
      const waiting = this.#replies.shift();
      const reply = event.data;
      if (reply.kind === "batch") waiting?.resolve(reply.batch);
      else waiting?.reject(new Error(`Cannot generate orders: ${reply.message}`));
    };
    this.#worker.onerror = (event) => {
      event.preventDefault();
      const error = new Error(
        `Cannot generate orders: the generator thread failed: ${event.message}`,
      );
      for (const waiting of this.#replies.splice(0)) waiting.reject(error);
    };
    this.#post({ kind: "start", seed });
  }

  #post(request: WorkerRequest): void {
    this.#worker!.postMessage(request);
  }

  #ask(count: number, maxBytes: number): Promise<OrderBatch> {
    if (this.#local !== undefined && !this.#closed) {
      return Promise.resolve(takeOrders(this.#local, { count, maxBytes }));
    }
    if (this.#closed) {
      return Promise.reject(new Error("Cannot generate orders: the source is closed"));
    }
    const reply = Promise.withResolvers<OrderBatch>();
    this.#replies.push(reply);
    this.#post({ kind: "take", count, maxBytes });
    return reply.promise;
  }

  /**
   * The next `count` orders at most, their values `maxBytes` at most (at least
   * one order). `prefetch` asks for the next batch, of that many orders, at
   * once; the next call must then ask for at least as many with the same
   * `maxBytes`, and gets that batch.
   *
   * @throws {RangeError} when a batch asked for ahead does not fit this call
   */
  async take(
    { count, maxBytes, prefetch = 0 }: { count: number; maxBytes: number; prefetch?: number },
  ): Promise<OrderBatch> {
    const ahead = this.#ahead;
    this.#ahead = undefined;
    if (ahead !== undefined && (ahead.count > count || ahead.maxBytes !== maxBytes)) {
      throw new RangeError(
        `Cannot take ${count} orders: ${ahead.count} were already asked for ahead`,
      );
    }
    const batch = await (ahead?.batch ?? this.#ask(count, maxBytes));
    if (prefetch > 0) {
      const next = this.#ask(prefetch, maxBytes);
      next.catch(() => {}); // Reported by the take that uses it.
      this.#ahead = { count: prefetch, maxBytes, batch: next };
    }
    return batch;
  }

  /** Ends the worker; a batch asked for ahead is dropped (it was never sent). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#worker?.terminate();
    const error = new Error("Cannot generate orders: the source is closed");
    for (const waiting of this.#replies.splice(0)) waiting.reject(error);
  }
}

/**
 * Parses and validates the tracker's messages on threads of their own
 * (order_parse_worker.ts), so that a chunk's later parts are parsed while the
 * main thread plans its earlier ones. A few messages are parsed here at once.
 */
import { type OrderSummary, parseOrder, type ParseResult } from "./order.ts";
import { fromWire, type PackedValues, packValues, type ParsedBatchWire } from "./parsed_order.ts";

/** What the main thread asks the parsing thread. */
export interface ParseRequest {
  id: number;
  values: PackedValues;
  maxBytes: number;
}

/** What the parsing thread answers. */
export type ParseReply =
  | { id: number; kind: "parsed"; results: ParsedBatchWire }
  | { id: number; kind: "error"; message: string };

/**
 * Parsing threads. One: on two cores shared with the broker, a second made
 * the tracker no faster (it took CPU from the main thread).
 */
export const PARSE_THREADS = 1;

/**
 * Fewer messages than this are parsed on the calling thread: at a moderate
 * rate batches are small, and the hop to the thread and back would add to
 * every order's latency more than it saves.
 */
export const PARSE_HERE_BELOW = 128;

/** The tracker's parser: its threads take requests in turn; each is answered on its own. */
export class OrderParser {
  readonly #maxBytes: number;
  readonly #workers: Worker[] = [];
  readonly #waiting = new Map<number, PromiseWithResolvers<ParsedBatchWire>>();
  #nextId = 0;
  #failure: Error | undefined;
  #closed = false;

  /**
   * @param options.maxBytes larger messages are rejected unread
   * @param options.threads parsing threads (default PARSE_THREADS); 0 parses here
   */
  constructor({ maxBytes, threads = PARSE_THREADS }: { maxBytes: number; threads?: number }) {
    this.#maxBytes = maxBytes;
    for (let i = 0; i < threads; i++) this.#workers.push(this.#startWorker());
  }

  #startWorker(): Worker {
    const worker = new Worker(new URL("./order_parse_worker.ts", import.meta.url).href, {
      type: "module",
    });
    worker.onmessage = (event: MessageEvent<ParseReply>) => {
      const reply = event.data;
      const waiting = this.#waiting.get(reply.id);
      this.#waiting.delete(reply.id);
      if (reply.kind === "parsed") waiting?.resolve(reply.results);
      else waiting?.reject(new Error(`Cannot parse orders: ${reply.message}`));
    };
    worker.onerror = (event) => {
      event.preventDefault();
      this.#fail(new Error(`Cannot parse orders: a parsing thread failed: ${event.message}`));
    };
    return worker;
  }

  #fail(error: Error): void {
    this.#failure ??= error;
    for (const waiting of this.#waiting.values()) waiting.reject(error);
    this.#waiting.clear();
  }

  /** Parses and validates message values; one result per value, in order. */
  async parse(values: readonly (Uint8Array | null)[]): Promise<ParseResult<OrderSummary>[]> {
    if (this.#closed) throw new Error("Cannot parse orders: the parser is closed");
    if (this.#failure) throw this.#failure;
    if (this.#workers.length === 0 || values.length < PARSE_HERE_BELOW) {
      return values.map((value) => parseOrder(value, { maxBytes: this.#maxBytes }));
    }
    const id = this.#nextId++;
    const reply = Promise.withResolvers<ParsedBatchWire>();
    this.#waiting.set(id, reply);
    const packed = packValues(values);
    const request: ParseRequest = { id, values: packed, maxBytes: this.#maxBytes };
    this.#workers[id % this.#workers.length]!.postMessage(request, [
      packed.bytes.buffer as ArrayBuffer,
      packed.ends.buffer as ArrayBuffer,
    ]);
    return fromWire(await reply.promise, values);
  }

  /** Ends the threads; parses still waiting are refused. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const worker of this.#workers) worker.terminate();
    this.#fail(new Error("Cannot parse orders: the parser is closed"));
  }
}

/**
 * The order generator on a thread of its own: faker and JSON encoding take
 * about 40% of the producer's CPU, and on this thread they overlap the Kafka
 * client's work on the main one. Answers each `take` request with a batch
 * (order_batch.ts), its bytes transferred, not copied. Started by
 * order_source.ts; the seed makes the sequence reproducible as before.
 */
/// <reference lib="deno.worker" />
import { createOrderGenerator } from "./order_generator.ts";
import { takeOrders } from "./order_batch.ts";
import type { WorkerReply, WorkerRequest } from "./order_source.ts";

let generator: ReturnType<typeof createOrderGenerator> | undefined;

self.onmessage = (event: MessageEvent<WorkerRequest>) => {
  const request = event.data;
  try {
    if (request.kind === "start") {
      generator = createOrderGenerator({ seed: request.seed });
      return;
    }
    generator ??= createOrderGenerator();
    const batch = takeOrders(generator, request);
    const reply: WorkerReply = { kind: "batch", batch };
    self.postMessage(reply, [batch.bytes.buffer as ArrayBuffer, batch.ends.buffer as ArrayBuffer]);
  } catch (error) {
    const reply: WorkerReply = { kind: "error", message: (error as Error).message };
    self.postMessage(reply);
  }
};

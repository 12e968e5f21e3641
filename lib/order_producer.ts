/**
 * The producer's run loop: generate orders at the configured rate, send them in
 * batches with an idempotent producer (key = order id), and account for every
 * message: acknowledged (partition, offset), failed, or indeterminate (still
 * unanswered when the shutdown deadline passed). Stops on its signal after
 * flushing what is in flight.
 * Long (about 340 lines) because every message must end in exactly one
 * outcome: the send loop, its retries and the outcomes file belong together.
 */
import type { Config } from "./config.ts";
import { type AckRecord, encodeAckLines } from "./ack_record.ts";
import {
  asBuffer,
  clusterId,
  createIdempotentProducer,
  createKafka,
  isPermanentSendError,
  partitionCount,
  partitionFor,
  type Producer,
  sendToPartitions,
  withAdmin,
} from "./kafka.ts";
import { SegmentedLog } from "./segmented_log.ts";
import { dirname } from "node:path";
import { type OrderBatch, type OrderRef, orderValue, partitionRanges } from "./order_batch.ts";
import { OrderSource } from "./order_source.ts";
import { PRODUCER_CLIENT_ID } from "./constants.ts";
import { lifecycle } from "./health_record.ts";
import type { Logger } from "./logging.ts";
import { awaitKafka } from "./reachability.ts";

/** Messages per send at most: large batches are what make KafkaJS fast. */
export const MAX_BATCH = 1_000;
/**
 * A partition's share of one send at most. It becomes one record batch, which
 * the broker refuses above its message.max.bytes (1 MiB by default): this
 * leaves room for the records' keys, headers and framing.
 */
export const MAX_PARTITION_SEND_BYTES = 768 * 1024;
/** Order bytes per send at most, whatever the partition count. */
const MAX_SEND_TOTAL_BYTES = 1536 * 1024;

/**
 * Order bytes to ask for per send: about two thirds of every partition's cap,
 * so that an uneven spread of keys seldom splits a send (sendBatch splits it
 * when one partition's share would pass MAX_PARTITION_SEND_BYTES).
 */
export function sendBytesFor(partitions: number): number {
  if (partitions <= 1) return MAX_PARTITION_SEND_BYTES;
  return Math.min(
    MAX_SEND_TOTAL_BYTES,
    Math.floor((MAX_PARTITION_SEND_BYTES * partitions * 2) / 3),
  );
}
/**
 * At a set rate a send starts at least this long after the one before (the
 * orders due meanwhile go together). Each send is a produce request, a fetch
 * of the tracker and an acknowledgement to account; sending whatever was due
 * as soon as the send before settled made ~1,000 requests a second at 5,000
 * orders/s, and the three processes then used 190% of two cores. With it,
 * ~250 sends a second, 110%; an order waits ~1 ms more on average.
 */
export const SEND_EVERY_MS = 2;
/** Orders per second above which a set rate generates on a worker thread too. */
export const WORKER_FROM_RATE = 10_000;
/** How long a shutdown waits for the send in flight before calling it indeterminate. */
export const FLUSH_TIMEOUT_MS = 10_000;
const PROGRESS_EVERY_MS = 10_000;

export interface ProducerSummary {
  acknowledged: number;
  failed: number;
  indeterminate: number;
  /** Generated but never handed to a send (only if the loop failed mid-batch). */
  unsent: number;
  /** Bytes of the acknowledged message values. */
  bytes: number;
  elapsedMs: number;
}

/** Outcome lines are written once this many characters or milliseconds have gathered. */
const ACKS_FLUSH_CHARS = 256 * 1024;
const ACKS_FLUSH_MS = 100;

/** Writes outcome lines after each batch; a segmented file, rotated by size. */
interface AcksLog {
  write(records: readonly AckRecord[]): Promise<void>;
  close(): Promise<void>;
}

async function openAcksLog(
  path: string | undefined,
  { segmentBytes, retentionBytes }: { segmentBytes: number; retentionBytes: number },
): Promise<AcksLog> {
  if (path === undefined) return { write: async () => {}, close: async () => {} };
  await Deno.mkdir(dirname(path), { recursive: true });
  const { log } = await SegmentedLog.open(path);
  const encoder = new TextEncoder();
  // Lines are gathered and written together, at most ACKS_FLUSH_MS apart: at
  // a set rate a write per small batch was a tenth of the producer's CPU.
  let pending = "";
  let flushedAt = performance.now();
  const flush = async () => {
    if (pending === "") return;
    const bytes = encoder.encode(pending);
    pending = "";
    flushedAt = performance.now();
    await log.append(bytes, { sync: false });
    if (log.bytes >= segmentBytes) {
      await log.rotate();
      if (retentionBytes > 0) await log.enforceRetention(retentionBytes);
    }
  };
  return {
    async write(records) {
      if (records.length === 0) return;
      // Not synced per batch: an outcome lost in a crash shows as unexpected
      // in verify, never as a loss; the file is synced when it closes.
      pending += encodeAckLines(records);
      if (pending.length >= ACKS_FLUSH_CHARS || performance.now() - flushedAt >= ACKS_FLUSH_MS) {
        await flush();
      }
    },
    async close() {
      try {
        await flush();
      } finally {
        log.close();
      }
    },
  };
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}

/**
 * Runs the producer until the count or duration is reached or `signal` aborts.
 * Never throws for a broker outage: sends are retried with backoff by the
 * client, and what is unanswered at shutdown is reported as indeterminate.
 */
export async function runProducer(
  config: Config,
  { signal, log, onReady, onSettled }: {
    signal: AbortSignal;
    log: Logger;
    onReady?: () => void;
    /** Told after each batch's outcomes are recorded (benchmarks show progress with it). */
    onSettled?: (summary: Readonly<ProducerSummary>) => void;
  },
): Promise<ProducerSummary> {
  const { ratePerSec, count, durationMs, seed, acksLog: acksPath } = config.producer;
  const summary: ProducerSummary = {
    acknowledged: 0,
    failed: 0,
    indeterminate: 0,
    unsent: 0,
    bytes: 0,
    elapsedMs: 0,
  };
  if (signal.aborted) return summary; // Stopped during start-up: nothing generated.
  // A bounded run gives up on an unreachable cluster within seconds; an endless one waits.
  try {
    await awaitKafka(config, { oneShot: count > 0 || durationMs > 0, signal, log });
  } catch (error) {
    if (signal.aborted) return summary;
    throw error;
  }
  const kafka = createKafka(config, { clientId: PRODUCER_CLIENT_ID });
  const { partitions, cluster } = await withAdmin(kafka, async (admin) => ({
    partitions: await partitionCount(admin, config.topic),
    cluster: await clusterId(admin),
  }));
  const producer: Producer = createIdempotentProducer(kafka);
  await producer.connect();
  const acksLog = await openAcksLog(acksPath, config);
  // At full speed and high rates generation runs on a worker thread, beside
  // the Kafka client on this one; at moderate rates a few orders at a time
  // cost less to make here than to ask a thread for.
  const onWorker = ratePerSec === 0 || ratePerSec > WORKER_FROM_RATE;
  // At a set rate order k (from 0) is due at start + (k + 1) / rate, as the
  // loop below counts, and is stamped so: produced_at is when it was due, and
  // a wait here (a send in flight, a timer's grain) counts in its end-to-end
  // latency. (Stamped at start + k / rate, each order carried one period too
  // many: 200 ms at the default 5 orders/s.)
  let startedWall = Date.now();
  let stamped = 0;
  const source = new OrderSource({
    seed,
    onWorker,
    ...(onWorker ? {} : {
      clock: () => Math.min(Date.now(), startedWall + Math.floor((++stamped * 1000) / ratePerSec)),
    }),
  });
  const sendBytes = sendBytesFor(partitions);
  const started = performance.now();
  startedWall = Date.now(); // The schedule's start, with `started`.
  let generated = 0;
  let lastProgress = started;

  log.info(
    "Producer ready: topic {topic} ({partitions} partitions), rate {rate}",
    lifecycle("producer", "ready", {
      pid: Deno.pid,
      topic: config.topic,
      partitions,
      rate: ratePerSec === 0 ? "max" : `${ratePerSec}/s`,
      count: count || "unlimited",
      seed: seed ?? "random",
    }),
  );
  onReady?.();

  // One send in flight while the next batch is generated: the CPU work of
  // faker and JSON overlaps the broker's round trip, and sends stay in order.
  let inFlight: Promise<void> | undefined;
  let lastSend = -Infinity;
  const settle = async (batch: OrderBatch, send: Promise<AckRecord[]>) => {
    const records = await send;
    for (const record of records) summary[record.outcome]++;
    if (records.every((r) => r.outcome === "acknowledged")) summary.bytes += batch.bytes.byteLength;
    await acksLog.write(records);
    onSettled?.(summary);
    const failed = records.filter((r) => r.outcome === "failed");
    if (failed.length > 0) {
      log.error("Cannot deliver {failed} of {batch} orders: {error}", {
        failed: failed.length,
        batch: batch.refs.length,
        error: failed[0]!.error,
      });
    }
  };

  try {
    while (!signal.aborted) {
      // At a set rate, what is due is counted once the send before has
      // settled and SEND_EVERY_MS has passed since it started, and generated
      // just before its own send (stamped with when it was due).
      if (ratePerSec !== 0) {
        await inFlight;
        const since = performance.now() - lastSend;
        if (since < SEND_EVERY_MS) await sleep(SEND_EVERY_MS - since, signal);
      }
      const elapsed = performance.now() - started;
      if (durationMs > 0 && elapsed >= durationMs) break;
      if (count > 0 && generated >= count) break;
      let due = ratePerSec === 0
        ? MAX_BATCH
        : Math.floor((elapsed / 1000) * ratePerSec) - generated;
      if (count > 0) due = Math.min(due, count - generated);
      if (due <= 0) {
        // Until the next order is due (Deno's timers have a 1 ms grain).
        const nextDueMs = ((generated + 1) / ratePerSec) * 1000;
        await sleep(Math.max(1, nextDueMs - elapsed), signal);
        continue;
      }
      const size = Math.min(due, MAX_BATCH);
      // At full speed the next batch is generated while this one is sent (as
      // many as will be due); at a set rate each batch is made when due.
      const prefetch = ratePerSec !== 0
        ? 0
        : Math.min(MAX_BATCH, count > 0 ? count - generated - size : MAX_BATCH);
      const batch = await source.take({ count: size, maxBytes: sendBytes, prefetch });
      generated += batch.refs.length;
      await inFlight;
      if (signal.aborted) {
        // Stopped while the previous send finished: this batch was never
        // offered to Kafka, so it is dropped rather than sent after the stop.
        generated -= batch.refs.length;
        break;
      }
      lastSend = performance.now();
      inFlight = settle(
        batch,
        sendBatch(producer, batch, { config, partitions, cluster, signal, log }),
      );

      const now = performance.now();
      if (now - lastProgress >= PROGRESS_EVERY_MS) {
        lastProgress = now;
        log.info("Progress: {acknowledged} acknowledged, {failed} failed ({rate} msg/s)", {
          ...summary,
          rate: Math.round(summary.acknowledged / ((now - started) / 1000)),
        });
      }
    }
    await inFlight;
  } finally {
    summary.unsent = generated - summary.acknowledged - summary.failed - summary.indeterminate;
    summary.elapsedMs = Math.round(performance.now() - started);
    source.close();
    await acksLog.close();
    await producer.disconnect().catch((error) =>
      log.warn("Cannot disconnect cleanly: {error}", { error: String(error) })
    );
  }
  return summary;
}

/** Backoff between attempts of a batch while Kafka is unreachable. */
const RETRY_INITIAL_MS = 500;
const RETRY_MAX_MS = 10_000;

/**
 * Sends one batch and returns one record per message. A transient failure
 * (broker unreachable, leader moving) is retried with backoff for as long as
 * it lasts, and reported; a permanent one (e.g. a message too large) fails the
 * batch. Once `signal` aborts, the batch gets FLUSH_TIMEOUT_MS more; then what
 * is still unanswered is indeterminate (it may or may not have been written).
 */
async function sendBatch(
  producer: Producer,
  batch: OrderBatch,
  options: SendOptions & { partitions: number },
): Promise<AckRecord[]> {
  const placed = batch.refs.map((order, i) => {
    const value = orderValue(batch, i);
    return { order, value, partition: partitionFor(order.order_id, options.partitions) };
  });
  const records: AckRecord[] = [];
  const ranges = partitionRanges(
    placed.map(({ value, partition }) => ({ partition, bytes: value.byteLength })),
    MAX_PARTITION_SEND_BYTES,
  );
  for (const [start, end] of ranges) {
    const part = await sendPlaced(producer, placed.slice(start, end), options);
    records.push(...part);
    // Past the shutdown deadline: the rest was never offered to Kafka (unsent).
    if (part.some((r) => r.outcome === "indeterminate")) break;
  }
  return records;
}

interface SendOptions {
  config: Config;
  /** The id of the cluster the outcomes are recorded for. */
  cluster: string;
  signal: AbortSignal;
  log: Logger;
}

/** An order of a batch with its wire bytes and partition. */
interface Placed {
  order: OrderRef;
  value: Uint8Array;
  partition: number;
}

/** Sends orders whose partitions' shares each fit one record batch; see `sendBatch`. */
async function sendPlaced(
  producer: Producer,
  placed: readonly Placed[],
  { config, cluster, signal, log }: SendOptions,
): Promise<AckRecord[]> {
  const base = (order: OrderRef, partition: number) => ({
    order_id: order.order_id,
    sequence: order.sequence,
    status: order.status,
    topic: config.topic,
    partition,
    cluster_id: cluster,
  });
  const messages = placed.map(({ order, value, partition }) => ({
    key: order.order_id,
    value: asBuffer(value),
    partition,
    headers: { event_type: order.event_type },
  }));

  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = Promise.withResolvers<"timeout">();
  const armDeadline = () => {
    timer = setTimeout(() => deadline.resolve("timeout"), FLUSH_TIMEOUT_MS);
  };
  if (signal.aborted) armDeadline();
  else signal.addEventListener("abort", armDeadline, { once: true });
  const indeterminate = (why: string) =>
    placed.map(({ order, partition }) => ({
      ...base(order, partition),
      outcome: "indeterminate" as const,
      error: why,
    }));

  try {
    let backoff = RETRY_INITIAL_MS;
    const started = Date.now();
    for (let attempt = 1;; attempt++) {
      const send = sendToPartitions(producer, { topic: config.topic, acks: -1, messages });
      send.catch(() => {}); // Settled later if the deadline wins: nothing left to record.
      let result: Awaited<typeof send> | "timeout";
      try {
        result = await Promise.race([send, deadline.promise]);
      } catch (error) {
        if (isPermanentSendError(error)) {
          return placed.map(({ order, partition }) => ({
            ...base(order, partition),
            outcome: "failed" as const,
            error: (error as Error).message,
          }));
        }
        log.error(
          "Kafka unreachable for {seconds} s: retrying a batch of {count} (attempt {attempt}): {error}",
          {
            seconds: Math.round((Date.now() - started) / 1000),
            count: placed.length,
            attempt,
            error: (error as Error).message,
          },
        );
        const pause = new Promise<"retry">((resolve) =>
          setTimeout(() => resolve("retry"), backoff)
        );
        if (await Promise.race([pause, deadline.promise]) === "timeout") {
          return indeterminate(
            `unacknowledged ${FLUSH_TIMEOUT_MS} ms after shutdown: ${(error as Error).message}`,
          );
        }
        backoff = Math.min(backoff * 2, RETRY_MAX_MS);
        continue;
      }
      if (result === "timeout") {
        return indeterminate(`no answer within ${FLUSH_TIMEOUT_MS} ms of shutdown`);
      }
      if (attempt > 1) {
        log.info("Kafka reachable again: batch delivered after {attempt} attempts", { attempt });
      }
      const baseOffsets = new Map(result.map((m) => [m.partition, Number(m.baseOffset)]));
      const next = new Map<number, number>();
      return placed.map(({ order, partition }) => {
        const index = next.get(partition) ?? 0;
        next.set(partition, index + 1);
        return {
          ...base(order, partition),
          outcome: "acknowledged" as const,
          offset: baseOffsets.get(partition)! + index,
        };
      });
    }
  } finally {
    clearTimeout(timer);
    signal.removeEventListener("abort", armDeadline);
  }
}

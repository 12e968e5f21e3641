/**
 * The tracker's run loop: consume orders in a consumer group, validate each,
 * publish bad input to the dead-letter topic (acknowledged first), append the
 * audit lines and fdatasync, and only then commit the offsets. A metrics record
 * goes to the health log every few seconds.
 */
import { Buffer } from "node:buffer";
import type { Config } from "./config.ts";
import { DEFAULTS, DLQ_HEADERS, TRACKER_CLIENT_ID } from "./constants.ts";
import {
  type Consumer,
  createConsumer,
  createIdempotentProducer,
  createKafka,
  type EachBatchPayload,
  type KafkaMessage,
  type Producer,
  rejoinableGroupError,
} from "./kafka.ts";
import {
  auditedRecord,
  AuditFile,
  type AuditRecord,
  deadLetterRecord,
  duplicateRecord,
  forEachLine,
  type MessageCoordinates,
  parseAuditLine,
} from "./audit_log.ts";
import { parseOrder } from "./order.ts";
import { TrackerState } from "./tracker_state.ts";
import { SlidingWindow, summarizeLatency } from "./metrics.ts";
import type { Logger } from "./logging.ts";

/** Messages handled per audit write: bounds the time between heartbeats and commits. */
export const CHUNK_SIZE = 1_000;
export const METRICS_INTERVAL_MS = 5_000;
/** Window of the "now" figures (rates, latency percentiles). */
export const METRICS_WINDOW_MS = 60_000;
/**
 * No fetch and no heartbeat for this long, while KafkaJS is not retrying a
 * failure either, means the consumer is stalled: the tracker exits non-zero.
 */
export const STALL_TIMEOUT_MS = 60_000;
/** How often an outage (KafkaJS retrying, nothing fetched) is reported while it lasts. */
export const OUTAGE_REPORT_MS = 15_000;

export interface TrackerCounters {
  received: number;
  audited: number;
  invalid: number;
  duplicates: number;
  redelivered: number;
  dead_lettered: number;
}

/** Writing the dead letters or the audit lines failed: nothing of the chunk may be committed. */
class AuditWriteError extends Error {
  override name = "AuditWriteError";
}

/** The tracker failed in a way a restart may fix (stall, crash, disk, DLQ). */
export class TrackerFailure extends Error {
  override name = "TrackerFailure";
}

function coordinates(topic: string, partition: number, message: KafkaMessage): MessageCoordinates {
  return {
    topic,
    partition,
    offset: Number(message.offset),
    key: message.key === null ? null : message.key.toString("utf8"),
    size: message.value?.byteLength ?? 0,
  };
}

/**
 * Runs until `signal` aborts (resolves after a clean stop) or the consumer
 * fails (rejects with a TrackerFailure; nothing unsynced was committed).
 */
export async function runTracker(
  config: Config,
  { signal, log, onReady, onAudited }: {
    signal: AbortSignal;
    log: Logger;
    onReady?: () => void;
    /** Told after each synced and committed chunk (benchmarks use it). */
    onAudited?: (counters: Readonly<TrackerCounters>) => void;
  },
): Promise<TrackerCounters> {
  const { paths } = config;
  await Deno.mkdir(paths.dataDir, { recursive: true });
  const { audit, repairedBytes } = await AuditFile.open({
    path: paths.auditFile,
    lockPath: paths.trackerLock,
    quarantinePath: paths.quarantineFile,
  });
  if (repairedBytes > 0) {
    log.warn("Repaired the audit trail: moved a torn last line ({bytes} bytes) to {quarantine}", {
      bytes: repairedBytes,
      quarantine: paths.quarantineFile,
    });
  }
  const state = new TrackerState();
  const lines = await forEachLine(
    paths.auditFile,
    (line, n) => state.apply(parseAuditLine(line, n)),
  ).catch((error) => {
    audit.close();
    throw new Error(
      `Cannot start tracker: ${paths.auditFile} is corrupt (${
        (error as Error).message
      }); move it aside to start a new trail`,
      { cause: error },
    );
  });

  const counters: TrackerCounters = {
    received: 0,
    audited: 0,
    invalid: 0,
    duplicates: 0,
    redelivered: 0,
    dead_lettered: 0,
  };
  const started = Date.now();
  const throughput = new SlidingWindow({ windowMs: METRICS_WINDOW_MS });
  const latency = new SlidingWindow({ windowMs: METRICS_WINDOW_MS, maxSamples: 20_000 });
  const lag = new Map<number, number>();
  let lastActivity = Date.now();
  /** Last time KafkaJS reported a failure it is retrying (a crash it restarts from). */
  let lastRetry = 0;
  let lastOutageReport = 0;

  const kafka = createKafka({ brokers: config.brokers, clientId: TRACKER_CLIENT_ID });
  const dlq: Producer = createIdempotentProducer(kafka);
  const consumer: Consumer = createConsumer(kafka, { groupId: config.groupId });
  let failure: TrackerFailure | undefined;
  const failed = Promise.withResolvers<void>();
  const fail = (error: TrackerFailure) => {
    failure ??= error;
    failed.resolve();
  };

  const { FETCH_START, HEARTBEAT, CRASH, GROUP_JOIN } = consumer.events;
  consumer.on(FETCH_START, () => (lastActivity = Date.now()));
  consumer.on(HEARTBEAT, () => (lastActivity = Date.now()));
  consumer.on(GROUP_JOIN, (event) => {
    const partitions = event.payload.memberAssignment[config.topic] ?? [];
    state.keepPartitions(new Set(partitions));
    log.info("Joined group {group}: partitions {partitions}", {
      group: config.groupId,
      partitions,
    });
  });
  consumer.on(CRASH, (event) => {
    const { error, restart } = event.payload;
    if (restart) {
      lastRetry = Date.now();
      log.warn("Consumer crashed, KafkaJS restarts it: {error}", { error: error.message });
    } else {
      fail(new TrackerFailure(`Consumer crashed: ${error.message}`, { cause: error }));
    }
  });

  const emitMetrics = (final = false) => {
    const now = Date.now();
    log.info(final ? "Final metrics" : "Metrics", {
      kind: "metrics",
      ...counters,
      rate_per_sec: Number(throughput.ratePerSec(now, { sinceMs: started }).toFixed(2)),
      latency_ms: summarizeLatency(latency.values(now)),
      lag: Object.fromEntries(lag),
      lag_total: [...lag.values()].reduce((a, b) => a + b, 0),
      open_orders: state.openOrders,
      uptime_s: Math.round((now - started) / 1000),
    });
  };

  type DeadLetter = { message: KafkaMessage; record: AuditRecord };

  /** Publishes the original bytes with their source and error in headers; resolves when acknowledged. */
  async function sendDeadLetters(
    batch: EachBatchPayload["batch"],
    deadLetters: readonly DeadLetter[],
  ): Promise<void> {
    await dlq.send({
      topic: config.dlqTopic,
      acks: -1,
      messages: deadLetters.map(({ message, record }) => ({
        key: message.key,
        value: message.value,
        headers: {
          ...message.headers,
          [DLQ_HEADERS.sourceTopic]: batch.topic,
          [DLQ_HEADERS.sourcePartition]: String(batch.partition),
          [DLQ_HEADERS.sourceOffset]: message.offset,
          [DLQ_HEADERS.errorClass]: record.error_class ?? "unknown",
          [DLQ_HEADERS.errorMessage]: Buffer.from(record.error ?? ""),
          [DLQ_HEADERS.failedAt]: record.timestamp,
        },
      })),
    });
  }

  async function handleChunk(
    payload: EachBatchPayload,
    messages: readonly KafkaMessage[],
  ): Promise<void> {
    const { batch } = payload;
    const now = Date.now();
    const records: AuditRecord[] = [];
    const deadLetters: DeadLetter[] = [];
    for (const message of messages) {
      counters.received++;
      const where = coordinates(batch.topic, batch.partition, message);
      const parsed = parseOrder(message.value, { maxBytes: DEFAULTS.maxMessageBytes });
      const decision = state.decide(where, parsed);
      switch (decision.kind) {
        case "redelivered":
          counters.redelivered++;
          break;
        case "audit":
          records.push(auditedRecord(now, where, decision.order));
          break;
        case "duplicate":
          records.push(duplicateRecord(now, where, decision.order));
          break;
        case "reject": {
          const record = deadLetterRecord(now, where, decision.rejection);
          records.push(record);
          deadLetters.push({ message, record });
          break;
        }
      }
      // Within a chunk, later messages must see earlier ones (duplicates, lifecycle).
      const last = records.at(-1);
      if (last && last.kafka_offset === where.offset) state.apply(last);
    }
    try {
      if (deadLetters.length > 0) await sendDeadLetters(batch, deadLetters);
      await audit.append(records);
    } catch (error) {
      throw new AuditWriteError((error as Error).message, { cause: error });
    }
    // Counted only now: what is counted is on disk.
    for (const record of records) {
      if (record.outcome === "audited") {
        counters.audited++;
        if (record.latency_ms !== null) latency.addValue(now, record.latency_ms);
      } else if (record.outcome === "duplicate") counters.duplicates++;
      else {
        counters.invalid++;
        counters.dead_lettered++;
        log.warn("Dead-lettered offset {partition}/{offset}: {errorClass}: {error}", {
          partition: record.kafka_partition,
          offset: record.kafka_offset,
          errorClass: record.error_class,
          error: record.error,
        });
      }
    }
    throughput.addCount(now, messages.length);
    const lastOffset = messages.at(-1)!.offset;
    payload.resolveOffset(lastOffset);
    try {
      await consumer.commitOffsets([{
        topic: batch.topic,
        partition: batch.partition,
        offset: String(Number(lastOffset) + 1),
      }]);
    } catch (error) {
      // The lines are on disk; after the rejoin their offsets come back as
      // redeliveries, are recognised and committed then.
      throw rejoinableGroupError(error) ?? error;
    }
    lag.set(batch.partition, Math.max(0, Number(batch.highWatermark) - Number(lastOffset) - 1));
    onAudited?.(counters);
    await payload.heartbeat();
  }

  /** The chunk being audited and committed; shutdown lets it finish. */
  let chunkInHand: Promise<void> = Promise.resolve();
  if (signal.aborted) {
    // Stopped during start-up: nothing was consumed, nothing to commit.
    audit.close();
    return counters;
  }
  await Promise.all([dlq.connect(), consumer.connect()]);
  await consumer.subscribe({ topics: [config.topic], fromBeginning: true });
  await consumer.run({
    autoCommit: false,
    eachBatchAutoResolve: false,
    eachBatch: async (payload) => {
      lastActivity = Date.now();
      const messages = payload.batch.messages;
      for (let i = 0; i < messages.length; i += CHUNK_SIZE) {
        if (!payload.isRunning() || payload.isStale() || signal.aborted) break;
        try {
          chunkInHand = handleChunk(payload, messages.slice(i, i + CHUNK_SIZE));
          await chunkInHand;
        } catch (error) {
          // A group error (a rebalance, a moved coordinator) goes back to
          // KafkaJS, which rejoins; redelivered offsets are then recognised.
          if (!(error instanceof AuditWriteError)) throw error;
          // Disk or DLQ failure: nothing of this chunk is committed. Stop; a
          // restart resumes from the last commit and the trail dedups replays.
          log.error("Cannot finish a batch of {partition}: {error}", {
            partition: payload.batch.partition,
            error: (error as Error).message,
          });
          fail(
            new TrackerFailure(`Cannot audit a batch: ${(error as Error).message}`, {
              cause: error,
            }),
          );
          return;
        }
      }
    },
  });
  log.info("Tracker ready: group {group}, topic {topic}, {lines} audit lines on record", {
    group: config.groupId,
    topic: config.topic,
    lines,
    auditFile: paths.auditFile,
  });
  onReady?.();

  const metricsTimer = setInterval(() => {
    emitMetrics();
    const now = Date.now();
    const idleMs = now - lastActivity;
    if (idleMs <= METRICS_INTERVAL_MS * 2) return;
    if (now - lastRetry <= STALL_TIMEOUT_MS) {
      // An outage: KafkaJS keeps retrying. Say so while it lasts; resume after.
      if (now - lastOutageReport >= OUTAGE_REPORT_MS) {
        lastOutageReport = now;
        log.error("Kafka unreachable for {seconds} s: retrying, nothing is committed meanwhile", {
          seconds: Math.round(idleMs / 1000),
        });
      }
    } else if (idleMs > STALL_TIMEOUT_MS) {
      fail(
        new TrackerFailure(
          `Consumer stalled: no fetch, heartbeat or retry for ${STALL_TIMEOUT_MS / 1000} s`,
        ),
      );
    }
  }, METRICS_INTERVAL_MS);
  const aborted = new Promise<void>((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener("abort", () => resolve(), { once: true });
  });

  try {
    await Promise.race([aborted, failed.promise]);
  } finally {
    clearInterval(metricsTimer);
    // Shutdown order: finish the chunk in hand (sync, then commit; no new
    // chunk starts once the signal is aborted) → stop intake and leave the
    // group → close the DLQ producer → close the trail. KafkaJS's stop() may
    // leave the group before an eachBatch returns, so the chunk is awaited here.
    await chunkInHand.catch(() => {});
    await consumer.stop().catch(() => {});
    await consumer.disconnect().catch((e) =>
      log.warn("Cannot leave the group cleanly: {error}", { error: String(e) })
    );
    await dlq.disconnect().catch(() => {});
    audit.close();
    emitMetrics(true);
  }
  if (failure) throw failure;
  return counters;
}

/**
 * The tracker's shell: consume orders in a consumer group, plan each chunk
 * (chunk_plan.ts), publish its dead letters (acknowledged first), append the
 * audit lines and fdatasync, and only then commit the offsets. A metrics record
 * goes to the health log every few seconds, with the liveness verdict acted on.
 */
import type { Config } from "./config.ts";
import { MAX_ORDER_BYTES, TRACKER_CLIENT_ID } from "./constants.ts";
import {
  type Consumer,
  createConsumer,
  createIdempotentProducer,
  createKafka,
  type EachBatchPayload,
  type KafkaMessage,
  type Producer,
  publishDeadLetters,
  rejoinableGroupError,
} from "./kafka.ts";
import { AuditFile, forEachLine } from "./audit_trail.ts";
import { parseAuditLine } from "./audit_record.ts";
import { type Chunk, planChunk } from "./chunk_plan.ts";
import type { SourceMessage } from "./dead_letter.ts";
import { Liveness, STALL_TIMEOUT_MS, watchLiveness } from "./liveness.ts";
import { type TrackerCounters, TrackerMetrics } from "./tracker_metrics.ts";
import { TrackerState } from "./tracker_state.ts";
import { lifecycle } from "./health_record.ts";
import type { Logger } from "./logging.ts";

export type { TrackerCounters };

/** Messages handled per audit write: bounds the time between heartbeats and commits. */
export const CHUNK_SIZE = 1_000;
export const METRICS_INTERVAL_MS = 5_000;

/** Writing the dead letters or the audit lines failed: nothing of the chunk may be committed. */
class AuditWriteError extends Error {
  override name = "AuditWriteError";
}

/** The tracker failed in a way a restart may fix (stall, crash, disk, DLQ). */
export class TrackerFailure extends Error {
  override name = "TrackerFailure";
}

/** Opens the trail (lock, torn-tail repair) and rebuilds the state it records. */
async function openTrail(
  paths: Config["paths"],
  log: Logger,
): Promise<{ audit: AuditFile; state: TrackerState; lines: number }> {
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
  try {
    const lines = await forEachLine(paths.auditFile, (line, n) => {
      const parsed = parseAuditLine(line, n);
      if (!parsed.ok) throw new SyntaxError(parsed.error);
      state.apply(parsed.record);
    });
    return { audit, state, lines };
  } catch (error) {
    audit.close();
    throw new Error(
      `Cannot start tracker: ${paths.auditFile} is corrupt (${
        (error as Error).message
      }); move it aside to start a new trail`,
      { cause: error },
    );
  }
}

function sourceMessage(message: KafkaMessage): SourceMessage {
  return {
    offset: Number(message.offset),
    key: message.key,
    value: message.value,
    headers: message.headers,
  };
}

/** Everything a chunk needs besides the chunk itself. */
interface ChunkContext {
  config: Config;
  state: TrackerState;
  metrics: TrackerMetrics;
  audit: AuditFile;
  dlq: Producer;
  consumer: Consumer;
  log: Logger;
}

/** Plans, publishes, appends, syncs and commits one chunk of a batch. */
async function handleChunk(
  payload: EachBatchPayload,
  messages: readonly KafkaMessage[],
  { config, state, metrics, audit, dlq, consumer, log }: ChunkContext,
): Promise<void> {
  const { batch } = payload;
  const now = Date.now();
  const chunk: Chunk = {
    topic: batch.topic,
    partition: batch.partition,
    messages: messages.map(sourceMessage),
  };
  const plan = planChunk(state, chunk, { now, maxOrderBytes: MAX_ORDER_BYTES });
  try {
    if (plan.deadLetters.length > 0) {
      await publishDeadLetters(dlq, config.dlqTopic, plan.deadLetters);
    }
    await audit.append(plan.records);
  } catch (error) {
    throw new AuditWriteError((error as Error).message, { cause: error });
  }
  // Counted only now: what is counted is on disk.
  metrics.addChunk(now, {
    received: messages.length,
    redelivered: plan.redelivered,
    records: plan.records,
  });
  for (const record of plan.records) {
    if (record.outcome !== "dead_lettered") continue;
    log.warn("Dead-lettered offset {partition}/{offset}: {errorClass}: {error}", {
      partition: record.kafka_partition,
      offset: record.kafka_offset,
      errorClass: record.error_class,
      error: record.error,
    });
  }
  payload.resolveOffset(messages.at(-1)!.offset);
  try {
    await consumer.commitOffsets([{
      topic: batch.topic,
      partition: batch.partition,
      offset: String(plan.commitOffset),
    }]);
  } catch (error) {
    // The lines are on disk; after the rejoin their offsets come back as
    // redeliveries, are recognised and committed then.
    throw rejoinableGroupError(error) ?? error;
  }
  metrics.setLag(batch.partition, {
    highWatermark: Number(batch.highWatermark),
    nextOffset: plan.commitOffset,
  });
  await payload.heartbeat();
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
    /** Told once the consumer runs, with the number of audit lines on record. */
    onReady?: (trail: { lines: number }) => void;
    /** Told after each synced and committed chunk (benchmarks use it). */
    onAudited?: (counters: Readonly<TrackerCounters>) => void;
  },
): Promise<TrackerCounters> {
  const { audit, state, lines } = await openTrail(config.paths, log);
  const metrics = new TrackerMetrics({ startedAt: Date.now() });
  if (signal.aborted) {
    // Stopped during start-up: nothing was consumed, nothing to commit.
    audit.close();
    return { ...metrics.counters };
  }
  const liveness = new Liveness({ now: Date.now() });
  const kafka = createKafka({ brokers: config.brokers, clientId: TRACKER_CLIENT_ID });
  const dlq = createIdempotentProducer(kafka);
  const consumer = createConsumer(kafka, { groupId: config.groupId });
  let failure: TrackerFailure | undefined;
  const failed = Promise.withResolvers<void>();
  const fail = (error: TrackerFailure) => {
    failure ??= error;
    failed.resolve();
  };
  const context: ChunkContext = { config, state, metrics, audit, dlq, consumer, log };

  const { FETCH_START, HEARTBEAT, CRASH, GROUP_JOIN } = consumer.events;
  consumer.on(FETCH_START, () => liveness.activity(Date.now()));
  consumer.on(HEARTBEAT, () => liveness.activity(Date.now()));
  consumer.on(GROUP_JOIN, (event) => {
    const partitions = event.payload.memberAssignment[config.topic] ?? [];
    state.keepPartitions(new Set(partitions));
    metrics.keepPartitions(new Set(partitions));
    log.info("Joined group {group}: partitions {partitions}", {
      group: config.groupId,
      partitions,
    });
  });
  consumer.on(CRASH, (event) => {
    const { error, restart } = event.payload;
    if (restart) {
      liveness.retrying(Date.now());
      log.warn("Consumer crashed, KafkaJS restarts it: {error}", { error: error.message });
    } else {
      fail(new TrackerFailure(`Consumer crashed: ${error.message}`, { cause: error }));
    }
  });

  /** The chunk being audited and committed; shutdown lets it finish. */
  let chunkInHand: Promise<void> = Promise.resolve();
  await Promise.all([dlq.connect(), consumer.connect()]);
  await consumer.subscribe({ topics: [config.topic], fromBeginning: true });
  await consumer.run({
    autoCommit: false,
    eachBatchAutoResolve: false,
    eachBatch: async (payload) => {
      liveness.activity(Date.now());
      const messages = payload.batch.messages;
      for (let i = 0; i < messages.length; i += CHUNK_SIZE) {
        // After a failed write nothing more is appended: the tail may be torn.
        if (failure || !payload.isRunning() || payload.isStale() || signal.aborted) break;
        try {
          chunkInHand = handleChunk(payload, messages.slice(i, i + CHUNK_SIZE), context);
          await chunkInHand;
          onAudited?.(metrics.counters);
        } catch (error) {
          // A group error (a rebalance, a moved coordinator) goes back to
          // KafkaJS, which rejoins; redelivered offsets are then recognised.
          if (!(error instanceof AuditWriteError)) throw error;
          // Disk or DLQ failure: nothing of this chunk is committed. Stop; a
          // restart resumes from the last commit and the trail dedups replays.
          log.error("Cannot finish a batch of {partition}: {error}", {
            partition: payload.batch.partition,
            error: error.message,
          });
          fail(new TrackerFailure(`Cannot audit a batch: ${error.message}`, { cause: error }));
          return;
        }
      }
    },
  });
  log.info(
    "Tracker ready: group {group}, topic {topic}, {lines} audit lines on record",
    lifecycle("tracker", "ready", {
      pid: Deno.pid,
      group: config.groupId,
      topic: config.topic,
      lines,
      auditFile: config.paths.auditFile,
    }),
  );
  onReady?.({ lines });

  const emitMetrics = (final = false) => {
    const record = metrics.toRecord(Date.now(), { openOrders: state.openOrders, final });
    log.info(final ? "Final metrics" : "Metrics", { ...record });
  };
  const watch = watchLiveness(liveness, {
    intervalMs: METRICS_INTERVAL_MS,
    onVerdict(verdict) {
      emitMetrics();
      if (verdict.kind === "outage" && verdict.report) {
        // KafkaJS keeps retrying. Say so while it lasts; resume after.
        log.error("Kafka unreachable for {seconds} s: retrying, nothing is committed meanwhile", {
          seconds: Math.round(verdict.idleMs / 1000),
        });
      } else if (verdict.kind === "stalled") {
        fail(
          new TrackerFailure(
            `Consumer stalled: no fetch, heartbeat or retry for ${STALL_TIMEOUT_MS / 1000} s`,
          ),
        );
      }
    },
  });
  const aborted = new Promise<void>((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener("abort", () => resolve(), { once: true });
  });

  try {
    await Promise.race([aborted, failed.promise]);
  } finally {
    watch.stop();
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
  return { ...metrics.counters };
}

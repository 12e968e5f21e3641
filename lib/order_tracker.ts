/**
 * The tracker's shell: consume orders in a consumer group, plan each chunk
 * (chunk_plan.ts), publish its dead letters (acknowledged first, in sends under
 * the broker's limit, for a bounded time), append the audit lines and
 * fdatasync, and only then commit the offsets. Before consuming, and after
 * every rejoin, the trail's epoch is checked against the cluster, so a trail
 * of one cluster or topic never skips another's messages. A metrics record goes
 * to the health log every few seconds, with the liveness verdict acted on.
 */
import type { Config } from "./config.ts";
import { MAX_ORDER_BYTES, TRACKER_CLIENT_ID } from "./constants.ts";
import {
  clusterId,
  type Consumer,
  consumerRestart,
  createConsumer,
  createIdempotentProducer,
  createKafka,
  type EachBatchPayload,
  ensureTopics,
  type Kafka,
  type KafkaMessage,
  type Producer,
  publishDeadLetters,
  rejoinableGroupError,
  topicEnds,
  withAdmin,
} from "./kafka.ts";
import { AuditTrail } from "./audit_trail.ts";
import type { AuditRecord } from "./audit_record.ts";
import { type Chunk, planChunk } from "./chunk_plan.ts";
import { type DeadLetterMessage, type SourceMessage, splitIntoSends } from "./dead_letter.ts";
import { judgeEpoch, offsetsBehindTrail } from "./epoch_decision.ts";
import { lifecycle } from "./health_record.ts";
import { Liveness, STALL_TIMEOUT_MS, watchLiveness } from "./liveness.ts";
import { awaitWithDeadline } from "./retry.ts";
import { type TrackerCounters, TrackerMetrics } from "./tracker_metrics.ts";
import type { Logger } from "./logging.ts";

export type { TrackerCounters };

/** Messages handled per audit write: bounds the time between heartbeats and commits. */
export const CHUNK_SIZE = 1_000;
export const METRICS_INTERVAL_MS = 5_000;
/**
 * Offsets found behind the trail are read again after this pause before a new
 * epoch begins: a newly elected leader's high watermark may lag for a moment.
 */
const CONFIRM_OFFSETS_MS = 2_000;

/** Each step of the shutdown gets this long; a client stuck in a retry must not hang it. */
const CLOSE_TIMEOUT_MS = 5_000;

/** Resolves when `work` settles or after `ms`, whichever comes first; rejects if `work` rejects in time. */
function within(ms: number, work: Promise<unknown>): Promise<unknown> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise((resolve) => (timer = setTimeout(resolve, ms)));
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

/** Writing the dead letters or the audit lines failed: nothing of the chunk may be committed. */
class AuditWriteError extends Error {
  override name = "AuditWriteError";
}

/** The tracker failed in a way a restart may fix (stall, crash, disk, DLQ). */
export class TrackerFailure extends Error {
  override name = "TrackerFailure";
}

/** Opens the trail (lock, repair, checkpoint and what follows it) and says what it found. */
async function openTrail(
  config: Config,
  log: Logger,
): Promise<{ trail: AuditTrail; replayed: number }> {
  const { paths } = config;
  try {
    const { trail, report } = await AuditTrail.open({
      paths,
      segmentBytes: config.segmentBytes,
      retentionBytes: config.retentionBytes,
    });
    if (report.repairedBytes > 0) {
      log.warn("Repaired the audit trail: moved a torn last line ({bytes} bytes) to {quarantine}", {
        bytes: report.repairedBytes,
        quarantine: paths.quarantineFile,
      });
    }
    if (report.rebuiltBecause !== undefined) {
      log.warn("Rebuilt the trail's checkpoint from {lines} lines in {ms} ms: {why}", {
        lines: report.replayedLines,
        ms: report.elapsedMs,
        why: report.rebuiltBecause,
      });
    }
    return { trail, replayed: report.replayedLines };
  } catch (error) {
    if (!(error instanceof SyntaxError)) throw error;
    throw new Error(
      `Cannot start tracker: the audit trail is corrupt (${error.message}); move the data directory's tracker.* files aside to start a new trail`,
      { cause: error },
    );
  }
}

/**
 * Compares the trail's epoch with the cluster and begins a new epoch when it no
 * longer describes what is consumed. `suspicion` is what a chunk found: a
 * definite one (another message at an audited offset) needs no confirmation.
 *
 * @returns whether a new epoch began
 */
async function reconcileEpoch(
  { kafka, trail, config, log }: Pick<ChunkContext, "kafka" | "trail" | "config" | "log">,
  suspicion?: { reason: string; definite: boolean },
): Promise<boolean> {
  const { topic } = config;
  const observed = await withAdmin(kafka, async (admin) => {
    const id = await clusterId(admin);
    if (suspicion?.definite) return { clusterId: id, offsetsWentBack: suspicion.reason };
    const behind = async () => {
      const ends = await topicEnds(admin, topic);
      if (ends.size === 0) {
        throw new Error(
          `Cannot consume topic "${topic}": it does not exist (run deno task topics)`,
        );
      }
      return offsetsBehindTrail(ends, trail.state.lastOffsets(topic));
    };
    let offsetsWentBack = await behind();
    if (offsetsWentBack !== undefined) {
      await new Promise((resolve) => setTimeout(resolve, CONFIRM_OFFSETS_MS));
      offsetsWentBack = await behind();
    }
    return { clusterId: id, offsetsWentBack };
  });
  const hasRecords = trail.totals.lines > 0;
  const verdict = judgeEpoch(trail.epoch, { ...observed, topic, hasRecords });
  if (verdict.kind === "same") return false;
  const epoch = await trail.beginEpoch({
    clusterId: observed.clusterId,
    topic,
    reason: verdict.reason,
    keepOffsets: verdict.kind === "adopt",
  });
  const properties = { epoch: epoch.number, cluster: epoch.cluster_id, reason: verdict.reason };
  if (verdict.kind === "new" && hasRecords) {
    log.warn(
      "Audit trail epoch {epoch} begins: {reason}. Offsets start afresh: everything consumed from here on is audited",
      properties,
    );
  } else {
    log.info("Audit trail epoch {epoch} (cluster {cluster}): {reason}", properties);
  }
  return true;
}

/** Creates the dead-letter topic if it is missing, so that rejected input never waits for it. */
async function ensureDeadLetterTopic(config: Config): Promise<void> {
  try {
    await ensureTopics(config.brokers, [
      // One partition keeps the dead letters in arrival order; volume is low.
      { topic: config.dlqTopic, partitions: 1, replicationFactor: config.replicationFactor },
    ]);
  } catch (error) {
    throw new Error(
      `Cannot start tracker: the dead-letter topic ${config.dlqTopic} is missing and cannot be created (${
        (error as Error).message
      }); create it, or run deno task topics`,
      { cause: error },
    );
  }
}

/** How often a dead-letter send still unacknowledged is reported. */
const DLQ_REPORT_MS = 5_000;

/**
 * Publishes dead letters in sends under the broker's limit. The client retries
 * each send itself (one idempotent send, no duplicates); while it is
 * unacknowledged an error goes to the health log every few seconds, and after
 * DLQ_TIMEOUT_MS the tracker gives up with one clear error.
 */
async function publishBounded(
  letters: readonly DeadLetterMessage[],
  { dlq, config, log }: Pick<ChunkContext, "dlq" | "config" | "log">,
): Promise<void> {
  for (const send of splitIntoSends(letters)) {
    await awaitWithDeadline(publishDeadLetters(dlq, config.dlqTopic, send), {
      deadlineMs: config.dlqTimeoutMs,
      reportEveryMs: DLQ_REPORT_MS,
      onWait: (waitedMs) =>
        log.error(
          "Cannot publish {count} dead letters to {topic}: unacknowledged for {seconds} s (the client retries); nothing is committed meanwhile",
          { count: send.length, topic: config.dlqTopic, seconds: Math.round(waitedMs / 1000) },
        ),
    }).catch((error) => {
      throw new Error(
        `Cannot publish dead letters to ${config.dlqTopic}: ${(error as Error).message}`,
        { cause: error },
      );
    });
  }
}

function sourceMessage(message: KafkaMessage): SourceMessage {
  const timestamp = Number(message.timestamp);
  return {
    offset: Number(message.offset),
    timestamp: Number.isSafeInteger(timestamp) && timestamp >= 0 ? timestamp : null,
    key: message.key,
    value: message.value,
    headers: message.headers,
  };
}

/** One warning per chunk with dead letters: how many, which offsets and classes, the first reason. */
function reportDeadLetters(records: readonly AuditRecord[], log: Logger): void {
  const dead = records.filter((r) => r.outcome === "dead_lettered");
  if (dead.length === 0) return;
  const classes = [...new Set(dead.map((r) => r.error_class))].join(", ");
  log.warn(
    "Dead-lettered {count} of partition {partition} (offsets {first}..{last}; {classes}): {error}",
    {
      count: dead.length,
      partition: dead[0]!.kafka_partition,
      first: dead[0]!.kafka_offset,
      last: dead.at(-1)!.kafka_offset,
      classes,
      error: dead[0]!.error,
    },
  );
}

/** Everything a chunk needs besides the chunk itself. */
interface ChunkContext {
  config: Config;
  kafka: Kafka;
  trail: AuditTrail;
  metrics: TrackerMetrics;
  dlq: Producer;
  consumer: Consumer;
  log: Logger;
}

/** Plans, publishes, appends, syncs and commits one chunk of a batch. */
async function handleChunk(
  payload: EachBatchPayload,
  messages: readonly KafkaMessage[],
  context: ChunkContext,
): Promise<void> {
  const { trail, metrics, consumer, log } = context;
  const { batch } = payload;
  const now = Date.now();
  const chunk: Chunk = {
    topic: batch.topic,
    partition: batch.partition,
    highWatermark: Number(batch.highWatermark),
    messages: messages.map(sourceMessage),
  };
  const plan = planChunk(trail.state, chunk, { now, maxOrderBytes: MAX_ORDER_BYTES });
  if (plan.kind === "offsets-went-back") {
    // Nothing skipped so far was committed; after a new epoch the consumer
    // fetches from the committed offsets again and audits what it skipped.
    await reconcileEpoch(context, { reason: plan.reason, definite: plan.definite });
    throw consumerRestart(`Restarting the consumer: ${plan.reason}`);
  }
  try {
    if (plan.deadLetters.length > 0) await publishBounded(plan.deadLetters, context);
    await trail.append(plan.records);
  } catch (error) {
    throw new AuditWriteError((error as Error).message, { cause: error });
  }
  // Counted only now: what is counted is on disk.
  metrics.addChunk(now, {
    received: messages.length,
    redelivered: plan.redelivered,
    records: plan.records,
  });
  reportDeadLetters(plan.records, log);
  payload.resolveOffset(messages.at(-1)!.offset);
  if (plan.commitOffset !== null) {
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
  }
  metrics.setLag(batch.partition, {
    highWatermark: chunk.highWatermark,
    nextOffset: Number(messages.at(-1)!.offset) + 1,
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
  const started = performance.now();
  const { trail, replayed } = await openTrail(config, log);
  const metrics = new TrackerMetrics({ startedAt: Date.now() });
  if (signal.aborted) {
    // Stopped during start-up: nothing was consumed, nothing to commit.
    await trail.close();
    return { ...metrics.counters };
  }
  const liveness = new Liveness({ now: Date.now() });
  const kafka = createKafka({ brokers: config.brokers, clientId: TRACKER_CLIENT_ID });
  // The client retries a send for as long as it takes; publishBounded bounds the wait.
  const dlq = createIdempotentProducer(kafka);
  const consumer = createConsumer(kafka, { groupId: config.groupId });
  const context: ChunkContext = { config, kafka, trail, metrics, dlq, consumer, log };
  let failure: TrackerFailure | undefined;
  let writeFailed = false;
  const failed = Promise.withResolvers<void>();
  const fail = (error: TrackerFailure) => {
    failure ??= error;
    failed.resolve();
  };
  /** The epoch check of the latest group join: batches wait for it. */
  let epochChecked: Promise<unknown> = Promise.resolve();

  const { FETCH_START, HEARTBEAT, CRASH, GROUP_JOIN } = consumer.events;
  consumer.on(FETCH_START, () => liveness.activity(Date.now()));
  consumer.on(HEARTBEAT, () => liveness.activity(Date.now()));
  consumer.on(GROUP_JOIN, (event) => {
    const partitions = event.payload.memberAssignment[config.topic] ?? [];
    trail.state.keepPartitions(new Set(partitions));
    metrics.keepPartitions(new Set(partitions));
    // After a rejoin the brokers may be another cluster (a wiped local broker).
    // Batches await this check; a failure reaches KafkaJS through them.
    const check = reconcileEpoch(context);
    check.catch(() => {});
    epochChecked = check;
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
  try {
    await Promise.all([dlq.connect(), consumer.connect()]);
    await ensureDeadLetterTopic(config);
    await reconcileEpoch(context);
    await consumer.subscribe({ topics: [config.topic], fromBeginning: true });
  } catch (error) {
    await Promise.all([consumer.disconnect(), dlq.disconnect()]).catch(() => {});
    await trail.close();
    throw error;
  }
  await consumer.run({
    autoCommit: false,
    eachBatchAutoResolve: false,
    eachBatch: async (payload) => {
      liveness.activity(Date.now());
      await epochChecked;
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
          writeFailed = true;
          log.error("Cannot finish a batch of partition {partition}: {error}", {
            partition: payload.batch.partition,
            error: error.message,
          });
          fail(new TrackerFailure(`Cannot audit a batch: ${error.message}`, { cause: error }));
          return;
        }
      }
    },
  });
  const lines = trail.totals.lines;
  log.info(
    "Tracker ready: group {group}, topic {topic}, {lines} audit lines on record (epoch {epoch}; {replayed} read at start), {ms} ms after start",
    lifecycle("tracker", "ready", {
      pid: Deno.pid,
      group: config.groupId,
      topic: config.topic,
      lines,
      epoch: trail.epoch.number,
      replayed,
      ms: Math.round(performance.now() - started),
      auditFile: config.paths.auditFile,
    }),
  );
  onReady?.({ lines });

  const emitMetrics = (final = false) => {
    const record = metrics.toRecord(Date.now(), { openOrders: trail.state.openOrders, final });
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
    // group → close the DLQ producer → checkpoint and close the trail. KafkaJS's
    // stop() may leave the group before an eachBatch returns, so the chunk is
    // awaited here. After a failed write the state may be ahead of the disk:
    // no checkpoint then, the next start replays the trail instead.
    await chunkInHand.catch(() => {});
    await within(CLOSE_TIMEOUT_MS, consumer.stop()).catch(() => {});
    await within(CLOSE_TIMEOUT_MS, consumer.disconnect()).catch((e) =>
      log.warn("Cannot leave the group cleanly: {error}", { error: String(e) })
    );
    // A dead-letter send abandoned at its deadline may still be retrying: do not wait for it.
    await within(CLOSE_TIMEOUT_MS, dlq.disconnect()).catch(() => {});
    if (writeFailed) trail.abandon();
    else await trail.close();
    emitMetrics(true);
  }
  if (failure) throw failure;
  return { ...metrics.counters };
}

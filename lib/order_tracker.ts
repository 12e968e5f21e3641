/**
 * The tracker's shell: consume orders in a consumer group, the batches of a
 * fetch (one per partition) at once; plan each chunk (chunk_plan.ts) and hand
 * it to the one writer (audit_writer.ts), which publishes the dead letters
 * (dead_letter_publisher.ts), appends the audit lines and fdatasyncs
 * (audit_trail.ts) for the chunks ready together; only then hand the
 * batch's offset to the committer (offset_committer.ts), which commits off
 * the fetch path. A batch beyond the trail's last audited offset goes back
 * to KafkaJS before it is planned, so that the next fetch is taken and parsed
 * while it is planned; any other (a redelivery, a replay) once planned, so
 * that the next fetch is taken while it is written. Before consuming and
 * after every rejoin the trail's epoch is checked against the cluster
 * (epoch_check.ts). A metrics record goes to the health log every few
 * seconds, with the liveness verdict acted on. `runTracker` is the order of
 * things; `TrackerSession` (tracker_session.ts) holds what a run shares and
 * how it closes.
 */
import type { Config } from "./config.ts";
import { MAX_ORDER_BYTES } from "./constants.ts";
import {
  consumerRestart,
  type EachBatchPayload,
  type KafkaMessage,
  kafkaRetries,
  rebalanceBegun,
} from "./kafka.ts";
import { AuditTrail } from "./audit_trail.ts";
import type { AuditRecord } from "./audit_record.ts";
import {
  beyondTrail,
  type Chunk,
  chunkBounds,
  type ChunkPlan,
  fetchedEnd,
  planChunk,
} from "./chunk_plan.ts";
import type { OrderSummary, ParseResult } from "./order.ts";
import type { SourceMessage } from "./dead_letter.ts";
import { ensureDeadLetterTopic } from "./dead_letter_publisher.ts";
import { TrackerMetrics } from "./tracker_metrics.ts";
import { lifecycle, type TrackerCounters } from "./health_record.ts";
import { TrackerFailure, TrackerSession } from "./tracker_session.ts";
import type { PlannedSlot } from "./audit_writer.ts";
import { awaitKafka } from "./reachability.ts";
import type { Logger } from "./logging.ts";
import type { TrackerExposition } from "./prometheus.ts";
import type { MetricsServer } from "./metrics_server.ts";

/**
 * Parsing, writing the dead letters or writing the audit lines failed: nothing
 * of the chunk may be committed, and the state may be ahead of the disk.
 */
class AuditWriteError extends Error {
  override name = "AuditWriteError";
}

/**
 * Messages per part of a chunk sent to the parsing thread: the main thread
 * plans a part while the next one is parsed.
 */
const PARSE_PART_MESSAGES = 500;

/** Batches (partitions of a fetch) audited at once; more than a fetch holds. */
const PARTITIONS_AT_ONCE = 64;

/** Opens the trail (lock, repair, checkpoint and what follows it) and says what it found. */
async function openTrail(
  config: Config,
  log: Logger,
): Promise<{ trail: AuditTrail; replayed: number; openMs: number }> {
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
    return { trail, replayed: report.replayedLines, openMs: report.elapsedMs };
  } catch (error) {
    if (!(error instanceof SyntaxError)) throw error;
    throw new Error(
      `Cannot start tracker: the audit trail is corrupt (${error.message}); move the data directory's tracker.* files aside to start a new trail`,
      { cause: error },
    );
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

/** A chunk of a batch planned for writing, with what its write needs. */
interface PlannedChunk {
  chunk: Chunk;
  plan: ChunkPlan & { kind: "write" };
  /** The receive time its records carry. */
  now: number;
  /** The batch's next message after the chunk, if any (its timestamp is the lag's age). */
  following: KafkaMessage | undefined;
}

/**
 * Has the writer publish a planned chunk's dead letters and append and sync
 * its records (with other batches' chunks handed over meanwhile), then counts
 * them and marks its offsets resolved.
 */
async function writeChunk(
  { chunk, plan, now, following }: PlannedChunk,
  { session, slot }: { session: TrackerSession; slot: PlannedSlot },
): Promise<void> {
  const { metrics, log } = session;
  try {
    await slot.write(plan);
  } catch (error) {
    throw new AuditWriteError((error as Error).message, { cause: error });
  }
  // Counted only now: what is counted is on disk.
  metrics.addChunk(now, {
    received: chunk.messages.length,
    redelivered: plan.redelivered,
    records: plan.records,
  });
  session.exposition?.observe(plan.records);
  session.summary.add(plan.records);
  reportDeadLetters(plan.records, log);
  const last = chunk.messages.at(-1)!;
  metrics.setLag(chunk.partition, {
    highWatermark: chunk.end,
    nextOffset: last.offset + 1,
    // The next record's time when this batch holds it; else the last audited
    // one's, an upper bound of the age until the next fetch (lag_time.ts).
    oldestTimestamp:
      (following === undefined ? last.timestamp : sourceMessage(following).timestamp) ??
        null,
    at: Date.now(),
  });
}

/**
 * Audits a fetched batch: its chunks are planned in turn, and each chunk's
 * dead letters, append and fdatasync run while the next chunk is planned
 * (together with other partitions' chunks handed to the writer meanwhile).
 * Writes keep their order, and none starts after one failed. All of the
 * batch's messages go to the parsing thread at once; planning begins once
 * `wentAhead` settles. Stops between chunks when the run stops, fails or
 * the batch goes stale (KafkaJS then fetches again from the committed or
 * sought offsets; a batch that went ahead and stopped at a join has its
 * partition sought back, `TrackerSession.resumeAt`), and, unless the batch
 * went ahead, while an epoch check runs (KafkaJS fetches on from the chunks
 * resolved).
 *
 * Returns once the chunks are planned and handed to the writer, with what
 * settles once they are synced. Each chunk's committable offset is handed
 * to the committer (which commits it off the fetch path) once it is synced.
 */
async function auditBatch(
  payload: EachBatchPayload,
  { session, signal, inHand, generation, wentAhead }: {
    session: TrackerSession;
    signal: AbortSignal;
    /** This batch in `session.batchesInHand`. */
    inHand: Promise<void>;
    /** The committer's generation when KafkaJS handed the batch over. */
    generation: number;
    /**
     * Settles before planning begins: true when the handler resolved the
     * whole batch and gave it back to KafkaJS unplanned (`goesAhead`); false
     * when each chunk's offset is resolved once it is planned.
     */
    wentAhead: Promise<boolean>;
  },
): Promise<{ synced: Promise<void> }> {
  const { batch } = payload;
  const { messages } = batch;
  const sizes = messages.map((m) => m.value?.byteLength ?? 0);
  const bounds = chunkBounds(sizes);
  const parses = parseChunks(session, messages, bounds);
  const ahead = await wentAhead;
  const partitionEnd = fetchedEnd({
    highWatermark: Number(batch.highWatermark),
    lastOffset: messages.length === 0 ? undefined : Number(messages.at(-1)!.offset),
  });
  const { topic, partition } = batch;
  // After a rebalance began, nothing more of the batch is resolved or
  // committed: the offsets KafkaJS fetches on from belong to the next join.
  const current = () => session.commits.generation === generation;
  let writing: Promise<void> = Promise.resolve();
  let failed = false;
  /** Chunks planned so far. */
  let planned = 0;
  const live = () => !failed && batchLive(session, payload, { generation, signal });
  for (const [i, [start, end]] of bounds.entries()) {
    if (!live() || (session.restarting && !ahead)) break;
    const slot = await session.writer.slot();
    // The writer may have been busy for long (a checkpoint, a dead-letter send).
    if (!live()) {
      slot.unused();
      break;
    }
    const now = Date.now();
    const chunk: Chunk = {
      topic,
      partition,
      end: partitionEnd,
      messages: messages.slice(start, end).map(sourceMessage),
    };
    let plan: ChunkPlan;
    try {
      plan = await planInParts(chunk, { now, session, parses: parses[i]! });
    } catch (error) {
      // Nothing more is planned; what is being written still is, and stays.
      // The slot stays taken: the state may hold part of this chunk, so no
      // checkpoint is written again, and the run fails as after a bad write.
      await writing.catch(() => {});
      throw error instanceof AuditWriteError
        ? error
        : new AuditWriteError(`Cannot plan a chunk: ${(error as Error).message}`, { cause: error });
    }
    if (plan.kind === "offsets-went-back") {
      slot.unused();
      // What was planned before is written and committed first; nothing
      // skipped so far was committed. After a new epoch the consumer fetches
      // from the committed offsets again and audits what it skipped.
      await writing; // Its chunks' offsets are handed to the committer as each is synced.
      await session.commits.flush().catch(() => {}); // Kept for the next commit if refused.
      throw await restartConsumer(session, plan, inHand);
    }
    planned++;
    const plannedChunk: PlannedChunk = {
      chunk,
      plan,
      now,
      following: end < messages.length ? messages[end] : undefined,
    };
    // KafkaJS fetches on from here; nothing is committed before the sync.
    if (!ahead && current()) payload.resolveOffset(String(chunk.messages.at(-1)!.offset));
    let bytes = 0;
    for (let k = start; k < end; k++) bytes += sizes[k]!;
    session.unsyncedBytes += bytes;
    const written = writeChunk(plannedChunk, { session, slot }).finally(() => {
      session.unsyncedBytes -= bytes;
    });
    written.catch(() => {}); // Awaited in turn below; it may fail before its turn.
    writing = writing.then(async () => {
      await written;
      // Each chunk's as soon as it is synced: a rebalance found meanwhile
      // commits it before the rejoin, and its next owner does not audit it again.
      const offset = plan.commitOffset;
      if (offset !== null) session.commits.submit({ topic, partition, offset }, generation);
    });
    writing.catch(() => {
      failed = true;
    });
  }
  // Stopped early, but KafkaJS had resolved the whole batch. Live but for
  // the generation: a join that gave the partition back came, and KafkaJS
  // fetches the unplanned part again (else the run ended, KafkaJS stopped, or
  // it seeks elsewhere itself).
  if (
    ahead && planned < bounds.length && !failed &&
    batchLive(session, payload, { generation: session.commits.generation, signal })
  ) {
    session.resumeAt(partition, Number(messages[bounds[planned]![0]]!.offset));
  }
  writing.catch(() => {}); // Handled by the caller.
  return { synced: writing };
}

/**
 * After the offsets of a partition went back: once the other batches in hand
 * have stopped (they stop at their next chunk) and their writes are synced,
 * checks the trail's epoch; returns the error that makes KafkaJS restart the
 * consumer. Of batches finding this at once, one checks.
 */
async function restartConsumer(
  session: TrackerSession,
  { reason, definite }: { reason: string; definite: boolean },
  inHand: Promise<void>,
): Promise<Error> {
  if (!session.restarting) {
    session.restarting = true;
    const epoch = session.trail.epoch.number;
    try {
      await Promise.all([...session.batchesInHand].filter((other) => other !== inHand));
      await session.checkEpoch({ kind: "offsets", reason, definite, epoch });
    } finally {
      session.restarting = false;
    }
  }
  return consumerRestart(`Restarting the consumer: ${reason}`);
}

/**
 * Sends a batch's messages to the parsing thread, in parts of each chunk:
 * per chunk, the parses of its parts in order.
 */
function parseChunks(
  session: TrackerSession,
  messages: readonly KafkaMessage[],
  bounds: ReadonlyArray<readonly [number, number]>,
): Array<Array<Promise<ParseResult<OrderSummary>[]>>> {
  return bounds.map(([start, end]) => {
    const parses: Array<Promise<ParseResult<OrderSummary>[]>> = [];
    for (let from = start; from < end; from += PARSE_PART_MESSAGES) {
      const to = Math.min(from + PARSE_PART_MESSAGES, end);
      const parse = session.parser.parse(messages.slice(from, to).map((m) => m.value));
      parse.catch(() => {}); // Awaited when planned, unless the batch ends before.
      parses.push(parse);
    }
    return parses;
  });
}

/**
 * Plans a chunk as `planChunk` would in one go, a part at a time as each
 * part's parse comes back, while the thread parses the next.
 */
async function planInParts(
  chunk: Chunk,
  { now, session, parses }: {
    now: number;
    session: TrackerSession;
    parses: ReadonlyArray<Promise<ParseResult<OrderSummary>[]>>;
  },
): Promise<ChunkPlan> {
  const plan: ChunkPlan & { kind: "write" } = {
    kind: "write",
    records: [],
    deadLetters: [],
    redelivered: 0,
    commitOffset: null,
  };
  let start = 0;
  for (const parse of parses) {
    let parsed;
    try {
      parsed = await parse;
    } catch (error) {
      throw new AuditWriteError((error as Error).message, { cause: error });
    }
    const end = start + parsed.length;
    const part = planChunk(
      session.trail.state,
      { ...chunk, messages: chunk.messages.slice(start, end) },
      { now, maxOrderBytes: MAX_ORDER_BYTES, parsed },
    );
    start = end;
    if (part.kind === "offsets-went-back") return part;
    plan.records.push(...part.records);
    plan.deadLetters.push(...part.deadLetters);
    plan.redelivered += part.redelivered;
    plan.commitOffset = part.commitOffset;
  }
  return plan;
}

/**
 * Bytes of planned messages not yet synced up to which a batch goes back to
 * KafkaJS before its own chunks are synced: the next fetch is then planned
 * while this one is written, and an fdatasync or commit that takes long
 * does not hold the orders behind it. Beyond it (a backlog), a batch waits for
 * its sync: a few fetches (1 MiB per partition each) are in the writer's hands.
 */
const MAX_UNSYNCED_BYTES = 4 * 1024 * 1024;

/**
 * Whether a batch may still be planned and resolved: the run neither stopped
 * nor failed, KafkaJS still runs and has not sought past the batch, no
 * rebalance began since KafkaJS handed it over (`generation`), and the
 * latest join gave this member its partition (KafkaJS hands over what a fetch
 * sent before a join brings, even of a partition that went to another member).
 */
function batchLive(
  session: TrackerSession,
  payload: EachBatchPayload,
  { generation, signal }: { generation: number; signal: AbortSignal },
): boolean {
  return session.failure === undefined && !signal.aborted && payload.isRunning() &&
    !payload.isStale() && session.commits.generation === generation &&
    session.holds(payload.batch.partition);
}

/**
 * Bytes planned and not yet synced up to which a batch may go ahead
 * (`goesAhead`). Beyond it the writer is behind, and batches are planned
 * before they go back to KafkaJS (and wait for their sync past
 * MAX_UNSYNCED_BYTES), so that fetching slows down to the disk's pace. On
 * 300k orders, 16 MiB was as fast as 32 MiB or faster, and its peak RSS
 * 0.5 GB to 32 MiB's 0.6 GB (without going ahead: 0.42 GB).
 */
const AHEAD_MAX_UNSYNCED_BYTES = 16 * 1024 * 1024;

/**
 * Whether a batch goes back to KafkaJS before it is planned (its parses sent,
 * the previous batch of its partition planned): the next fetch then arrives
 * and is parsed while this one is planned, instead of the parsing thread
 * waiting for each fetch and the main thread for each parse. Only a batch
 * whose planning cannot find that the partition's offsets went back (that
 * must reach KafkaJS as the handler's error), of the current generation, no
 * epoch check running, the writer not behind. Such a batch is then planned
 * to its end unless the run stops or fails, or KafkaJS reads the partition
 * again (a rejoin or a seek): its offsets are resolved already.
 */
function goesAhead(
  session: TrackerSession,
  payload: EachBatchPayload,
  live: { generation: number; signal: AbortSignal },
): boolean {
  const { batch } = payload;
  const first = batch.messages[0];
  return first !== undefined && session.unsyncedBytes <= AHEAD_MAX_UNSYNCED_BYTES &&
    !session.restarting && batchLive(session, payload, live) &&
    beyondTrail(session.trail.state, {
      topic: batch.topic,
      partition: batch.partition,
      firstOffset: Number(first.offset),
    });
}

/** The eachBatch handler: a batch's chunks, until stopping or a failed write. Exported for tests. */
export function batchHandler(
  session: TrackerSession,
  { signal, onAudited }: {
    signal: AbortSignal;
    onAudited: ((counters: Readonly<TrackerCounters>) => void) | undefined;
  },
): (payload: EachBatchPayload) => Promise<void> {
  /** Disk, DLQ or parsing failure: nothing of the chunk is committed. */
  const writeFailed = (error: Error, partition: number) => {
    // Stop; a restart resumes from the last commit and the trail dedups replays.
    session.writeFailed = true;
    session.log.error("Cannot finish a batch of partition {partition}: {error}", {
      partition,
      error: error.message,
    });
    session.fail(
      new TrackerFailure(`Cannot audit a batch: ${error.message}`, { cause: error }),
    );
  };
  /**
   * Per partition, the planning of its latest batch: a batch that went ahead
   * is still planned when KafkaJS hands over the next one, which is planned
   * after it.
   */
  const planning = new Map<number, Promise<void>>();
  return async (payload) => {
    // Read before any wait: a rebalance may begin meanwhile.
    const generation = session.commits.generation;
    session.liveness.activity(Date.now());
    const checked = session.currentEpochCheck();
    try {
      await checked;
    } catch (error) {
      // KafkaJS fetches again after a retriable error (the brokers away): the
      // next batch begins another check.
      if (kafkaRetries(error)) session.epochCheckFailed(checked);
      throw error;
    }
    // After a failed write nothing more is appended: the tail may be torn.
    // Returns once the batches in hand are done, not at once: KafkaJS would
    // fetch the same messages again and again until the consumer stops.
    if (session.failure || signal.aborted) {
      await Promise.allSettled(session.batchesInHand);
      return;
    }
    const { partition } = payload.batch;
    // In hand until its chunks are synced and its offset handed to the committer.
    const inHand = Promise.withResolvers<void>();
    session.batchesInHand.add(inHand.promise);
    const release = () => {
      inHand.resolve();
      session.batchesInHand.delete(inHand.promise);
    };
    if (session.commits.generation === generation) {
      session.commitVia = payload.commitOffsetsIfNecessary;
    }
    const wentAhead = Promise.withResolvers<boolean>();
    // Its messages go to the parsing thread now; planning waits for the decision.
    const audit = auditBatch(payload, {
      session,
      signal,
      inHand: inHand.promise,
      generation,
      wentAhead: wentAhead.promise,
    });
    const before = planning.get(partition);
    // Its failure is handled below, either way.
    planning.set(partition, audit.then(() => {}, () => {}));
    await before;
    const ahead = goesAhead(session, payload, { generation, signal });
    // KafkaJS fetches on from here; nothing is committed before the sync.
    if (ahead) payload.resolveOffset(String(payload.batch.messages.at(-1)!.offset));
    wentAhead.resolve(ahead);
    if (ahead) {
      // Its errors stop the run (an offset that went back cannot happen here).
      audit.then(({ synced }) => settle(synced, partition, release), (error) => {
        release();
        failed(error, partition);
      });
    } else {
      let synced: Promise<void>;
      try {
        ({ synced } = await audit);
      } catch (error) {
        release();
        // A group error (a rebalance, a moved coordinator) goes back to
        // KafkaJS, which rejoins; redelivered offsets are then recognised.
        if (!(error instanceof AuditWriteError)) throw error;
        writeFailed(error, partition);
        return;
      }
      const settled = settle(synced, partition, release);
      if (session.unsyncedBytes > MAX_UNSYNCED_BYTES) await settled;
    }
    try {
      await payload.heartbeat();
    } catch (error) {
      // The member rejoins once this reaches KafkaJS; what is synced is committed first.
      if (rebalanceBegun(error)) await session.commitBeforeRejoin();
      throw error;
    }
  };

  /** A batch's chunks are synced (or failed): its listeners are told, and it leaves the hand. */
  function settle(synced: Promise<void>, partition: number, release: () => void): Promise<void> {
    return synced.then(
      () => {
        try {
          onAudited?.(session.metrics.counters);
        } catch (error) {
          session.log.error("A listener of audited batches failed: {error}", {
            error: (error as Error).message,
          });
        }
      },
      (error) => failed(error, partition),
    ).finally(release);
  }

  /** A batch failed after KafkaJS could be told: the run stops. */
  function failed(error: unknown, partition: number): void {
    if (error instanceof AuditWriteError) writeFailed(error, partition);
    else {
      session.fail(
        new TrackerFailure(`Cannot audit a batch: ${(error as Error).message}`, { cause: error }),
      );
    }
  }
}

/**
 * Runs until `signal` aborts (resolves after a clean stop) or the consumer
 * fails (rejects with a TrackerFailure; nothing unsynced was committed). With
 * METRICS_PORT set it serves the Prometheus endpoint from the trail's opening
 * to the end of the shutdown.
 */
export async function runTracker(
  config: Config,
  { signal, log, onReady, onAudited }: {
    signal: AbortSignal;
    log: Logger;
    /** Told once the consumer runs. */
    onReady?: () => void;
    /** Told after each synced and committed chunk (benchmarks use it). */
    onAudited?: (counters: Readonly<TrackerCounters>) => void;
  },
): Promise<TrackerCounters> {
  const started = performance.now();
  const { trail, replayed, openMs } = await openTrail(config, log);
  const metrics = new TrackerMetrics({ startedAt: Date.now() });
  if (signal.aborted) {
    // Stopped during start-up: nothing was consumed, nothing to commit.
    await trail.close();
    return { ...metrics.counters };
  }
  let endpoint: { exposition: TrackerExposition; server: MetricsServer } | undefined;
  try {
    endpoint = await startEndpoint(config, metrics, log);
  } catch (error) {
    await trail.close();
    throw error;
  }
  try {
    return await consume(config, { trail, replayed, openMs, started, metrics, endpoint }, {
      signal,
      log,
      onReady,
      onAudited,
    });
  } finally {
    // Last: a scrape during shutdown still answers, with the final figures.
    await endpoint?.server.close();
  }
}

/** Serves the Prometheus endpoint when METRICS_PORT is set (prom-client is loaded only then). */
async function startEndpoint(
  config: Config,
  metrics: TrackerMetrics,
  log: Logger,
): Promise<{ exposition: TrackerExposition; server: MetricsServer } | undefined> {
  if (config.metrics === undefined) return undefined;
  const [{ trackerExposition }, { serveMetrics }] = await Promise.all([
    import("./prometheus.ts"),
    import("./metrics_server.ts"),
  ]);
  const exposition = trackerExposition(metrics);
  const server = serveMetrics(config.metrics, exposition);
  log.info("Serving Prometheus metrics on http://{address}/metrics", { address: server.address });
  return { exposition, server };
}

/** From reaching Kafka to a clean stop or a failure: runTracker's part after the trail is open. */
async function consume(
  config: Config,
  { trail, replayed, openMs, started, metrics, endpoint }: {
    trail: AuditTrail;
    replayed: number;
    openMs: number;
    started: number;
    metrics: TrackerMetrics;
    endpoint: { exposition: TrackerExposition } | undefined;
  },
  { signal, log, onReady, onAudited }: {
    signal: AbortSignal;
    log: Logger;
    onReady: (() => void) | undefined;
    onAudited: ((counters: Readonly<TrackerCounters>) => void) | undefined;
  },
): Promise<TrackerCounters> {
  try {
    // Waits for ever (a supervisor may start the tracker before the broker), one line per interval.
    await awaitKafka(config, { oneShot: false, signal, log });
  } catch (error) {
    await trail.close();
    if (signal.aborted) return { ...metrics.counters };
    throw error;
  }
  const session = new TrackerSession(config, trail, metrics, log);
  session.exposition = endpoint?.exposition;
  session.watchConsumer();
  try {
    await Promise.all([session.dlq.connect(), session.consumer.connect()]);
    await ensureDeadLetterTopic(config);
    await session.checkEpoch();
    await session.watchTopic();
    await session.consumer.subscribe({ topics: [config.topic], fromBeginning: true });
    await session.runConsumer({
      autoCommit: false,
      eachBatchAutoResolve: false,
      // Every partition's batch of a fetch at once: their chunks share
      // fdatasyncs and commits, and one is planned while another is written.
      partitionsConsumedConcurrently: PARTITIONS_AT_ONCE,
      eachBatch: batchHandler(session, { signal, onAudited }),
    });
  } catch (error) {
    await session.close();
    throw error;
  }
  const lines = trail.totals.lines;
  log.info(
    "Tracker ready: group {group}, topic {topic}, {lines} audit lines on record (epoch {epoch}; trail opened in {openMs} ms, {replayed} lines read), {ms} ms after start",
    lifecycle("tracker", "ready", {
      pid: Deno.pid,
      group: config.groupId,
      topic: config.topic,
      lines,
      epoch: trail.epoch.number,
      replayed,
      openMs,
      ms: Math.round(performance.now() - started),
      auditFile: config.paths.auditFile,
    }),
  );
  onReady?.();

  const watch = session.watchLiveness();
  const aborted = new Promise<void>((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener("abort", () => resolve(), { once: true });
  });
  try {
    await Promise.race([aborted, session.failed]);
  } finally {
    watch.stop();
    await session.close();
    session.emitMetrics(true);
  }
  if (session.failure) throw session.failure;
  return { ...metrics.counters };
}

/**
 * The tracker's shell: consume orders in a consumer group, several partitions'
 * batches at once, and hand their chunks to the auditor (chunk_auditor.ts),
 * which plans them (chunk_plan.ts), publishes their dead letters
 * (dead_letter_publisher.ts), appends the audit lines with one fdatasync
 * (audit_trail.ts), and only then commits the offsets. Before consuming and
 * after every rejoin the trail's epoch is checked against the cluster
 * (epoch_check.ts). A metrics record goes to the health log every few seconds,
 * with the liveness verdict acted on. `runTracker` is the order of things;
 * `TrackerSession` (tracker_session.ts) holds what a run shares and how it
 * closes.
 */
import type { Config } from "./config.ts";
import type { EachBatchPayload } from "./kafka.ts";
import { AuditTrail } from "./audit_trail.ts";
import { chunkBounds } from "./chunk_plan.ts";
import { AuditWriteError, ChunkAuditor } from "./chunk_auditor.ts";
import { ensureDeadLetterTopic } from "./dead_letter_publisher.ts";
import { TrackerMetrics } from "./tracker_metrics.ts";
import { lifecycle, type TrackerCounters } from "./health_record.ts";
import { TrackerFailure, TrackerSession } from "./tracker_session.ts";
import { awaitKafka } from "./reachability.ts";
import type { Logger } from "./logging.ts";
import type { TrackerExposition } from "./prometheus.ts";
import type { MetricsServer } from "./metrics_server.ts";

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

/** Batches of up to this many partitions are audited at once, as one group (chunk_auditor.ts). */
const PARTITIONS_AT_ONCE = 16;

/**
 * The eachBatch handler: hands the batch's chunks to the auditor in turn,
 * until stopping or a failed write. Handlers of several partitions run at once.
 */
function batchHandler(
  session: TrackerSession,
  auditor: ChunkAuditor,
  { signal, onAudited }: {
    signal: AbortSignal;
    onAudited: ((counters: Readonly<TrackerCounters>) => void) | undefined;
  },
): (payload: EachBatchPayload) => Promise<void> {
  return async (payload) => {
    session.liveness.activity(Date.now());
    await session.epochChecked;
    const messages = payload.batch.messages;
    const bounds = chunkBounds(messages.map((m) => m.value?.byteLength ?? 0));
    for (const [start, end] of bounds) {
      // After a failed write nothing more is appended: the tail may be torn.
      if (session.failure || !payload.isRunning() || payload.isStale() || signal.aborted) break;
      try {
        const outcome = await auditor.audit(payload, {
          messages: messages.slice(start, end),
          ...(end < messages.length ? { following: messages[end]! } : {}),
        });
        if (outcome === "skipped") break;
        onAudited?.(session.metrics.counters);
        await payload.heartbeat();
      } catch (error) {
        // A group error (a rebalance, a moved coordinator) goes back to
        // KafkaJS, which rejoins; redelivered offsets are then recognised.
        if (!(error instanceof AuditWriteError)) throw error;
        // Disk or DLQ failure: nothing of this chunk is committed. Stop; a
        // restart resumes from the last commit and the trail dedups replays.
        session.writeFailed = true;
        session.log.error("Cannot finish a batch of partition {partition}: {error}", {
          partition: payload.batch.partition,
          error: error.message,
        });
        session.fail(
          new TrackerFailure(`Cannot audit a batch: ${error.message}`, { cause: error }),
        );
        return;
      }
    }
  };
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
    await session.consumer.subscribe({ topics: [config.topic], fromBeginning: true });
    const auditor = new ChunkAuditor(session, { signal });
    session.chunksInHand = () => auditor.idle();
    await session.consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: PARTITIONS_AT_ONCE,
      eachBatch: batchHandler(session, auditor, { signal, onAudited }),
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

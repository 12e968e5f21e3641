/**
 * What one run of the tracker shares: the trail, the Kafka clients, liveness,
 * the failure that ends the run, and the shutdown in its written-down order.
 * order_tracker.ts drives it.
 */
import type { AuditTrail } from "./audit_trail.ts";
import type { Config } from "./config.ts";
import { MAX_ORDER_BYTES, TRACKER_CLIENT_ID } from "./constants.ts";
import { OrderParser } from "./order_parser.ts";
import { reconcileEpoch } from "./epoch_check.ts";
import {
  type Consumer,
  createConsumer,
  createIdempotentProducer,
  createKafka,
  type Kafka,
  type Producer,
} from "./kafka.ts";
import { Liveness, STALL_TIMEOUT_MS, watchLiveness } from "./liveness.ts";
import type { Logger } from "./logging.ts";
import type { TrackerMetrics } from "./tracker_metrics.ts";
import type { TrackerExposition } from "./prometheus.ts";
import { TrailSummaryLog } from "./trail_summary_log.ts";
import { awaitWithDeadline } from "./retry.ts";
import { AuditWriter } from "./audit_writer.ts";
import { Coalescer } from "./coalescer.ts";
import { publishBounded } from "./dead_letter_publisher.ts";

/** A partition's next offset to consume, to commit. */
export interface CommitOffset {
  topic: string;
  partition: number;
  offset: number;
}

export const METRICS_INTERVAL_MS = 5_000;
/** Each step of the shutdown gets this long; a client stuck in a retry must not hang it. */
const CLOSE_TIMEOUT_MS = 5_000;

/** The tracker failed in a way a restart may fix (stall, crash, disk, DLQ). */
export class TrackerFailure extends Error {
  override name = "TrackerFailure";
}

/** One step of the shutdown, given CLOSE_TIMEOUT_MS; rejects with a DeadlineError after that. */
function closeStep(work: Promise<unknown>): Promise<unknown> {
  return awaitWithDeadline(work, {
    deadlineMs: CLOSE_TIMEOUT_MS,
    reportEveryMs: CLOSE_TIMEOUT_MS,
    onWait: () => {},
  });
}

/** What one run of the tracker shares: the trail, the clients and how the run ends. */
export class TrackerSession {
  readonly kafka: Kafka;
  readonly dlq: Producer;
  readonly consumer: Consumer;
  /** Parses and validates the messages, on a thread of its own. */
  readonly parser = new OrderParser({ maxBytes: MAX_ORDER_BYTES });
  readonly liveness = new Liveness({ now: Date.now() });
  /** Why the run failed, once it has. */
  failure: TrackerFailure | undefined;
  /** A write failed: the state may be ahead of the disk, so no checkpoint at the end. */
  writeFailed = false;
  readonly #failed = Promise.withResolvers<void>();
  /** The batches being audited and committed (one per partition at most); shutdown lets them finish. */
  readonly batchesInHand = new Set<Promise<void>>();
  /** A batch found offsets gone back: the others stop, then the consumer restarts. */
  restarting = false;
  /** Writes the planned chunks of every batch in hand, several at a time. */
  readonly writer: AuditWriter;
  /** Commits the offsets batches ask for; those asked during a commit go in the next one together. */
  readonly commits: Coalescer<CommitOffset>;
  /** The epoch check of the latest group join: batches wait for it. */
  epochChecked: Promise<unknown> = Promise.resolve();
  /** The Prometheus metrics, when served: written records' latencies go there too. */
  exposition: TrackerExposition | undefined;
  /** The trail summary the monitor reads: each chunk's records go there once on disk. */
  readonly summary: TrailSummaryLog;

  constructor(
    readonly config: Config,
    readonly trail: AuditTrail,
    readonly metrics: TrackerMetrics,
    readonly log: Logger,
  ) {
    this.kafka = createKafka(config, { clientId: TRACKER_CLIENT_ID });
    // The client retries a send for as long as it takes; publishBounded bounds the wait.
    this.dlq = createIdempotentProducer(this.kafka);
    this.consumer = createConsumer(this.kafka, { groupId: config.groupId });
    this.summary = new TrailSummaryLog(config.paths.summaryFile, { trail, log });
    this.writer = new AuditWriter(trail, (letters) => publishBounded(letters, this));
    this.commits = new Coalescer((offsets) => this.#commit(offsets), {
      sticky: false,
      // Batches whose chunks were just synced together ask in this turn.
      gather: () => true,
    });
  }

  /** One commit of the newest offset asked for each partition. */
  #commit(offsets: readonly CommitOffset[]): Promise<void> {
    const newest = new Map<string, CommitOffset>();
    for (const o of offsets) newest.set(`${o.topic}\0${o.partition}`, o);
    return this.consumer.commitOffsets(
      [...newest.values()].map(({ topic, partition, offset }) => ({
        topic,
        partition,
        offset: String(offset),
      })),
    );
  }

  fail(error: TrackerFailure): void {
    this.failure ??= error;
    this.#failed.resolve();
  }

  /** Resolves when the run has failed. */
  get failed(): Promise<void> {
    return this.#failed.promise;
  }

  /** The trail's epoch against the cluster, as `reconcileEpoch` takes it. */
  checkEpoch(suspicion?: { reason: string; definite: boolean }): Promise<boolean> {
    const { kafka, trail, log } = this;
    return reconcileEpoch({ kafka, trail, topic: this.config.topic, log }, suspicion);
  }

  /** Liveness, rebalances and crashes, from the consumer's events. */
  watchConsumer(): void {
    const { consumer, liveness, trail, metrics, config, log } = this;
    const { FETCH_START, HEARTBEAT, CRASH, GROUP_JOIN } = consumer.events;
    consumer.on(FETCH_START, () => liveness.activity(Date.now()));
    consumer.on(HEARTBEAT, () => liveness.activity(Date.now()));
    consumer.on(GROUP_JOIN, (event) => {
      const partitions = event.payload.memberAssignment[config.topic] ?? [];
      trail.state.keepPartitions(new Set(partitions));
      metrics.keepPartitions(new Set(partitions));
      // After a rejoin the brokers may be another cluster (a wiped local broker).
      // Batches await this check; a failure reaches KafkaJS through them.
      const check = this.checkEpoch();
      check.catch(() => {});
      this.epochChecked = check;
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
        this.fail(new TrackerFailure(`Consumer crashed: ${error.message}`, { cause: error }));
      }
    });
  }

  /** Emits a metrics record every METRICS_INTERVAL_MS and acts on the liveness verdict. */
  watchLiveness(): { stop(): void } {
    const { log } = this;
    return watchLiveness(this.liveness, {
      intervalMs: METRICS_INTERVAL_MS,
      onVerdict: (verdict) => {
        this.emitMetrics();
        if (verdict.kind === "outage" && verdict.report) {
          // KafkaJS keeps retrying. Say so while it lasts; resume after.
          log.error("Kafka unreachable for {seconds} s: retrying, nothing is committed meanwhile", {
            seconds: Math.round(verdict.idleMs / 1000),
          });
        } else if (verdict.kind === "stalled") {
          this.fail(
            new TrackerFailure(
              `Consumer stalled: no fetch, heartbeat or retry for ${STALL_TIMEOUT_MS / 1000} s`,
            ),
          );
        }
      },
    });
  }

  emitMetrics(final = false): void {
    const record = this.metrics.toRecord(Date.now(), {
      openOrders: this.trail.state.openOrders,
      final,
    });
    this.log.info(final ? "Final metrics" : "Metrics", { ...record });
  }

  /**
   * Shutdown, in this order: finish the batches in hand (sync, then commit; no
   * new chunk starts once stopping) → stop intake and leave the group → close
   * the DLQ producer → checkpoint and close the trail (only closed, without a
   * checkpoint, after a failed write). KafkaJS's stop() may leave the group
   * before an eachBatch returns, so the batches are awaited first. The parsing
   * thread ends once nothing more is consumed.
   */
  async close(): Promise<void> {
    const { consumer, dlq, trail, log } = this;
    // Bounded: a commit still retrying (a coordinator gone) must not hang the stop.
    await closeStep(Promise.allSettled(this.batchesInHand)).catch((e) =>
      log.warn("Cannot finish the batches in hand: {error}", { error: String(e) })
    );
    await closeStep(consumer.stop()).catch((e) =>
      log.warn("Cannot stop consuming cleanly: {error}", { error: String(e) })
    );
    this.parser.close();
    await closeStep(consumer.disconnect()).catch((e) =>
      log.warn("Cannot leave the group cleanly: {error}", { error: String(e) })
    );
    // A dead-letter send abandoned at its deadline may still be retrying: do not wait for it.
    await closeStep(dlq.disconnect()).catch((e) =>
      log.warn("Cannot close the dead-letter producer cleanly: {error}", { error: String(e) })
    );
    // Its records are on disk: a summary line is written even after a failed write.
    this.summary.close();
    if (this.writeFailed) trail.abandon();
    else await trail.close();
  }
}

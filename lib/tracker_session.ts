/**
 * What one run of the tracker shares: the trail, the Kafka clients, liveness,
 * the failure that ends the run, and the shutdown in its written-down order.
 * order_tracker.ts drives it.
 */
import type { AuditTrail } from "./audit_trail.ts";
import type { Config } from "./config.ts";
import { MAX_ORDER_BYTES, TRACKER_CLIENT_ID } from "./constants.ts";
import { OrderParser } from "./order_parser.ts";
import { type EpochSuspicion, reconcileEpoch } from "./epoch_check.ts";
import {
  type Consumer,
  type ConsumerRunConfig,
  createConsumer,
  createIdempotentProducer,
  createKafka,
  type EachBatchPayload,
  type Kafka,
  type Producer,
  rejoinableGroupError,
  TopicIdReader,
  topicStarts,
  transientCrash,
  withAdmin,
} from "./kafka.ts";
import { Liveness, STALL_TIMEOUT_MS, watchLiveness } from "./liveness.ts";
import type { Logger } from "./logging.ts";
import type { TrackerMetrics } from "./tracker_metrics.ts";
import type { TrackerExposition } from "./prometheus.ts";
import { TrailSummaryLog } from "./trail_summary_log.ts";
import { awaitWithDeadline } from "./retry.ts";
import { AuditWriter } from "./audit_writer.ts";
import { type CommitOffset, OffsetCommitter } from "./offset_committer.ts";
import { publishBounded } from "./dead_letter_publisher.ts";

export const METRICS_INTERVAL_MS = 5_000;
/**
 * A commit starts at least this long after the one before. At 5,000 orders/s
 * a commit per fetch was several hundred commits a second, each a write to
 * the group's log on the broker; a crash or a rebalance redelivers at most
 * this much more (the trail recognises it).
 */
const COMMIT_INTERVAL_MS = 50;
/** After a failed commit the next is tried this late (with the offsets it kept). */
const COMMIT_RETRY_MS = 1_000;
/** Failed commits are said at most once per this long. */
const COMMIT_WARN_EVERY_MS = 15_000;
/** The final commit at shutdown gets this long: leaving the group and closing the trail follow. */
const FLUSH_TIMEOUT_MS = 2_000;
/** After a crash KafkaJS does not restart from but a cluster coming back cures, the consumer runs again after this. */
const CRASH_RESTART_MS = 1_000;
/**
 * The topic's id is read this often while the consumer runs: a topic deleted
 * and created again under it is found within this long (KafkaJS fetches on at
 * its old offsets, which on the new topic skips its first messages).
 */
const TOPIC_CHECK_MS = 5_000;
/** Each step of the shutdown gets this long; a client stuck in a retry must not hang it. */
const CLOSE_TIMEOUT_MS = 5_000;
/**
 * When a rebalance begins, the batches in hand get this long to be synced and
 * committed before the member rejoins: well within the group's rebalance
 * timeout (kafka.ts), which the other members wait for.
 */
const REJOIN_COMMIT_MS = 3_000;

/** The tracker failed in a way a restart may fix (stall, crash, disk, DLQ). */
export class TrackerFailure extends Error {
  override name = "TrackerFailure";
}

/** One step of the shutdown, given CLOSE_TIMEOUT_MS; rejects with a DeadlineError after that. */
function closeStep(work: Promise<unknown>, deadlineMs = CLOSE_TIMEOUT_MS): Promise<unknown> {
  return awaitWithDeadline(work, {
    deadlineMs,
    reportEveryMs: deadlineMs,
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
  /** The batches being audited, until synced and their offset handed to the committer; shutdown lets them finish. */
  readonly batchesInHand = new Set<Promise<void>>();
  /** A batch found offsets gone back: the others stop, then the consumer restarts. */
  restarting = false;
  /** Writes the planned chunks of every batch in hand, several at a time. */
  readonly writer: AuditWriter;
  /** Commits the offsets of synced batches off the fetch path; those handed over during a commit go in the next one. */
  readonly commits: OffsetCommitter;
  /** Bytes of messages planned and not yet synced: batches go back to KafkaJS before their sync while this is small. */
  unsyncedBytes = 0;
  /** The epoch check of the latest group join: batches wait for it. */
  epochChecked: Promise<unknown> = Promise.resolve();
  /** The Prometheus metrics, when served: written records' latencies go there too. */
  exposition: TrackerExposition | undefined;
  /** The trail summary the monitor reads: each chunk's records go there once on disk. */
  readonly summary: TrailSummaryLog;
  /** How the consumer runs: kept to run it again after a transient crash. */
  #runConfig: ConsumerRunConfig | undefined;
  /** The partitions of the topic given at the latest join. */
  #assigned: number[] = [];
  /** The committer's generation the latest join began (a rebalance or rewind since ends it). */
  #joinedGeneration: number | undefined;
  /** The latest batch's commit call (one attempt, to the current generation). */
  commitVia: EachBatchPayload["commitOffsetsIfNecessary"] | undefined;
  /** The commit before rejoining of the latest rebalance, by the committer's generation. */
  #rejoinCommit: { generation: number; done: Promise<void> } | undefined;
  /** A restart of the consumer after a crash, while it runs. */
  #restarting: Promise<void> | undefined;
  #restartTimer: ReturnType<typeof setTimeout> | undefined;
  #closing = false;
  /** Reads the topic's id on a connection of its own. */
  readonly #topicIds: TopicIdReader;
  /** The first topic id this run read, for an epoch that does not record one. */
  #topicId: string | undefined;
  #topicTimer: ReturnType<typeof setTimeout> | undefined;
  /** A read of the topic's id and what follows it, while one runs: close() waits for it. */
  #topicCheck: Promise<void> | undefined;
  /** The first join with partitions was checked for a rewind its epoch still needs (#rewindAgain). */
  #startRewindChecked = false;
  /** Epoch checks, one after another (checkEpoch). */
  #epochChecks: Promise<unknown> = Promise.resolve();
  /** The failed epoch check the next batch begins again (epochCheckFailed). */
  #failedCheck: Promise<unknown> | undefined;
  /** The brokers had no topic ids at a read (said once). */
  #topicIdsUnknown = false;
  /** The topic was missing at the latest read (said once until it is back). */
  #topicMissing = false;
  #topicWarnedAt = -Infinity;

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
    this.#topicIds = new TopicIdReader(this.kafka);
    this.summary = new TrailSummaryLog(config.paths.summaryFile, { trail, log });
    this.writer = new AuditWriter(trail, (letters) => publishBounded(letters, this));
    this.commits = new OffsetCommitter((offsets) => this.#commit(offsets), {
      intervalMs: COMMIT_INTERVAL_MS,
      retryMs: COMMIT_RETRY_MS,
      onError: (error) => this.#commitFailed(error),
    });
  }

  /**
   * Commits through the latest batch's client call, one attempt: a commit
   * retried inside KafkaJS (its consumer.commitOffsets) could be sent again
   * after a rejoin, under the next generation, with offsets of before it.
   */
  #commit(offsets: readonly CommitOffset[]): Promise<void> {
    const commit = this.commitVia;
    if (commit === undefined) {
      return Promise.reject(new Error("Cannot commit offsets: no batch consumed yet"));
    }
    const topics = new Map<string, Array<{ partition: number; offset: string }>>();
    for (const { topic, partition, offset } of offsets) {
      const partitions = topics.get(topic) ?? topics.set(topic, []).get(topic)!;
      partitions.push({ partition, offset: String(offset) });
    }
    return commit({
      topics: [...topics].map(([topic, partitions]) => ({ topic, partitions })),
    });
  }

  #commitWarnedAt = -Infinity;
  #commitFailures = 0;

  /** A refused or failed commit: said once per COMMIT_WARN_EVERY_MS; its offsets are kept. */
  #commitFailed(error: unknown): void {
    // A rebalance: KafkaJS's heartbeat rejoins, and the offsets come back as
    // redeliveries. Else the committer tries again.
    const rejoin = rejoinableGroupError(error);
    if (rejoin) {
      this.log.info(
        "Commit refused by the group ({type}); redeliveries after the rejoin are recognised",
        { type: (rejoin as { type?: string }).type ?? rejoin.name },
      );
      return;
    }
    this.#commitFailures++;
    const now = Date.now();
    if (now - this.#commitWarnedAt < COMMIT_WARN_EVERY_MS) return;
    this.#commitWarnedAt = now;
    this.log.warn("Cannot commit offsets ({failures} failed), retrying: {error}", {
      failures: this.#commitFailures,
      error: (error as Error).message,
    });
  }

  /**
   * A rebalance began (a heartbeat said so) and this member is about to
   * rejoin, after which its uncommitted offsets are forgotten. The group still
   * takes this generation's commits until then (as the Java consumer's commit
   * on revocation relies on): the batches in hand are synced, and their
   * offsets committed, so that a member given one of these partitions next
   * does not audit those messages again in its own trail. Bounded
   * (REJOIN_COMMIT_MS); never fails: a commit refused leaves redeliveries,
   * which the trails record as before.
   */
  commitBeforeRejoin(): Promise<void> {
    // The batches of a fetch find the rebalance together: one commit for them.
    const { generation } = this.commits;
    if (this.#rejoinCommit?.generation !== generation) {
      this.#rejoinCommit = { generation, done: this.#commitBeforeRejoin() };
    }
    return this.#rejoinCommit.done;
  }

  async #commitBeforeRejoin(): Promise<void> {
    const started = performance.now();
    // A batch not synced in time (a slow disk) is left out; what is synced still goes.
    await closeStep(Promise.allSettled([...this.batchesInHand]), REJOIN_COMMIT_MS).catch(() => {});
    const partitions = this.commits.pending.length;
    try {
      const left = REJOIN_COMMIT_MS - (performance.now() - started);
      await closeStep(this.commits.flush(), Math.max(0, left));
    } catch (error) {
      this.log.info("Rebalance: cannot commit what is synced before rejoining: {error}", {
        error: (error as Error).message,
      });
      return;
    }
    this.#committedBeforeRejoin(partitions, started);
  }

  #committedBeforeRejoin(partitions: number, started: number): void {
    this.log.info(
      "Rebalance: committed what is synced before rejoining ({partitions} partition(s)), in {ms} ms",
      { partitions, ms: Math.round(performance.now() - started) },
    );
  }

  /**
   * The group was joined (KafkaJS's GROUP_JOIN) with `partitions` of the
   * topic: the state and metrics of the others are forgotten, and offsets not
   * yet committed too (the consumer fetches from the committed ones again,
   * maybe of another cluster).
   */
  joined(partitions: readonly number[]): void {
    this.#assigned = [...partitions];
    this.trail.state.keepPartitions(new Set(partitions));
    this.metrics.keepPartitions(new Set(partitions));
    this.commits.newGeneration();
    this.#joinedGeneration = this.commits.generation;
  }

  /** Whether the latest join gave this member `partition` of the topic. */
  holds(partition: number): boolean {
    return this.#assigned.includes(partition);
  }

  /**
   * A batch that went back to KafkaJS before it was planned stopped at
   * `offset` because the group was joined again: KafkaJS fetches its partition
   * again from there. Without this, a fetch sent before the join (from the
   * batch's end, which KafkaJS had resolved) would still be handed over, and
   * the offsets between would be skipped; a seek makes that batch stale. Only
   * when the latest join gave the partition back and nothing came since (a
   * rebalance KafkaJS found stops every fetch first, and a rewind seeks
   * itself).
   */
  resumeAt(partition: number, offset: number): void {
    if (this.commits.generation !== this.#joinedGeneration || !this.holds(partition)) return;
    this.seek(partition, offset);
  }

  /** KafkaJS fetches `partition` of the topic from `offset` next (replaced in tests). */
  seek(partition: number, offset: number): void {
    this.consumer.seek({ topic: this.config.topic, partition, offset: String(offset) });
  }

  /**
   * KafkaJS found a rebalance and rejoins right after this (told by its
   * REBALANCING event, which it does not wait for). What is synced and not
   * yet committed is sent in a commit at once, before the rejoin: KafkaJS
   * asks for the coordinator before its JoinGroup, so the commit reaches the
   * group first, still in this generation. Then the batches taken before
   * stop resolving and committing. The batch handler's commit before
   * rejoining covers the batches in hand when its heartbeat finds the
   * rebalance; this covers a rebalance KafkaJS finds on its own (a heartbeat
   * after an empty fetch), where offsets synced in the last commit interval
   * were otherwise forgotten and audited again by their next owner. Skipped
   * while a commit is being sent: one after it would come after the rejoin.
   */
  rebalancing(): void {
    const partitions = this.commits.pending.length;
    if (partitions > 0 && !this.commits.running) {
      const started = performance.now();
      this.commits.flush().then(
        () => this.#committedBeforeRejoin(partitions, started),
        (error) => this.#commitFailed(error),
      );
    }
    this.commits.newGeneration();
  }

  fail(error: TrackerFailure): void {
    this.failure ??= error;
    this.#failed.resolve();
  }

  /** Resolves when the run has failed. */
  get failed(): Promise<void> {
    return this.#failed.promise;
  }

  /**
   * The trail's epoch against the cluster, as `reconcileEpoch` takes it. Once
   * the consumer runs, a new epoch whose offsets start afresh also rewinds it.
   * Checks run one at a time, in the order asked: a join's, a batch's and the
   * topic watch's may be asked together, and a later one then finds the
   * epoch the earlier began.
   */
  checkEpoch(suspicion?: EpochSuspicion): Promise<"same" | "adopt" | "new"> {
    const check = this.#epochChecks.then(() => this.#checkEpochNow(suspicion));
    this.#epochChecks = check.catch(() => {});
    return check;
  }

  /**
   * The epoch check after the latest join (`failed`, still `epochChecked`)
   * failed with an error KafkaJS fetches again after (the brokers restarting,
   * say): the next batch begins another (`currentEpochCheck`). Without it each
   * of KafkaJS's fetches would fail on the same rejection until its retries
   * ran out and it restarted the consumer (tens of seconds).
   */
  epochCheckFailed(failed: Promise<unknown>): void {
    if (this.epochChecked === failed) this.#failedCheck = failed;
  }

  /**
   * What a batch waits for before it is audited: the epoch check of the
   * latest join, or when that one failed (`epochCheckFailed`) a new one, begun
   * by the first batch after it (its fetch shows the brokers answer again)
   * once the batches in hand are written, as at a join. None is begun once
   * the run is closing or has failed.
   */
  currentEpochCheck(): Promise<unknown> {
    if (this.epochChecked !== this.#failedCheck) return this.epochChecked;
    this.#failedCheck = undefined;
    if (this.#closing || this.failure) return this.epochChecked;
    return this.#checkEpochAfterBatches();
  }

  /**
   * Begins an epoch check once the batches in hand are written (a new epoch
   * rotates the trail, which must not happen under their appends) and makes it
   * the one batches wait for. Skipped when the run is closing or failed by then.
   */
  #checkEpochAfterBatches(): Promise<unknown> {
    const check = Promise.allSettled([...this.batchesInHand]).then(() =>
      this.#closing || this.failure ? undefined : this.checkEpoch()
    );
    check.catch(() => {});
    this.epochChecked = check;
    return check;
  }

  async #checkEpochNow(suspicion?: EpochSuspicion): Promise<"same" | "adopt" | "new"> {
    const { kafka, trail, log } = this;
    const running = this.#runConfig !== undefined;
    const found = await reconcileEpoch(
      { kafka, topicIds: this.#topicIds, trail, topic: this.config.topic, log },
      suspicion,
      { rewind: running },
    );
    if (found.kind === "new" && found.starts !== undefined) await this.#rewind(found.starts);
    else if (found.kind === "same" && running && suspicion === undefined) await this.#rewindAgain();
    if (found.kind === "new" && running) this.#startRewindChecked = true;
    return found.kind;
  }

  /**
   * At the first join with partitions after the process started, an epoch
   * that began by sending the consumer back to the first offsets sends the
   * partitions with nothing audited in it back again: the run that began it
   * may have stopped (a crash) before its commit of those offsets landed, and
   * the group's offsets would then skip the first messages of a topic created
   * again. Only then: at a later rejoin this run's own rewind was committed,
   * and partitions it takes over from another member are that member's, at
   * the offsets it committed.
   */
  async #rewindAgain(): Promise<void> {
    if (this.#startRewindChecked || this.#assigned.length === 0) return;
    const { topic } = this.config;
    const { epoch, state } = this.trail;
    const audited = state.lastOffsets(topic);
    const unaudited = this.#assigned.filter((partition) => !audited.has(partition));
    if (epoch.from_first_offsets && unaudited.length > 0) {
      this.log.info(
        "Nothing of audit trail epoch {epoch} is audited yet in partitions {partitions}, and it began from the first offsets",
        { epoch: epoch.number, partitions: unaudited },
      );
      const starts = await withAdmin(this.kafka, (admin) => topicStarts(admin, topic));
      await this.#rewind(starts, unaudited);
    }
    this.#startRewindChecked = true;
  }

  /**
   * After a new epoch whose offsets start afresh, every assigned partition (or
   * those given) is read again from its first kept offset (`starts`, read before the epoch
   * began), and that offset is committed. What was fetched before was judged
   * against the old epoch: offsets below its last audited one were taken as
   * redeliveries without a look, and on a topic created again they are other
   * messages. Events audited before are recognised as duplicates. Batches in
   * hand stop resolving and committing.
   */
  async #rewind(
    starts: ReadonlyMap<number, number>,
    partitions: readonly number[] = this.#assigned,
  ): Promise<void> {
    const { topic } = this.config;
    this.commits.newGeneration();
    const generation = this.commits.generation;
    try {
      for (const partition of partitions) {
        const offset = starts.get(partition) ?? 0;
        this.seek(partition, offset);
        this.commits.submit({ topic, partition, offset }, generation);
      }
    } catch (error) {
      // Not rewound: what follows would skip what was taken for redeliveries.
      this.fail(
        new TrackerFailure(`Cannot read the partitions again: ${(error as Error).message}`, {
          cause: error,
        }),
      );
      return;
    }
    this.log.warn("Reading partitions {partitions} again from their first offsets", { partitions });
    // Committed before the consumer restarts (it fetches from the committed
    // offsets); a refused commit is kept and tried again.
    await this.commits.flush().catch((error) =>
      this.log.warn("Cannot commit the first offsets yet: {error}", {
        error: (error as Error).message,
      })
    );
  }

  /**
   * Reads the topic's id now and every TOPIC_CHECK_MS until closing: called
   * before the consumer runs, so the first read is of the topic the run
   * begins with. Another id later means the topic was deleted and created
   * again: nothing else tells, since KafkaJS fetches on at its old offsets,
   * and on the new topic that skips its first messages. Then the batches in
   * hand stop at their next chunk, a new epoch begins and every assigned
   * partition is read again from its first offset (`#rewind`). Brokers before
   * Kafka 2.8 have no topic ids: nothing is watched then.
   */
  async watchTopic(): Promise<void> {
    this.#topicCheck = this.#checkTopic();
    await this.#topicCheck;
  }

  async #checkTopic(): Promise<void> {
    const { topic } = this.config;
    let id: string | null | undefined;
    try {
      id = await this.#topicIds.read(topic);
    } catch (error) {
      // The brokers away: liveness says so; the next read may succeed.
      const now = Date.now();
      if (now - this.#topicWarnedAt >= COMMIT_WARN_EVERY_MS) {
        this.#topicWarnedAt = now;
        this.log.warn("Cannot read the id of topic {topic}, retrying: {error}", {
          topic,
          error: (error as Error).message,
        });
      }
      return this.#nextTopicCheck();
    }
    if (id === undefined) {
      // Read on: a rolling upgrade brings them.
      if (!this.#topicIdsUnknown) {
        this.log.info(
          "The brokers have no topic ids (before Kafka 2.8): topic {topic} deleted and created again under the running tracker is found only by its offsets",
          { topic },
        );
      }
      this.#topicIdsUnknown = true;
      return this.#nextTopicCheck();
    }
    if (id === null) {
      if (!this.#topicMissing) {
        this.log.warn("Topic {topic} does not exist: waiting for it to be created again", {
          topic,
        });
      }
      this.#topicMissing = true;
      return this.#nextTopicCheck();
    }
    this.#topicMissing = false;
    // The epoch records the id it began with (not an epoch begun when the
    // brokers could not tell: then the first id this run read).
    const known = this.trail.epoch.topic_id ?? this.#topicId;
    this.#topicId ??= id;
    // While a check of offsets that went back runs, this one waits for the next read.
    if (known !== undefined && known !== id && !this.restarting && !this.#closing) {
      const reason =
        `topic ${topic} was deleted and created again (id ${id}; the trail was of ${known})`;
      const found = {
        kind: "recreated" as const,
        reason,
        topicId: id,
        epoch: this.trail.epoch.number,
      };
      if (await this.#topicRecreated(found)) this.#topicId = id;
    }
    this.#nextTopicCheck();
  }

  #nextTopicCheck(): void {
    if (this.#closing || this.failure) return;
    this.#topicTimer = setTimeout(() => {
      this.#topicCheck = this.#checkTopic();
    }, TOPIC_CHECK_MS);
  }

  /**
   * The topic was created again: the batches in hand stop at their next chunk
   * and batches taken meanwhile wait; once those in hand are done (a new epoch
   * rotates the trail), a new epoch begins and the partitions are read again.
   * Returns false when the check failed (the next read tries again).
   */
  async #topicRecreated(found: EpochSuspicion & { kind: "recreated" }): Promise<boolean> {
    this.restarting = true;
    const check = (async () => {
      try {
        await Promise.allSettled([...this.batchesInHand]);
        await this.checkEpoch(found);
      } finally {
        this.restarting = false;
      }
    })();
    this.epochChecked = check.catch(() => {});
    try {
      await check;
      return true;
    } catch (error) {
      this.log.warn("Cannot begin a new epoch for the topic created again, retrying: {error}", {
        error: (error as Error).message,
      });
      return false;
    }
  }

  /** Liveness, rebalances and crashes, from the consumer's events. */
  watchConsumer(): void {
    const { consumer, liveness, config, log } = this;
    const { FETCH_START, HEARTBEAT, CRASH, GROUP_JOIN } = consumer.events;
    consumer.on(FETCH_START, () => liveness.activity(Date.now()));
    consumer.on(HEARTBEAT, () => liveness.activity(Date.now()));
    consumer.on(GROUP_JOIN, (event) => {
      const partitions = event.payload.memberAssignment[config.topic] ?? [];
      this.joined(partitions);
      // After a rejoin the brokers may be another cluster (a wiped local broker).
      // Batches await this check; a failure reaches KafkaJS through them.
      this.#checkEpochAfterBatches();
      log.info("Joined group {group}: partitions {partitions}", {
        group: config.groupId,
        partitions,
      });
    });
    consumer.on(consumer.events.REBALANCING, () => this.rebalancing());
    consumer.on(CRASH, (event) => {
      const { error, restart } = event.payload;
      if (restart) {
        liveness.retrying(Date.now());
        log.warn("Consumer crashed, KafkaJS restarts it: {error}", { error: error.message });
      } else if (transientCrash(error) && this.#runConfig !== undefined) {
        log.warn("Consumer crashed while the cluster is away, starting it again: {error}", {
          error: error.message,
        });
        this.#restartAfterCrash();
      } else {
        this.fail(new TrackerFailure(`Consumer crashed: ${error.message}`, { cause: error }));
      }
    });
  }

  /** Runs the consumer (and keeps how, to run it again after a transient crash). */
  async runConsumer(runConfig: ConsumerRunConfig): Promise<void> {
    this.#runConfig = runConfig;
    await this.consumer.run(runConfig);
  }

  /**
   * KafkaJS has stopped and disconnected the consumer after a crash it does
   * not restart from: connects and runs it again every CRASH_RESTART_MS until
   * it runs, the run fails or closes. A crash of the new run comes back here.
   */
  #restartAfterCrash(): void {
    if (this.#closing || this.failure || this.#restartTimer !== undefined) return;
    this.liveness.retrying(Date.now());
    this.#restartTimer = setTimeout(() => {
      this.#restartTimer = undefined;
      this.#restarting = this.#startAgain().finally(() => {
        this.#restarting = undefined;
      });
    }, CRASH_RESTART_MS);
  }

  /** One try at connecting and running the consumer again; close() waits for it. */
  async #startAgain(): Promise<void> {
    const stopped = () => this.#closing || this.failure !== undefined;
    if (stopped()) return;
    try {
      await this.consumer.connect();
      // Closing began while connecting: it stops and disconnects after this.
      if (stopped()) return;
      await this.consumer.run(this.#runConfig);
    } catch (error) {
      this.log.warn("Cannot start the consumer again yet: {error}", {
        error: (error as Error).message,
      });
      this.#restartAfterCrash();
    }
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
    this.#closing = true;
    clearTimeout(this.#restartTimer);
    clearTimeout(this.#topicTimer);
    await this.#restarting;
    // Bounded: a commit still retrying (a coordinator gone) must not hang the stop.
    await closeStep(Promise.allSettled(this.batchesInHand)).catch((e) =>
      log.warn("Cannot finish the batches in hand: {error}", { error: String(e) })
    );
    // A check of the topic's id that found it created again ends first: its
    // rewind commits the first offsets.
    await closeStep(this.#topicCheck ?? Promise.resolve()).catch(() => {});
    // So does an epoch check under way (a join's, or one begun again): it may
    // begin a new epoch and send the consumer back, which must not cross the
    // trail's closing.
    await closeStep(this.#epochChecks).catch(() => {});
    await closeStep(this.#topicIds.close()).catch(() => {});
    // The offsets of what is synced, including any a failed commit kept.
    await closeStep(this.commits.flush(), FLUSH_TIMEOUT_MS).catch((e) =>
      log.warn("Cannot commit the last offsets: {error}", { error: String(e) })
    );
    this.commits.close();
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
    // A checkpoint now would count chunks still in the writer (their batches
    // did not finish in time) as on disk, and a restart would skip them.
    if (this.writeFailed || this.writer.unwritten > 0) trail.abandon();
    else await trail.close();
  }
}

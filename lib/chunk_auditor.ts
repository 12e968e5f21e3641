/**
 * The tracker's writer. The partitions' batch handlers run at once and each
 * hands in its next chunk; the chunks handed in together are audited as one
 * group: planned in turn (chunk_plan.ts, against the one state), their dead
 * letters published, all their audit lines appended with one fdatasync, and
 * then their offsets committed in one request. With one handler at a time a
 * fetch of three partitions cost three syncs and three commits in a row, and
 * a sync takes milliseconds on a disk the broker writes to as well.
 * Planning, writing and committing stay in that order, one group at a time,
 * so the state never runs ahead of the disk while a checkpoint is taken.
 */
import { setImmediate } from "node:timers";
import { MAX_ORDER_BYTES } from "./constants.ts";
import {
  consumerRestart,
  type EachBatchPayload,
  type KafkaMessage,
  rejoinableGroupError,
} from "./kafka.ts";
import type { AuditRecord } from "./audit_record.ts";
import { type Chunk, type ChunkPlan, planChunk } from "./chunk_plan.ts";
import type { SourceMessage } from "./dead_letter.ts";
import { publishBounded } from "./dead_letter_publisher.ts";
import type { TrackerSession } from "./tracker_session.ts";
import type { Logger } from "./logging.ts";

/** Writing the dead letters or the audit lines failed: nothing of the chunk may be committed. */
export class AuditWriteError extends Error {
  override name = "AuditWriteError";
}

/** What became of a chunk handed in. */
export type ChunkOutcome = "audited" | "skipped";

/** A chunk handed in by a partition's handler. */
interface Handed {
  payload: EachBatchPayload;
  messages: readonly KafkaMessage[];
  /** The batch's next message after the chunk, if any (its timestamp is the lag's age). */
  following: KafkaMessage | undefined;
  done: PromiseWithResolvers<ChunkOutcome>;
}

/** A handed-in chunk with its plan. */
interface Planned extends Handed {
  chunk: Chunk;
  plan: Extract<ChunkPlan, { kind: "write" }>;
}

export function sourceMessage(message: KafkaMessage): SourceMessage {
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

/** Audits the chunks the handlers hand in, a group at a time. */
export class ChunkAuditor {
  readonly #session: TrackerSession;
  readonly #signal: AbortSignal;
  #handed: Handed[] = [];
  #running: Promise<void> | undefined;

  constructor(session: TrackerSession, { signal }: { signal: AbortSignal }) {
    this.#session = session;
    this.#signal = signal;
  }

  /**
   * Hands in a chunk of `payload`'s batch. Resolves once its lines are synced
   * and its commit is sent ("audited"), or once it was set aside unplanned
   * ("skipped": stopping, a stale batch, or another chunk of its group asked
   * for a restart); rejects with an AuditWriteError when the write failed, or
   * with an error for KafkaJS (a restart, a failed commit).
   */
  audit(
    payload: EachBatchPayload,
    { messages, following }: { messages: readonly KafkaMessage[]; following?: KafkaMessage },
  ): Promise<ChunkOutcome> {
    const done = Promise.withResolvers<ChunkOutcome>();
    this.#handed.push({ payload, messages, following, done });
    this.#running ??= this.#run();
    return done.promise;
  }

  /** Resolves when no group is being audited (shutdown waits for this). */
  async idle(): Promise<void> {
    while (this.#running !== undefined) await this.#running;
  }

  async #run(): Promise<void> {
    try {
      while (this.#handed.length > 0) {
        // One turn of the event loop: the other partitions' handlers, started
        // with this one, hand in their chunks and join the group.
        await new Promise((resolve) => setImmediate(resolve));
        const group = this.#handed;
        this.#handed = [];
        await this.#auditGroup(group);
      }
    } finally {
      this.#running = undefined;
    }
  }

  async #auditGroup(group: Handed[]): Promise<void> {
    const session = this.#session;
    const { trail, metrics, log } = session;
    // A commit that failed since the last group goes to KafkaJS now, through
    // the first handler: it rejoins, and the uncommitted offsets come back as
    // redeliveries (their lines are on disk), recognised and committed then.
    const commitFailure = session.takeCommitFailure();
    if (commitFailure !== undefined) {
      group[0]!.done.reject(rejoinableGroupError(commitFailure) ?? commitFailure);
      for (const handed of group.slice(1)) handed.done.resolve("skipped");
      return;
    }
    const now = Date.now();
    const planned: Planned[] = [];
    let wentBack: { handed: Handed; reason: string; definite: boolean } | undefined;
    for (const handed of group) {
      const { payload } = handed;
      // After a failed write nothing more is planned: the tail may be torn.
      if (
        wentBack !== undefined || session.failure || !payload.isRunning() || payload.isStale() ||
        this.#signal.aborted
      ) {
        handed.done.resolve("skipped");
        continue;
      }
      const { batch } = payload;
      const chunk: Chunk = {
        topic: batch.topic,
        partition: batch.partition,
        highWatermark: Number(batch.highWatermark),
        messages: handed.messages.map(sourceMessage),
      };
      const plan = planChunk(trail.state, chunk, { now, maxOrderBytes: MAX_ORDER_BYTES });
      if (plan.kind === "offsets-went-back") {
        wentBack = { handed, reason: plan.reason, definite: plan.definite };
      } else {
        planned.push({ ...handed, chunk, plan });
      }
    }
    if (planned.length > 0) {
      try {
        const deadLetters = planned.flatMap((p) => p.plan.deadLetters);
        if (deadLetters.length > 0) await publishBounded(deadLetters, session);
        await trail.append(planned.flatMap((p) => p.plan.records));
      } catch (error) {
        const failure = new AuditWriteError((error as Error).message, { cause: error });
        for (const p of planned) p.done.reject(failure);
        if (wentBack !== undefined) wentBack.handed.done.resolve("skipped");
        return;
      }
      const commits: Array<{ topic: string; partition: number; offset: number }> = [];
      for (const { payload, chunk, plan, messages, following } of planned) {
        // Counted only now: what is counted is on disk.
        metrics.addChunk(now, {
          received: messages.length,
          redelivered: plan.redelivered,
          records: plan.records,
        });
        session.exposition?.observe(plan.records);
        reportDeadLetters(plan.records, log);
        payload.resolveOffset(messages.at(-1)!.offset);
        if (plan.commitOffset !== null) {
          commits.push({
            topic: chunk.topic,
            partition: chunk.partition,
            offset: plan.commitOffset,
          });
        }
        metrics.setLag(chunk.partition, {
          highWatermark: chunk.highWatermark,
          nextOffset: Number(messages.at(-1)!.offset) + 1,
          // The next record's time when this batch holds it; else the last
          // audited one's, an upper bound of the age until the next fetch.
          oldestTimestamp: (following === undefined
            ? chunk.messages.at(-1)!.timestamp
            : sourceMessage(following).timestamp) ?? null,
          at: Date.now(),
        });
      }
      // The lines are synced: the commit goes out now, and the next group
      // (or fetch) does not wait for its answer.
      if (commits.length > 0) session.commit(commits);
      for (const p of planned) p.done.resolve("audited");
    }
    if (wentBack !== undefined) {
      // Nothing skipped so far was committed; after a new epoch the consumer
      // fetches from the committed offsets again and audits what it skipped.
      const { handed, reason, definite } = wentBack;
      try {
        await session.checkEpoch({ reason, definite });
        handed.done.reject(consumerRestart(`Restarting the consumer: ${reason}`));
      } catch (error) {
        handed.done.reject(error);
      }
    }
  }
}

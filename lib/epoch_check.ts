/**
 * The tracker's epoch check against the cluster (the shell around
 * epoch_decision.ts): asks the brokers for the cluster id and the topic's end
 * offsets, confirms offsets that went back after a pause (a new leader's high
 * watermark may lag for a moment), and begins a new trail epoch when the
 * verdict says so.
 */
import type { AuditTrail } from "./audit_trail.ts";
import { judgeEpoch, offsetsBehindTrail, suspicionOutdated } from "./epoch_decision.ts";
import {
  type Admin,
  clusterId,
  type Kafka,
  NEW_TOPIC_GRACE_MS,
  topicEnds,
  type TopicIdReader,
  topicStarts,
  withAdmin,
} from "./kafka.ts";
import type { Logger } from "./logging.ts";

/** Offsets found behind the trail are read again after this pause before a new epoch begins. */
const CONFIRM_OFFSETS_MS = 2_000;

/**
 * What was found before the check, under the epoch numbered `epoch`: a
 * chunk's offsets that went back (a definite one, another message at an
 * audited offset, needs no confirmation), or the topic's id changing to
 * `topicId` under the running tracker.
 */
export type EpochSuspicion =
  | { kind: "offsets"; reason: string; definite: boolean; epoch: number }
  | { kind: "recreated"; reason: string; topicId: string; epoch: number };

/** What the check found, and for a new epoch with `rewind`, where each partition starts now. */
export type EpochCheck =
  | { kind: "same" | "adopt" }
  | { kind: "new"; starts: Map<number, number> | undefined };

/**
 * Compares the trail's epoch with the cluster and begins a new epoch when it no
 * longer describes what is consumed, or `suspicion` says so. A suspicion found
 * under an older epoch is answered already: nothing is read.
 *
 * @param options.rewind for a new epoch, read the partitions' first offsets
 *   before it begins (the running consumer is sent back there): once the
 *   epoch is on record the old offsets are forgotten, and a rewind that then
 *   could not read them would skip the new topic's first messages for good
 * @returns "same" when the epoch still holds, "adopt" when a new one began
 *   keeping the offsets, "new" when one began with offsets starting afresh
 * @throws {Error} when the topic does not exist, or the brokers cannot be
 *   asked (no new epoch began then)
 */
export async function reconcileEpoch(
  { kafka, topicIds, trail, topic, log }: {
    kafka: Kafka;
    /** The run's reader of topic ids (its connection is kept between reads). */
    topicIds: TopicIdReader;
    trail: AuditTrail;
    topic: string;
    log: Logger;
  },
  suspicion?: EpochSuspicion,
  { rewind = false }: { rewind?: boolean } = {},
): Promise<EpochCheck> {
  if (suspicion !== undefined && suspicionOutdated(trail.epoch, suspicion.epoch)) {
    return { kind: "same" };
  }
  // One admin connection for the whole check, the new epoch's first offsets included.
  return await withAdmin(kafka, async (admin) => {
    const observed = await observe(admin, { trail, topic }, suspicion);
    // The id the watch saw is the one recorded: a broker asked now may not know it yet.
    const topicId = suspicion?.kind === "recreated"
      ? suspicion.topicId
      : await readTopicId(topicIds, topic, log);
    const hasRecords = trail.totals.lines > 0;
    const verdict = judgeEpoch(trail.epoch, { ...observed, topic, topicId, hasRecords });
    if (verdict.kind === "same") return { kind: "same" };
    const starts = verdict.kind === "new" && rewind ? await topicStarts(admin, topic) : undefined;
    const epoch = await trail.beginEpoch({
      clusterId: observed.clusterId,
      topic,
      topicId,
      reason: verdict.reason,
      keepOffsets: verdict.kind === "adopt",
      fromFirstOffsets: starts !== undefined,
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
    return verdict.kind === "new" ? { kind: "new", starts } : { kind: verdict.kind };
  });
}

/** The cluster's id, and whether the topic's offsets went back under the trail (or what says so). */
async function observe(
  admin: Admin,
  { trail, topic }: { trail: AuditTrail; topic: string },
  suspicion: EpochSuspicion | undefined,
): Promise<{ clusterId: string; offsetsWentBack: string | undefined; topicRecreated?: string }> {
  const id = await clusterId(admin);
  if (suspicion?.kind === "recreated") {
    return { clusterId: id, offsetsWentBack: undefined, topicRecreated: suspicion.reason };
  }
  if (suspicion?.definite) return { clusterId: id, offsetsWentBack: suspicion.reason };
  const behind = async () => {
    // A topic just created may be unknown yet to the broker asked.
    const ends = await topicEnds(admin, topic, { graceMs: NEW_TOPIC_GRACE_MS });
    if (ends.size === 0) {
      throw new Error(`Cannot consume topic "${topic}": it does not exist (run deno task topics)`);
    }
    return offsetsBehindTrail(ends, trail.state.lastOffsets(topic));
  };
  let offsetsWentBack = await behind();
  if (offsetsWentBack !== undefined) {
    await new Promise((resolve) => setTimeout(resolve, CONFIRM_OFFSETS_MS));
    offsetsWentBack = await behind();
  }
  return { clusterId: id, offsetsWentBack };
}

/**
 * The topic's id, or undefined when the brokers cannot tell (before Kafka
 * 2.8), the topic is gone, or the read failed: the id is a second witness
 * (offsets are the first), and the running tracker's watch reads it again.
 */
async function readTopicId(
  topicIds: TopicIdReader,
  topic: string,
  log: Logger,
): Promise<string | undefined> {
  try {
    return (await topicIds.read(topic)) ?? undefined;
  } catch (error) {
    log.warn("Cannot read the id of topic {topic} for the epoch check: {error}", {
      topic,
      error: (error as Error).message,
    });
    return undefined;
  }
}

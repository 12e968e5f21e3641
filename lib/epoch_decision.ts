/**
 * Does the trail's current epoch still describe what the tracker consumes?
 * A trail written against one cluster or topic must never be used to skip
 * messages of another: offsets there mean other messages. From the epoch on
 * record and what the cluster says now, a verdict: the same epoch; adopt a
 * trail written before epochs were recorded (same offsets, nothing went back);
 * or a new epoch, with the reason. Pure.
 */
import type { TrailEpoch } from "./audit_record.ts";

export type EpochVerdict =
  | { kind: "same" }
  /** Keep the offsets, record the cluster: a trail from before epochs, consistent with it. */
  | { kind: "adopt"; reason: string }
  /** Forget the offsets and audit everything from here on. */
  | { kind: "new"; reason: string };

/**
 * @param observed.clusterId the cluster id the brokers report now
 * @param observed.topic the topic the tracker consumes
 * @param observed.hasRecords whether the trail holds any audit record yet
 * @param observed.offsetsWentBack why the topic's offsets are behind the trail, if they are
 * @param observed.topicId the topic's id now, when the brokers tell it
 * @param observed.topicRecreated how the topic was found deleted and created
 *   again while the tracker ran (its id changed to `topicId`), if it was; an
 *   epoch that already records `topicId` began for it
 */
export function judgeEpoch(
  epoch: TrailEpoch,
  observed: {
    clusterId: string;
    topic: string;
    hasRecords: boolean;
    offsetsWentBack: string | undefined;
    topicId?: string | undefined;
    topicRecreated?: string | undefined;
  },
): EpochVerdict {
  const { clusterId, topic, hasRecords, offsetsWentBack, topicId, topicRecreated } = observed;
  if (epoch.cluster_id === null) {
    if (!hasRecords) return { kind: "new", reason: "a new trail" };
    if (offsetsWentBack !== undefined) {
      return {
        kind: "new",
        reason: `a trail from before epochs were recorded, and ${offsetsWentBack}`,
      };
    }
    return { kind: "adopt", reason: "a trail from before epochs were recorded" };
  }
  if (epoch.cluster_id !== clusterId) {
    return {
      kind: "new",
      reason:
        `another Kafka cluster (${clusterId}; the trail was written against ${epoch.cluster_id})`,
    };
  }
  if (epoch.topic !== topic) {
    return { kind: "new", reason: `another topic (${topic}; the trail was of ${epoch.topic})` };
  }
  if (topicRecreated !== undefined && epoch.topic_id !== topicId) {
    return { kind: "new", reason: topicRecreated };
  }
  if (epoch.topic_id !== undefined && topicId !== undefined && epoch.topic_id !== topicId) {
    return {
      kind: "new",
      reason:
        `topic ${topic} was deleted and created again (id ${topicId}; the trail was of ${epoch.topic_id})`,
    };
  }
  if (offsetsWentBack !== undefined) {
    return { kind: "new", reason: `the topic's offsets went back: ${offsetsWentBack}` };
  }
  if (epoch.topic_id === undefined && topicId !== undefined && hasRecords) {
    // Recorded from now on: a topic created again while the tracker is away is then found by it.
    return { kind: "adopt", reason: `recording the id of topic ${topic} (${topicId})` };
  }
  return { kind: "same" };
}

/**
 * Whether a suspicion found under epoch `foundIn` is already answered: a
 * newer epoch began since (another check found the same change first), and
 * what was found was judged against offsets that epoch forgot.
 */
export function suspicionOutdated(epoch: TrailEpoch, foundIn: number): boolean {
  return epoch.number !== foundIn;
}

/**
 * Why the topic's offsets are behind what the trail audited, or undefined:
 * a partition whose end offset is not past the trail's last offset there (a
 * recreated topic, a wiped broker, an unclean leader election).
 */
export function offsetsBehindTrail(
  endOffsets: ReadonlyMap<number, number>,
  lastAudited: ReadonlyMap<number, number>,
): string | undefined {
  for (const [partition, audited] of lastAudited) {
    const end = endOffsets.get(partition);
    if (end === undefined) {
      return `partition ${partition} no longer exists, but the trail has audited it up to offset ${audited}`;
    }
    if (end <= audited) {
      return `partition ${partition} ends at offset ${end}, but the trail has audited it up to offset ${audited}`;
    }
  }
  return undefined;
}

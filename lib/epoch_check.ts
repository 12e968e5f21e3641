/**
 * The tracker's epoch check against the cluster (the shell around
 * epoch_decision.ts): asks the brokers for the cluster id and the topic's end
 * offsets, confirms offsets that went back after a pause (a new leader's high
 * watermark may lag for a moment), and begins a new trail epoch when the
 * verdict says so.
 */
import type { AuditTrail } from "./audit_trail.ts";
import { judgeEpoch, offsetsBehindTrail } from "./epoch_decision.ts";
import { clusterId, type Kafka, topicEnds, TopicIdReader, withAdmin } from "./kafka.ts";
import type { Logger } from "./logging.ts";

/** Offsets found behind the trail are read again after this pause before a new epoch begins. */
const CONFIRM_OFFSETS_MS = 2_000;

/**
 * What was found before the check: a chunk's offsets that went back (a
 * definite one, another message at an audited offset, needs no confirmation),
 * or the topic's id changing under the running tracker.
 */
export type EpochSuspicion =
  | { kind: "offsets"; reason: string; definite: boolean }
  | { kind: "recreated"; reason: string };

/**
 * Compares the trail's epoch with the cluster and begins a new epoch when it no
 * longer describes what is consumed, or `suspicion` says so.
 *
 * @returns "same" when the epoch still holds, "adopt" when a new one began
 *   keeping the offsets, "new" when one began with offsets starting afresh
 * @throws {Error} when the topic does not exist
 */
export async function reconcileEpoch(
  { kafka, trail, topic, log }: { kafka: Kafka; trail: AuditTrail; topic: string; log: Logger },
  suspicion?: EpochSuspicion,
): Promise<"same" | "adopt" | "new"> {
  const observed = await withAdmin(kafka, async (admin) => {
    const id = await clusterId(admin);
    if (suspicion?.kind === "recreated") {
      return { clusterId: id, offsetsWentBack: undefined, topicRecreated: suspicion.reason };
    }
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
  const topicId = await readTopicId(kafka, topic);
  const hasRecords = trail.totals.lines > 0;
  const verdict = judgeEpoch(trail.epoch, { ...observed, topic, topicId, hasRecords });
  if (verdict.kind === "same") return "same";
  const epoch = await trail.beginEpoch({
    clusterId: observed.clusterId,
    topic,
    topicId,
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
  return verdict.kind;
}

/** The topic's id, or undefined when the brokers cannot tell (or the topic is gone). */
async function readTopicId(kafka: Kafka, topic: string): Promise<string | undefined> {
  const reader = new TopicIdReader(kafka);
  try {
    return (await reader.read(topic)) ?? undefined;
  } finally {
    await reader.close().catch(() => {});
  }
}

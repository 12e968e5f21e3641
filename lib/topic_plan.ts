/**
 * How durable the project's topics are made, and how `deno task topics` reports
 * what they have: the replication factor is min(3, brokers in the cluster)
 * unless REPLICATION_FACTOR says otherwise, and `min.insync.replicas` is one
 * less than a replication factor of 3 or more unless MIN_INSYNC_REPLICAS says
 * otherwise, so one broker may be down while writes with acks=all go on. Pure.
 */

/** What a topic is created with. */
export interface Durability {
  readonly replicationFactor: number;
  /** Undefined: the broker's default applies. */
  readonly minInsyncReplicas: number | undefined;
}

/**
 * The replication factor and min.insync.replicas for topics on a cluster of
 * `clusterBrokers`, from the settings (undefined: not set).
 *
 * @throws {RangeError} when the settings ask for more replicas than the cluster
 *   has brokers, or more in-sync replicas than replicas
 */
export function planDurability(
  { clusterBrokers, replicationFactor, minInsyncReplicas }: {
    clusterBrokers: number;
    replicationFactor: number | undefined;
    minInsyncReplicas: number | undefined;
  },
): Durability {
  const rf = replicationFactor ?? Math.max(1, Math.min(3, clusterBrokers));
  if (rf > clusterBrokers) {
    throw new RangeError(
      `Cannot create topics: REPLICATION_FACTOR is ${rf} but the cluster has ${clusterBrokers} ${
        clusterBrokers === 1 ? "broker" : "brokers"
      }`,
    );
  }
  const minIsr = minInsyncReplicas ?? (rf >= 3 ? rf - 1 : undefined);
  if (minIsr !== undefined && minIsr > rf) {
    throw new RangeError(
      `Cannot create topics: MIN_INSYNC_REPLICAS is ${minIsr}, above the replication factor ${rf}: no write with acks=all could succeed`,
    );
  }
  return { replicationFactor: rf, minInsyncReplicas: minIsr };
}

/** What the cluster says a topic has. */
export interface TopicFacts {
  readonly topic: string;
  readonly partitions: number;
  readonly replicationFactor: number;
  /** The topic's effective `min.insync.replicas` (its own or the broker's default). */
  readonly minInsyncReplicas: number | undefined;
  /** The smallest in-sync replica set among its partitions. */
  readonly fewestInSync: number;
}

/** One line of the report. */
export interface ReportLine {
  readonly level: "info" | "warning" | "error";
  readonly text: string;
}

/**
 * The report of one topic: created or existing, with partitions, replication
 * factor, min.insync.replicas and in-sync replicas; an error for a partition
 * count other than `expectedPartitions`; warnings where a broker's loss costs
 * data (replication factor 1 on an external cluster) or stops writes.
 */
export function topicReport(
  facts: TopicFacts,
  { created, expectedPartitions, externalCluster, partitionsSetting }: {
    created: boolean;
    expectedPartitions: number;
    externalCluster: boolean;
    /** The setting that chooses this topic's partitions (none: the count is fixed). */
    partitionsSetting?: string;
  },
): ReportLine[] {
  const { topic, partitions, replicationFactor: rf, minInsyncReplicas: minIsr } = facts;
  if (partitions !== expectedPartitions) {
    return [{
      level: "error",
      text:
        `Topic ${topic} exists with ${partitions} partitions, expected ${expectedPartitions}: ` +
        (partitionsSetting === undefined
          ? "delete it, and `deno task topics` creates it again"
          : `delete it or set ${partitionsSetting}=${partitions}`),
    }];
  }
  const figures = [
    `${partitions} ${partitions === 1 ? "partition" : "partitions"}`,
    `replication factor ${rf}`,
    `min.insync.replicas ${minIsr ?? "unknown"}`,
    facts.fewestInSync < rf ? `only ${facts.fewestInSync} of ${rf} in sync` : "all in sync",
  ];
  const lines: ReportLine[] = [{
    level: "info",
    text: `Topic ${topic}: ${created ? "created" : "exists"} (${figures.join(", ")})`,
  }];
  if (rf === 1 && externalCluster) {
    lines.push({
      level: "warning",
      text: `Topic ${topic} has replication factor 1: the loss of its broker loses its messages. ` +
        `Recreate it with REPLICATION_FACTOR=3 (or as many brokers as the cluster has)`,
    });
  }
  if (rf > 1 && minIsr !== undefined && minIsr >= rf) {
    lines.push({
      level: "warning",
      text:
        `Topic ${topic} has min.insync.replicas ${minIsr} and replication factor ${rf}: one broker down stops every write with acks=all`,
    });
  }
  return lines;
}

/**
 * Where the nodes of a local KRaft cluster listen, and what each needs from the
 * others: node i (1-based) takes KAFKA_PORT + 2(i−1) for clients and
 * KAFKA_CONTROLLER_PORT + 2(i−1) for the controller quorum. The step of 2
 * keeps the ports of the defaults (9092/9093 and the test task's 19092/19093)
 * interleaved and apart: 9092/9093, 9094/9095, 9096/9097. A single broker keeps
 * exactly the ports it always had. Pure.
 */

/** The most nodes a local cluster may have. */
export const MAX_BROKER_COUNT = 5;

/** How far apart the ports of two neighbouring nodes are. */
export const NODE_PORT_STEP = 2;

/** One node of the local cluster: combined broker and controller. */
export interface BrokerNode {
  /** The KRaft node id, 1-based. */
  readonly id: number;
  /** Where clients reach it (127.0.0.1). */
  readonly port: number;
  /** Where the other controllers reach it (127.0.0.1). */
  readonly controllerPort: number;
}

/**
 * The nodes of a local cluster of `count`, in node-id order.
 *
 * @example
 * ```ts
 * brokerNodes({ port: 9092, controllerPort: 9093, count: 3 });
 * // [{ id: 1, port: 9092, controllerPort: 9093 }, { id: 2, port: 9094, … }, { id: 3, port: 9096, … }]
 * ```
 */
export function brokerNodes(
  { port, controllerPort, count }: { port: number; controllerPort: number; count: number },
): BrokerNode[] {
  return Array.from({ length: count }, (_, i) => ({
    id: i + 1,
    port: port + NODE_PORT_STEP * i,
    controllerPort: controllerPort + NODE_PORT_STEP * i,
  }));
}

/**
 * What is wrong with a layout's ports, or undefined: a port used twice, or
 * one above 65535.
 */
export function portLayoutProblem(nodes: readonly BrokerNode[]): string | undefined {
  const owners = new Map<number, string>();
  for (const node of nodes) {
    for (
      const [port, what] of [
        [node.port, `node ${node.id}'s client port`],
        [node.controllerPort, `node ${node.id}'s controller port`],
      ] as const
    ) {
      if (port > 65535) return `${what} would be ${port}, above 65535`;
      const owner = owners.get(port);
      if (owner !== undefined) return `${what} and ${owner} would both be ${port}`;
      owners.set(port, what);
    }
  }
  return undefined;
}

/** The KRaft `controller.quorum.voters` of a layout: `1@127.0.0.1:9093,2@127.0.0.1:9095,…`. */
export function quorumVoters(nodes: readonly BrokerNode[]): string {
  return nodes.map((n) => `${n.id}@127.0.0.1:${n.controllerPort}`).join(",");
}

/** Replication of the broker's own topics (consumer offsets, transactions) in a cluster of `count`. */
export function internalDurability(count: number): { replicationFactor: number; minIsr: number } {
  const replicationFactor = Math.min(3, count);
  return { replicationFactor, minIsr: replicationFactor >= 3 ? replicationFactor - 1 : 1 };
}

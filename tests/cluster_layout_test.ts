import { assert, assertEquals, assertMatch } from "./assert.ts";
import {
  brokerNodes,
  internalDurability,
  portLayoutProblem,
  quorumVoters,
} from "../lib/cluster_layout.ts";
import { resolveConfig } from "../lib/config.ts";
import {
  brokerProcess,
  clusterStopStep,
  isBrokerPidFile,
  metaClusterId,
  nodeDir,
  serverProperties,
  storedSizeProblem,
} from "../tasks/_broker_providers.ts";

Deno.test({
  name:
    "node i of a cluster listens on KAFKA_PORT+2(i-1), its controller on KAFKA_CONTROLLER_PORT+2(i-1)",
  permissions: "none",
  fn() {
    assertEquals(brokerNodes({ port: 9092, controllerPort: 9093, count: 3 }), [
      { id: 1, port: 9092, controllerPort: 9093 },
      { id: 2, port: 9094, controllerPort: 9095 },
      { id: 3, port: 9096, controllerPort: 9097 },
    ]);
    assertEquals(brokerNodes({ port: 9092, controllerPort: 9093, count: 1 }), [
      { id: 1, port: 9092, controllerPort: 9093 },
    ]);
  },
});

Deno.test({
  name: "the port layouts of the defaults, the test task and the cluster test never collide",
  permissions: "none",
  async fn(t) {
    const layouts: Array<[number, number]> = [[9092, 9093], [19092, 19093], [19192, 19193], [
      29192,
      29195,
    ]];
    for (const [port, controllerPort] of layouts) {
      for (let count = 1; count <= 5; count++) {
        await t.step(`${port}/${controllerPort} × ${count}`, () => {
          assertEquals(portLayoutProblem(brokerNodes({ port, controllerPort, count })), undefined);
        });
      }
    }
    // The test task's single broker (19092/19093) and the cluster test's three (19192..19197) are apart.
    const suite = brokerNodes({ port: 19092, controllerPort: 19093, count: 1 });
    const cluster = brokerNodes({ port: 19192, controllerPort: 19193, count: 3 });
    assertEquals(
      portLayoutProblem([...suite, ...cluster.map((n) => ({ ...n, id: n.id + 1 }))]),
      undefined,
    );
  },
});

Deno.test({
  name: "a port layout whose ports collide or overflow is named",
  permissions: "none",
  fn() {
    assertMatch(
      portLayoutProblem(brokerNodes({ port: 9092, controllerPort: 9094, count: 2 }))!,
      /node 2's client port and node 1's controller port would both be 9094/,
    );
    assertMatch(
      portLayoutProblem(brokerNodes({ port: 65530, controllerPort: 65531, count: 5 }))!,
      /above 65535/,
    );
  },
});

Deno.test({
  name: "the broker's own topics get RF min(3, nodes) and a min ISR of 2 from three nodes",
  permissions: "none",
  fn() {
    assertEquals(internalDurability(1), { replicationFactor: 1, minIsr: 1 });
    assertEquals(internalDurability(2), { replicationFactor: 2, minIsr: 1 });
    assertEquals(internalDurability(3), { replicationFactor: 3, minIsr: 2 });
    assertEquals(internalDurability(5), { replicationFactor: 3, minIsr: 2 });
  },
});

Deno.test({
  name: "each node's server.properties names its own ports and all voters",
  permissions: "none",
  fn() {
    const config = resolveConfig({
      KAFKA_PORT: "29192",
      KAFKA_CONTROLLER_PORT: "29193",
      KAFKA_BROKER_COUNT: "3",
    });
    assertEquals(
      quorumVoters(config.nodes),
      "1@127.0.0.1:29193,2@127.0.0.1:29195,3@127.0.0.1:29197",
    );
    const text = serverProperties(config, "/data/node-2/logs", config.nodes[1]);
    for (
      const line of [
        "node.id=2",
        "controller.quorum.voters=1@127.0.0.1:29193,2@127.0.0.1:29195,3@127.0.0.1:29197",
        "listeners=PLAINTEXT://127.0.0.1:29194,CONTROLLER://127.0.0.1:29195",
        "advertised.listeners=PLAINTEXT://127.0.0.1:29194",
        "log.dirs=/data/node-2/logs",
        "default.replication.factor=3",
        "offsets.topic.replication.factor=3",
        "transaction.state.log.replication.factor=3",
        "transaction.state.log.min.isr=2",
        "min.insync.replicas=2",
      ]
    ) {
      assert(text.split("\n").includes(line), line);
    }
  },
});

Deno.test({
  name: "a single broker keeps its file names; a cluster's nodes get numbered ones",
  permissions: "none",
  fn() {
    const one = resolveConfig({ STATE_DIR: "/s" });
    assertEquals(brokerProcess(one).pidFile, "/s/run/broker.pid");
    assertEquals(nodeDir(one, 1), "/s/kafka");
    const three = resolveConfig({ STATE_DIR: "/s", KAFKA_BROKER_COUNT: "3" });
    assertEquals(brokerProcess(three, 2).pidFile, "/s/run/broker-2.pid");
    assertEquals(brokerProcess(three, 2).logFile, "/s/run/broker-2.out");
    assertEquals(nodeDir(three, 3), "/s/kafka/node-3");
    for (const name of ["broker.pid", "broker-1.pid", "broker-3.pid"]) {
      assert(isBrokerPidFile(name));
    }
    for (const name of ["broker.out", "tracker.pid", "broker-x.pid"]) {
      assert(!isBrokerPidFile(name));
    }
  },
});

Deno.test({
  name:
    "data of a cluster of another size is a clear error; nothing formatted or the same size is fine",
  permissions: "none",
  fn() {
    assertEquals(storedSizeProblem({ stored: 0, wanted: 3, brokerDir: ".state/kafka" }), undefined);
    assertEquals(storedSizeProblem({ stored: 3, wanted: 3, brokerDir: ".state/kafka" }), undefined);
    assertEquals(
      storedSizeProblem({ stored: 1, wanted: 3, brokerDir: ".state/kafka" }),
      ".state/kafka holds the data of a single broker, KAFKA_BROKER_COUNT asks for a cluster of 3 brokers; " +
        "set KAFKA_BROKER_COUNT=1, or run `deno task broker:down` and delete .state/kafka to start an empty cluster (or give it its own STATE_DIR)",
    );
    assertMatch(
      storedSizeProblem({ stored: 3, wanted: 1, brokerDir: "s" })!,
      /a cluster of 3 brokers, KAFKA_BROKER_COUNT asks for a single broker; set KAFKA_BROKER_COUNT=3/,
    );
    assertEquals(metaClusterId("#\nnode.id=2\ncluster.id=abc_DEF-12\nversion=1\n"), "abc_DEF-12");
    assertEquals(metaClusterId("version=1\n"), undefined);
  },
});

Deno.test({
  name:
    "a stopping cluster's nodes left without a quorum are killed after the grace, others at the timeout",
  permissions: "none",
  fn() {
    const base = { voters: 3, timeoutMs: 30_000, graceMs: 5_000 };
    assertEquals(clusterStopStep({ ...base, alive: 0, elapsedMs: 1, quorumLostMs: 1 }), "done");
    assertEquals(
      clusterStopStep({ ...base, alive: 2, elapsedMs: 4_000, quorumLostMs: undefined }),
      "wait",
    );
    assertEquals(
      clusterStopStep({ ...base, alive: 1, elapsedMs: 6_000, quorumLostMs: 4_999 }),
      "wait",
    );
    assertEquals(
      clusterStopStep({ ...base, alive: 1, elapsedMs: 9_000, quorumLostMs: 5_000 }),
      "kill-no-quorum",
    );
    assertEquals(
      clusterStopStep({ ...base, alive: 2, elapsedMs: 30_000, quorumLostMs: undefined }),
      "kill-timeout",
    );
  },
});

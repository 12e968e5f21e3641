/**
 * Integration: a three-broker KRaft cluster on the JVM, started once on its
 * own ports (the test broker's + 100), torn down at the end. The rest of the
 * suite runs on the single test broker.
 */
import { join } from "node:path";
import { assert, assertEquals } from "./assert.ts";
import {
  setupPipeline,
  spawnEntry,
  stopEntry,
  testClusterConfig,
  verifyDelivery,
  waitFor,
  waitForAuditLines,
} from "./support.ts";
import { topicDurabilityFacts } from "../lib/kafka.ts";
import { brokerDown, brokerProcess, brokerUp } from "../tasks/_broker.ts";
import { isSameProcess, runningProcess } from "../tasks/_process.ts";
import { createTopics } from "../tasks/topics.ts";

const external = Deno.env.get("TEST_EXTERNAL_CLUSTER") === "1";

async function portAnswers(port: number): Promise<boolean> {
  try {
    (await Deno.connect({ hostname: "127.0.0.1", port })).close();
    return true;
  } catch {
    return false;
  }
}

Deno.test({
  name:
    "a three-broker cluster starts once, gives topics RF 3 and min ISR 2, carries a pipeline, and stops leaving nothing running",
  ignore: external,
  async fn(t) {
    const config = testClusterConfig();
    // A fresh cluster each run: old test topics do not pile up.
    await Deno.remove(config.paths.brokerDir, { recursive: true }).catch(() => {});
    const identities = [];
    try {
      const started = performance.now();
      const state = await brokerUp(config, { log: () => {} });
      console.log(
        `[cluster] 3 nodes ready in ${((performance.now() - started) / 1000).toFixed(1)} s`,
      );
      assert(state.started);
      for (const node of config.nodes) {
        const identity = runningProcess(brokerProcess(config, node.id));
        assert(identity !== undefined, `node ${node.id} runs`);
        identities.push(identity);
      }

      await t.step("a second up reuses the running cluster", async () => {
        assertEquals((await brokerUp(config, { log: () => {} })).started, false);
      });

      await t.step("topics get replication factor 3 and min.insync.replicas 2", async () => {
        const topic = `cluster-${crypto.randomUUID().slice(0, 8)}`;
        const { ok, lines } = await createTopics({ ...config, topic, dlqTopic: `${topic}-dlq` });
        assert(ok, lines.map((l) => l.text).join("\n"));
        const facts = await topicDurabilityFacts(config, [topic, `${topic}-dlq`]);
        assertEquals(
          facts.map((
            f,
          ) => [f.partitions, f.replicationFactor, f.minInsyncReplicas, f.fewestInSync]),
          [[3, 3, 2, 3], [1, 3, 2, 3]],
        );
      });

      await t.step("orders produced through the cluster are all audited", async () => {
        const { topic, env, acksLog, work } = await setupPipeline("cluster", {
          brokers: config.brokers,
          replicationFactor: 3,
          minInsyncReplicas: 2,
        });
        const auditFile = join(env.DATA_DIR, "tracker.events");
        const tracker = spawnEntry("tracker", { env });
        const producer = spawnEntry("producer", {
          env,
          args: ["--count", "2000", "--rate", "0", "--acks-log", acksLog],
        });
        try {
          assertEquals((await producer.exited).code, 0, producer.output());
          await waitForAuditLines([auditFile], 2000, { timeoutMs: 60_000, running: [tracker] });
          assertEquals((await stopEntry(tracker)).code, 0, tracker.output());
          const report = await verifyDelivery({
            topic,
            groupId: env.TRACKER_GROUP_ID,
            acksLog,
            auditFiles: [auditFile],
            brokers: config.brokers,
          });
          assert(report.ok && report.counts.audited === 2000, JSON.stringify(report.counts));
        } finally {
          await stopEntry(producer, "SIGKILL");
          await stopEntry(tracker, "SIGKILL");
          await work.remove();
        }
      });
    } finally {
      const stopping = performance.now();
      await brokerDown(config, { log: () => {} });
      console.log(`[cluster] stopped in ${((performance.now() - stopping) / 1000).toFixed(1)} s`);
    }
    for (const identity of identities) {
      assert(!isSameProcess(identity), `node process ${identity.pid} has exited`);
    }
    for (const node of config.nodes) {
      assertEquals(runningProcess(brokerProcess(config, node.id)), undefined);
      // A JVM killed with SIGKILL shows as defunct while its other threads still tear
      // down, its sockets with them: the ports close within moments, not at once.
      for (const port of [node.port, node.controllerPort]) {
        await waitFor(
          `port ${port} closed`,
          async () => (await portAnswers(port)) ? undefined : true,
          { timeoutMs: 10_000, intervalMs: 100 },
        );
      }
    }
  },
});

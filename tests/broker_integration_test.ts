/**
 * Integration: broker provisioning and topics against the test broker that
 * `deno task test` started.
 */
import { join } from "node:path";
import { assert, assertEquals, assertMatch } from "./assert.ts";
import { resolveConfig } from "../lib/config.ts";
import { ensureTopics, waitForCluster } from "../lib/kafka.ts";
import { brokerProcess, brokerUp, newClusterId, serverProperties } from "../tasks/_broker.ts";
import { runningPid } from "../tasks/_process.ts";
import { testBrokerConfig, testConnection, uniqueName } from "./support.ts";

Deno.test("starting the broker again is a no-op that still checks readiness", async () => {
  const config = testBrokerConfig();
  const pidBefore = runningPid(brokerProcess(config));
  const lines: string[] = [];
  const state = await brokerUp(config, { log: (line) => lines.push(line) });
  assertEquals(state.started, false);
  assertEquals(runningPid(brokerProcess(config)), pidBefore);
  assertMatch(lines.join("\n"), /already running/);
});

Deno.test("a stale PID file is detected and removed", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const managed = {
      name: "broker",
      pidFile: join(dir, "broker.pid"),
      logFile: join(dir, "broker.out"),
      marker: "kafka.Kafka",
    };
    // This test process is alive but is not a broker: its PID must not count.
    await Deno.writeTextFile(managed.pidFile, `${Deno.pid}\n`);
    const reports: string[] = [];
    assertEquals(runningPid(managed, (m) => reports.push(m)), undefined);
    assertMatch(reports[0] ?? "", /stale PID file/);
    await Deno.stat(managed.pidFile).then(
      () => assert(false, "PID file removed"),
      () => {},
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the broker answers metadata requests within the readiness deadline", async () => {
  const { brokers } = await waitForCluster(testConnection(), { timeoutMs: 10_000 });
  assertEquals(brokers, 1);
});

Deno.test("topics are created once, and a partition mismatch is reported", async () => {
  const brokers = testConnection();
  const topic = uniqueName("topics");
  const spec = { topic, partitions: 3, replicationFactor: 1 };
  assertEquals((await ensureTopics(brokers, [spec]))[0]?.state, "created");
  assertEquals((await ensureTopics(brokers, [spec]))[0]?.state, "exists");
  const mismatch = (await ensureTopics(brokers, [{ ...spec, partitions: 6 }]))[0];
  assertEquals(mismatch, { topic, state: "mismatch", partitions: 3, expected: 6 });
});

Deno.test({
  name: "server.properties is a loopback single-node KRaft broker without auto-created topics",
  permissions: "none",
  fn() {
    const config = resolveConfig({ KAFKA_PORT: "29092", KAFKA_CONTROLLER_PORT: "29093" });
    const text = serverProperties(config, "/data/logs");
    for (
      const line of [
        "process.roles=broker,controller",
        "node.id=1",
        "controller.quorum.voters=1@127.0.0.1:29093",
        "listeners=PLAINTEXT://127.0.0.1:29092,CONTROLLER://127.0.0.1:29093",
        "advertised.listeners=PLAINTEXT://127.0.0.1:29092",
        "log.dirs=/data/logs",
        "offsets.topic.replication.factor=1",
        "transaction.state.log.replication.factor=1",
        "auto.create.topics.enable=false",
      ]
    ) {
      assert(text.split("\n").includes(line), line);
    }
  },
});

Deno.test({
  name: "cluster ids are 22 URL-safe characters and never start with a dash",
  permissions: "none",
  fn() {
    for (let i = 0; i < 200; i++) assertMatch(newClusterId(), /^[A-Za-z0-9_][A-Za-z0-9_-]{21}$/);
    const dashFirst = new Uint8Array(16).fill(0xfb); // base64 "+" → "-" at the start
    let calls = 0;
    const id = newClusterId((bytes) => {
      bytes.set(calls++ === 0 ? dashFirst : new Uint8Array(16));
      return bytes;
    });
    assertEquals(calls, 2);
    assertEquals(id, "AAAAAAAAAAAAAAAAAAAAAA");
  },
});

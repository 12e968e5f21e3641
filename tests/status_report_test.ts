/** Unit: `status`'s pure core — facts and the time in, the report, its text and exit code out. */
import { assert, assertEquals, assertMatch } from "./assert.ts";
import {
  formatStatus,
  healthActivity,
  lastAuditRecord,
  type PipelineFacts,
  type ProcessFacts,
  type StatusFacts,
  statusReport,
} from "../lib/status_report.ts";
import { formatHealthLine, lifecycle, type LifecycleRecord } from "../lib/health_record.ts";
import {
  auditedRecord,
  deadLetterRecord,
  encodeAuditLines,
  encodeSegmentHeader,
} from "../lib/audit_record.ts";
import { createOrderGenerator } from "../lib/order_generator.ts";

const NOW = Date.UTC(2026, 10, 26, 12, 0, 0);
const running = (pid: number, upS: number): ProcessFacts => ({
  state: "running",
  pid,
  startedAt: NOW - upS * 1000,
  rssKiB: 65_536,
});
const gone: ProcessFacts = { state: "none", pid: null, startedAt: null, rssKiB: null };

function pipeline(
  process: ProcessFacts,
  last?: { agoS: number; record: LifecycleRecord },
): PipelineFacts {
  const at = last === undefined ? 0 : NOW - last.agoS * 1000;
  return {
    process,
    healthLog: { path: "data/x.log", bytes: 2048, files: 1 },
    activity: last === undefined ? { last: null, lifecycle: null } : {
      last: {
        at,
        level: "INFO",
        message: `${last.record.process} ${last.record.phase}`,
        logger: "order-tracking",
        kind: "lifecycle",
        lifecycle: last.record,
      },
      lifecycle: { at, record: last.record },
    },
  };
}

/** A pipeline that `start` set up and that runs, on the local JVM broker. */
function allRunning(): StatusFacts {
  return {
    brokers: ["127.0.0.1:9092"],
    broker: {
      provider: "jvm",
      nodes: [{ id: 1, port: 9092, controllerPort: 9093, process: running(100, 3600) }],
    },
    tracker: pipeline(running(200, 3590), {
      agoS: 3590,
      record: lifecycle("tracker", "ready", { pid: 200 }),
    }),
    producer: pipeline(running(300, 3589), {
      agoS: 3589,
      record: lifecycle("producer", "ready", { pid: 300 }),
    }),
    kafka: {
      reachable: true,
      clusterId: "c-1",
      brokerCount: 1,
      orders: {
        name: "orders",
        partitions: [
          { partition: 0, replicas: 1, start: 0, end: 50 },
          { partition: 1, replicas: 1, start: 0, end: 40 },
        ],
      },
      deadLetters: {
        name: "orders-dlq",
        partitions: [{ partition: 0, replicas: 1, start: 0, end: 2 }],
      },
      group: {
        id: "order-tracker",
        state: "Stable",
        members: 1,
        committed: [{ partition: 0, offset: 48 }, { partition: 1, offset: -1 }],
      },
    },
    trail: { path: "data/tracker.events", bytes: 3 * 1024 * 1024, files: 2 },
    lastRecord: null,
  };
}

const stoppedProducer = (lost: number) =>
  lifecycle("producer", "stopped", {
    pid: 300,
    acknowledged: 1000 - lost,
    failed: lost,
    indeterminate: 0,
    unsent: 0,
  });

Deno.test({
  name: "status is OK (exit 0) when broker, tracker and producer run and Kafka answers",
  permissions: "none",
  fn() {
    const report = statusReport(allRunning(), NOW);
    assertEquals(report.exitCode, 0);
    assertEquals(report.problems, []);
    assertEquals([report.broker.pid, report.broker.uptimeS, report.broker.rssKiB], [
      100,
      3600,
      65_536,
    ]);
    assertEquals([report.tracker.state, report.tracker.uptimeS], ["running", 3590]);
    assert(report.kafka.reachable);
    const [orders, dlq] = report.kafka.topics;
    // A partition with no commit lags by all it holds.
    assertEquals(orders!.partitions.map((p) => [p.committed, p.lag]), [[48, 2], [null, 40]]);
    assertEquals(report.kafka.group.lagTotal, 42);
    assertEquals([orders!.replicationFactor, dlq!.replicationFactor], [1, 1]);
    const text = formatStatus(report).join("\n");
    assertMatch(text, /: OK\n/);
    assertMatch(
      text,
      /broker +jvm +running +127\.0\.0\.1:9092 \(controller 9093\) +pid 100 +up 1 h 00 min/,
    );
    assertMatch(text, /tracker +running +pid 200 +up 59 min +rss 64\.0 MiB/);
    assertMatch(text, /topic +orders +2 partitions +replication 1 +end 0:50 1:40/);
    assertMatch(text, /committed 0:48 1:- +lag 0:2 1:40 \(total 42\)/);
    assertMatch(text, /trail +data\/tracker\.events +3\.0 MiB in 2 segments/);
  },
});

Deno.test({
  name: "a stopped pipeline is exit 1 and says when each process stopped",
  permissions: "none",
  fn() {
    const facts: StatusFacts = {
      ...allRunning(),
      broker: {
        provider: "jvm",
        nodes: [{ id: 1, port: 9092, controllerPort: 9093, process: gone }],
      },
      tracker: pipeline(gone, {
        agoS: 60,
        record: lifecycle("tracker", "stopped", { pid: 200, audited: 900 }),
      }),
      producer: pipeline(gone, { agoS: 61, record: stoppedProducer(0) }),
      kafka: { reachable: false, error: "Connection error: connect ECONNREFUSED 127.0.0.1:9092" },
    };
    const report = statusReport(facts, NOW);
    assertEquals(report.exitCode, 1);
    assertEquals(report.problems, [
      "broker (jvm) is not running",
      "Kafka unreachable at 127.0.0.1:9092",
      "tracker stopped at 2026-11-26T11:59:00Z (pid 200): 900 audited",
    ]);
    assertEquals([report.tracker.state, report.tracker.uptimeS], ["stopped", null]);
    assertEquals(report.producer.state, "finished");
    assertEquals(report.tracker.lastLifecycle?.phase, "stopped");
  },
});

Deno.test({
  name: "a producer that finished cleanly counts as fine; one that lost orders does not",
  permissions: "none",
  async fn(t) {
    await t.step("finished: nothing failed, indeterminate or unsent", () => {
      const report = statusReport(
        { ...allRunning(), producer: pipeline(gone, { agoS: 5, record: stoppedProducer(0) }) },
        NOW,
      );
      assertEquals([report.exitCode, report.producer.state, report.producer.fine], [
        0,
        "finished",
        true,
      ]);
      assertMatch(
        formatStatus(report).join("\n"),
        /producer +stopped cleanly at 2026-11-26T11:59:55Z \(pid 300\): 1000 acknowledged, 0 lost/,
      );
    });
    await t.step("stopped with 3 failed", () => {
      const report = statusReport(
        { ...allRunning(), producer: pipeline(gone, { agoS: 5, record: stoppedProducer(3) }) },
        NOW,
      );
      assertEquals([report.exitCode, report.producer.state], [1, "stopped"]);
      assertMatch(report.problems[0]!, /^producer stopped .*997 acknowledged, 3 lost/);
    });
    await t.step("failed, with the error it recorded", () => {
      const record = lifecycle("producer", "failed", { pid: 300, error: "Cannot send: boom" });
      const report = statusReport(
        { ...allRunning(), producer: pipeline(gone, { agoS: 5, record }) },
        NOW,
      );
      assertEquals([report.exitCode, report.producer.state], [1, "failed"]);
      assertMatch(report.problems[0]!, /^producer failed at .*: Cannot send: boom$/);
    });
  },
});

Deno.test({
  name: "a stale PID file is reported as left behind, and its process as exited",
  permissions: "none",
  fn() {
    const stale: ProcessFacts = { state: "stale", pid: 200, startedAt: null, rssKiB: null };
    const report = statusReport(
      {
        ...allRunning(),
        tracker: pipeline(stale, { agoS: 30, record: lifecycle("tracker", "ready", { pid: 200 }) }),
      },
      NOW,
    );
    assertEquals(report.exitCode, 1);
    assertEquals([report.tracker.state, report.tracker.stalePidFile], ["exited", true]);
    assertMatch(report.problems[0]!, /^tracker exited without a stop record \(last: "ready"/);
    assertMatch(formatStatus(report).join("\n"), /PID file left behind \(pid 200, gone\)/);
  },
});

Deno.test({
  name: "an external cluster needs no broker process; a process never started is unknown",
  permissions: "none",
  fn() {
    const facts: StatusFacts = {
      ...allRunning(),
      brokers: ["kafka-1:9092"],
      broker: { provider: "external", brokers: ["kafka-1:9092"] },
    };
    const report = statusReport(facts, NOW);
    assertEquals([report.exitCode, report.broker.provider, report.broker.fine], [
      0,
      "external",
      true,
    ]);
    assertMatch(formatStatus(report).join("\n"), /broker +external +kafka-1:9092/);
    const never = statusReport({ ...facts, producer: pipeline(gone) }, NOW);
    assertEquals([never.exitCode, never.producer.state], [1, "unknown"]);
    assertEquals(never.problems, [
      "producer not running: no lifecycle record at the end of data/x.log",
    ]);
  },
});

Deno.test({
  name: "Kafka unreachable is exit 1 and said so, with the local facts still shown",
  permissions: "none",
  fn() {
    const report = statusReport(
      {
        ...allRunning(),
        kafka: { reachable: false, error: "Cannot reach Kafka at 127.0.0.1:9092: no answer" },
      },
      NOW,
    );
    assertEquals(report.exitCode, 1);
    assertEquals(report.problems, ["Kafka unreachable at 127.0.0.1:9092"]);
    const text = formatStatus(report).join("\n");
    assertMatch(text, /kafka +Kafka unreachable at 127\.0\.0\.1:9092: Cannot reach Kafka/);
    assertMatch(text, /tracker +running +pid 200/);
    assertMatch(text, /trail +data\/tracker\.events/);
    assert(!text.includes("topic "), "no topics without Kafka");
  },
});

Deno.test({
  name: "the health log's end gives the newest record and the process's newest lifecycle record",
  permissions: "none",
  fn() {
    const line = (at: number, message: string, properties: Record<string, unknown>) =>
      formatHealthLine({
        category: ["order-tracking", "tracker"],
        level: "info",
        message: [message],
        rawMessage: message,
        timestamp: at,
        properties,
      }).trimEnd();
    const lines = [
      line(NOW - 3000, "Tracker ready", lifecycle("tracker", "ready", { pid: 7 })),
      // Another process's record in the same log is not this one's lifecycle.
      line(NOW - 2000, "Producer ready", lifecycle("producer", "ready", { pid: 8 })),
      "not json",
      line(NOW - 1000, "Joined group", { group: "g" }),
    ];
    const activity = healthActivity(lines, "tracker");
    assertEquals([activity.last?.kind, activity.last?.at], ["log", NOW - 1000]);
    assertEquals([activity.lifecycle?.record.pid, activity.lifecycle?.at], [7, NOW - 3000]);
    assertEquals(healthActivity([], "tracker"), { last: null, lifecycle: null });
  },
});

Deno.test({
  name: "the trail's end gives the newest audit record, past headers and torn lines",
  permissions: "none",
  fn() {
    const where = { topic: "orders", partition: 1, offset: 9, key: "k", size: 100 };
    const order = createOrderGenerator({ seed: 3, now: () => NOW }).next();
    const header = encodeSegmentHeader({
      trail_segment: 2,
      trail_id: "t",
      created_at: "2026-11-26T12:00:00Z",
      epoch: {
        number: 1,
        cluster_id: "c",
        topic: "orders",
        started_at: "2026-11-26T12:00:00Z",
        reason: "first",
        continues_offsets: false,
      },
    }).trimEnd();
    const audited = encodeAuditLines([auditedRecord(NOW, where, order)]).trimEnd();
    const dead = encodeAuditLines([
      deadLetterRecord(NOW, { ...where, offset: 10 }, { class: "schema", message: "bad" }),
    ]).trimEnd();
    assertEquals(lastAuditRecord([header, audited])?.order_id, order.order_id);
    assertEquals(lastAuditRecord([audited, dead, '{"torn'])?.outcome, "dead_lettered");
    assertEquals(lastAuditRecord([header]), null);
    const report = statusReport(
      { ...allRunning(), lastRecord: lastAuditRecord([header, audited]) },
      NOW,
    );
    assertEquals(report.lastAudited, {
      at: "2026-11-26T12:00:00.000Z",
      outcome: "audited",
      orderId: order.order_id,
      status: order.status,
      partition: 1,
      offset: 9,
      errorClass: null,
    });
  },
});

Deno.test({
  name: "a local cluster runs when every node runs; each node is listed, memory is the sum",
  permissions: "none",
  fn() {
    const node = (id: number, process: ProcessFacts) => ({
      id,
      port: 9090 + 2 * id,
      controllerPort: 9091 + 2 * id,
      process,
    });
    const cluster = (third: ProcessFacts): StatusFacts => ({
      ...allRunning(),
      brokers: ["127.0.0.1:9092", "127.0.0.1:9094", "127.0.0.1:9096"],
      broker: {
        provider: "jvm",
        nodes: [node(1, running(100, 600)), node(2, running(101, 590)), node(3, third)],
      },
    });
    const up = statusReport(cluster(running(102, 580)), NOW);
    assertEquals(up.exitCode, 0);
    assertEquals([up.broker.rssKiB, up.broker.uptimeS, up.broker.nodes.length], [
      3 * 65_536,
      600,
      3,
    ]);
    const text = formatStatus(up).join("\n");
    assertMatch(
      text,
      /broker +jvm +running +127\.0\.0\.1:9092,127\.0\.0\.1:9094,127\.0\.0\.1:9096 +up 10 min +rss 192\.0 MiB/,
    );
    assertMatch(text, /node 3 +127\.0\.0\.1:9096 \(controller 9097\) +pid 102/);
    const oneDown = statusReport(cluster(gone), NOW);
    assertEquals(oneDown.exitCode, 1);
    assertEquals(oneDown.problems, ["broker (jvm): 2 of 3 nodes running; node 3 not running"]);
    assertMatch(formatStatus(oneDown).join("\n"), /2 of 3 nodes running; node 3 not running/);
  },
});

/** Unit: the streaming delivery checker, on hand-made trails and outcomes. */
import { assert, assertEquals, assertMatch } from "./assert.ts";
import {
  type CommittedBefore,
  DeliveryChecker,
  type DeliveryReport,
  runPasses,
} from "../lib/delivery_check.ts";
import type { AckRecord } from "../lib/ack_record.ts";
import type { AuditRecord, SegmentHeader, TrailEpoch, TrailLine } from "../lib/audit_record.ts";

const topic = "orders";
const id = (n: number) => `${String(n).padStart(8, "0")}-0000-4000-8000-000000000000`;
const ack = (partition: number, offset: number, n: number, cluster?: string): AckRecord => ({
  outcome: "acknowledged",
  order_id: id(n),
  sequence: n,
  status: "created",
  topic,
  partition,
  offset,
  ...(cluster ? { cluster_id: cluster } : {}),
});
const audited = (partition: number, offset: number, n: number): AuditRecord => ({
  timestamp: "2026-11-26T12:00:00.000Z",
  event_type: "order_created",
  kafka_topic: topic,
  kafka_partition: partition,
  kafka_offset: offset,
  kafka_key: id(n),
  kafka_timestamp: null,
  message_size: 1,
  deserialized: true,
  outcome: "audited",
  order_id: id(n),
  status: "created",
  lifecycle: "created",
  error_class: null,
  error: null,
  latency_ms: 1,
  latency_source: "produced_at",
  order: null,
});

function header(
  number: number,
  cluster: string,
  { continues = false, topicId }: { continues?: boolean; topicId?: string } = {},
) {
  const epoch: TrailEpoch = {
    number,
    cluster_id: cluster,
    topic,
    ...(topicId ? { topic_id: topicId } : {}),
    started_at: "2026-11-26T12:00:00.000Z",
    reason: "test",
    continues_offsets: continues,
  };
  const h: SegmentHeader = {
    trail_segment: number,
    trail_id: "t",
    epoch,
    created_at: epoch.started_at,
  };
  return { ok: true as const, kind: "header" as const, header: h };
}

/** The inputs of a check, all in memory. */
interface DeliveryInputs {
  topic: string;
  acks: readonly AckRecord[] | undefined;
  /** Trail files, each a list of records (and segment headers). */
  trails: ReadonlyArray<ReadonlyArray<TrailLine>>;
  deadLetters: ReadonlyArray<{ topic: string; partition: number; offset: number }>;
  committed: ReadonlyMap<number, number> | undefined;
  fromOffsetZero?: boolean;
  /** Committed offsets read before the trail (as verify does against a running tracker). */
  committedBefore?: CommittedBefore;
}

/** Runs every pass of the checker over inputs held in memory. */
async function checkDelivery(inputs: DeliveryInputs): Promise<DeliveryReport> {
  const checker = new DeliveryChecker({
    topic: inputs.topic,
    expectedLines: inputs.trails.reduce((n, t) => n + t.length, 0),
    ...(inputs.fromOffsetZero === undefined ? {} : { fromOffsetZero: inputs.fromOffsetZero }),
    ...(inputs.committedBefore ? { committedBefore: inputs.committedBefore } : {}),
  });
  await runPasses(checker, {
    trails: inputs.trails.map((trail) => (onLine) => trail.forEach(onLine)),
    deadLetters: (onLetter) => inputs.deadLetters.forEach((letter) => onLetter(letter, null)),
    acks: inputs.acks && ((onAck) => inputs.acks!.forEach(onAck)),
  });
  return checker.report(inputs.committed === undefined ? {} : { committed: inputs.committed });
}

/** Plain audit records as trail lines. */
function asTrail(records: readonly AuditRecord[]): TrailLine[] {
  return records.map((record) => ({ ok: true, kind: "record", record }));
}

function healthy(): DeliveryInputs & { acks: AckRecord[]; audit: AuditRecord[] } {
  const acks = [ack(0, 0, 1), ack(0, 1, 2), ack(1, 0, 3)];
  const audit = [audited(0, 0, 1), audited(0, 1, 2), audited(1, 0, 3)];
  const committed = new Map([[0, 2], [1, 1]]);
  return { topic, acks, audit, trails: [], deadLetters: [], committed };
}

function run(input: ReturnType<typeof healthy>) {
  return checkDelivery({ ...input, trails: [asTrail(input.audit)] });
}

Deno.test({
  name: "the checker passes a clean run",
  permissions: "none",
  async fn() {
    const report = await run(healthy());
    assert(report.ok, report.problems.join("\n"));
    assertEquals(report.counts.acknowledged, 3);
    assertEquals(report.partitions.map((p) => p.committed), [2, 1]);
  },
});

Deno.test({
  name: "the checker fails on a lost order, a duplicate, a gap and a commit too far",
  permissions: "none",
  async fn(t) {
    await t.step("acknowledged but neither audited nor dead-lettered", async () => {
      const input = healthy();
      input.audit = input.audit.filter((r) => r.kafka_offset !== 1);
      input.committed = new Map([[0, 1], [1, 1]]);
      const report = await run(input);
      assert(!report.ok);
      assertEquals(report.lost, [`0/1 ${id(2)} created`]);
      assertEquals(report.counts.lost, 1);
      assertMatch(report.problems.join("\n"), /1 acknowledged but lost: 0\/1/);
    });
    await t.step("a dead-lettered message is not lost", async () => {
      const input = healthy();
      input.audit = input.audit.filter((r) => r.kafka_offset !== 1);
      const report = await checkDelivery({
        ...input,
        trails: [asTrail(input.audit)],
        deadLetters: [{ topic, partition: 0, offset: 1 }],
      });
      assert(report.ok, report.problems.join("\n"));
    });
    await t.step("the same order event audited twice", async () => {
      const input = healthy();
      input.audit.push(audited(0, 2, 1));
      input.acks.push(ack(0, 2, 1));
      input.committed = new Map([[0, 3], [1, 1]]);
      const report = await run(input);
      assert(!report.ok);
      assertMatch(report.problems.join("\n"), /1 order events audited twice: .*\/created ×2/);
    });
    await t.step("the same offset written twice", async () => {
      const input = healthy();
      input.audit.push(audited(1, 0, 3));
      const report = await run(input);
      assertMatch(report.problems.join("\n"), /1 offsets audited twice: 1\/0/);
    });
    await t.step("a skipped offset", async () => {
      const input = healthy();
      input.acks.push(ack(1, 2, 4));
      input.audit.push(audited(1, 2, 4));
      input.committed = new Map([[0, 2], [1, 3]]);
      const report = await run(input);
      assert(!report.ok);
      assertMatch(report.problems.join("\n"), /partition 1: offsets skipped: 1/);
      assert(!report.problems.join("\n").includes("--since-first"), "a gap in the middle");
    });
    await t.step("a trail that begins after offset 0 is pointed at --since-first", async () => {
      const input = healthy();
      input.acks = input.acks.filter((a) => a.partition === 0 && a.offset === 1);
      input.audit = input.audit.filter((r) => r.kafka_partition === 0 && r.kafka_offset === 1);
      input.committed = new Map([[0, 2]]);
      const report = await run(input);
      assertEquals(report.problems, [
        "partition 0: offsets skipped: 0",
        "a trail begun after offset 0 (a new data directory on a topic with older orders) is checked with --since-first",
      ]);
      assert(
        (await checkDelivery({ ...input, trails: [asTrail(input.audit)], fromOffsetZero: false }))
          .ok,
      );
    });
    await t.step("an offset committed past the last audited one", async () => {
      const input = healthy();
      input.committed = new Map([[0, 5], [1, 1]]);
      const report = await run(input);
      assert(!report.ok);
      assertMatch(
        report.problems.join("\n"),
        /partition 0: committed 5 but the last audited or dead-lettered offset is 1 \(committed too far\)/,
      );
    });
    await t.step("an indeterminate send found in the trail is recovered", async () => {
      const input = healthy();
      input.acks.push({
        outcome: "indeterminate",
        order_id: id(3),
        sequence: 3,
        status: "created",
        topic,
        partition: 1,
      });
      const report = await run(input);
      assertEquals(report.indeterminate, [{ order: `${id(3)}/created`, recovered: true }]);
    });
    await t.step("an audited offset no acknowledgement accounts for", async () => {
      const input = healthy();
      input.audit.push(audited(0, 2, 9));
      input.committed = new Map([[0, 3], [1, 1]]);
      const report = await run(input);
      assertEquals([report.counts.unexpected, report.unexpected], [1, ["0/2"]]);
    });
  },
});

Deno.test({
  name: "offsets are compared within an epoch: a new cluster's offsets start a new space",
  permissions: "none",
  async fn() {
    // Epoch 1 on cluster A audited offsets 0..2; the broker was wiped, epoch 2 on
    // cluster B audited offsets 0..1 again. Nothing is a duplicate or a gap.
    const trail = [
      header(1, "A"),
      ...asTrail([audited(0, 0, 1), audited(0, 1, 2), audited(0, 2, 3)]),
      header(2, "B"),
      ...asTrail([audited(0, 0, 4), audited(0, 1, 5)]),
    ];
    const acks = [
      ack(0, 0, 1, "A"),
      ack(0, 1, 2, "A"),
      ack(0, 2, 3, "A"),
      ack(0, 0, 4, "B"),
      ack(0, 1, 5, "B"),
    ];
    const report = await checkDelivery({
      topic,
      acks,
      trails: [trail],
      deadLetters: [],
      committed: new Map([[0, 2]]),
    });
    assert(report.ok, report.problems.join("\n"));
    assertEquals(report.spaces.map((s) => [s.clusterId, s.lines]), [["A", 3], ["B", 2]]);
    assertEquals(report.partitions[0]!.committed, 2, "commits compare with the newest space");

    // An order acknowledged on B but missing from B's space is lost, whatever A holds.
    const lost = await checkDelivery({
      topic,
      acks: [...acks, ack(0, 2, 6, "B")],
      trails: [trail],
      deadLetters: [],
      committed: undefined,
    });
    assertEquals(lost.lost, [`0/2 ${id(6)} created`]);
  },
});

Deno.test({
  name: "an old trail adopted by a header continues its offsets; two members' trails meet",
  permissions: "none",
  async fn() {
    const a = [
      ...asTrail([audited(0, 0, 1), audited(0, 1, 2)]),
      header(1, "A", { continues: true }),
      ...asTrail([audited(0, 2, 3)]),
    ];
    const b = [header(1, "A"), ...asTrail([audited(0, 3, 4)])];
    const report = await checkDelivery({
      topic,
      acks: [ack(0, 0, 1), ack(0, 1, 2), ack(0, 2, 3), ack(0, 3, 4)],
      trails: [a, b],
      deadLetters: [],
      committed: new Map([[0, 4]]),
    });
    assert(report.ok, report.problems.join("\n"));
    assertEquals(report.spaces.length, 1);
  },
});

Deno.test({
  name:
    "a long-lived trail in a later epoch and a second member's new trail meet on the same topic",
  permissions: "none",
  async fn(t) {
    // The first member's trail: epoch 1 on cluster A, epoch 2 on cluster B (a wiped
    // broker), where a second member took partition 0 from offset 2 on, in a trail
    // of its own (its epoch 1).
    const first = [
      header(1, "A", { topicId: "t-a" }),
      ...asTrail([audited(0, 0, 1)]),
      header(2, "B", { topicId: "t-b" }),
      ...asTrail([audited(0, 0, 2), audited(0, 1, 3)]),
    ];
    const second = [header(1, "B", { topicId: "t-b" }), ...asTrail([audited(0, 2, 4)])];
    const input = {
      topic,
      acks: [ack(0, 0, 2, "B"), ack(0, 1, 3, "B"), ack(0, 2, 4, "B")],
      deadLetters: [],
      committed: new Map([[0, 3]]),
    };
    await t.step("together: every offset of B covered once, in one space", async () => {
      const report = await checkDelivery({ ...input, trails: [first, second] });
      assert(report.ok, report.problems.join("\n"));
      assertEquals(report.spaces.length, 2);
    });
    await t.step("another topic id on B (recreated) is another space", async () => {
      const recreated = [header(1, "B", { topicId: "t-b2" }), ...asTrail([audited(0, 2, 4)])];
      const report = await checkDelivery({ ...input, trails: [first, recreated] });
      assertEquals(report.spaces.length, 3);
      assert(!report.ok);
    });
  },
});

Deno.test({
  name: "an acknowledged order past the offsets committed before the read is pending, not lost",
  permissions: "none",
  async fn(t) {
    // A running pipeline: the producer acknowledged 0/2 and 0/3; the tracker
    // had committed up to 2 when verify read the offsets, then the trail.
    const input = healthy();
    input.acks.push(ack(0, 2, 4), ack(0, 3, 5, "cluster-a"));
    await t.step("past the commit: pending", async () => {
      const report = await checkDelivery({
        ...input,
        trails: [asTrail(input.audit)],
        committedBefore: { offsets: new Map([[0, 2], [1, 1]]), clusterId: "cluster-a" },
      });
      assert(report.ok, report.problems.join("\n"));
      assertEquals([report.counts.pending, report.counts.lost], [2, 0]);
    });
    await t.step("below the commit: lost (committed without an audit line)", async () => {
      const report = await checkDelivery({
        ...input,
        trails: [asTrail(input.audit)],
        committedBefore: { offsets: new Map([[0, 3], [1, 1]]), clusterId: "cluster-a" },
      });
      assertEquals([report.counts.pending, report.counts.lost], [1, 1]);
      assertEquals(report.lost, [`0/2 ${id(4)} created`]);
    });
    await t.step("deleted by retention before it was audited: lost, not pending", async () => {
      const report = await checkDelivery({
        ...input,
        trails: [asTrail(input.audit)],
        committedBefore: {
          offsets: new Map([[0, -1], [1, 1]]),
          clusterId: "cluster-a",
          logStarts: new Map([[0, 3]]),
        },
      });
      // 0/2 is gone (the log starts at 3); 0/3 is still there to consume.
      assertEquals([report.counts.pending, report.counts.lost], [1, 1]);
      assertEquals(report.lost, [`0/2 ${id(4)} created`]);
    });
    await t.step("acknowledged by another cluster: never pending here", async () => {
      const report = await checkDelivery({
        ...input,
        trails: [asTrail(input.audit)],
        committedBefore: { offsets: new Map([[0, 2], [1, 1]]), clusterId: "cluster-b" },
      });
      assertEquals([report.counts.pending, report.counts.lost], [1, 1]);
    });
    await t.step("without the offsets (offline): lost, as before", async () => {
      const report = await run(input);
      assertEquals([report.counts.pending, report.counts.lost], [0, 2]);
    });
  },
});

import { assert, assertEquals, assertMatch } from "./assert.ts";
import { type AckInput, type AuditInput, checkDelivery } from "../lib/delivery_check.ts";

const topic = "orders";
const id = (n: number) => `${String(n).padStart(8, "0")}-0000-4000-8000-000000000000`;
const ack = (partition: number, offset: number, n: number): AckInput => ({
  outcome: "acknowledged",
  order_id: id(n),
  status: "created",
  topic,
  partition,
  offset,
});
const audited = (partition: number, offset: number, n: number): AuditInput => ({
  outcome: "audited",
  kafka_topic: topic,
  kafka_partition: partition,
  kafka_offset: offset,
  order_id: id(n),
  status: "created",
});

function healthy() {
  const acks = [ack(0, 0, 1), ack(0, 1, 2), ack(1, 0, 3)];
  const audit = [audited(0, 0, 1), audited(0, 1, 2), audited(1, 0, 3)];
  const committed = new Map([[0, 2], [1, 1]]);
  return { topic, acks, audit, deadLetters: [], committed };
}

Deno.test({
  name: "the checker passes a clean run",
  permissions: "none",
  fn() {
    const report = checkDelivery(healthy());
    assert(report.ok, report.problems.join("\n"));
    assertEquals(report.counts.acknowledged, 3);
    assertEquals(report.partitions.map((p) => p.committed), [2, 1]);
  },
});

Deno.test({
  name: "the checker fails on a lost order, a duplicate, a gap and a commit too far",
  permissions: "none",
  async fn(t) {
    await t.step("acknowledged but neither audited nor dead-lettered", () => {
      const input = healthy();
      input.audit = input.audit.filter((r) => r.kafka_offset !== 1);
      input.committed = new Map([[0, 1], [1, 1]]);
      const report = checkDelivery(input);
      assert(!report.ok);
      assertEquals(report.lost, [`0/1 ${id(2)} created`]);
      assertMatch(report.problems.join("\n"), /1 acknowledged but lost: 0\/1/);
    });
    await t.step("a dead-lettered message is not lost", () => {
      const input = healthy();
      input.audit = input.audit.filter((r) => r.kafka_offset !== 1);
      const report = checkDelivery({ ...input, deadLetters: [{ topic, partition: 0, offset: 1 }] });
      assert(report.ok, report.problems.join("\n"));
    });
    await t.step("the same order event audited twice", () => {
      const input = healthy();
      input.audit.push({ ...audited(0, 2, 1) });
      input.committed = new Map([[0, 3], [1, 1]]);
      const report = checkDelivery(input);
      assert(!report.ok);
      assertMatch(report.problems.join("\n"), /1 order events audited twice: .*\/created ×2/);
    });
    await t.step("the same offset written twice", () => {
      const input = healthy();
      input.audit.push(audited(1, 0, 3));
      const report = checkDelivery(input);
      assertMatch(report.problems.join("\n"), /1 offsets audited twice: 1\/0 ×2/);
    });
    await t.step("a skipped offset", () => {
      const input = healthy();
      input.acks.push(ack(1, 2, 4));
      input.audit.push(audited(1, 2, 4));
      input.committed = new Map([[0, 2], [1, 3]]);
      const report = checkDelivery(input);
      assert(!report.ok);
      assertMatch(report.problems.join("\n"), /partition 1: offsets skipped: 1/);
    });
    await t.step("an offset committed past the last audited one", () => {
      const input = healthy();
      input.committed = new Map([[0, 5], [1, 1]]);
      const report = checkDelivery(input);
      assert(!report.ok);
      assertMatch(
        report.problems.join("\n"),
        /partition 0: committed 5 but the last audited or dead-lettered offset is 1 \(committed too far\)/,
      );
    });
    await t.step("an indeterminate send found in the trail is recovered", () => {
      const input = healthy();
      input.acks.push({
        outcome: "indeterminate",
        order_id: id(3),
        status: "created",
        topic,
        partition: 1,
      });
      const report = checkDelivery(input);
      assertEquals(report.indeterminate, [{ order: `${id(3)}/created`, recovered: true }]);
    });
  },
});

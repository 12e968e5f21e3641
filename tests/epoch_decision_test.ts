/** Unit: when the trail starts a new epoch rather than skip another cluster's messages. */
import { assertEquals, assertMatch } from "./assert.ts";
import { judgeEpoch, offsetsBehindTrail, suspicionOutdated } from "../lib/epoch_decision.ts";
import type { TrailEpoch } from "../lib/audit_record.ts";

const epoch: TrailEpoch = {
  number: 3,
  cluster_id: "cluster-A",
  topic: "orders",
  started_at: "2026-11-01T00:00:00.000Z",
  reason: "a new trail",
  continues_offsets: false,
};
const unknown: TrailEpoch = { ...epoch, number: 0, cluster_id: null, topic: null };
const now = {
  clusterId: "cluster-A",
  topic: "orders",
  hasRecords: true,
  offsetsWentBack: undefined,
};

Deno.test({
  name: "the same cluster and topic with offsets ahead keep the epoch",
  permissions: "none",
  fn() {
    assertEquals(judgeEpoch(epoch, now), { kind: "same" });
  },
});

Deno.test({
  name: "another cluster, another topic or offsets that went back start a new epoch",
  permissions: "none",
  fn() {
    const cases = [
      [
        judgeEpoch(epoch, { ...now, clusterId: "cluster-B" }),
        /another Kafka cluster \(cluster-B; .*cluster-A\)/,
      ],
      [judgeEpoch(epoch, { ...now, topic: "orders-2" }), /another topic \(orders-2; .*of orders\)/],
      [
        judgeEpoch(epoch, { ...now, offsetsWentBack: "partition 1 ends at offset 4" }),
        /went back: partition 1/,
      ],
    ] as const;
    for (const [verdict, reason] of cases) {
      assertEquals(verdict.kind, "new");
      if (verdict.kind === "new") assertMatch(verdict.reason, reason);
    }
  },
});

Deno.test({
  name: "a trail from before epochs is adopted when its offsets still fit, else starts afresh",
  permissions: "none",
  fn() {
    assertEquals(judgeEpoch(unknown, now).kind, "adopt");
    assertEquals(judgeEpoch(unknown, { ...now, offsetsWentBack: "x" }).kind, "new");
    assertEquals(judgeEpoch(unknown, { ...now, hasRecords: false }), {
      kind: "new",
      reason: "a new trail",
    });
  },
});

Deno.test({
  name: "offsets are behind the trail when a partition ends at or before its last audited offset",
  permissions: "none",
  fn() {
    const audited = new Map([[0, 99], [1, 50]]);
    assertEquals(offsetsBehindTrail(new Map([[0, 100], [1, 51], [2, 0]]), audited), undefined);
    assertMatch(
      offsetsBehindTrail(new Map([[0, 100], [1, 50]]), audited)!,
      /partition 1 ends at offset 50, .* up to offset 50/,
    );
    assertMatch(offsetsBehindTrail(new Map([[0, 100]]), audited)!, /partition 1 no longer exists/);
    assertEquals(offsetsBehindTrail(new Map([[0, 3]]), new Map()), undefined);
  },
});

Deno.test({
  name: "the topic's id decides whether it is still the topic the epoch began with",
  permissions: "none",
  fn() {
    const withId: TrailEpoch = { ...epoch, topic_id: "id-1" };
    assertEquals(judgeEpoch(withId, { ...now, topicId: "id-1" }), { kind: "same" });
    // Brokers that cannot tell (before Kafka 2.8), or the topic gone for now: offsets decide.
    assertEquals(judgeEpoch(withId, { ...now, topicId: undefined }), { kind: "same" });
    const recreated = judgeEpoch(withId, { ...now, topicId: "id-2" });
    assertEquals(recreated.kind, "new");
    assertMatch(
      (recreated as { reason: string }).reason,
      /^topic orders was deleted and created again \(id id-2; the trail was of id-1\)$/,
    );
    // Found while running: the session's reason stands.
    assertEquals(
      judgeEpoch(withId, { ...now, topicId: "id-2", topicRecreated: "topic orders went" }),
      { kind: "new", reason: "topic orders went" },
    );
    // An epoch without an id, the id this run read first differing.
    assertEquals(
      judgeEpoch(epoch, { ...now, topicId: "id-2", topicRecreated: "topic orders went" }),
      { kind: "new", reason: "topic orders went" },
    );
    // Another check found it first: the epoch already records the new id.
    assertEquals(
      judgeEpoch({ ...withId, topic_id: "id-2" }, {
        ...now,
        topicId: "id-2",
        topicRecreated: "topic orders went",
      }),
      { kind: "same" },
    );
  },
});

Deno.test({
  name: "an epoch without the topic's id records it when the brokers tell it, keeping the offsets",
  permissions: "none",
  fn() {
    assertEquals(judgeEpoch(epoch, { ...now, topicId: "id-1" }), {
      kind: "adopt",
      reason: "recording the id of topic orders (id-1)",
    });
    // Offsets that went back still start afresh.
    assertEquals(
      judgeEpoch(epoch, { ...now, topicId: "id-1", offsetsWentBack: "partition 0 ends at 3" })
        .kind,
      "new",
    );
    // Nothing audited yet: nothing to keep.
    assertEquals(judgeEpoch(epoch, { ...now, topicId: "id-1", hasRecords: false }), {
      kind: "same",
    });
    assertEquals(judgeEpoch(epoch, { ...now, topicId: undefined }), { kind: "same" });
  },
});

Deno.test({
  name: "a suspicion found under an older epoch is answered by the newer one",
  permissions: "none",
  fn() {
    assertEquals(suspicionOutdated(epoch, 3), false);
    assertEquals(suspicionOutdated(epoch, 2), true);
    assertEquals(suspicionOutdated({ ...epoch, number: 4 }, 3), true);
  },
});

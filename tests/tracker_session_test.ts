/**
 * Unit: the tracker's epoch check after a join that failed. Batches wait for
 * the check; when it fails with an error KafkaJS fetches again after (the
 * brokers restarting), the next batch must begin a new check, not fail on the
 * old rejection until KafkaJS gives up. And at a rebalance KafkaJS finds on
 * its own, what is synced must be sent in a commit before it rejoins. A
 * batch beyond the trail goes back to KafkaJS before it is planned, any
 * other once planned, and a partition's batches are planned in turn; one that
 * stops at a rejoin has its partition fetched again from where it stopped,
 * and a batch of a partition the member no longer holds is not planned. No
 * broker: the session's clients are never connected, and its check and commit
 * calls are stubbed.
 */
import { assert, assertEquals, assertRejects } from "./assert.ts";
import { Buffer } from "node:buffer";
import kafkaErrors from "kafkajs/src/errors.js";
import { loadConfig, pipelinePaths } from "../lib/config.ts";
import { AuditTrail } from "../lib/audit_trail.ts";
import { TrackerMetrics } from "../lib/tracker_metrics.ts";
import { TrackerFailure, TrackerSession } from "../lib/tracker_session.ts";
import { batchHandler } from "../lib/order_tracker.ts";
import { chunkBounds } from "../lib/chunk_plan.ts";
import type { EachBatchPayload, KafkaMessage } from "../lib/kafka.ts";
import { encodeOrder, type OrderEvent } from "../lib/order.ts";
import { createOrderGenerator } from "../lib/order_generator.ts";
import { logger } from "../lib/logging.ts";

/** A session on a trail in a temporary directory, its epoch check counted and answering "same". */
async function withSession(
  fn: (session: TrackerSession, checks: () => number) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "tracker_session_test_" });
  const loaded = loadConfig([], { command: "tracker", env: { KAFKA_BROKERS: "127.0.0.1:9" } });
  if (typeof loaded === "number") throw new Error("Cannot load the test's settings");
  const config = { ...loaded, paths: pipelinePaths(dir, dir) };
  const { trail } = await AuditTrail.open({
    paths: config.paths,
    segmentBytes: config.segmentBytes,
    retentionBytes: config.retentionBytes,
  });
  const session = new TrackerSession(
    config,
    trail,
    new TrackerMetrics({ startedAt: Date.now() }),
    logger("test"),
  );
  session.joined([0]); // As at KafkaJS's GROUP_JOIN: the batches below are of partition 0.
  let checks = 0;
  session.checkEpoch = () => {
    checks++;
    return Promise.resolve("same");
  };
  try {
    await fn(session, () => checks);
  } finally {
    session.parser.close();
    session.summary.close();
    await trail.close();
    await Deno.remove(dir, { recursive: true });
  }
}

function rejected(error: Error): Promise<unknown> {
  const promise = Promise.reject(error);
  promise.catch(() => {});
  return promise;
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 10));

Deno.test("a failed epoch check is begun again by the next batch, after the batches in hand", async () => {
  await withSession(async (session, checks) => {
    const failed = rejected(new Error("No broker answered the metadata request"));
    session.epochChecked = failed;
    session.epochCheckFailed(failed);
    // Nothing is begun until a batch comes (its fetch shows the brokers answer).
    assertEquals(session.epochChecked, failed);
    const inHand = Promise.withResolvers<void>();
    session.batchesInHand.add(inHand.promise);

    const again = session.currentEpochCheck();
    assertEquals(again === failed, false);
    assertEquals(session.epochChecked, again);
    await tick();
    assertEquals(checks(), 0); // As at a join: after the batches in hand.
    inHand.resolve();
    assertEquals(await again, "same");
    assertEquals(checks(), 1);

    // Other batches of the same fetch, and the old rejection told again: the new check stands.
    session.epochCheckFailed(failed);
    assertEquals(session.currentEpochCheck(), again);
    assertEquals(checks(), 1);
  });
});

Deno.test("no epoch check is begun again once the run has failed", async () => {
  await withSession(async (session, checks) => {
    const failed = rejected(new Error("No broker answered the metadata request"));
    session.epochChecked = failed;
    session.epochCheckFailed(failed);
    session.fail(new TrackerFailure("Cannot audit a batch: disk full"));
    assertEquals(session.currentEpochCheck(), failed);
    await tick();
    assertEquals(checks(), 0);
  });
});

Deno.test("the batch handler fails on a failed epoch check, and the next batch checks again", async () => {
  await withSession(async (session, checks) => {
    const stopped = new AbortController();
    stopped.abort(); // A batch that passes its check then returns at once: nothing to audit.
    const handle = batchHandler(session, { signal: stopped.signal, onAudited: undefined });
    const payload = {} as EachBatchPayload;

    const away = new kafkaErrors.KafkaJSBrokerNotFound("No broker answered the metadata request");
    session.epochChecked = rejected(away);
    await assertRejects(() => handle(payload), Error, away.message);
    assertEquals(checks(), 0);
    await handle(payload); // KafkaJS's next fetch: a new check, which passes.
    assertEquals(checks(), 1);

    // An error KafkaJS does not fetch again after crashes the consumer: no new check.
    const bug = new TypeError("Cannot read properties of undefined");
    session.epochChecked = rejected(bug);
    await assertRejects(() => handle(payload), TypeError);
    await assertRejects(() => handle(payload), TypeError);
    assertEquals(checks(), 1);
  });
});

Deno.test("at a rebalance KafkaJS found, what is synced is sent in a commit before it rejoins; then the generation ends", async () => {
  await withSession(async (session) => {
    const sent: unknown[] = [];
    session.commitVia = (offsets) => {
      sent.push(offsets);
      return Promise.resolve();
    };
    const generation = session.commits.generation;
    session.commits.submit({ topic: "orders", partition: 1, offset: 42 }, generation);
    session.rebalancing();
    // Sent before rebalancing() returned: KafkaJS's rejoin begins right after it.
    assertEquals(sent, [{
      topics: [{ topic: "orders", partitions: [{ partition: 1, offset: "42" }] }],
    }]);
    assertEquals(session.commits.generation, generation + 1);
    session.commits.submit({ topic: "orders", partition: 1, offset: 50 }, generation);
    assertEquals(session.commits.pending, [], "a batch taken before commits nothing more");
    session.rebalancing();
    await tick();
    assertEquals(sent.length, 1, "nothing pending, no commit");
  });
});

const SENT_AT = Date.now();

/** Generated orders as KafkaJS hands them over, at offsets `from` on (the same offset, the same time). */
function kafkaMessages(orders: readonly OrderEvent[], from: number): KafkaMessage[] {
  return orders.map((order, i) => ({
    key: Buffer.from(order.order_id),
    value: Buffer.from(encodeOrder(order)),
    timestamp: String(SENT_AT + from + i),
    attributes: 0,
    offset: String(from + i),
    headers: { event_type: order.metadata.event_type },
  }));
}

/**
 * A batch of partition 0 ending at `highWatermark`, whose resolved offsets
 * are told to `onResolve` (with the partition's last offset the trail had
 * planned then, if any).
 */
function batchOf(
  session: TrackerSession,
  messages: KafkaMessage[],
  highWatermark: number,
  onResolve: (offset: number, plannedTo: number | undefined) => void,
  isStale: () => boolean = () => false,
): EachBatchPayload {
  const topic = session.config.topic;
  return {
    batch: {
      topic,
      partition: 0,
      highWatermark: String(highWatermark),
      messages,
      isEmpty: () => messages.length === 0,
      firstOffset: () => messages[0]?.offset ?? null,
      lastOffset: () => messages.at(-1)!.offset,
      offsetLag: () => "0",
      offsetLagLow: () => "0",
    },
    resolveOffset: (offset) => onResolve(Number(offset), session.trail.state.lastOffset(topic, 0)),
    heartbeat: () => Promise.resolve(),
    pause: () => () => {},
    commitOffsetsIfNecessary: () => Promise.resolve(),
    uncommittedOffsets: () => ({ topics: [] }),
    isRunning: () => true,
    isStale,
  };
}

/** The session's batch handler, never stopped, with no listener. */
function handlerOf(session: TrackerSession): (payload: EachBatchPayload) => Promise<void> {
  return batchHandler(session, { signal: new AbortController().signal, onAudited: undefined });
}

/** `count` generated orders, as the producer sends them (one per offset). */
function orderEvents(seed: number, count: number): OrderEvent[] {
  const orders = createOrderGenerator({ seed, now: () => Date.now() });
  return Array.from({ length: count }, () => orders.next());
}

/** Once the batches in hand are synced: each of `count` orders audited once, none a duplicate. */
async function assertAuditedOnce(session: TrackerSession, count: number): Promise<void> {
  await Promise.all([...session.batchesInHand]);
  const { counters } = session.metrics;
  assertEquals([counters.audited, counters.duplicates, session.trail.totals.lines], [
    count,
    0,
    count,
  ]);
}

Deno.test("a batch beyond the trail goes back to KafkaJS before it is planned; one that overlaps it after, and in turn", async () => {
  await withSession(async (session) => {
    const handle = handlerOf(session);
    const events = orderEvents(31, 1_500);
    const resolved: Array<[number, number | undefined]> = [];
    const onResolve = (offset: number, plannedTo: number | undefined) => {
      resolved.push([offset, plannedTo]);
    };

    // Offsets 0..999: nothing audited yet, so the whole batch is resolved at
    // once, before any of it is planned, and the handler returns unplanned.
    await handle(batchOf(session, kafkaMessages(events.slice(0, 1_000), 0), 1_500, onResolve));
    assertEquals(resolved, [[999, undefined]]);
    assertEquals(session.batchesInHand.size, 1, "still being planned and written");

    // KafkaJS's next fetch overlaps it (offsets 500..1499, as after a retried
    // fetch): planned after the batch before it, so 500..999 are known as
    // redeliveries; resolved chunk by chunk, each once planned.
    resolved.length = 0;
    await handle(batchOf(session, kafkaMessages(events.slice(500), 500), 1_500, onResolve));
    assert(resolved.length > 0);
    for (const [offset, plannedTo] of resolved) {
      assert(plannedTo !== undefined && plannedTo >= offset, `${offset} resolved before planned`);
    }
    assertEquals(resolved.at(-1)![0], 1_499);
    await assertAuditedOnce(session, 1_500);
  });
});

Deno.test("a fetch whose high watermark lies below its own records is audited, ahead or not", async () => {
  // Kafka reads a fetch's high watermark before its records, so records
  // appended meanwhile come with a lower one (in CI, right after a broker's
  // unclean restart: 1707, with records past 1761).
  await withSession(async (session) => {
    const handle = handlerOf(session);
    const events = orderEvents(37, 1_500);
    const resolved: number[] = [];
    const onResolve = (offset: number) => resolved.push(offset);

    await handle(batchOf(session, kafkaMessages(events.slice(0, 600), 0), 600, onResolve));
    // Offsets 600..1199 with a high watermark of 300: beyond the trail, so it
    // goes ahead; its records show the partition reaches past 1199.
    await handle(batchOf(session, kafkaMessages(events.slice(600, 1_200), 600), 300, onResolve));
    assertEquals(resolved, [599, 1_199]);
    await Promise.all([...session.batchesInHand]);
    assertEquals(session.failure, undefined);
    // Offsets 500..1499 with a high watermark of 800 (a redelivery, so planned
    // before it is resolved): its first part, 500..999, holds redeliveries
    // only, and the partition still reaches past the trail's 1199.
    resolved.length = 0;
    await handle(batchOf(session, kafkaMessages(events.slice(500), 500), 800, onResolve));
    assertEquals(resolved.at(-1), 1_499);
    await assertAuditedOnce(session, 1_500);
    assertEquals(session.failure, undefined);
  });
});

/** Sizes of the chunks `messages` are planned in. */
function chunkSizes(messages: readonly KafkaMessage[]): number[] {
  return chunkBounds(messages.map((m) => m.value?.byteLength ?? 0)).map(([a, b]) => b - a);
}

/** Calls `fn` when the batches in hand ask the writer for their `n`th chunk slot (awaited before it is given). */
function atSlot(session: TrackerSession, n: number, fn: () => void | Promise<void>): void {
  const slot = session.writer.slot.bind(session.writer);
  let asked = 0;
  session.writer.slot = async () => {
    if (++asked === n) await fn();
    return slot();
  };
}

Deno.test("a batch that went ahead and stopped at a rejoin has its partition fetched again from there; a fetch sent before is not planned", async () => {
  // KafkaJS rejoins inside one broker's fetch when that fetch finds stale
  // metadata (a leader moved); another broker's fetch, sent before from the
  // end of the batch that went ahead, is still handed over after the join.
  await withSession(async (session) => {
    const handle = handlerOf(session);
    const events = orderEvents(41, 4_000);
    const first = kafkaMessages(events.slice(0, 3_000), 0);
    const [kept] = chunkSizes(first);
    assert(kept! < 3_000);
    const sought: number[] = [];
    session.seek = (partition, offset) => {
      assertEquals(partition, 0);
      sought.push(offset);
    };
    const stale = () => sought.length > 0; // A seek holds until KafkaJS's next fetch.
    const resolved: number[] = [];
    const onResolve = (offset: number) => resolved.push(offset);
    // The join comes while the second chunk waits for its slot.
    atSlot(session, 2, () => session.joined([0]));

    await handle(batchOf(session, first, 4_000, onResolve, stale));
    assertEquals(resolved, [2_999], "it went ahead");
    await Promise.all([...session.batchesInHand]);
    assertEquals(session.trail.totals.lines, kept, "nothing planned after the join");
    assertEquals(sought, [kept]);

    // The fetch sent before the join, from 3000: stale, neither planned nor resolved.
    resolved.length = 0;
    await handle(
      batchOf(session, kafkaMessages(events.slice(3_000), 3_000), 4_000, onResolve, stale),
    );
    await Promise.all([...session.batchesInHand]);
    assertEquals(resolved, []);
    assertEquals(session.trail.totals.lines, kept);

    // KafkaJS's next fetch is from the offset sought: every order audited once.
    sought.length = 0;
    await handle(batchOf(session, kafkaMessages(events.slice(kept), kept!), 4_000, onResolve));
    await assertAuditedOnce(session, 4_000);
    assertEquals(session.failure, undefined);
  });
});

Deno.test("a batch of a partition the latest join gave to another member is neither planned nor resolved", async () => {
  await withSession(async (session) => {
    const handle = handlerOf(session);
    session.joined([1, 2]);
    const resolved: number[] = [];
    await handle(batchOf(
      session,
      kafkaMessages(orderEvents(43, 300), 0),
      300,
      (offset) => resolved.push(offset),
    ));
    await Promise.all([...session.batchesInHand]);
    assertEquals(resolved, []);
    assertEquals(session.trail.totals.lines, 0);
  });
});

Deno.test("each chunk is handed to the committer once synced: a rebalance found mid-batch has it committed", async () => {
  await withSession(async (session) => {
    const handle = handlerOf(session);
    const messages = kafkaMessages(orderEvents(47, 3_000), 0);
    const [kept] = chunkSizes(messages);
    // Once the first chunk is synced, KafkaJS finds a rebalance (a heartbeat of its own).
    atSlot(session, 2, async () => {
      for (let waited = 0; session.metrics.counters.audited < kept!; waited++) {
        assert(waited < 500, "the first chunk synced within 5 s");
        await tick();
      }
      session.rebalancing();
    });
    const committed: string[] = [];
    const payload = batchOf(session, messages, 3_000, () => {});
    payload.commitOffsetsIfNecessary = (offsets) => {
      for (const { partitions } of offsets!.topics) {
        committed.push(...partitions.map((p) => `${p.partition}@${p.offset}`));
      }
      return Promise.resolve();
    };
    await handle(payload);
    await Promise.all([...session.batchesInHand]);
    // What was synced before the rebalance, and nothing of the batch after it.
    assertEquals(committed, [`0@${kept}`]);
    assertEquals(session.trail.totals.lines, kept);
  });
});

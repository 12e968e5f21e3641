/**
 * Unit: the tracker session's epoch check after a join that failed. Batches
 * wait for the check; when it fails with an error KafkaJS retries the fetch
 * after (the brokers restarting), the next batches must wait for a new check,
 * not fail on the old rejection until KafkaJS gives up. No broker: the
 * session's clients are never connected and its check is stubbed.
 */
import { assertEquals } from "./assert.ts";
import { loadConfig, pipelinePaths } from "../lib/config.ts";
import { AuditTrail } from "../lib/audit_trail.ts";
import { TrackerMetrics } from "../lib/tracker_metrics.ts";
import { TrackerFailure, TrackerSession } from "../lib/tracker_session.ts";
import { logger } from "../lib/logging.ts";

async function withSession(fn: (session: TrackerSession) => Promise<void>): Promise<void> {
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
  try {
    await fn(session);
  } finally {
    session.parser.close();
    session.summary.close();
    await trail.close();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("a failed epoch check is begun again once the batches in hand are done", async () => {
  await withSession(async (session) => {
    let checks = 0;
    session.checkEpoch = () => {
      checks++;
      return Promise.resolve("same");
    };
    const failed = Promise.reject(new Error("No broker answered the metadata request"));
    failed.catch(() => {});
    session.epochChecked = failed;
    // A batch still being written: the new check waits for it, as at a join.
    const inHand = Promise.withResolvers<void>();
    session.batchesInHand.add(inHand.promise);

    session.checkEpochAgain(failed);
    const again = session.epochChecked;
    assertEquals(again === failed, false);
    await new Promise((resolve) => setTimeout(resolve, 10));
    assertEquals(checks, 0);
    inHand.resolve();
    assertEquals(await again, "same");
    assertEquals(checks, 1);

    // Asked again about the old rejection (another batch of the same fetch): the new check stands.
    session.checkEpochAgain(failed);
    assertEquals(session.epochChecked, again);
    assertEquals(checks, 1);
  });
});

Deno.test("no epoch check is begun again once the run has failed", async () => {
  await withSession(async (session) => {
    let checks = 0;
    session.checkEpoch = () => {
      checks++;
      return Promise.resolve("same");
    };
    const failed = Promise.reject(new Error("the topic does not exist"));
    failed.catch(() => {});
    session.epochChecked = failed;
    session.fail(new TrackerFailure("Consumer crashed: the topic does not exist"));
    session.checkEpochAgain(failed);
    assertEquals(session.epochChecked, failed);
    await new Promise((resolve) => setTimeout(resolve, 10));
    assertEquals(checks, 0);
  });
});

/**
 * Integration: the tracker as a real process under crashes, restarts, a lock
 * and damaged files, checked with the delivery checker. (A second member of
 * the group is fault 8 in faults_integration_test.ts.)
 */
import { join } from "node:path";
import { assert, assertEquals, assertMatch, assertNotEquals } from "./assert.ts";
import {
  auditLineCount as auditedCount,
  readAuditRecords,
  setupPipeline,
  spawnEntry,
  stopEntry as stop,
  verifyDelivery as verify,
  waitFor,
} from "./support.ts";
import { formatReport } from "../lib/delivery_check.ts";

Deno.test("SIGKILL of the tracker at random moments, three times: nothing acknowledged is missing, nothing is audited twice", async () => {
  const { topic, work, env, acksLog } = await setupPipeline("track");
  const auditFile = join(env.DATA_DIR, "tracker.events");
  const count = 8_000;
  const producer = spawnEntry("producer", {
    env,
    args: ["--count", String(count), "--rate", "400", "--acks-log", acksLog],
  });
  let tracker = spawnEntry("tracker", { env });
  try {
    for (let kill = 1; kill <= 3; kill++) {
      const before = await auditedCount([auditFile]);
      await waitFor(
        "the tracker at work",
        async () => (await auditedCount([auditFile])) > before ? true : undefined,
        { timeoutMs: 60_000 },
      );
      await new Promise((resolve) => setTimeout(resolve, 200 + Math.random() * 1_500));
      assertEquals((await stop(tracker, "SIGKILL")).signal, "SIGKILL");
      tracker = spawnEntry("tracker", { env });
    }
    assertEquals((await producer.exited).code, 0, producer.output());
    await waitFor(
      "every order audited",
      async () => (await auditedCount([auditFile])) >= count ? true : undefined,
      { timeoutMs: 90_000 },
    );
    assertEquals((await stop(tracker)).code, 0, tracker.output());
    const report = await verify({
      topic,
      groupId: env.TRACKER_GROUP_ID,
      acksLog,
      auditFiles: [auditFile],
    });
    assert(report.ok, formatReport(report));
    assertEquals(report.counts.audited, count);
  } finally {
    await stop(tracker, "SIGKILL");
    await stop(producer, "SIGKILL");
    await work.remove();
  }
});

Deno.test("a second tracker on the same data directory refuses to start", async () => {
  const { work, env } = await setupPipeline("track");
  const first = spawnEntry("tracker", { env });
  try {
    await waitFor(
      "the first tracker ready",
      () => /Tracker ready/.test(first.output()) ? true : undefined,
    );
    const second = spawnEntry("tracker", { env });
    const status = await second.exited;
    assertNotEquals(status.code, 0);
    assertMatch(second.output(), /another tracker holds .*tracker\.lock/);
  } finally {
    await stop(first);
    await work.remove();
  }
});

Deno.test("on start a torn last audit line is quarantined and logged; corruption elsewhere stops the tracker", async () => {
  const { work, env } = await setupPipeline("track");
  const auditFile = join(env.DATA_DIR, "tracker.events");
  try {
    await Deno.mkdir(env.DATA_DIR, { recursive: true });
    await Deno.writeTextFile(auditFile, '{"timestamp":"2026-11-25T12:0');
    const tracker = spawnEntry("tracker", { env });
    await waitFor("ready", () => /Tracker ready/.test(tracker.output()) ? true : undefined);
    assertEquals((await stop(tracker)).code, 0, tracker.output());
    const health = await Deno.readTextFile(join(env.DATA_DIR, "tracker.log"));
    assertMatch(health, /Repaired the audit trail: moved a torn last line \(29 bytes\)/);
    assertEquals(await readAuditRecords(auditFile), [], "only the new epoch's header is left");
    assertEquals(
      await Deno.readTextFile(join(env.DATA_DIR, "tracker.events.quarantine")),
      '{"timestamp":"2026-11-25T12:0\n',
    );

    await Deno.writeTextFile(auditFile, "not json at all\n{}\n");
    const refused = spawnEntry("tracker", { env });
    const status = await refused.exited;
    assertEquals(status.code, 1);
    assertMatch(
      refused.output(),
      /Cannot start tracker: the audit trail is corrupt \(.*tracker\.events: Cannot parse audit line 1/,
    );
  } finally {
    await work.remove();
  }
});

/**
 * Integration: `deno task start` and `deno task stop` as a user runs them (on
 * the test broker, named by KAFKA_BROKERS, so neither touches a broker).
 */
import { join } from "node:path";
import { assert, assertEquals, assertMatch } from "./assert.ts";
import { readAuditRecords, runTask, tempDataDir, uniqueName, waitFor } from "./support.ts";
import { isRunning } from "../tasks/_process.ts";

Deno.test("start runs producer and tracker in the background; stop ends them; both twice", async () => {
  const work = await tempDataDir();
  const env = {
    STATE_DIR: join(work.dir, "state"),
    DLQ_TOPIC: uniqueName("lifecycle-dlq"),
    TRACKER_GROUP_ID: uniqueName("lifecycle"),
    // Set by mistake: it must not reach the processes start leaves running (they would
    // stop at once, their parent, start, being gone).
    STOP_WITH_PARENT: String(Deno.pid),
  };
  // Given as flags: `start` passes them on to the topics task, producer and tracker.
  const dataDir = join(work.dir, "data");
  const startFlags = ["--data-dir", dataDir, "--topic", uniqueName("lifecycle"), "--rate", "50"];
  /** The PID a PID file records (with the process's start time and command line). */
  const pidOf = async (role: string) => {
    const recorded = JSON.parse(await Deno.readTextFile(join(env.STATE_DIR, "run", `${role}.pid`)));
    // Never NaN or 0: a signal to PID 0 would reach this test's whole process group.
    assert(Number.isSafeInteger(recorded.pid) && recorded.pid > 0, JSON.stringify(recorded));
    assertMatch(recorded.command, new RegExp(`${role}\\.ts`));
    return recorded.pid as number;
  };
  try {
    const first = await runTask("start", env, startFlags);
    assertEquals(first.code, 0, first.output);
    assertMatch(first.output, /Started tracker/);
    assertMatch(first.output, /Started producer/);
    assertMatch(first.output, /deno task monitor/);
    const pids = [await pidOf("tracker"), await pidOf("producer")];

    const second = await runTask("start", env, startFlags);
    assertEquals(second.code, 0, second.output);
    assertMatch(second.output, /tracker already running/);
    assertMatch(second.output, /producer already running/);
    assertEquals([await pidOf("tracker"), await pidOf("producer")], pids);

    await waitFor("orders in the audit trail", async () => {
      const lines = await readAuditRecords(join(dataDir, "tracker.events"));
      return lines.length >= 20 ? true : undefined;
    });

    const stop = await runTask("stop", env);
    assertEquals(stop.code, 0, stop.output);
    assertMatch(stop.output, /Stopped producer/);
    assertMatch(stop.output, /Stopped tracker/);
    assert(!stop.output.includes("SIGKILL"), stop.output);
    assertMatch(stop.output, /external cluster: leaving it running/);
    // By command line: an exited child may linger as a zombie where PID 1 does not reap.
    assert(!isRunning(pids[0]!, "tracker.ts") && !isRunning(pids[1]!, "producer.ts"), "none left");
    const again = await runTask("stop", env);
    assertEquals(again.code, 0, again.output);
    assertMatch(again.output, /producer was not running/);

    const producerOut = await Deno.readTextFile(join(env.STATE_DIR, "run", "producer.out"));
    assertMatch(producerOut, /Producer stopped: \d+ acknowledged, 0 failed, 0 indeterminate/);
  } finally {
    // Whatever is still running, found by its PID file (also after a start that failed midway).
    for (const role of ["tracker", "producer"]) {
      const pid = await pidOf(role).catch(() => undefined);
      if (pid !== undefined && isRunning(pid, `${role}.ts`)) Deno.kill(pid, "SIGKILL");
    }
    await work.remove();
  }
});

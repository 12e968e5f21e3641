/**
 * Shell: PID files that know whose process they name. Spawns `sleep` as a
 * managed process in a temporary directory (needs run permission, no broker).
 */
import { join } from "node:path";
import { assert, assertEquals, assertMatch, assertRejects } from "./assert.ts";
import {
  describeProcess,
  identify,
  inspectProcess,
  isSameProcess,
  type ManagedProcess,
  runningProcess,
  spawnDetached,
  stopManaged,
  waitForExit,
} from "../tasks/_process.ts";

async function withManaged(fn: (managed: ManagedProcess) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "process_test_" });
  const managed = {
    name: "sleeper",
    pidFile: join(dir, "sleeper.pid"),
    logFile: join(dir, "sleeper.out"),
    marker: "sleep",
  };
  try {
    await fn(managed);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("a PID file records start time and command; stop ends exactly that process", async () => {
  await withManaged(async (managed) => {
    const pid = spawnDetached(managed, { command: "sleep", args: ["30"] });
    const recorded = JSON.parse(await Deno.readTextFile(managed.pidFile));
    assertEquals(recorded.pid, pid);
    assertMatch(recorded.command, /^(\/usr\/bin\/)?sleep 30$/);
    assertMatch(recorded.started, /^\w{3} \w{3} +\d+ \d\d:\d\d:\d\d \d{4}$/);
    assertEquals(runningProcess(managed)?.pid, pid);
    assertEquals(await stopManaged(managed, { timeoutMs: 5_000 }), "stopped");
    // Gone, or a zombie this test has yet to reap ("[sleep] <defunct>"): not that process.
    assert(!isSameProcess(recorded), JSON.stringify(identify(pid)));
  });
});

Deno.test("a PID now used by someone else's process is stale: it is never signalled", async () => {
  await withManaged(async (managed) => {
    // Someone else's process, with the very command ours had, started at another time.
    const other = spawnDetached(
      { ...managed, pidFile: `${managed.pidFile}.other` },
      { command: "sleep", args: ["30"] },
    );
    try {
      const identity = identify(other)!;
      await Deno.writeTextFile(
        managed.pidFile,
        JSON.stringify({ ...identity, started: "Mon Jan  1 00:00:00 2024" }),
      );
      const reports: string[] = [];
      assertEquals(runningProcess(managed, (m) => reports.push(m)), undefined);
      assertMatch(reports[0] ?? "", /Removed stale PID file of sleeper/);
      assertEquals(await stopManaged(managed, { timeoutMs: 1_000 }), "not-running");
      assert(identify(other) !== undefined, "the other process still runs");
    } finally {
      Deno.kill(other, "SIGKILL");
    }
  });
});

Deno.test("without ps a PID file holds the bare PID, and stop still ends that process", async () => {
  const sleep = new TextDecoder().decode(
    (await new Deno.Command("sh", { args: ["-c", "command -v sleep"] }).output()).stdout,
  ).trim();
  await withManaged(async (managed) => {
    const path = Deno.env.get("PATH") ?? "";
    const empty = await Deno.makeTempDir({ prefix: "no_ps_" });
    let pid = 0;
    try {
      Deno.env.set("PATH", empty); // `ps` cannot be found
      pid = spawnDetached(managed, { command: sleep, args: ["30"] });
      assertEquals(await Deno.readTextFile(managed.pidFile), `${pid}\n`);
      assertEquals(runningProcess(managed)?.pid, pid, "known by the PID alone");
      assertEquals(await stopManaged(managed, { timeoutMs: 5_000 }), "stopped");
    } finally {
      Deno.env.set("PATH", path);
      await Deno.remove(empty);
    }
    assertEquals(identify(pid), undefined, "the process is gone");
  });
});

Deno.test("inspecting a PID file changes nothing: a stale one stays for start and stop", async () => {
  await withManaged(async (managed) => {
    const pid = spawnDetached(managed, { command: "sleep", args: ["30"] });
    assertEquals(inspectProcess(managed).state, "running");
    const facts = describeProcess(managed);
    assertEquals([facts.state, facts.pid], ["running", pid]);
    assert(facts.startedAt !== null && Math.abs(facts.startedAt - Date.now()) < 60_000);
    assert(facts.rssKiB !== null && facts.rssKiB > 0, "memory from ps");
    const recorded = await Deno.readTextFile(managed.pidFile);
    Deno.kill(pid, "SIGKILL");
    await waitForExit(JSON.parse(recorded), { timeoutMs: 5_000 });
    assertEquals(inspectProcess(managed), { state: "stale", text: recorded, pid });
    assertEquals(describeProcess(managed).state, "stale");
    assertEquals(await Deno.readTextFile(managed.pidFile), recorded, "the PID file is kept");
    assertEquals(runningProcess(managed, () => {}), undefined);
    await assertRejects(() => Deno.stat(managed.pidFile), Deno.errors.NotFound);
    assertEquals(inspectProcess(managed), { state: "none" });
  });
});

/**
 * Integration: `deno task bench:e2e` as a user runs it, briefly, on the test
 * broker: tracker and producer as separate processes, the figures printed,
 * nothing lost, its scratch files gone afterwards. And `bench:producer` and
 * `bench:tracker`, which leave no topic behind.
 */
import { assert, assertEquals, assertMatch } from "./assert.ts";
import {
  auditLineCount,
  benchScratchEntries,
  runTask,
  spawnEntry,
  stopEntry,
  testConnection,
  waitFor,
} from "./support.ts";
import { createKafka, deleteScratch, withAdmin } from "../lib/kafka.ts";
import { join } from "node:path";
import { parseHealthLine } from "../lib/health_record.ts";

Deno.test("bench:e2e runs the pipeline at a fixed rate and prints percentiles and each process's CPU", async () => {
  const before = await benchScratchEntries("e2e-");
  const run = await runTask("bench_e2e", { LOG_LEVEL: "warning" }, [
    "--rate",
    "500",
    "--duration",
    "4",
    "--warmup",
    "1",
  ]);
  assertEquals(run.code, 0, run.output);
  const report = run.stdout;
  assertMatch(
    report,
    /^orders +(\d[\d,]*) acknowledged; in the audit trail \1 audited, .*; 0 lost$/m,
  );
  // 500 msg/s over 4 s: about 2,000 orders in the window (the pacing is exact to a batch).
  const rate = Number(
    /^rate +([\d,]+) msg\/s produced in the [\d.]+ s window/m.exec(report)?.[1]?.replaceAll(
      ",",
      "",
    ),
  );
  assert(rate > 400 && rate < 600, report);
  assertMatch(
    report,
    /^latency +p50 \d+ ms, p95 \d+ ms, p99 \d+ ms, max \d+ ms over [\d,]+ orders/m,
  );
  assertMatch(
    report,
    /^goal +p99 ≤ 20 ms at 5,000 msg\/s: not measured in this run \(500 msg\/s asked\)$/m,
  );
  for (const role of ["producer", "tracker"]) {
    assertMatch(
      report,
      new RegExp(`^  ${role} +\\d+\\.\\d% +\\d+\\.\\d{3} s per 1,000 orders .* pid \\d+$`, "m"),
    );
  }
  // The test broker is this machine's (unless the suite runs on an external cluster).
  if (Deno.env.get("TEST_EXTERNAL_CLUSTER") !== "1") {
    assertMatch(report, /^ {2}broker +\d+\.\d% +\d+\.\d{3} s per 1,000 orders .* pid \d+/m);
  }
  assertMatch(report, /^ {2}monitor +not run: /m);
  assertMatch(report, /^machine +\d+ cores, \d+\.\d% busy over the window/m);
  assertMatch(report, /^result +nothing lost; producer and tracker stopped cleanly$/m);
  assert(run.elapsedMs < 30_000, `took ${run.elapsedMs} ms`);
  assertEquals(await benchScratchEntries("e2e-"), before, "its scratch directory is removed");
});

/** The test broker's topics and groups that a benchmark names with `prefix`. */
async function scratchOnBroker(prefix: string): Promise<string[]> {
  return await withAdmin(
    createKafka(testConnection(), { clientId: "test", quiet: true }),
    async (admin) => {
      const topics = await admin.listTopics();
      const groups = (await admin.listGroups()).groups.map((g) => `group ${g.groupId}`);
      return [...topics, ...groups].filter((name) => name.replace("group ", "").startsWith(prefix))
        .sort();
    },
  );
}

/** The names of the benchmarks' claims in the test state directory (tasks/_bench_scratch.ts). */
async function claimNames(): Promise<string[]> {
  const names: string[] = [];
  try {
    for await (const e of Deno.readDir(join(Deno.env.get("STATE_DIR")!, "bench", "claims"))) {
      names.push(e.name);
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return names.sort();
}

/** The PIDs of `pid`'s children, or of those of them still alive when given. */
async function alive(query: { parent: number } | { pids: number[] }): Promise<number[]> {
  const args = "parent" in query
    ? ["--ppid", String(query.parent), "-o", "pid="]
    : ["-o", "pid=", "-p", query.pids.join(",")];
  const { stdout } = await new Deno.Command("ps", { args, stdout: "piped", stderr: "null" })
    .output();
  return new TextDecoder().decode(stdout).split("\n").map((l) => l.trim()).filter(Boolean)
    .map(Number);
}

Deno.test("bench:e2e killed with SIGKILL leaves no tracker or producer running", async () => {
  const dirsBefore = await benchScratchEntries("e2e-");
  const onBrokerBefore = await scratchOnBroker("bench-e2e-");
  const claimsBefore = await claimNames();
  // Run directly (not through the launcher), so that its PID is the children's parent.
  const bench = spawnEntry("bench:e2e", {
    env: { LOG_LEVEL: "warning" },
    args: ["--rate", "200", "--duration", "120", "--warmup", "0"],
  });
  let children: number[] = [];
  try {
    children = await waitFor(
      "the benchmark's tracker and producer",
      async () => {
        const pids = await alive({ parent: bench.child.pid });
        return pids.length === 2 ? pids : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 250, running: [bench] },
    );
    // Well into their run: the tracker ready, auditing what the producer sends.
    const trackerLog = await waitFor("the run's scratch directory", async () => {
      const [dir] = (await benchScratchEntries("e2e-")).filter((d) => !dirsBefore.includes(d));
      return dir && join(Deno.env.get("STATE_DIR")!, "bench", dir, "tracker.log");
    }, { running: [bench] });
    const healthLines = async () =>
      (await Deno.readTextFile(trackerLog).catch(() => "")).split("\n").filter(Boolean);
    const phases = async () =>
      (await healthLines()).map(parseHealthLine).flatMap((r) =>
        r.ok && r.entry.kind === "lifecycle" ? [r.entry.lifecycle.phase] : []
      );
    await waitFor(
      "the tracker ready",
      async () => (await phases()).includes("ready") || undefined,
      {
        timeoutMs: 60_000,
        running: [bench],
      },
    );
    const trail = join(trackerLog, "..", "tracker.events");
    await waitFor("orders audited", async () => (await auditLineCount([trail])) > 0 || undefined, {
      timeoutMs: 30_000,
      running: [bench],
    });
    bench.child.kill("SIGKILL");
    await bench.exited;
    // Each sees its parent gone within a second and stops as on SIGTERM.
    await waitFor(
      "the tracker and producer to stop",
      async () => (await alive({ pids: children })).length === 0 || undefined,
      { timeoutMs: 30_000, intervalMs: 250 },
    );
    // The tracker stopped cleanly, for that reason: its health log says so.
    const lines = await healthLines();
    assert(
      lines.some((line) => /"signal":"the parent process \(PID \d+\) is gone"/.test(line)),
      lines.slice(-5).join("\n"),
    );
    assertEquals((await phases()).at(-1), "stopped", lines.slice(-5).join("\n"));
  } finally {
    for (const pid of await alive({ pids: children }).catch(() => [])) {
      Deno.kill(pid, "SIGKILL");
    }
    await stopEntry(bench, "SIGKILL");
    // What the killed run left: its topics, group and directory.
    const left = (await scratchOnBroker("bench-e2e-")).filter((n) => !onBrokerBefore.includes(n));
    await deleteScratch(testConnection(), {
      topics: left.filter((n) => !n.startsWith("group ")),
      groups: left.filter((n) => n.startsWith("group ")).map((n) => n.slice("group ".length)),
      clientId: "test",
    }).catch(() => {}); // A group whose members were killed stays until their session ends.
    for (const dir of (await benchScratchEntries("e2e-")).filter((d) => !dirsBefore.includes(d))) {
      await Deno.remove(join(Deno.env.get("STATE_DIR")!, "bench", dir), { recursive: true });
    }
    // Its claim too: cleared here, it is no later test's orphan.
    for (const name of (await claimNames()).filter((n) => !claimsBefore.includes(n))) {
      await Deno.remove(join(Deno.env.get("STATE_DIR")!, "bench", "claims", name));
    }
  }
});

Deno.test("what a benchmark killed with SIGKILL left is removed by the next benchmark", async () => {
  const dirsBefore = await benchScratchEntries("tracker-");
  const onBrokerBefore = await scratchOnBroker("bench-tracker-");
  const claimsBefore = await claimNames();
  // Run directly (not through the launcher): SIGKILL reaches the benchmark itself.
  const killed = spawnEntry("bench:tracker", {
    env: { LOG_LEVEL: "warning" },
    args: ["--count", "400000"],
  });
  try {
    // Killed while it fills its topics.
    const left = await waitFor("the benchmark's topics", async () => {
      const topics = (await scratchOnBroker("bench-tracker-"))
        .filter((n) => !onBrokerBefore.includes(n));
      return topics.length === 2 ? topics : undefined;
    }, { timeoutMs: 60_000, intervalMs: 200, running: [killed] });
    killed.child.kill("SIGKILL");
    await killed.exited;

    const next = await runTask("bench_producer", { LOG_LEVEL: "warning" }, ["--count", "200"]);
    assertEquals(next.code, 0, next.output);
    const topic = left.find((n) => !n.endsWith("-dlq"))!;
    const dir = topic.replace(/^bench-/, ""); // Made once its tracker starts: maybe not yet.
    assertMatch(
      next.output,
      new RegExp(
        `^Removed what a killed benchmark left: topics ${topic}, ${topic}-dlq; groups ${topic}; directory .*${dir}$`,
        "m",
      ),
    );
    assertEquals(await scratchOnBroker("bench-tracker-"), onBrokerBefore);
    assertEquals(await benchScratchEntries("tracker-"), dirsBefore);
    // The killed run's claim is gone with what it claimed (others' are not this test's).
    assertEquals(
      (await claimNames()).filter((n) => !claimsBefore.includes(n)),
      [],
      "the killed run's claim is gone",
    );
  } finally {
    await stopEntry(killed, "SIGKILL");
  }
});

const SCRATCH_PREFIXES = { bench_producer: "bench-producer-", bench_tracker: "bench-tracker-" };
for (
  const [task, prefix] of Object.entries(SCRATCH_PREFIXES) as [
    keyof typeof SCRATCH_PREFIXES,
    string,
  ][]
) {
  Deno.test(`${task} prints its figures and deletes its topics (runs would fill the broker's disk)`, async () => {
    const before = await scratchOnBroker(prefix);
    const run = await runTask(task, { LOG_LEVEL: "warning" }, ["--count", "2000"]);
    assertEquals(run.code, 0, run.output);
    assertMatch(run.stdout, /^throughput +\d+ msg\/s/m);
    assertMatch(run.stdout, /^cpu +\d+\.\d{3} s per 1,000 orders/m);
    assertEquals(await scratchOnBroker(prefix), before, "its topics and group are deleted");
  });
}

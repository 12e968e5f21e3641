/**
 * Integration: `deno task bench:e2e` as a user runs it, briefly, on the test
 * broker: tracker and producer as separate processes, the figures printed,
 * nothing lost, its scratch files gone afterwards. And `bench:producer` and
 * `bench:tracker`, which leave no topic behind.
 */
import { assert, assertEquals, assertMatch } from "./assert.ts";
import { benchScratchEntries, runTask, testConnection } from "./support.ts";
import { createKafka, withAdmin } from "../lib/kafka.ts";

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

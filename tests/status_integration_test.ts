/**
 * Integration: `deno task status` as a user runs it, against a pipeline that
 * `deno task start` runs on the test broker (named by KAFKA_BROKERS, so an
 * external cluster here) and after `deno task stop`; and against the test
 * broker itself as the local JVM broker it is.
 */
import { join } from "node:path";
import { assert, assertEquals, assertMatch } from "./assert.ts";
import {
  readAuditRecords,
  runTask,
  tempDataDir,
  testBrokers,
  uniqueName,
  waitFor,
} from "./support.ts";
import { PROJECT_DIR } from "../tasks/_project_dir.ts";
import { isRunning } from "../tasks/_process.ts";
import { testEnv } from "../tasks/test.ts";
import type { StatusReport } from "../lib/status_report.ts";
import { resolveConfig } from "../lib/config.ts";
import { permissionFlags } from "../lib/permissions.ts";

async function status(env: Record<string, string>, flags: readonly string[]) {
  const run = await runTask("status", env, [...flags, "--json"]);
  let report: StatusReport;
  try {
    report = JSON.parse(run.stdout);
  } catch {
    throw new Error(`status --json printed no JSON:\n${run.output}`);
  }
  return { ...run, report };
}

Deno.test("status reports a running pipeline (exit 0) and a stopped one (exit 1), changing nothing", async () => {
  const work = await tempDataDir();
  const env = {
    KAFKA_BROKERS: testBrokers().join(","),
    STATE_DIR: join(work.dir, "state"),
    DLQ_TOPIC: uniqueName("status-dlq"),
    TRACKER_GROUP_ID: uniqueName("status"),
  };
  const dataDir = join(work.dir, "data");
  const topic = uniqueName("status");
  const flags = ["--data-dir", dataDir, "--topic", topic];
  const pidFile = (role: string) => join(env.STATE_DIR, "run", `${role}.pid`);
  const pidOf = async (role: string) => JSON.parse(await Deno.readTextFile(pidFile(role))).pid;
  try {
    const start = await runTask("start", env, [...flags, "--rate", "50"]);
    assertEquals(start.code, 0, start.output);
    const pids = { tracker: await pidOf("tracker"), producer: await pidOf("producer") };
    await waitFor("orders in the audit trail", async () => {
      const records = await readAuditRecords(join(dataDir, "tracker.events"));
      return records.length >= 20 ? true : undefined;
    });

    const up = await status(env, flags);
    assertEquals(up.code, 0, up.output);
    assert(up.elapsedMs < 10_000, `status took ${up.elapsedMs} ms`);
    const { report } = up;
    assertEquals(report.exitCode, 0);
    assertEquals(report.problems, []);
    assertEquals([report.broker.provider, report.broker.fine], ["external", true]);
    for (const role of ["tracker", "producer"] as const) {
      assertEquals([report[role].state, report[role].pid], ["running", pids[role]], role);
      assert(report[role].uptimeS !== null && report[role].rssKiB! > 0, role);
      assert(report[role].lastActivity !== null, `${role}: its health log's newest record`);
      assert(report[role].healthLog.bytes > 0, role);
    }
    assert(report.kafka.reachable, JSON.stringify(report.kafka));
    const [orders, dlq] = report.kafka.topics;
    assertEquals([orders!.name, orders!.partitions.length, orders!.replicationFactor], [
      topic,
      3,
      1,
    ]);
    assertEquals([dlq!.name, dlq!.exists], [env.DLQ_TOPIC, true]);
    assert(orders!.partitions.reduce((sum, p) => sum + p.end, 0) >= 20, "end offsets");
    assertEquals(report.kafka.group.id, env.TRACKER_GROUP_ID);
    assert(orders!.partitions.some((p) => (p.committed ?? 0) > 0), "committed offsets");
    assertEquals(report.trail.files, 1);
    assert(report.trail.bytes > 0);
    assertEquals(report.lastAudited?.outcome, "audited");
    const text = await runTask("status", env, flags);
    assertEquals(text.code, 0, text.output);
    assertMatch(text.output, /: OK\n/);
    assertMatch(text.output, new RegExp(`tracker +running +pid ${pids.tracker}`));

    const stop = await runTask("stop", env);
    assertEquals(stop.code, 0, stop.output);
    const down = await status(env, flags);
    assertEquals(down.code, 1, down.output);
    assertEquals(down.report.tracker.state, "stopped");
    assertMatch(down.report.problems.join("\n"), /^tracker stopped at .*audited$/m);
    // Stopped by `stop` with nothing lost: as fine as a --count run that is done.
    assertEquals([down.report.producer.state, down.report.producer.fine], ["finished", true]);

    // A PID file left by a process that is gone stays: only start and stop remove it.
    const stale = JSON.stringify({
      pid: pids.tracker,
      started: "Mon Jan  1 00:00:00 2024",
      command: "x",
    });
    await Deno.writeTextFile(pidFile("tracker"), stale);
    const withStale = await status(env, flags);
    assertEquals(withStale.code, 1, withStale.output);
    assertEquals(withStale.report.tracker.stalePidFile, true);
    assertEquals(await Deno.readTextFile(pidFile("tracker")), stale);

    // Kafka that does not answer: said so, in seconds, with the local facts all the same.
    const unreachable = await status({ ...env, KAFKA_BROKERS: "127.0.0.1:1" }, flags);
    assertEquals(unreachable.code, 1, unreachable.output);
    assertEquals(unreachable.report.kafka.reachable, false);
    assert(unreachable.report.problems.includes("Kafka unreachable at 127.0.0.1:1"));
    assertEquals(unreachable.report.tracker.state, "stopped");
    assert(unreachable.elapsedMs < 10_000, `status took ${unreachable.elapsedMs} ms`);
  } finally {
    for (const role of ["tracker", "producer"]) {
      const pid = await pidOf(role).catch(() => undefined);
      if (pid !== undefined && isRunning(pid, `${role}.ts`)) Deno.kill(pid, "SIGKILL");
    }
    await work.remove();
  }
});

Deno.test({
  name: "status shows the test broker as the local JVM broker it is: pid, uptime and memory",
  ignore: Deno.env.get("TEST_EXTERNAL_CLUSTER") === "1",
  async fn() {
    const work = await tempDataDir();
    try {
      // The test broker's own settings (its ports and state directory), a pipeline never started.
      const port = Number(testBrokers()[0]!.split(":")[1]);
      const env = {
        ...testEnv({}, port),
        STATE_DIR: Deno.env.get("STATE_DIR")!,
        KAFKA_BROKERS: "",
      };
      const flags = ["--data-dir", work.dir, "--topic", uniqueName("status-none")];
      const { code, output, report } = await status(env, flags);
      assertEquals(code, 1, output);
      assertEquals([report.broker.provider, report.broker.running], ["jvm", true], output);
      assert(report.broker.pid! > 0 && report.broker.rssKiB! > 0, output);
      assert(report.broker.uptimeS !== null, output);
      assertEquals(report.broker.controllerPort, port + 1);
      assert(report.kafka.reachable, output);
      assertEquals([report.tracker.state, report.producer.state], ["unknown", "unknown"]);
      assertEquals(report.kafka.topics[0]!.exists, false);
    } finally {
      await work.remove();
    }
  },
});

Deno.test("status's permissions: it reads the data and run directories, writes nothing, runs only ps", async () => {
  const work = await tempDataDir();
  try {
    const config = resolveConfig({
      DATA_DIR: join(work.dir, "data"),
      STATE_DIR: join(work.dir, "state"),
      KAFKA_PROVIDER: "jvm",
    });
    await Deno.mkdir(config.paths.runDir, { recursive: true });
    await Deno.mkdir(config.paths.brokerDir, { recursive: true });
    await Deno.mkdir(config.paths.dataDir, { recursive: true });
    const probe = join(work.dir, "probe.ts");
    const attempt = (what: string, action: string) =>
      `try { ${action}; console.log("${what}: allowed"); } catch (e) { console.log("${what}: " + (e instanceof Deno.errors.NotCapable ? "denied" : "error " + e)); }`;
    await Deno.writeTextFile(
      probe,
      [
        attempt("read data", `Deno.readDirSync(${JSON.stringify(config.paths.dataDir)})`),
        attempt("read run", `Deno.readDirSync(${JSON.stringify(config.paths.runDir)})`),
        attempt("read broker data", `Deno.readDirSync(${JSON.stringify(config.paths.brokerDir)})`),
        attempt(
          "write data",
          `Deno.writeTextFileSync(${JSON.stringify(join(config.paths.dataDir, "x"))}, "x")`,
        ),
        attempt("run ps", `new Deno.Command("ps", { args: ["-p", "1"] }).outputSync()`),
        attempt("run sh", `new Deno.Command("sh", { args: ["-c", "true"] }).outputSync()`),
      ].join("\n"),
    );
    const flags = permissionFlags("status", config, { projectDir: PROJECT_DIR });
    const { stdout } = await new Deno.Command(Deno.execPath(), {
      args: ["run", ...flags, probe],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assertEquals(new TextDecoder().decode(stdout).trim().split("\n"), [
      "read data: allowed",
      "read run: allowed",
      "read broker data: denied",
      "write data: denied",
      "run ps: allowed",
      "run sh: denied",
    ]);
  } finally {
    await work.remove();
  }
});

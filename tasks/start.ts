/**
 * `deno task start`: broker up (unless KAFKA_BROKERS names a cluster) → topics →
 * tracker and producer started detached, each with a PID file, its output in
 * its own file, and a wait for its `ready` lifecycle record. Safe to run twice:
 * what runs is left running.
 *
 * Permissions: --allow-run (Deno, java, mvn, docker), --allow-net=127.0.0.1
 * (broker readiness), --allow-read, --allow-write to the data, state and jar
 * directories, --allow-env.
 */
import { type Config, loadConfig, type OptionValues, readConfigEnv } from "../lib/config.ts";
import { settingsEnv } from "../lib/settings.ts";
import { EXIT } from "../lib/constants.ts";
import { brokerUp } from "./_broker.ts";
import {
  healthLogOf,
  lastLifecycle,
  PIPELINE_ROLES,
  pipelineProcess,
  type PipelineRole,
} from "./_pipeline.ts";
import { forEachLine } from "../lib/segmented_log.ts";
import { isRunning, runningPid, spawnDetached, tailOf } from "./_process.ts";
import { denoRunArgs } from "./run.ts";
import { PROJECT_DIR } from "./_project_dir.ts";

/** How long a started process may take to say it is ready. */
const READY_TIMEOUT_MS = 60_000;

/**
 * How a child runs: this environment with the flags given to `start` on top
 * (`env`), so `deno task start --rate 50` reaches the producer and the
 * child's permissions follow a `--data-dir` or `--brokers`.
 */
function runArgs(role: "topics" | PipelineRole, env: Record<string, string>): string[] {
  return denoRunArgs(role, { env: { ...readConfigEnv(), HOME: Deno.env.get("HOME"), ...env } });
}

async function runTopics(env: Record<string, string>): Promise<boolean> {
  const { code } = await new Deno.Command(Deno.execPath(), {
    args: runArgs("topics", env),
    cwd: PROJECT_DIR,
    env,
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  return code === 0;
}

/** Waits for the `ready` lifecycle record of process `pid` in the role's health log. */
async function waitForReady(
  config: Config,
  role: PipelineRole,
  { pid, healthLogOffset }: { pid: number; healthLogOffset: number },
): Promise<void> {
  const managed = pipelineProcess(config, role);
  const healthLog = healthLogOf(config, role);
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    const lines: string[] = [];
    await forEachLine(healthLog, (line) => lines.push(line), { from: healthLogOffset });
    const record = lastLifecycle(lines, pid);
    if (record?.phase === "ready") return;
    if (record?.phase === "failed" || !isRunning(pid, managed.marker)) {
      throw new Error(
        `Cannot start ${role}: it exited${
          typeof record?.error === "string" ? ` (${record.error})` : ""
        }. Last lines of ${managed.logFile}:\n${tailOf(managed.logFile, 15)}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(
    `Cannot start ${role}: not ready after ${READY_TIMEOUT_MS / 1000} s (see ${managed.logFile})`,
  );
}

async function start(config: Config & { options: OptionValues }): Promise<void> {
  const env = settingsEnv(config.options);
  await brokerUp(config);
  if (!await runTopics(env)) throw new Error("Cannot start: topic setup failed (see above)");
  await Deno.mkdir(config.paths.runDir, { recursive: true });
  await Deno.mkdir(config.paths.dataDir, { recursive: true });
  for (const role of PIPELINE_ROLES) {
    const managed = pipelineProcess(config, role);
    const running = runningPid(managed);
    if (running !== undefined) {
      console.log(`${role} already running (pid ${running})`);
      continue;
    }
    const healthLogOffset = await Deno.stat(healthLogOf(config, role)).then((s) => s.size, () => 0);
    const pid = spawnDetached(managed, {
      command: Deno.execPath(),
      args: runArgs(role, env),
      env,
    });
    await waitForReady(config, role, { pid, healthLogOffset });
    console.log(`Started ${role} (pid ${pid}, output in ${managed.logFile})`);
  }
  console.log(`
Orders are flowing through Kafka at ${config.brokers.join(",")}.
  audit trail   ${config.paths.auditFile}
  health logs   ${config.paths.healthLog}, ${config.paths.producerLog}
  process logs  ${config.paths.runDir}/{producer,tracker,${
    config.nodes.length === 1 ? "broker" : `broker-1…${config.nodes.length}`
  }}.out

  deno task monitor    live dashboard
  deno task stop       stop everything`);
}

async function main(): Promise<number> {
  const config = loadConfig(Deno.args, { command: "start" });
  if (typeof config === "number") return config;
  try {
    await start(config);
    return EXIT.ok;
  } catch (error) {
    console.error((error as Error).message);
    console.error("Run `deno task stop` to stop whatever did start.");
    return EXIT.failure;
  }
}

if (import.meta.main) {
  Deno.exitCode = await main();
}

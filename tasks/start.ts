/**
 * `deno task start`: broker up (unless KAFKA_BROKERS names a cluster) → topics →
 * tracker and producer started detached, each with a PID file and its output in
 * its own log file. Safe to run twice: what runs is left running.
 *
 * Permissions: --allow-run (Deno, java, mvn, docker), --allow-net=127.0.0.1
 * (broker readiness), --allow-read, --allow-write to the data, state and jar
 * directories, --allow-env.
 */
import { type Config, loadConfig } from "../lib/config.ts";
import { EXIT } from "../lib/constants.ts";
import { brokerUp } from "./broker.ts";
import { PIPELINE_ROLES, pipelineProcess } from "./pipeline.ts";
import { isRunning, runningPid, spawnDetached, tailOf } from "./process.ts";
import { denoRunArgs } from "./run.ts";
import { PROJECT_DIR } from "./project_dir.ts";

/** How long a started process may take to print its ready line. */
const READY_TIMEOUT_MS = 60_000;
const READY_PATTERN = /(Producer|Tracker) ready/;

async function runTopics(): Promise<boolean> {
  const { code } = await new Deno.Command(Deno.execPath(), {
    args: denoRunArgs("topics"),
    cwd: PROJECT_DIR,
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  return code === 0;
}

async function waitForReady(
  role: string,
  { pid, logFile, marker, offset }: {
    pid: number;
    logFile: string;
    marker: string;
    offset: number;
  },
): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    const text = await Deno.readTextFile(logFile).catch(() => "");
    if (READY_PATTERN.test(text.slice(offset))) return;
    if (!isRunning(pid, marker)) {
      throw new Error(
        `Cannot start ${role}: it exited. Last lines of ${logFile}:\n${tailOf(logFile, 15)}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(
    `Cannot start ${role}: not ready after ${READY_TIMEOUT_MS / 1000} s (see ${logFile})`,
  );
}

async function start(config: Config): Promise<void> {
  await brokerUp(config);
  if (!await runTopics()) throw new Error("Cannot start: topic setup failed (see above)");
  await Deno.mkdir(config.paths.runDir, { recursive: true });
  await Deno.mkdir(config.paths.dataDir, { recursive: true });
  for (const role of PIPELINE_ROLES) {
    const managed = pipelineProcess(config, role);
    const running = runningPid(managed);
    if (running !== undefined) {
      console.log(`${role} already running (pid ${running})`);
      continue;
    }
    const offset = await Deno.stat(managed.logFile).then((s) => s.size, () => 0);
    const pid = spawnDetached(managed, {
      command: Deno.execPath(),
      args: denoRunArgs(role),
    });
    await waitForReady(role, { pid, logFile: managed.logFile, marker: managed.marker, offset });
    console.log(`Started ${role} (pid ${pid}, output in ${managed.logFile})`);
  }
  console.log(`
Orders are flowing through Kafka at ${config.brokers.join(",")}.
  audit trail   ${config.paths.auditFile}
  health log    ${config.paths.healthLog}
  process logs  ${config.paths.runDir}/{producer,tracker,broker}.out

  deno task monitor    live dashboard
  deno task stop       stop everything`);
}

async function main(): Promise<number> {
  const config = loadConfig(Deno.args, { command: "deno task start" });
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

/**
 * `deno task bench:e2e [--rate N] [--duration S] [--warmup S] [--json]`: the pipeline
 * as it runs in production, each part its own process beside the broker: the
 * real tracker and producer entries, each with its own permissions, on a
 * scratch topic, group and data directory. The producer sends at a fixed rate;
 * after the warm-up, a window of --duration seconds is measured: the
 * end-to-end latency of the orders produced in it (from the audit trail) and
 * each process's CPU (from /proc/<pid>/stat at the window's start and end).
 * Then the producer is stopped with SIGTERM, the tracker once it has committed
 * everything, and the acknowledged orders are compared with the trail: exit 1
 * when one is missing. `--json` prints one result record instead of the
 * report. A command that prints figures, not a test. Start a
 * broker first (`deno task broker:up`).
 *
 * Permissions: --allow-net to the brokers, --allow-env to the settings, read
 * and write in <STATE_DIR>/bench, read of the run directory (the broker's PID
 * file), --allow-run (Deno for the children, `ps`, `cat` for /proc, `getconf`).
 */
import process from "node:process";
import { join } from "node:path";
import {
  type Config,
  ConfigError,
  configErrorText,
  loadConfig,
  optionSet,
  type OptionValues,
  pipelinePaths,
  readConfigEnv,
} from "../lib/config.ts";
import { benchResultLine } from "../lib/bench_result.ts";
import { commandDefault, settingsEnv } from "../lib/settings.ts";
import { EXIT, PRODUCER_ACKS_FILE_NAME } from "../lib/constants.ts";
import {
  createKafka,
  deleteScratch,
  ensureTopics,
  groupCommits,
  topicEnds,
  withAdmin,
} from "../lib/kafka.ts";
import { awaitKafka, KafkaAccessError, KafkaUnreachableError } from "../lib/reachability.ts";
import { setupLogging } from "../lib/logging.ts";
import { exitWhenDone, installShutdown } from "../lib/shutdown.ts";
import { forEachLine } from "../lib/segmented_log.ts";
import { readTrail, trailSegments } from "../lib/trail_reader.ts";
import type { LifecycleRecord } from "../lib/health_record.ts";
import {
  cpuBetween,
  type CpuSnapshot,
  cpuSum,
  type CpuTime,
  fromCpuUsage,
  parseCpuSnapshot,
} from "../lib/process_cpu.ts";
import {
  e2eExitCode,
  type E2eFigures,
  e2eProblems,
  e2eReportText,
  LatencyTally,
  type ProcessCpu,
  type ProducerOutcome,
} from "../lib/e2e_report.ts";
import { lastLifecycle } from "./_pipeline.ts";
import { inspectProcess, tailOf } from "./_process.ts";
import { brokerProcess } from "./_broker.ts";
import { runCommand } from "./_command.ts";
import { BENCH_INTERRUPTED, progressLine } from "./_progress.ts";
import { topicDurability } from "./topics.ts";
import { claimScratch, type HeldClaim } from "./_bench_scratch.ts";
import { denoRunArgs } from "./run.ts";
import { PROJECT_DIR } from "./_project_dir.ts";

const DEFAULT_RATE = commandDefault("rate", "bench:e2e")!;
const DEFAULT_DURATION_S = commandDefault("duration", "bench:e2e")!;
const DEFAULT_WARMUP_S = 5;
/** How long a child may take from its start to its `ready` record. */
const READY_TIMEOUT_MS = 60_000;
/** How long the tracker may commit nothing while it has messages left, after the producer stopped. */
const CATCH_UP_STALL_MS = 30_000;
/** After SIGTERM, before SIGKILL: above the producer's own hard deadline (20 s). */
const STOP_TIMEOUT_MS = 25_000;
/** Clock ticks per second of /proc when `getconf CLK_TCK` cannot say (Linux's USER_HZ). */
const DEFAULT_TICKS_PER_SEC = 100;
const MONITOR_NOT_RUN =
  "not run: its dashboard needs a terminal, and `monitor --once` reads once and exits, which is not its load";

type ChildRole = "tracker" | "producer";

/** A child process of the benchmark, its output going to a file in the scratch directory. */
interface Child {
  role: ChildRole;
  pid: number;
  process: Deno.ChildProcess;
  /** Resolves once it has exited and its output is written. */
  exited: Promise<Deno.CommandStatus>;
  /** Its status once it has exited. */
  readonly status: Deno.CommandStatus | undefined;
  outFile: string;
}

interface Bench {
  config: Config & { readonly options: OptionValues };
  warmupS: number;
  windowS: number;
}

/** The settings with a scratch topic, group and data directory, or the exit code. */
function benchSettings(): Bench | number {
  const env = readConfigEnv();
  const id = crypto.randomUUID().slice(0, 8);
  const base = loadConfig(Deno.args, {
    command: "bench:e2e",
    env: {
      ...env,
      PRODUCER_RATE: env.PRODUCER_RATE ?? DEFAULT_RATE,
      PRODUCER_DURATION_S: env.PRODUCER_DURATION_S ?? DEFAULT_DURATION_S,
    },
  });
  if (typeof base === "number") return base;
  const { ratePerSec, durationMs } = base.producer;
  const warmup = base.options.warmup;
  const warmupS = typeof warmup === "string" ? Number(warmup) : DEFAULT_WARMUP_S;
  const problem = ratePerSec <= 0
    ? "--rate is 0, expected a fixed rate above 0 msg/s"
    : durationMs <= 0
    ? "--duration is 0, expected the seconds to measure"
    : warmup !== undefined && (!Number.isFinite(warmupS) || warmupS < 0)
    ? `--warmup is "${warmup}", expected seconds (0 or more)`
    : undefined;
  if (problem !== undefined) {
    console.error(
      configErrorText(new ConfigError(`Cannot run the benchmark: ${problem}`), "bench:e2e"),
    );
    return EXIT.badConfig;
  }
  const { stateDir } = base.paths;
  const config = {
    ...base,
    topic: `bench-e2e-${id}`,
    dlqTopic: `bench-e2e-${id}-dlq`,
    groupId: `bench-e2e-${id}`,
    paths: pipelinePaths(join(stateDir, "bench", `e2e-${id}`), stateDir),
  };
  return { config, warmupS, windowS: durationMs / 1000 };
}

/** The settings both children get: the benchmark's flags, its scratch names and the rate. */
function childEnv({ config }: Bench): Record<string, string> {
  return {
    ...settingsEnv(config.options),
    ORDERS_TOPIC: config.topic,
    DLQ_TOPIC: config.dlqTopic,
    TRACKER_GROUP_ID: config.groupId,
    DATA_DIR: config.paths.dataDir,
    PRODUCER_RATE: String(config.producer.ratePerSec),
    // They end with this process even when it is killed with SIGKILL (the
    // producer would otherwise send at the rate for ever).
    STOP_WITH_PARENT: String(Deno.pid),
    // Stopped with SIGTERM at the window's end, as `deno task stop` stops it.
    PRODUCER_COUNT: "0",
    PRODUCER_DURATION_S: "0",
    // Its outcomes file as `start` keeps it: part of the producer's work.
    PRODUCER_ACKS_LOG: join(config.paths.producerDir, PRODUCER_ACKS_FILE_NAME),
    // The lifecycle records (ready, stopped) are info records.
    LOG_LEVEL: "info",
  };
}

/** Starts an entry as its deno.json task would (its own permissions), output to `outFile`. */
function spawnChild(role: ChildRole, env: Record<string, string>, outFile: string): Child {
  const spawned = new Deno.Command(Deno.execPath(), {
    args: denoRunArgs(role, { env: { ...readConfigEnv(), ...env } }),
    cwd: PROJECT_DIR,
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const sink = async (stream: ReadableStream<Uint8Array>) => {
    const file = await Deno.open(outFile, { append: true, create: true });
    await stream.pipeTo(file.writable);
  };
  const written = Promise.all([sink(spawned.stdout), sink(spawned.stderr)]);
  let final: Deno.CommandStatus | undefined;
  const exited = (async () => {
    const status = await spawned.status;
    await written.catch(() => {});
    final = status;
    return status;
  })();
  return {
    role,
    pid: spawned.pid,
    process: spawned,
    exited,
    get status() {
      return final;
    },
    outFile,
  };
}

/** The child's newest lifecycle record in its health log, or undefined. */
async function lifecycleOf(child: Child, healthLog: string): Promise<LifecycleRecord | undefined> {
  const lines: string[] = [];
  await forEachLine(healthLog, (line) => lines.push(line));
  return lastLifecycle(lines, child.pid);
}

/** Why a child is not of use, with the end of its output. */
function childFailure(child: Child, what: string): Error {
  return new Error(
    `Cannot run the benchmark: the ${child.role} ${what}. Last lines of ${child.outFile}:\n${
      tailOf(child.outFile, 15)
    }`,
  );
}

/** Waits for the child's `ready` record. */
async function waitForReady(child: Child, healthLog: string, signal: AbortSignal): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    const record = await lifecycleOf(child, healthLog);
    if (record?.phase === "ready") return;
    if (record?.phase === "failed" || child.status !== undefined) {
      throw childFailure(child, "exited before it was ready");
    }
    await sleep(100, signal);
  }
  throw childFailure(child, `was not ready after ${READY_TIMEOUT_MS / 1000} s`);
}

/** SIGTERM, then SIGKILL if it is still running after STOP_TIMEOUT_MS. */
async function stopChild(child: Child): Promise<Deno.CommandStatus> {
  if (child.status !== undefined) return child.status;
  const signal = (name: Deno.Signal) => {
    try {
      child.process.kill(name);
    } catch {
      // Already exited.
    }
  };
  signal("SIGTERM");
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<"late">((
    resolve,
  ) => (timer = setTimeout(() => resolve("late"), STOP_TIMEOUT_MS)));
  const first = await Promise.race([child.exited, late]);
  clearTimeout(timer);
  if (first !== "late") return first;
  signal("SIGKILL");
  return await child.exited;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  signal.throwIfAborted();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(done, ms);
    function done() {
      signal.removeEventListener("abort", aborted);
      resolve();
    }
    function aborted() {
      clearTimeout(timer);
      reject(signal.reason);
    }
    signal.addEventListener("abort", aborted, { once: true });
  });
}

/** Clock ticks per second of /proc's CPU times. */
async function ticksPerSec(): Promise<number> {
  try {
    const ticks = Number((await runCommand("getconf", ["CLK_TCK"])).output.trim());
    return Number.isSafeInteger(ticks) && ticks > 0 ? ticks : DEFAULT_TICKS_PER_SEC;
  } catch {
    return DEFAULT_TICKS_PER_SEC;
  }
}

/**
 * The CPU times of the processes and of the machine, in one `cat` (Deno reads
 * /proc only under --allow-all). A PID that is gone is missing from the result.
 */
async function readCpu(pids: readonly number[], ticks: number): Promise<CpuSnapshot> {
  const files = ["/proc/stat", ...pids.map((pid) => `/proc/${pid}/stat`)];
  const { output } = await runCommand("cat", files);
  return parseCpuSnapshot(output, { ticksPerSec: ticks });
}

/**
 * The local broker's PIDs, from the PID files `broker:up` wrote in the run
 * directory, or why there are none to measure.
 */
function brokerPids(config: Config): { pids: number[]; note: string } | { reason: string } {
  const loopback = config.brokers.every((b) => /^(127\.0\.0\.1|localhost|\[::1\]):/.test(b));
  if (!loopback) return { reason: "not measured: not on this machine (KAFKA_BROKERS)" };
  const pids: number[] = [];
  for (const node of config.nodes) {
    const managed = brokerProcess(config, node.id);
    const found = inspectProcess(managed);
    if (found.state !== "running") {
      return {
        reason: `not measured: no running broker in ${managed.pidFile} ` +
          "(a Docker broker, or one started with another STATE_DIR)",
      };
    }
    pids.push(found.identity.pid);
  }
  return {
    pids,
    note: `pid ${pids.join(", ")} (${
      config.nodes.length === 1 ? "" : "nodes' "
    }PID file in ${config.paths.runDir})`,
  };
}

/**
 * Waits until the group has committed every message the topic holds, as long
 * as the tracker makes progress (a backlog of a rate it cannot sustain drains
 * slowly, but drains).
 */
async function waitForCatchUp(config: Config, tracker: Child, signal: AbortSignal): Promise<void> {
  const shown = progressLine();
  await withAdmin(createKafka(config, { clientId: "bench-e2e" }), async (admin) => {
    let least = Infinity;
    let progressAt = Date.now();
    for (;;) {
      const [ends, commits] = await Promise.all([
        topicEnds(admin, config.topic),
        groupCommits(admin, { groupId: config.groupId, topic: config.topic }),
      ]);
      let lag = 0;
      // -1: nothing committed yet.
      for (const [partition, end] of ends) {
        lag += Math.max(0, end - Math.max(0, commits.get(partition) ?? 0));
      }
      if (lag === 0) break;
      if (tracker.status !== undefined) throw childFailure(tracker, "exited before it caught up");
      if (lag < least) [least, progressAt] = [lag, Date.now()];
      if (Date.now() - progressAt > CATCH_UP_STALL_MS) {
        throw childFailure(
          tracker,
          `committed nothing for ${CATCH_UP_STALL_MS / 1000} s with ${lag} messages left`,
        );
      }
      shown.update(`Tracker catching up: ${lag.toLocaleString("en-US")} messages to commit`);
      await sleep(200, signal);
    }
  });
  shown.done();
}

/** The producer's outcome from its `stopped` record, or undefined. */
async function producerOutcome(
  producer: Child,
  healthLog: string,
): Promise<ProducerOutcome | undefined> {
  const record = await lifecycleOf(producer, healthLog);
  if (record?.phase !== "stopped") return undefined;
  const figure = (name: string): number =>
    typeof record[name] === "number" ? (record[name] as number) : NaN;
  const outcome = {
    acknowledged: figure("acknowledged"),
    failed: figure("failed"),
    indeterminate: figure("indeterminate"),
    unsent: figure("unsent"),
  };
  return Object.values(outcome).every(Number.isSafeInteger) ? outcome : undefined;
}

/** Waits out `seconds` with a countdown on a terminal. */
async function countDown(label: string, seconds: number, signal: AbortSignal): Promise<void> {
  const shown = progressLine();
  const end = Date.now() + seconds * 1000;
  for (let left = end - Date.now(); left > 0; left = end - Date.now()) {
    shown.update(`${label}: ${Math.ceil(left / 1000)} s left of ${seconds} s`);
    await sleep(Math.min(left, 250), signal);
  }
  shown.done();
}

async function run(
  bench: Bench,
  { children, scratch, signal }: {
    children: Child[];
    /** Gets the run's claim on what it makes (tasks/_bench_scratch.ts). */
    scratch: { claim?: HeldClaim };
    signal: AbortSignal;
  },
): Promise<E2eFigures> {
  const { config, warmupS, windowS } = bench;
  const { paths } = config;
  await awaitKafka(config, { oneShot: true });
  scratch.claim = await claimScratch(config, {
    topics: [config.topic, config.dlqTopic],
    groups: [config.groupId],
    dirs: [paths.dataDir],
  }, { clientId: "bench-e2e", say: (line) => console.error(line), signal });
  // Replicated as `deno task topics` would on this cluster: acks=all waits for the replicas.
  const durability = await topicDurability(config);
  await ensureTopics(config, [
    { topic: config.topic, partitions: config.partitions, ...durability },
    { topic: config.dlqTopic, partitions: 1, ...durability },
  ]);
  await Deno.mkdir(paths.producerDir, { recursive: true });
  const env = childEnv(bench);
  const ticks = await ticksPerSec();

  const tracker = spawnChild("tracker", env, join(paths.dataDir, "tracker.out"));
  children.push(tracker);
  await waitForReady(tracker, paths.healthLog, signal);
  const producer = spawnChild("producer", env, join(paths.dataDir, "producer.out"));
  children.push(producer);
  await waitForReady(producer, paths.producerLog, signal);
  await countDown("Warming up", warmupS, signal);

  const broker = brokerPids(config);
  const pids = [tracker.pid, producer.pid, ...("pids" in broker ? broker.pids : [])];
  const benchBefore = process.cpuUsage();
  const before = await readCpu(pids, ticks);
  const fromMs = Date.now();
  await countDown("Measuring", windowS, signal);
  const after = await readCpu(pids, ticks);
  const toMs = Date.now();
  const benchCpu = fromCpuUsage(process.cpuUsage(benchBefore));

  const stopping = progressLine();
  stopping.update("Stopping the producer");
  const producerStatus = await stopChild(producer);
  stopping.done();
  const outcome = await producerOutcome(producer, paths.producerLog);
  if (tracker.status === undefined) await waitForCatchUp(config, tracker, signal);
  const trackerStatus = await stopChild(tracker);

  const tally = new LatencyTally({ fromMs, toMs });
  await readTrail(paths.auditFile, (line) => {
    if (line.kind === "record") tally.add(line.record);
  }, { withOrder: false });

  const used = (pid: number): CpuTime | undefined => {
    const start = before.processes.get(pid);
    const end = after.processes.get(pid);
    return start && end ? cpuBetween(start, end) : undefined;
  };
  const childCpu = (child: Child): ProcessCpu => {
    const cpu = used(child.pid);
    return cpu === undefined
      ? { name: child.role, cpu, note: `/proc/${child.pid}/stat could not be read` }
      : { name: child.role, cpu, note: `pid ${child.pid}` };
  };
  const processes = [childCpu(producer), childCpu(tracker)];
  if ("pids" in broker) {
    const times = broker.pids.map(used);
    processes.push(
      times.every((t) => t !== undefined)
        ? { name: "broker", cpu: cpuSum(times as CpuTime[]), note: broker.note }
        : { name: "broker", cpu: undefined, note: "its /proc/<pid>/stat could not be read" },
    );
  } else {
    processes.push({
      name: "broker",
      cpu: undefined,
      note: broker.reason.replace(/^not measured: /, ""),
    });
  }
  processes.push({ name: "bench", cpu: benchCpu, note: "this process, waiting" });

  const machine = before.machine && after.machine
    ? {
      cores: navigator.hardwareConcurrency,
      cpu: {
        busyS: after.machine.busyS - before.machine.busyS,
        totalS: after.machine.totalS - before.machine.totalS,
      },
    }
    : undefined;
  return {
    rateAsked: config.producer.ratePerSec,
    warmupS,
    windowS: (toMs - fromMs) / 1000,
    producer: outcome,
    trail: { ...tally.counts },
    latency: tally.latency(),
    processes,
    notMeasured: [{ name: "monitor", reason: MONITOR_NOT_RUN }],
    machine,
    exits: {
      producer: producerStatus.signal === null ? producerStatus.code : null,
      tracker: trackerStatus.signal === null ? trackerStatus.code : null,
    },
    partitions: config.partitions,
    topic: config.topic,
    brokers: config.brokers,
    trailBytes: (await trailSegments(paths.auditFile)).bytes,
  };
}

async function main(): Promise<number> {
  const bench = benchSettings();
  if (typeof bench === "number") return bench;
  const { config } = bench;
  const closeLogging = await setupLogging({ level: "warning" });
  const shutdown = installShutdown({ hardDeadlineMs: STOP_TIMEOUT_MS + 5_000 });
  const children: Child[] = [];
  const scratch: { claim?: HeldClaim } = {};
  let code: number = EXIT.failure;
  try {
    const figures = await run(bench, { children, scratch, signal: shutdown.signal });
    if (optionSet(config.options, "json")) {
      const { latency } = figures;
      console.log(benchResultLine({
        bench: "e2e",
        orders: latency.count,
        rateAsked: figures.rateAsked,
        p50Ms: latency.p50,
        p95Ms: latency.p95,
        p99Ms: latency.p99,
        maxMs: latency.max,
        problems: e2eProblems(figures),
      }));
    } else console.log(e2eReportText(figures));
    code = e2eExitCode(figures);
  } catch (error) {
    if (shutdown.signal.aborted) code = EXIT.interrupted;
    console.error(
      shutdown.signal.aborted
        ? BENCH_INTERRUPTED
        : error instanceof KafkaUnreachableError || error instanceof KafkaAccessError
        ? error.message
        : (error as Error).message.startsWith("Cannot ")
        ? (error as Error).message
        : `Cannot run the benchmark: ${(error as Error).message}`,
    );
  } finally {
    // The tracker last, as `deno task stop` does: it drains what the producer sent.
    for (const child of [...children].reverse()) await stopChild(child);
    // Kept after a failure, to look into; not after a Ctrl+C.
    if (code === EXIT.ok || code === EXIT.interrupted) {
      // An hour's run holds gigabytes.
      const deleted = await deleteScratch(config, {
        topics: [config.topic, config.dlqTopic],
        groups: [config.groupId],
        clientId: "bench-e2e",
      }).then(() => true, () => false);
      await Deno.remove(config.paths.dataDir, { recursive: true }).catch(() => {});
      // Left claimed, what could not be deleted goes with the next benchmark.
      if (deleted) await scratch.claim?.release();
      else await scratch.claim?.leave().catch(() => {});
    } else {
      if (children.length > 0) console.error(`The run's files are kept in ${config.paths.dataDir}`);
      // Kept on purpose, to look into: not for the next benchmark to delete.
      await scratch.claim?.release();
    }
    shutdown.dispose();
    await closeLogging();
  }
  return code;
}

if (import.meta.main) {
  exitWhenDone(await main());
}

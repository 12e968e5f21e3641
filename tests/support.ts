/**
 * What the integration tests share: the test broker's address, unique names,
 * polling with a deadline, and entries run as real processes with their own
 * permissions.
 */
import { join, resolve } from "node:path";
import { TEST_LISTENERS, TEST_PORT_OFFSETS, testEnv, testStateDir } from "../tasks/test.ts";
import { denoRunArgs } from "../tasks/run.ts";
import { PROJECT_DIR } from "../tasks/_project_dir.ts";
import type { Role } from "../lib/permissions.ts";
import { type Config, readConfigEnv, resolveConfig } from "../lib/config.ts";
import { type KafkaConnection, NO_SECURITY } from "../lib/kafka_security.ts";
import { committedOffsets, ensureTopics } from "../lib/kafka.ts";
import { DeliveryChecker, type DeliveryReport, runPasses } from "../lib/delivery_check.ts";
import { readTrail } from "../lib/trail_reader.ts";
import { readSegments, segmentPaths } from "../lib/segmented_log.ts";
import type { AuditRecord } from "../lib/audit_record.ts";
import { type AckRecord, parseAckLine } from "../lib/ack_record.ts";
import { saslSslClientEnv, type SaslSslFiles, saslSslFiles } from "../tasks/_sasl_ssl_listener.ts";

/** The brokers `deno task test` started (or KAFKA_BROKERS named). */
export function testBrokers(): string[] {
  const brokers = Deno.env.get("KAFKA_BROKERS");
  if (!brokers) {
    throw new Error(
      "Cannot run integration tests: KAFKA_BROKERS is not set; run them with `deno task test`",
    );
  }
  return brokers.split(",");
}

/**
 * The brokers `deno task test` started, with the security settings of the
 * environment (none for the test broker's plain listener; an external
 * cluster's otherwise): what every Kafka client of a test is created from.
 */
export function testConnection(): KafkaConnection {
  const { kafkaSecurity } = resolveConfig(readConfigEnv());
  return { brokers: testBrokers(), kafkaSecurity };
}

/**
 * The test broker (with the environment's security settings), or a cluster a
 * test started itself (local, so plain).
 */
function connectionTo(brokers: readonly string[] | undefined): KafkaConnection {
  return brokers === undefined ? testConnection() : { brokers, kafkaSecurity: NO_SECURITY };
}

/**
 * The configuration of the broker `deno task test` started, as the broker
 * tasks see it (its ports and state directory), to restart or kill it.
 */
export function testBrokerConfig(): Config {
  const [broker] = testBrokers();
  return resolveConfig({
    ...testEnv({}, Number(broker!.split(":")[1])),
    // A broker killed with SIGKILL recovers its log before it answers.
    BROKER_READY_TIMEOUT_MS: "120000",
  });
}

/**
 * The test broker's SASL_SSL listener: the client settings that reach it
 * (SCRAM-SHA-512, its CA and password file) and its files; undefined when the
 * broker has none (an external cluster, Docker).
 */
export function testSaslSslListener():
  | { env: Record<string, string>; files: SaslSslFiles }
  | undefined {
  if (Deno.env.get("TEST_EXTERNAL_CLUSTER") === "1" || !Deno.env.get("KAFKA_BROKERS")) {
    return undefined;
  }
  const config = testBrokerConfig();
  const files = saslSslFiles(config);
  try {
    Deno.statSync(files.passwordFile);
  } catch {
    return undefined;
  }
  return { env: saslSslClientEnv(config, config.saslSslPort!), files };
}

/**
 * The configuration of a three-broker JVM cluster a test starts itself: the
 * test broker's port + 100 (19192..19197 beside the suite's 19092/19093;
 * 29192..29197 with TEST_KAFKA_PORT=29092), its own state directory.
 */
export function testClusterConfig(): Config {
  const [broker] = testBrokers();
  const port = Number(broker!.split(":")[1]) + TEST_PORT_OFFSETS.cluster;
  return resolveConfig({
    KAFKA_PORT: String(port),
    KAFKA_CONTROLLER_PORT: String(port + 1),
    KAFKA_BROKER_COUNT: "3",
    KAFKA_PROVIDER: "jvm",
    STATE_DIR: join(testState(), "cluster"),
    BROKER_READY_TIMEOUT_MS: "120000",
  });
}

/**
 * A port for a listener a test opens itself (a tracker's metrics endpoint):
 * TEST_KAFKA_PORT + 10 + `n` (19102..19111 by default). Like the broker's, it
 * lies below the ports Linux gives outgoing connections (32768 and up), so no
 * client's connection can hold it, and suites on other TEST_KAFKA_PORTs do not
 * share it.
 */
export function testListenerPort(n: number): number {
  if (!Number.isInteger(n) || n < 0 || n >= TEST_LISTENERS) {
    throw new RangeError(
      `Cannot give test listener port ${n}: expected 0 to ${TEST_LISTENERS - 1}`,
    );
  }
  return resolveConfig(readConfigEnv()).testBrokerPort + TEST_PORT_OFFSETS.listeners + n;
}

/** A name no other test uses (topics, groups). */
export function uniqueName(prefix: string): string {
  return `${prefix}-${crypto.randomUUID().slice(0, 8)}`;
}

/** How `waitFor` polls; `running` are processes that must not end meanwhile. */
export interface WaitOptions {
  timeoutMs?: number;
  intervalMs?: number;
  /** Fail at once, with its output, if one of these ends before the probe succeeds. */
  running?: readonly EntryProcess[];
}

/**
 * Polls `probe` until it returns a value other than undefined, or fails at the
 * deadline, or when a process in `running` has ended (with its output).
 */
export async function waitFor<T>(
  what: string,
  probe: () => T | undefined | Promise<T | undefined>,
  { timeoutMs = 30_000, intervalMs = 100, running = [] }: WaitOptions = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    const ended = running.find((process) => process.status() !== undefined);
    if (ended) {
      throw new Error(
        `Stopped waiting for ${what}: a process exited with code ${
          ended.status()!.code
        }:\n${ended.output()}`,
      );
    }
    if (Date.now() > deadline) {
      throw new Error(
        `Timed out after ${timeoutMs} ms waiting for ${what}${
          running.map((process) => `\n--- output of a running process:\n${process.output()}`)
            .join("")
        }`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** A running entry process whose output is collected. */
export interface EntryProcess {
  readonly child: Deno.ChildProcess;
  /** stdout and stderr so far. */
  output(): string;
  /** Resolves with the exit code once the process ends and its output is read. */
  readonly exited: Promise<Deno.CommandStatus>;
  /** The exit status if the process has ended, else undefined. */
  status(): Deno.CommandStatus | undefined;
}

/**
 * Runs an entry (producer, tracker, ...) exactly as the deno.json tasks do: a
 * child Deno with the role's own permissions and the given settings.
 */
export function spawnEntry(
  role: Role,
  { args = [], env }: { args?: string[]; env: Record<string, string> },
): EntryProcess {
  const fullEnv = { ...Deno.env.toObject(), ...env };
  const child = new Deno.Command(Deno.execPath(), {
    args: denoRunArgs(role, { args, env: fullEnv }),
    cwd: PROJECT_DIR,
    env: fullEnv,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let text = "";
  const decoder = new TextDecoder();
  const pump = async (stream: ReadableStream<Uint8Array>) => {
    for await (const chunk of stream) text += decoder.decode(chunk, { stream: true });
  };
  const pumps = Promise.all([pump(child.stdout), pump(child.stderr)]);
  let final: Deno.CommandStatus | undefined;
  const exited = (async () => {
    const status = await child.status;
    await pumps;
    final = status;
    return status;
  })();
  return { child, output: () => text, exited, status: () => final };
}

/** The state directory `deno task test` gave (its own per TEST_KAFKA_PORT), from the project root. */
function testState(): string {
  return Deno.env.get("STATE_DIR") ?? testStateDir(resolveConfig({}).testBrokerPort);
}

/**
 * The entries named `prefix…` in the benchmarks' scratch directory
 * (`<STATE_DIR>/bench`), sorted: what a benchmark must not leave behind.
 */
export async function benchScratchEntries(prefix: string): Promise<string[]> {
  const names: string[] = [];
  try {
    for await (const entry of Deno.readDir(join(PROJECT_DIR, testState(), "bench"))) {
      if (entry.name.startsWith(prefix)) names.push(entry.name);
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return names.sort();
}

/** A fresh directory for one test's data, removed by the returned function. */
export async function tempDataDir(): Promise<{ dir: string; remove: () => Promise<void> }> {
  // Under the state directory `deno task test` gave (its own per TEST_KAFKA_PORT).
  const base = resolve(PROJECT_DIR, testState(), "data");
  await Deno.mkdir(base, { recursive: true });
  const dir = await Deno.makeTempDir({ dir: base });
  return { dir, remove: () => Deno.remove(dir, { recursive: true }) };
}

/** The complete lines of a file ("" when it does not exist yet). */
async function completeLines(path: string): Promise<string[]> {
  const text = await Deno.readTextFile(path).catch(() => "");
  return text.slice(0, text.lastIndexOf("\n") + 1).split("\n").filter((l) => l !== "");
}

/** The records of an audit trail (every segment, headers left out), through its parser. */
export async function readAuditRecords(path: string): Promise<AuditRecord[]> {
  const records: AuditRecord[] = [];
  await readTrail(path, (line) => {
    if (line.kind === "record") records.push(line.record);
  });
  return records;
}

/** The records of a producer outcomes file (every segment), through its parser. */
export async function readAckRecords(path: string): Promise<AckRecord[]> {
  const records: AckRecord[] = [];
  await readAcks(path, (record) => records.push(record));
  return records;
}

async function readAcks(path: string, onAck: (record: AckRecord) => void): Promise<void> {
  await readSegments(await segmentPaths(path), parseAckLine, (parsed) => onAck(parsed.record));
}

/**
 * A fresh topic, dead-letter topic, group and work directory for one test;
 * `env` runs entries on them (tracker data in `<work>/a`).
 */
export async function setupPipeline(
  prefix: string,
  { partitions = 3, brokers, replicationFactor = 1, minInsyncReplicas }: {
    partitions?: number;
    /** Another cluster's (default: the test broker's); `env` then names it. */
    brokers?: readonly string[];
    replicationFactor?: number;
    minInsyncReplicas?: number;
  } = {},
) {
  const topic = uniqueName(prefix);
  const dlqTopic = `${topic}-dlq`;
  const durability = {
    replicationFactor,
    ...(minInsyncReplicas === undefined ? {} : { minInsyncReplicas }),
  };
  await ensureTopics(connectionTo(brokers), [
    { topic, partitions, ...durability },
    { topic: dlqTopic, partitions: 1, ...durability },
  ]);
  const work = await tempDataDir();
  const env = {
    ORDERS_TOPIC: topic,
    DLQ_TOPIC: dlqTopic,
    TRACKER_GROUP_ID: uniqueName("group"),
    DATA_DIR: join(work.dir, "a"),
    // Tests read the ready and stopped lines, which are info records.
    LOG_LEVEL: "info",
    ...(brokers === undefined ? {} : { KAFKA_BROKERS: brokers.join(",") }),
  };
  return { topic, dlqTopic, work, env, acksLog: join(work.dir, "acks.jsonl") };
}

/** Lines an entry prints once its signal handling is installed and it is at work (or done). */
const STARTED = /(Tracker|Producer) (ready|stopped|failed)/;

/**
 * Signals an entry (SIGTERM by default) and waits for its exit. A graceful
 * signal waits for the entry's ready line first: a signal in the first
 * milliseconds of start-up, before any handler exists, ends the process with
 * 143, which is true but is not what such a test means to check.
 */
export async function stopEntry(
  entry: EntryProcess,
  signal: Deno.Signal = "SIGTERM",
): Promise<Deno.CommandStatus> {
  if (signal !== "SIGKILL") {
    await waitFor(
      "the entry to start",
      () => (entry.status() !== undefined || STARTED.test(entry.output()) ? true : undefined),
      { timeoutMs: 60_000 },
    );
  }
  try {
    entry.child.kill(signal);
  } catch { /* already exited */ }
  return await entry.exited;
}

/** Runs the delivery checker on a test's outcomes, trail(s) and committed offsets. */
export async function verifyDelivery(
  { topic, groupId, acksLog, auditFiles, deadLetters = [], brokers }: {
    /** The cluster whose committed offsets are checked (default: the test broker). */
    brokers?: readonly string[];
    topic: string;
    groupId: string;
    acksLog: string;
    auditFiles: string[];
    deadLetters?: Array<{ topic: string; partition: number; offset: number }>;
  },
): Promise<DeliveryReport> {
  const checker = new DeliveryChecker({ topic, expectedLines: 100_000 });
  await runPasses(checker, {
    trails: auditFiles.map((file) => (onLine) => readTrail(file, onLine)),
    deadLetters: (onLetter) => deadLetters.forEach((letter) => onLetter(letter, null)),
    acks: (onAck) => readAcks(acksLog, onAck),
  });
  return checker.report({
    committed: await committedOffsets(connectionTo(brokers), { groupId, topic }),
  });
}

/** Audit records (headers left out) in the given trails' active segments. */
export async function auditLineCount(files: string[]): Promise<number> {
  let n = 0;
  for (const f of files) {
    for (const segment of await segmentPaths(f)) {
      // Counted without parsing: this runs in tight polling loops.
      n += (await completeLines(segment.path)).filter((l) => !l.startsWith('{"trail_segment"'))
        .length;
    }
  }
  return n;
}

/** Waits until the audit files hold at least `lines` complete lines. */
export async function waitForAuditLines(
  files: string[],
  lines: number,
  { timeoutMs = 60_000, running = [] }: Pick<WaitOptions, "timeoutMs" | "running"> = {},
): Promise<void> {
  await waitFor(
    `${lines} lines in the audit trail`,
    async () => (await auditLineCount(files)) >= lines ? true : undefined,
    { timeoutMs, running },
  );
}

/**
 * Runs an orchestration task as `deno task <name>` does (the launcher, then the
 * task with its own permissions) and collects its output and duration.
 */
export async function runTask(
  name:
    | "start"
    | "stop"
    | "status"
    | "bench_e2e"
    | "bench_producer"
    | "bench_tracker"
    | "bench_compare",
  env: Record<string, string>,
  flags: readonly string[] = [],
): Promise<{ code: number; stdout: string; output: string; elapsedMs: number }> {
  const started = Date.now();
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-env",
      "--allow-run",
      join(PROJECT_DIR, "tasks/run.ts"),
      `tasks/${name}.ts`,
      ...flags,
    ],
    cwd: PROJECT_DIR,
    env,
    stdin: "null",
  }).output();
  const decoder = new TextDecoder();
  return {
    code,
    stdout: decoder.decode(stdout),
    output: decoder.decode(stdout) + decoder.decode(stderr),
    elapsedMs: Date.now() - started,
  };
}

/**
 * The three ways a Kafka broker is provided, as objects of one shape: the
 * cluster KAFKA_BROKERS names (never started or stopped), Docker Compose, and
 * KRaft nodes on the JVM (one, or a cluster of KAFKA_BROKER_COUNT) whose jars
 * Maven fetches once into a git-ignored cache. `_broker.ts` picks one and
 * waits for readiness. A single JVM broker may also get a SASL_SSL listener
 * (`_sasl_ssl_listener.ts`).
 * Long (about 450 lines) because it holds three providers; each is short.
 */
import { join, resolve } from "node:path";
import type { Config } from "../lib/config.ts";
import { KAFKA_VERSION } from "../lib/constants.ts";
import { type BrokerNode, internalDurability, quorumVoters } from "../lib/cluster_layout.ts";
import type { BrokerFacts, ProcessFacts } from "../lib/status_report.ts";
import { commandWorks, runChecked, runCommand } from "./_command.ts";
import { megabytes, progressLine } from "./_progress.ts";
import {
  describeProcess,
  isSameProcess,
  type ManagedProcess,
  type ProcessIdentity,
  residentKiB,
  runningPid,
  runningProcess,
  spawnDetached,
  stopManaged,
  waitForExit,
} from "./_process.ts";
import { PROJECT_DIR } from "./_project_dir.ts";
import {
  createSaslSslFiles,
  readSecretLine,
  saslSslFiles,
  scramFormatArgs,
  withSaslSslListener,
} from "./_sasl_ssl_listener.ts";

/**
 * The JVM options Kafka's own launcher (bin/kafka-run-class.sh) gives a
 * broker: G1 aiming at 20 ms pauses. With G1's own default (200 ms) a young
 * collection took about 25 ms at 5,000 msg/s, every produce and fetch waiting
 * meanwhile; with these about 11 ms (jstat, during `bench:e2e`).
 */
const KAFKA_JVM_PERFORMANCE_OPTS = [
  "-server",
  "-XX:+UseG1GC",
  "-XX:MaxGCPauseMillis=20",
  "-XX:InitiatingHeapOccupancyPercent=35",
  "-XX:+ExplicitGCInvokesConcurrent",
  "-XX:MaxInlineLevel=15",
  "-Djava.awt.headless=true",
];

const POM = join(PROJECT_DIR, "tasks", "broker", "pom.xml");
const LOG4J = join(PROJECT_DIR, "tasks", "broker", "log4j.properties");
const COMPOSE_FILE = join(PROJECT_DIR, "docker-compose.yaml");
/** Three brokers in Docker Compose (a file of its own: the single one stays as it was). */
const COMPOSE_CLUSTER_FILE = join(PROJECT_DIR, "docker-compose.cluster.yaml");
/** The class the broker's command line names; tells our broker from a reused PID. */
const BROKER_MAIN_CLASS = "kafka.Kafka";
/** Marks a complete jar download (an interrupted one is fetched again). */
const JARS_COMPLETE = ".complete";

export type ProviderName = "external" | "docker" | "jvm";

/** One way of providing the broker. */
export interface BrokerProvider {
  readonly name: ProviderName;
  /** Starts the broker unless it runs; resolves true if this call started it. */
  up(config: Config, log: (line: string) => void): Promise<boolean>;
  /** Stops what `up` started (a no-op when nothing runs). */
  down(config: Config, log: (line: string) => void): Promise<void>;
  /** Kills the broker without a clean shutdown (fault tests). */
  kill(config: Config): Promise<void>;
  /** Why the broker cannot become ready any more (its process exited), if it is known. */
  gone(config: Config): string | undefined;
  /** The broker's own log, quoted when it does not become ready; "" when there is none. */
  logFile(config: Config): string;
  /** What runs, for `status`: read only, and quick (a few seconds at most). */
  describe(config: Config): Promise<BrokerFacts>;
}

/**
 * The JVM process of node `id`: PID file and output under the run directory.
 * A single broker keeps the names it always had (`broker.pid`, `broker.out`);
 * a cluster's nodes are `broker-1.pid`, `broker-1.out`, ….
 */
export function brokerProcess(config: Config, id = 1): ManagedProcess {
  const file = config.nodes.length === 1 ? "broker" : `broker-${id}`;
  return {
    name: config.nodes.length === 1 ? "broker" : `broker node ${id}`,
    pidFile: join(config.paths.runDir, `${file}.pid`),
    logFile: join(config.paths.runDir, `${file}.out`),
    marker: BROKER_MAIN_CLASS,
  };
}

/** Whether a file in the run directory is a broker's PID file, of one node or of a cluster's. */
export function isBrokerPidFile(name: string): boolean {
  return /^broker(-\d+)?\.pid$/.test(name);
}

/**
 * Where node `id` keeps its log dirs and server.properties: the broker
 * directory itself for a single broker (as always), `node-<id>/` in a cluster.
 */
export function nodeDir(config: Config, id: number): string {
  return config.nodes.length === 1
    ? config.paths.brokerDir
    : join(config.paths.brokerDir, `node-${id}`);
}

/**
 * Why the broker directory cannot serve a cluster of `wanted` nodes, or
 * undefined: it holds the formatted data of a cluster of another size
 * (`stored` nodes; 0 when nothing is formatted).
 */
export function storedSizeProblem(
  { stored, wanted, brokerDir }: { stored: number; wanted: number; brokerDir: string },
): string | undefined {
  if (stored === 0 || stored === wanted) return undefined;
  const size = (n: number) => (n === 1 ? "a single broker" : `a cluster of ${n} brokers`);
  return `${brokerDir} holds the data of ${size(stored)}, KAFKA_BROKER_COUNT asks for ${
    size(wanted)
  }; set KAFKA_BROKER_COUNT=${stored}, or run \`deno task broker:down\` and delete ${brokerDir} to start an empty ${
    wanted === 1 ? "broker" : "cluster"
  } (or give it its own STATE_DIR)`;
}

/** The `cluster.id` in a formatted log dir's meta.properties text, or undefined. */
export function metaClusterId(metaProperties: string): string | undefined {
  return /^cluster\.id=(\S+)$/m.exec(metaProperties)?.[1];
}

/**
 * A node's server.properties: combined broker and controller, loopback only;
 * every node names all of the cluster's voters. The broker's own topics are
 * replicated min(3, nodes) times, with a min ISR of 2 from 3 nodes. Pure.
 */
export function serverProperties(
  config: Config,
  logDir: string,
  node: BrokerNode = config.nodes[0]!,
): string {
  const { port, controllerPort: controller } = node;
  const internal = internalDurability(config.nodes.length);
  return [
    "# Generated by tasks/_broker_providers.ts; edits are overwritten on the next start.",
    "process.roles=broker,controller",
    `node.id=${node.id}`,
    `controller.quorum.voters=${quorumVoters(config.nodes)}`,
    `listeners=PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controller}`,
    `advertised.listeners=PLAINTEXT://127.0.0.1:${port}`,
    "controller.listener.names=CONTROLLER",
    "inter.broker.listener.name=PLAINTEXT",
    "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
    `log.dirs=${logDir}`,
    "num.partitions=1",
    `default.replication.factor=${internal.replicationFactor}`,
    `offsets.topic.replication.factor=${internal.replicationFactor}`,
    "offsets.topic.num.partitions=10",
    `transaction.state.log.replication.factor=${internal.replicationFactor}`,
    `transaction.state.log.min.isr=${internal.minIsr}`,
    `min.insync.replicas=${internal.minIsr}`,
    "auto.create.topics.enable=false",
    "group.initial.rebalance.delay.ms=0",
    "log.retention.hours=168",
    "log.segment.bytes=134217728",
    "",
  ].join("\n");
}

/** A Kafka cluster id: 16 random bytes, URL-safe base64 without padding, not starting with "-". */
export function newClusterId(
  random: (bytes: Uint8Array) => Uint8Array = crypto.getRandomValues.bind(crypto),
): string {
  for (;;) {
    const bytes = random(new Uint8Array(16));
    const id = btoa(String.fromCharCode(...bytes)).replaceAll("+", "-").replaceAll("/", "_")
      .replace(/=+$/, "");
    if (!id.startsWith("-")) return id;
  }
}

/** Waits until none of the loopback `ports` accepts connections, or `timeoutMs` passes. */
async function untilPortsClosed(ports: readonly number[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (const port of ports) {
    while (Date.now() < deadline && await portInUse(port)) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

/** Whether something already accepts connections on a loopback port. */
async function portInUse(port: number): Promise<boolean> {
  try {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    conn.close();
    return true;
  } catch {
    return false;
  }
}

/** The cluster KAFKA_BROKERS names: used as it is, never started, stopped or killed here. */
const external: BrokerProvider = {
  name: "external",
  up(config, log) {
    log(`Using the external Kafka cluster at ${config.brokers.join(",")} (KAFKA_BROKERS)`);
    return Promise.resolve(false);
  },
  down(_config, log) {
    log("KAFKA_BROKERS names an external cluster: leaving it running");
    return Promise.resolve();
  },
  kill() {
    return Promise.reject(new Error("Cannot kill an external cluster (KAFKA_BROKERS)"));
  },
  gone: () => undefined,
  logFile: () => "",
  describe: (config) => Promise.resolve({ provider: "external", brokers: config.brokers }),
};

/** The compose file of a cluster of `count`: one broker, or three. */
function composeFile(config: Config): string {
  if (config.nodes.length === 1) return COMPOSE_FILE;
  if (config.nodes.length === 3) return COMPOSE_CLUSTER_FILE;
  throw new Error(
    `Cannot start brokers in Docker Compose: KAFKA_BROKER_COUNT is ${config.nodes.length}, Compose runs 1 or 3 (set KAFKA_PROVIDER=jvm for other sizes)`,
  );
}

/** The Compose project of the broker on this port (one per port, so two can coexist). */
function composeProject(config: Config): string {
  return `order-tracking-${config.brokerPort}`;
}

function composeArgs(config: Config, command: string[]): string[] {
  return ["compose", "-f", composeFile(config), "-p", composeProject(config), ...command];
}

function composeEnv(config: Config): Record<string, string> {
  return {
    KAFKA_VERSION,
    // The controller listens inside the container only: its port is not published.
    KAFKA_PORT: String(config.brokerPort),
    // A cluster's nodes publish the ports of the JVM layout (lib/cluster_layout.ts).
    ...Object.fromEntries(config.nodes.map((n) => [`KAFKA_PORT_${n.id}`, String(n.port)])),
  };
}

/** The official apache/kafka image in Docker Compose; its data lives in a named volume. */
const docker: BrokerProvider = {
  name: "docker",
  async up(config, log) {
    if (config.saslSslPort !== undefined) {
      log(
        "KAFKA_SASL_SSL_PORT is for the JVM broker (KAFKA_PROVIDER=jvm): Docker's has no SASL_SSL listener",
      );
    }
    const output = await runChecked(
      "Cannot start broker",
      "docker",
      composeArgs(config, ["up", "-d", "--wait"]),
      { env: composeEnv(config) },
    );
    log(`Kafka ${KAFKA_VERSION} runs in Docker Compose on ${config.brokers.join(",")}`);
    return !output.includes("Running");
  },
  async down(config, log) {
    await runChecked("Cannot stop broker", "docker", composeArgs(config, ["down"]), {
      env: composeEnv(config),
    });
    log("Stopped the Kafka container (its data stays in the named volume)");
  },
  async kill(config) {
    await runChecked(
      "Cannot kill the broker",
      "docker",
      composeArgs(config, ["kill", "-s", "SIGKILL"]),
      { env: composeEnv(config) },
    );
  },
  gone: () => undefined,
  logFile: () => "",
  describe: describeContainer,
};

/** How long `status` waits for each `docker` command. */
const DOCKER_STATUS_TIMEOUT_MS = 3_000;

/** The broker's container as Compose and `docker inspect` describe it. */
async function describeContainer(config: Config): Promise<BrokerFacts> {
  const project = composeProject(config);
  const facts = (process: ProcessFacts, detail: string): BrokerFacts => ({
    provider: "docker",
    port: config.brokerPort,
    project,
    process,
    detail,
  });
  const none: ProcessFacts = { state: "none", pid: null, startedAt: null, rssKiB: null };
  let listed;
  try {
    listed = await runCommand("docker", composeArgs(config, ["ps", "--all", "--format", "json"]), {
      env: composeEnv(config),
      timeoutMs: DOCKER_STATUS_TIMEOUT_MS,
    });
  } catch (error) {
    return facts(none, `cannot run docker compose ps: ${(error as Error).message}`);
  }
  if (listed.code !== 0) {
    return facts(none, `docker compose ps exited with ${listed.code}: ${listed.output.trim()}`);
  }
  // Compose 2.21 and later print one JSON object a line; earlier ones one array.
  const text = listed.output.trim();
  const containers: Array<{ Name?: string; State?: string; Status?: string }> = text === ""
    ? []
    : text.startsWith("[")
    ? JSON.parse(text)
    : text.split("\n").map((line) => JSON.parse(line));
  const container = containers[0];
  if (container?.Name === undefined) return facts(none, "no container");
  const detail = `${container.Name} ${container.Status ?? container.State ?? ""}`.trim();
  if (container.State !== "running") return facts(none, detail);
  const inspected = await runCommand(
    "docker",
    ["inspect", "--format", "{{.State.Pid}} {{.State.StartedAt}}", container.Name],
    { timeoutMs: DOCKER_STATUS_TIMEOUT_MS },
  ).catch(() => undefined);
  const [pidText, startedText] = inspected?.code === 0 ? inspected.output.trim().split(" ") : [];
  const pid = Number(pidText);
  const startedAt = Date.parse(startedText ?? "");
  return facts({
    state: "running",
    pid: Number.isSafeInteger(pid) && pid > 0 ? pid : null,
    startedAt: Number.isNaN(startedAt) ? null : startedAt,
    // The container's main process, when it runs on this host's kernel (not in a VM).
    rssKiB: pid > 0 ? residentKiB([pid]).get(pid) ?? null : null,
  }, detail);
}

/** Fetches the broker's jars into the cache once; later runs reuse them. */
function elapsed(since: number): string {
  return `${((Date.now() - since) / 1000).toFixed(1)} s`;
}

/**
 * The size in bytes of what a Maven output line says it downloaded
 * ("Downloaded from central: https://…/x.jar (6.2 MB at 12 MB/s)"), or undefined.
 */
export function mavenDownload(line: string): number | undefined {
  const match = /^(?:\[INFO\] )?Downloaded from \S+: \S+ \(([\d.]+) (B|kB|MB|GB)/.exec(line);
  if (match === null) return undefined;
  const unit = { B: 1, kB: 1e3, MB: 1e6, GB: 1e9 }[match[2] as "B" | "kB" | "MB" | "GB"];
  return Math.round(Number(match[1]) * unit);
}

async function ensureJars(config: Config, log: (line: string) => void): Promise<string> {
  return await ensureMavenJars(
    {
      pom: POM,
      dir: config.jarsDir,
      what: "the Kafka broker",
      jars: `Apache Kafka ${KAFKA_VERSION} jars`,
      whose: "the broker's",
      otherwise: "or start a Docker engine, or set KAFKA_BROKERS to an existing cluster",
    },
    log,
  );
}

/**
 * The jars a pom lists (with their dependencies), fetched once by Maven into
 * `dir`; the directory's absolute path. A complete fetch is marked, so an
 * interrupted one is fetched again.
 *
 * @param jars.what what is fetched, for an error: "the Kafka broker"
 * @param jars.jars the jars, for the progress line: "Apache Kafka 3.9.1 jars"
 * @param jars.whose whose jars, once fetched: "the broker's"
 * @param jars.otherwise what else a user without Maven may do, for the error
 */
export async function ensureMavenJars(
  { pom, dir, what, jars, whose, otherwise }: {
    pom: string;
    dir: string;
    what: string;
    jars: string;
    whose: string;
    otherwise?: string;
  },
  log: (line: string) => void,
): Promise<string> {
  const jarsDir = resolve(dir);
  try {
    Deno.statSync(join(jarsDir, JARS_COMPLETE));
    return jarsDir;
  } catch {
    // Not fetched yet, or interrupted: fetch (Maven skips what its own cache has).
  }
  if (!await commandWorks("mvn", ["-v"], 30_000)) {
    throw new Error(
      `Cannot fetch ${what}: \`mvn\` is not installed. Install Maven (apt-get install maven)` +
        (otherwise === undefined ? "" : `, ${otherwise}`),
    );
  }
  log(`Fetching ${jars} with Maven into ${dir} (first run only)`);
  const started = Date.now();
  const line = progressLine();
  let files = 0;
  let bytes = 0;
  let copied = 0;
  const shown = () =>
    `Fetching: ${files} downloaded (${megabytes(bytes)}), ${copied} jars copied, ${
      elapsed(started)
    }`;
  await runChecked(`Cannot fetch ${what}`, "mvn", [
    "-B",
    "-f",
    pom,
    "dependency:copy-dependencies",
    `-Dkafka.version=${KAFKA_VERSION}`,
    `-DoutputDirectory=${jarsDir}`,
  ], {
    onLine: (text) => {
      const downloaded = mavenDownload(text);
      if (downloaded !== undefined) {
        files++;
        bytes += downloaded;
      } else if (/^(\[INFO\] )?Copying /.test(text)) copied++;
      else return;
      line.update(shown());
    },
  });
  line.done(shown());
  Deno.writeTextFileSync(join(jarsDir, JARS_COMPLETE), `${KAFKA_VERSION}\n`);
  log(`Fetched ${whose} jars in ${elapsed(started)}`);
  return jarsDir;
}

/** Whether a node's log dir is formatted, and with which cluster id. */
function formattedClusterId(logDir: string): string | undefined {
  try {
    return metaClusterId(Deno.readTextFileSync(join(logDir, "meta.properties"))) ?? "";
  } catch {
    return undefined;
  }
}

/** How many nodes the broker directory holds formatted data of (0: none). */
function storedNodeCount(brokerDir: string): number {
  if (formattedClusterId(join(brokerDir, "logs")) !== undefined) return 1;
  let nodes = 0;
  try {
    for (const entry of Deno.readDirSync(brokerDir)) {
      const id = /^node-(\d+)$/.exec(entry.name)?.[1];
      if (
        id !== undefined && formattedClusterId(join(brokerDir, entry.name, "logs")) !== undefined
      ) {
        nodes = Math.max(nodes, Number(id));
      }
    }
  } catch {
    // No broker directory yet.
  }
  return nodes;
}

/**
 * Formats the nodes' storage once (a KRaft node needs a cluster id before its
 * first start): every node of a cluster with the same id, the one a node
 * already has if any; `extraArgs` go to the format tool (SCRAM credentials).
 */
async function formatStorage(
  { classpath, nodes, extraArgs = [] }: {
    classpath: string;
    nodes: ReadonlyArray<{ propertiesFile: string; logDir: string }>;
    extraArgs?: readonly string[];
  },
  log: (line: string) => void,
): Promise<void> {
  const ids = nodes.map((n) => formattedClusterId(n.logDir));
  const clusterId = ids.find((id) => id !== undefined && id !== "") ?? newClusterId();
  // In parallel: each format is a JVM start of about a second.
  await Promise.all(nodes.map(async (node, i) => {
    if (ids[i] !== undefined) return;
    await runChecked("Cannot format the broker's storage", "java", [
      "-cp",
      classpath,
      `-Dlog4j.configuration=file:${LOG4J}`,
      "kafka.tools.StorageTool",
      "format",
      "-t",
      clusterId,
      "-c",
      node.propertiesFile,
      ...extraArgs,
    ]);
    log(`Formatted broker storage in ${node.logDir} (cluster id ${clusterId})`);
  }));
}

/** The broker PID files in the run directory, whatever size of cluster wrote them. */
function brokerPidFiles(config: Config): ManagedProcess[] {
  const found: ManagedProcess[] = [];
  try {
    for (const entry of Deno.readDirSync(config.paths.runDir)) {
      if (!isBrokerPidFile(entry.name)) continue;
      const base = entry.name.replace(/\.pid$/, "");
      found.push({
        name: base === "broker" ? "broker" : `broker node ${base.slice("broker-".length)}`,
        pidFile: join(config.paths.runDir, entry.name),
        logFile: join(config.paths.runDir, `${base}.out`),
        marker: BROKER_MAIN_CLASS,
      });
    }
  } catch {
    // No run directory: nothing was started.
  }
  return found.sort((a, b) => a.pidFile.localeCompare(b.pidFile));
}

/** How long the nodes left without a controller quorum get before SIGKILL. */
export const NO_QUORUM_GRACE_MS = 5_000;

/**
 * What to do while a cluster stops: wait, or SIGKILL the nodes still running.
 * A combined node's controlled shutdown needs the controller quorum's
 * approval: once fewer than a majority of the `voters` run, those left wait
 * for ever (seen: the last node of three waited until killed at 30 s), so they
 * get `graceMs` and are killed; otherwise they get `timeoutMs` in all. Pure.
 */
export function clusterStopStep(
  { voters, alive, elapsedMs, quorumLostMs, timeoutMs, graceMs = NO_QUORUM_GRACE_MS }: {
    voters: number;
    alive: number;
    elapsedMs: number;
    /** How long fewer than a majority have run (undefined: a majority still runs). */
    quorumLostMs: number | undefined;
    timeoutMs: number;
    graceMs?: number;
  },
): "done" | "wait" | "kill-no-quorum" | "kill-timeout" {
  if (alive === 0) return "done";
  if (elapsedMs >= timeoutMs) return "kill-timeout";
  if (voters > 1 && quorumLostMs !== undefined && quorumLostMs >= graceMs) {
    return "kill-no-quorum";
  }
  return "wait";
}

/** A node's id from its process's name ("broker node 2" → 2). */
function nodeIdOf(managed: ManagedProcess): number {
  return Number(/(\d+)$/.exec(managed.name)?.[1] ?? 1);
}

/** Stops a cluster's nodes: SIGTERM to all at once, SIGKILL as `clusterStopStep` says. */
async function stopCluster(
  processes: readonly ManagedProcess[],
  { voters: configured, timeoutMs, log }: {
    /** The nodes of the configured cluster (a killed node's PID file may be gone). */
    voters: number;
    timeoutMs: number;
    log: (line: string) => void;
  },
): Promise<void> {
  const voters = Math.max(configured, ...processes.map(nodeIdOf));
  const majority = Math.floor(voters / 2) + 1;
  const running = processes.flatMap((managed) => {
    const identity = runningProcess(managed, log);
    return identity === undefined ? [] : [{ managed, identity }];
  });
  const signal = (identity: ProcessIdentity, name: "SIGTERM" | "SIGKILL") => {
    try {
      Deno.kill(identity.pid, name);
    } catch {
      // Exited meanwhile.
    }
  };
  for (const { identity } of running) signal(identity, "SIGTERM");
  const started = Date.now();
  let quorumLostAt: number | undefined;
  const stopped: string[] = [];
  for (;;) {
    const alive = running.filter(({ identity }) => isSameProcess(identity));
    if (alive.length < majority) quorumLostAt ??= Date.now();
    const step = clusterStopStep({
      voters,
      alive: alive.length,
      elapsedMs: Date.now() - started,
      quorumLostMs: quorumLostAt === undefined ? undefined : Date.now() - quorumLostAt,
      timeoutMs,
    });
    for (const { managed } of running) {
      if (!alive.some((a) => a.managed === managed) && !stopped.includes(managed.name)) {
        stopped.push(managed.name);
      }
    }
    if (step === "wait") {
      await new Promise((resolve) => setTimeout(resolve, 100));
      continue;
    }
    if (step !== "done") {
      for (const { identity } of alive) signal(identity, "SIGKILL");
      await Promise.all(alive.map(({ identity }) => waitForExit(identity, { timeoutMs: 10_000 })));
      const names = alive.map(({ managed }) => managed.name).join(", ");
      log(
        step === "kill-no-quorum"
          ? `Killed ${names} (SIGKILL) ${
            NO_QUORUM_GRACE_MS / 1000
          } s after the controller quorum was gone: its controlled shutdown cannot finish without one; it recovers its log on next start`
          : `${names} did not stop within ${
            timeoutMs / 1000
          } s: killed (SIGKILL); it recovers its log on next start`,
      );
    }
    break;
  }
  if (stopped.length > 0) log(`Stopped ${stopped.join(", ")}`);
  if (running.length === 0) log("Broker was not running");
  for (const managed of processes) await Deno.remove(managed.pidFile).catch(() => {});
}

/** The first node of the configured cluster whose process is not running, or undefined. */
function firstDownNode(config: Config): BrokerNode | undefined {
  return config.nodes.find((n) => runningPid(brokerProcess(config, n.id), () => {}) === undefined);
}

/**
 * Sends `signal` to node `id` of the JVM cluster and waits for it to exit.
 *
 * @throws {Error} when the node is not running, or does not exit within `timeoutMs`
 */
export async function signalNode(
  config: Config,
  id: number,
  { signal, timeoutMs = 60_000 }: { signal: "SIGKILL" | "SIGTERM"; timeoutMs?: number },
): Promise<void> {
  const managed = brokerProcess(config, id);
  const running = runningProcess(managed);
  if (running === undefined) throw new Error(`Cannot stop ${managed.name}: it is not running`);
  Deno.kill(running.pid, signal);
  if (!await waitForExit(running, { timeoutMs })) {
    throw new Error(`Cannot stop ${managed.name}: still running ${timeoutMs} ms after ${signal}`);
  }
  // A dying process loses its command line before its sockets: its ports may
  // still answer for a moment, and a start then would take them for another's.
  const node = config.nodes.find((n) => n.id === id);
  const deadline = Date.now() + PORT_RELEASE_MS;
  for (const port of node === undefined ? [] : [node.port, node.controllerPort]) {
    while (await portInUse(port) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  await Deno.remove(managed.pidFile).catch(() => {});
}

/** How long a stopped node's ports may take to close after its process is gone. */
const PORT_RELEASE_MS = 5_000;

/**
 * The SASL_SSL listener's part of a start (nothing when KAFKA_SASL_SSL_PORT is
 * off): its files, made before the storage is formatted (the format tool
 * writes the user's SCRAM credentials), and its lines in server.properties.
 */
async function saslSslSetup(
  config: Config,
  logDir: string,
  log: (line: string) => void,
): Promise<{ properties: (base: string) => string; formatArgs: string[] }> {
  const port = config.saslSslPort;
  if (port === undefined) return { properties: (base) => base, formatArgs: [] };
  let files = saslSslFiles(config);
  let formatArgs: string[] = [];
  if (formattedClusterId(logDir) === undefined) {
    files = await createSaslSslFiles(config, port);
    formatArgs = scramFormatArgs(readSecretLine(files.passwordFile));
    log(`Made the SASL_SSL listener's CA, certificates and user in ${files.dir}`);
  } else if (!(await Deno.stat(files.passwordFile).then(() => true, () => false))) {
    throw new Error(
      `Cannot start broker: KAFKA_SASL_SSL_PORT is set but the broker's storage in ${logDir} was formatted without it (its SCRAM user is made at format time); remove ${config.paths.brokerDir} (its topics go with it) and start again`,
    );
  }
  const password = readSecretLine(files.passwordFile);
  const keystorePassword = readSecretLine(files.keystorePasswordFile);
  return {
    properties: (base) => withSaslSslListener(base, { port, files, keystorePassword, password }),
    formatArgs,
  };
}

/**
 * Apache Kafka on the JVM, from jars Maven fetches: one detached process with
 * a PID file per node. `up` starts the nodes that do not run (all of them, or
 * one that died) and leaves the others alone.
 */
const jvm: BrokerProvider = {
  name: "jvm",
  async up(config, log) {
    const brokerDir = resolve(config.paths.brokerDir);
    const problem = storedSizeProblem({
      stored: storedNodeCount(brokerDir),
      wanted: config.nodes.length,
      brokerDir: config.paths.brokerDir,
    });
    if (problem !== undefined) throw new Error(`Cannot start broker: ${problem}`);
    const missing = config.nodes.filter((n) =>
      runningPid(brokerProcess(config, n.id), log) === undefined
    );
    if (missing.length === 0) return false;
    for (const node of missing) {
      for (const port of [node.port, node.controllerPort]) {
        if (await portInUse(port)) {
          throw new Error(
            `Cannot start broker: 127.0.0.1:${port} is already in use by a process this project did not start; stop it, or set KAFKA_PORT, or point KAFKA_BROKERS at it`,
          );
        }
      }
    }
    if (!await commandWorks("java", ["-version"])) {
      throw new Error(
        "Cannot start broker: `java` is not installed. Install a JDK 17 (apt-get install openjdk-17-jre-headless), " +
          "or start a Docker engine, or set KAFKA_BROKERS to an existing cluster",
      );
    }
    const jarsDir = await ensureJars(config, log);
    const classpath = `${jarsDir}/*`;
    // The SASL_SSL listener is a single broker's (config.ts refuses it for a cluster).
    const secure = await saslSslSetup(config, join(resolve(nodeDir(config, 1)), "logs"), log);
    const files = config.nodes.map((node) => {
      const dir = resolve(nodeDir(config, node.id));
      const logDir = join(dir, "logs");
      const propertiesFile = join(dir, "server.properties");
      Deno.mkdirSync(logDir, { recursive: true });
      Deno.writeTextFileSync(
        propertiesFile,
        secure.properties(serverProperties(config, logDir, node)),
      );
      return { logDir, propertiesFile };
    });
    await formatStorage({ classpath, nodes: files, extraArgs: secure.formatArgs }, log);
    for (const node of missing) {
      const broker = brokerProcess(config, node.id);
      const pid = spawnDetached(broker, {
        command: "java",
        args: [
          ...config.brokerHeapOpts,
          ...KAFKA_JVM_PERFORMANCE_OPTS,
          `-Dlog4j.configuration=file:${LOG4J}`,
          "-cp",
          classpath,
          BROKER_MAIN_CLASS,
          files[node.id - 1]!.propertiesFile,
        ],
      });
      log(
        `Started Kafka ${KAFKA_VERSION} on the JVM${
          config.nodes.length === 1 ? "" : ` as node ${node.id} of ${config.nodes.length}`
        } (pid ${pid}, 127.0.0.1:${node.port}${
          config.saslSslPort ? `, SASL_SSL on 127.0.0.1:${config.saslSslPort}` : ""
        }, log ${broker.logFile})`,
      );
    }
    return true;
  },
  async down(config, log) {
    // Every broker PID file, whatever KAFKA_BROKER_COUNT says now.
    const processes = brokerPidFiles(config);
    if (processes.length === 0) {
      log("Broker was not running");
      return;
    }
    if (processes.length === 1 && processes[0]!.name === "broker") {
      // A controlled shutdown of a single node takes a few seconds; allow for it.
      const outcome = await stopManaged(processes[0]!, {
        timeoutMs: Math.max(config.stopTimeoutMs, 30_000),
      });
      log(
        {
          "not-running": "Broker was not running",
          stopped: "Stopped the broker",
          killed:
            "Broker did not stop in time: killed it (SIGKILL); it recovers its log on next start",
        }[outcome],
      );
    } else {
      await stopCluster(processes, {
        voters: config.nodes.length,
        timeoutMs: Math.max(config.stopTimeoutMs, 30_000),
        log,
      });
    }
    // A JVM killed with SIGKILL shows as gone while its threads still tear down
    // and hold its sockets: a `start` right after must find the ports free.
    await untilPortsClosed(config.nodes.flatMap((n) => [n.port, n.controllerPort]), 5_000);
  },
  async kill(config) {
    const running = config.nodes.map((n) => runningProcess(brokerProcess(config, n.id)))
      .filter((p) => p !== undefined);
    if (running.length === 0) throw new Error("Cannot kill the broker: it is not running");
    for (const process of running) Deno.kill(process.pid, "SIGKILL");
    await Promise.all(running.map((p) => waitForExit(p, { timeoutMs: 10_000 })));
  },
  gone(config) {
    // runningPid checks the PID file's identity (or the marker, the broker's main class).
    const down = firstDownNode(config);
    if (down === undefined) return undefined;
    return config.nodes.length === 1
      ? "the broker process exited"
      : `the process of node ${down.id} exited`;
  },
  logFile: (config) => brokerProcess(config, firstDownNode(config)?.id ?? 1).logFile,
  describe: (config) =>
    Promise.resolve({
      provider: "jvm",
      nodes: config.nodes.map((node) => ({
        id: node.id,
        port: node.port,
        controllerPort: node.controllerPort,
        process: describeProcess(brokerProcess(config, node.id)),
      })),
    }),
};

export const PROVIDERS: Readonly<Record<ProviderName, BrokerProvider>> = { external, docker, jvm };

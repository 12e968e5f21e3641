/**
 * What `deno task status` shows, as a pure function of the facts its shell
 * gathered (PID files and `ps`, the ends of the health logs and the trail,
 * what Kafka answered) and the time: the report, its text and its exit code.
 * The rule for the exit code is written once, in `statusReport`. Pure.
 */
import { duration } from "./terminal_text.ts";
import { type AuditRecord, parseTrailLine } from "./audit_record.ts";
import {
  type HealthEntry,
  type LifecycleProcess,
  type LifecycleRecord,
  parseHealthLine,
} from "./health_record.ts";

/** A process as its PID file (or Docker) and `ps` show it. */
export interface ProcessFacts {
  /** Running; a PID file whose process is gone (stale); or nothing recorded. */
  state: "running" | "stale" | "none";
  /** The running process's PID, or the one a stale PID file names. */
  pid: number | null;
  /** When it started (ms since the epoch); null when unknown. */
  startedAt: number | null;
  /** Resident memory in KiB; null when unknown. */
  rssKiB: number | null;
}

/** One node of the local JVM broker (a single broker is node 1 of 1). */
export interface JvmNodeFacts {
  id: number;
  port: number;
  controllerPort: number;
  process: ProcessFacts;
}

/** The broker, by the provider `start` recorded. */
export type BrokerFacts =
  | { provider: "external"; brokers: readonly string[] }
  | { provider: "jvm"; nodes: readonly JvmNodeFacts[] }
  | {
    provider: "docker";
    port: number;
    /** The Compose project. */
    project: string;
    process: ProcessFacts;
    /** What Compose says of the container ("Up 3 minutes (healthy)"), or why it could not. */
    detail: string;
  };

/** The newest records of a health log, as far as its end was read. */
export interface HealthActivity {
  /** The newest record of any kind. */
  last: HealthEntry | null;
  /** The newest lifecycle record of the process the log belongs to, and when it was written. */
  lifecycle: { at: number; record: LifecycleRecord } | null;
}

/** A file (or a segmented file's segments together). */
export interface FileFacts {
  path: string;
  bytes: number;
  /** Files it is kept in: segments of the trail, rotated files of a health log. */
  files: number;
}

/** A pipeline process: its process and its health log. */
export interface PipelineFacts {
  process: ProcessFacts;
  healthLog: FileFacts;
  activity: HealthActivity;
}

/** A topic's partitions as Kafka describes them. */
export interface TopicFacts {
  name: string;
  /** Null when the topic does not exist. */
  partitions: Array<{ partition: number; replicas: number; start: number; end: number }> | null;
}

/** What Kafka answered, or that it did not. */
export type KafkaFacts =
  | {
    reachable: true;
    clusterId: string;
    brokerCount: number;
    orders: TopicFacts;
    deadLetters: TopicFacts;
    group: {
      id: string;
      state: string;
      members: number;
      /** Committed offset per partition of the orders topic (-1: none). */
      committed: Array<{ partition: number; offset: number }>;
    };
  }
  | { reachable: false; error: string };

/** Everything the shell gathered. */
export interface StatusFacts {
  brokers: readonly string[];
  broker: BrokerFacts;
  tracker: PipelineFacts;
  producer: PipelineFacts;
  kafka: KafkaFacts;
  trail: FileFacts;
  /** The newest record of the trail (read from its end); null when there is none. */
  lastRecord: AuditRecord | null;
}

/** What a process is doing, derived from its PID file and its last lifecycle record. */
export type ProcessState =
  /** It runs. */
  | "running"
  /** A producer that stopped by itself or on request with nothing lost (a `--count` run done). */
  | "finished"
  /** Stopped cleanly (a producer: with something lost). */
  | "stopped"
  /** Its last record says it failed. */
  | "failed"
  /** Gone without a stop record (killed, or crashed before it could write one). */
  | "exited"
  /** Never started here, or its records are older than the end of the log that was read. */
  | "unknown";

export interface ProcessStatus {
  state: ProcessState;
  /** True when this state is what `start` set up (running; a producer also finished). */
  fine: boolean;
  pid: number | null;
  since: string | null;
  uptimeS: number | null;
  rssKiB: number | null;
  /** A PID file left behind by a process that is gone (only `start` and `stop` remove it). */
  stalePidFile: boolean;
  /** How `state` came about: since when it runs, or when and how it ended. */
  summary: string;
  lastActivity: { at: string; agoS: number; kind: HealthEntry["kind"]; what: string } | null;
  lastLifecycle: LifecycleRecord & { at: string } | null;
  healthLog: FileFacts;
}

export interface BrokerStatus {
  provider: BrokerFacts["provider"];
  running: boolean;
  fine: boolean;
  /** Where clients reach it. */
  brokers: readonly string[];
  controllerPort: number | null;
  pid: number | null;
  since: string | null;
  uptimeS: number | null;
  rssKiB: number | null;
  stalePidFile: boolean;
  detail: string;
  /** Each node of a local JVM broker, node 1 first (empty for other providers). */
  nodes: NodeStatus[];
}

/** One node of a local JVM broker. */
export interface NodeStatus {
  id: number;
  port: number;
  controllerPort: number;
  running: boolean;
  pid: number | null;
  uptimeS: number | null;
  rssKiB: number | null;
  stalePidFile: boolean;
}

export interface PartitionStatus {
  partition: number;
  replicas: number;
  end: number;
  /** The tracker group's committed offset (orders topic only; null: none). */
  committed?: number | null;
  /** Messages not yet committed: end minus the commit (or minus the start when none). */
  lag?: number;
}

export interface TopicStatus {
  name: string;
  exists: boolean;
  partitions: PartitionStatus[];
  replicationFactor: number | null;
}

export interface StatusReport {
  at: string;
  /** 0 when everything that should run runs (see `statusReport`), 1 otherwise. */
  exitCode: 0 | 1;
  /** Why the exit code is 1, one line each. */
  problems: string[];
  broker: BrokerStatus;
  tracker: ProcessStatus;
  producer: ProcessStatus;
  kafka:
    | {
      reachable: true;
      clusterId: string;
      brokerCount: number;
      topics: TopicStatus[];
      group: { id: string; state: string; members: number; lagTotal: number };
    }
    | { reachable: false; error: string };
  trail: FileFacts;
  lastAudited: {
    at: string;
    outcome: AuditRecord["outcome"];
    orderId: string | null;
    status: string | null;
    partition: number;
    offset: number;
    errorClass: string | null;
  } | null;
}

/** Bytes of a health log's end read for its newest records. */
export const HEALTH_TAIL_BYTES = 256 * 1024;
/** Bytes of the trail's end read for its newest record (an audit line holds up to a 64 KiB order). */
export const TRAIL_TAIL_BYTES = 256 * 1024;

/** The newest record and the newest lifecycle record of `process` among health-log lines. */
export function healthActivity(
  lines: readonly string[],
  process: LifecycleProcess,
): HealthActivity {
  let last: HealthEntry | null = null;
  let lifecycle: HealthActivity["lifecycle"] = null;
  for (const line of lines) {
    const parsed = parseHealthLine(line);
    if (!parsed.ok) continue;
    last = parsed.entry;
    if (parsed.entry.kind === "lifecycle" && parsed.entry.lifecycle.process === process) {
      lifecycle = { at: parsed.entry.at, record: parsed.entry.lifecycle };
    }
  }
  return { last, lifecycle };
}

/** The newest audit record among trail lines (headers and unreadable lines skipped). */
export function lastAuditRecord(lines: readonly string[]): AuditRecord | null {
  for (let i = lines.length - 1; i >= 0; i--) {
    const parsed = parseTrailLine(lines[i]!, i + 1, { withOrder: false });
    if (parsed.ok && parsed.kind === "record") return parsed.record;
  }
  return null;
}

/** Orders a stopped producer did not deliver: failed, indeterminate or unsent. */
function lostBy(record: LifecycleRecord): number {
  return ["failed", "indeterminate", "unsent"]
    .map((name) => record[name])
    .reduce<number>((sum, n) => sum + (typeof n === "number" ? n : 0), 0);
}

function iso(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
}

function uptime(startedAt: number | null, now: number): number | null {
  return startedAt === null ? null : Math.max(0, Math.round((now - startedAt) / 1000));
}

/** A health record in a few words: metrics as figures, lifecycle as its phase, logs as said. */
function describeEntry(entry: HealthEntry): string {
  switch (entry.kind) {
    case "metrics":
      return `metrics: ${entry.metrics.audited} audited, ${entry.metrics.rate_per_sec} msg/s, lag ${entry.metrics.lag_total}`;
    case "lifecycle":
      return `${entry.lifecycle.phase}: ${entry.message}`;
    case "log":
      return `${entry.level.toLowerCase()}: ${entry.message}`;
  }
}

function processStatus(
  role: LifecycleProcess,
  { process, healthLog, activity }: PipelineFacts,
  now: number,
): ProcessStatus {
  const lifecycle = activity.lifecycle;
  const record = lifecycle?.record;
  let state: ProcessState;
  let summary: string;
  if (process.state === "running") {
    state = "running";
    summary = `since ${process.startedAt === null ? "?" : iso(process.startedAt)}`;
  } else if (record === undefined) {
    state = "unknown";
    summary = `no lifecycle record at the end of ${healthLog.path}`;
  } else {
    const when = `at ${iso(lifecycle!.at)} (pid ${record.pid})`;
    if (record.phase === "stopped") {
      const lost = role === "producer" ? lostBy(record) : 0;
      state = role === "producer" && lost === 0 ? "finished" : "stopped";
      summary = role === "producer"
        ? `${when}: ${record.acknowledged ?? "?"} acknowledged, ${lost} lost`
        : `${when}: ${record.audited ?? "?"} audited`;
    } else if (record.phase === "failed") {
      state = "failed";
      summary = `${when}: ${String(record.error ?? "no error recorded")}`;
    } else {
      state = "exited";
      summary = `without a stop record (last: "${record.phase}" ${when}): killed or crashed`;
    }
  }
  const last = activity.last;
  return {
    state,
    fine: state === "running" || state === "finished",
    pid: process.pid,
    since: process.state === "running" && process.startedAt !== null
      ? iso(process.startedAt)
      : null,
    uptimeS: process.state === "running" ? uptime(process.startedAt, now) : null,
    rssKiB: process.state === "running" ? process.rssKiB : null,
    stalePidFile: process.state === "stale",
    summary,
    lastActivity: last === null ? null : {
      at: iso(last.at),
      agoS: Math.max(0, Math.round((now - last.at) / 1000)),
      kind: last.kind,
      what: describeEntry(last),
    },
    lastLifecycle: lifecycle === null ? null : { ...lifecycle.record, at: iso(lifecycle.at) },
    healthLog,
  };
}

function brokerStatus(facts: StatusFacts, now: number): BrokerStatus {
  const { broker } = facts;
  if (broker.provider === "external") {
    return {
      provider: "external",
      running: true,
      fine: true,
      brokers: broker.brokers,
      controllerPort: null,
      pid: null,
      since: null,
      uptimeS: null,
      rssKiB: null,
      stalePidFile: false,
      detail: "an external cluster (KAFKA_BROKERS): never started or stopped here",
      nodes: [],
    };
  }
  if (broker.provider === "jvm" && broker.nodes.length > 1) {
    return clusterStatus(facts, broker.nodes, now);
  }
  const { process } = broker.provider === "jvm" ? broker.nodes[0]! : broker;
  const running = process.state === "running";
  return {
    provider: broker.provider,
    running,
    fine: running,
    brokers: facts.brokers,
    controllerPort: broker.provider === "jvm" ? broker.nodes[0]!.controllerPort : null,
    pid: process.pid,
    since: running && process.startedAt !== null ? iso(process.startedAt) : null,
    uptimeS: running ? uptime(process.startedAt, now) : null,
    rssKiB: running ? process.rssKiB : null,
    stalePidFile: process.state === "stale",
    detail: broker.provider === "docker"
      ? `Compose project ${broker.project}: ${broker.detail}`
      : process.state === "stale"
      ? `not running; its PID file names pid ${process.pid ?? "?"}, which is gone`
      : running
      ? "started by `deno task start` or `broker:up`"
      : "no PID file: never started, or stopped",
    nodes: broker.provider === "jvm" ? broker.nodes.map((node) => nodeStatus(node, now)) : [],
  };
}

function nodeStatus(node: JvmNodeFacts, now: number): NodeStatus {
  const running = node.process.state === "running";
  return {
    id: node.id,
    port: node.port,
    controllerPort: node.controllerPort,
    running,
    pid: node.process.pid,
    uptimeS: running ? uptime(node.process.startedAt, now) : null,
    rssKiB: running ? node.process.rssKiB : null,
    stalePidFile: node.process.state === "stale",
  };
}

/** A local cluster: running when every node runs; its memory is the nodes' together. */
function clusterStatus(
  facts: StatusFacts,
  nodes: readonly JvmNodeFacts[],
  now: number,
): BrokerStatus {
  const statuses = nodes.map((node) => nodeStatus(node, now));
  const up = statuses.filter((n) => n.running);
  const down = statuses.filter((n) => !n.running).map((n) => n.id);
  const rss = up.map((n) => n.rssKiB).filter((kib): kib is number => kib !== null);
  const starts = nodes.filter((n) => n.process.state === "running" && n.process.startedAt !== null)
    .map((n) => n.process.startedAt!);
  return {
    provider: "jvm",
    running: down.length === 0,
    fine: down.length === 0,
    brokers: facts.brokers,
    controllerPort: nodes[0]!.controllerPort,
    pid: null,
    since: starts.length > 0 ? iso(Math.min(...starts)) : null,
    uptimeS: starts.length > 0 ? uptime(Math.min(...starts), now) : null,
    rssKiB: rss.length > 0 ? rss.reduce((a, b) => a + b, 0) : null,
    stalePidFile: statuses.some((n) => n.stalePidFile),
    detail: down.length === 0
      ? `${nodes.length} nodes running`
      : `${up.length} of ${nodes.length} nodes running; node ${down.join(", ")} not running`,
    nodes: statuses,
  };
}

function topicStatus(
  topic: TopicFacts,
  committed?: ReadonlyMap<number, number>,
): TopicStatus {
  const partitions = (topic.partitions ?? []).map((p): PartitionStatus => {
    if (committed === undefined) {
      return { partition: p.partition, replicas: p.replicas, end: p.end };
    }
    const offset = committed.get(p.partition) ?? -1;
    return {
      partition: p.partition,
      replicas: p.replicas,
      end: p.end,
      committed: offset >= 0 ? offset : null,
      // What retention deleted is no longer there to consume.
      lag: Math.max(0, p.end - Math.max(offset, p.start)),
    };
  });
  const factors = [...new Set(partitions.map((p) => p.replicas))];
  return {
    name: topic.name,
    exists: topic.partitions !== null,
    partitions,
    replicationFactor: factors.length === 1 ? factors[0]! : null,
  };
}

/**
 * The report of `status`. The exit code is 0 exactly when all of these hold,
 * else 1 (each one that fails is a line of `problems`):
 * - the broker runs (the JVM process, or the Compose container), unless
 *   KAFKA_BROKERS names an external cluster;
 * - Kafka answered within the status's time limit;
 * - the tracker runs;
 * - the producer runs, or it finished: its last lifecycle record is `stopped`
 *   with nothing failed, indeterminate or unsent (a `--count` or `--duration`
 *   run that is done).
 */
export function statusReport(facts: StatusFacts, now: number): StatusReport {
  const broker = brokerStatus(facts, now);
  const tracker = processStatus("tracker", facts.tracker, now);
  const producer = processStatus("producer", facts.producer, now);
  const problems: string[] = [];
  if (!broker.fine) {
    problems.push(
      broker.nodes.length > 1
        ? `broker (${broker.provider}): ${broker.detail}`
        : `broker (${broker.provider}) is not running`,
    );
  }
  if (!facts.kafka.reachable) problems.push(`Kafka unreachable at ${facts.brokers.join(",")}`);
  for (const [name, status] of [["tracker", tracker], ["producer", producer]] as const) {
    if (!status.fine) problems.push(`${name} ${stateText(status)}`);
  }
  let kafka: StatusReport["kafka"];
  if (facts.kafka.reachable) {
    const { group } = facts.kafka;
    const orders = topicStatus(
      facts.kafka.orders,
      new Map(group.committed.map((c) => [c.partition, c.offset])),
    );
    kafka = {
      reachable: true,
      clusterId: facts.kafka.clusterId,
      brokerCount: facts.kafka.brokerCount,
      topics: [orders, topicStatus(facts.kafka.deadLetters)],
      group: {
        id: group.id,
        state: group.state,
        members: group.members,
        lagTotal: orders.partitions.reduce((sum, p) => sum + (p.lag ?? 0), 0),
      },
    };
  } else {
    kafka = { reachable: false, error: facts.kafka.error };
  }
  const record = facts.lastRecord;
  return {
    at: iso(now),
    exitCode: problems.length === 0 ? 0 : 1,
    problems,
    broker,
    tracker,
    producer,
    kafka,
    trail: facts.trail,
    lastAudited: record === null ? null : {
      at: record.timestamp,
      outcome: record.outcome,
      orderId: record.order_id,
      status: record.status,
      partition: record.kafka_partition,
      offset: record.kafka_offset,
      errorClass: record.error_class,
    },
  };
}

function bytesText(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 ** 2) return `${(bytes / 1024).toFixed(1)} KiB`;
  if (bytes < 1024 ** 3) return `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
  return `${(bytes / 1024 ** 3).toFixed(2)} GiB`;
}

/** Whole seconds as the monitor writes durations ("4 s", "59 min", "1 h 05 min"). */
function durationText(seconds: number): string {
  return seconds < 60 ? `${seconds} s` : duration(seconds * 1000);
}

function processLine(
  facts: { pid: number | null; uptimeS: number | null; rssKiB: number | null },
): string {
  return [
    facts.pid === null ? "" : `pid ${facts.pid}`,
    facts.uptimeS === null ? "" : `up ${durationText(facts.uptimeS)}`,
    facts.rssKiB === null ? "" : `rss ${bytesText(facts.rssKiB * 1024)}`,
  ].filter(Boolean).join("  ");
}

function fileText(file: FileFacts, unit: string): string {
  if (file.files === 0) return `${file.path}  missing`;
  return `${file.path}  ${bytesText(file.bytes)} in ${file.files} ${unit}${
    file.files === 1 ? "" : "s"
  }`;
}

function offsetsText(partitions: PartitionStatus[], pick: (p: PartitionStatus) => string): string {
  return partitions.map((p) => `${p.partition}:${pick(p)}`).join(" ");
}

/** A process's state and how it came about, as a phrase: "stopped at … (pid 7): 120 audited". */
function stateText(status: ProcessStatus): string {
  const state = { unknown: "not running:", finished: "stopped cleanly" }[status.state as string] ??
    status.state;
  return `${state} ${status.summary}`;
}

function pipelineRows(name: string, status: ProcessStatus): string[] {
  const rows = [
    `${name.padEnd(9)} ${
      status.state === "running" ? `running  ${processLine(status)}` : stateText(status)
    }`,
  ];
  if (status.stalePidFile) {
    rows.push(`          PID file left behind (pid ${status.pid ?? "?"}, gone)`);
  }
  const last = status.lastActivity;
  rows.push(
    last === null
      ? `          last activity: none in ${status.healthLog.path}`
      : `          last activity ${last.at} (${durationText(last.agoS)} ago) ${
        last.what.length > 90 ? `${last.what.slice(0, 89)}…` : last.what
      }`,
  );
  return rows;
}

/** The report as the lines `status` prints. */
export function formatStatus(report: StatusReport): string[] {
  const { broker, kafka } = report;
  const lines = [
    `order-tracking status at ${report.at}: ${
      report.exitCode === 0 ? "OK" : `NOT OK (${report.problems.length})`
    }`,
    ...report.problems.map((p) => `  ! ${p}`),
    "",
  ];
  const where = `${broker.brokers.join(",")}${
    broker.controllerPort === null || broker.nodes.length > 1
      ? ""
      : ` (controller ${broker.controllerPort})`
  }`;
  lines.push(
    broker.provider === "external"
      ? `broker    external  ${where}`
      : broker.running
      ? `broker    ${broker.provider}  running  ${where}  ${processLine(broker)}`
      : `broker    ${broker.provider}  not running  ${where}`,
  );
  if (!broker.running || broker.provider === "docker" || broker.nodes.length > 1) {
    lines.push(`          ${broker.detail}`);
  }
  if (broker.nodes.length > 1) {
    for (const node of broker.nodes) {
      lines.push(
        `          node ${node.id}  127.0.0.1:${node.port} (controller ${node.controllerPort})  ${
          node.running
            ? processLine(node)
            : node.stalePidFile
            ? "not running (stale PID file)"
            : "not running"
        }`,
      );
    }
  }
  lines.push(
    ...pipelineRows("tracker", report.tracker),
    ...pipelineRows("producer", report.producer),
  );
  lines.push("");
  if (!kafka.reachable) {
    lines.push(`kafka     Kafka unreachable at ${broker.brokers.join(",")}: ${kafka.error}`);
  } else {
    lines.push(
      `kafka     cluster ${kafka.clusterId}, ${kafka.brokerCount} broker${
        kafka.brokerCount === 1 ? "" : "s"
      }`,
    );
    for (const topic of kafka.topics) {
      lines.push(
        topic.exists
          ? `topic     ${topic.name}  ${topic.partitions.length} partition${
            topic.partitions.length === 1 ? "" : "s"
          }  replication ${topic.replicationFactor ?? "mixed"}  end ${
            offsetsText(topic.partitions, (p) => String(p.end))
          }`
          : `topic     ${topic.name}  missing`,
      );
    }
    const orders = kafka.topics[0]!;
    const { group } = kafka;
    lines.push(
      `group     ${group.id} (${group.state}, ${group.members} member${
        group.members === 1 ? "" : "s"
      })  committed ${
        offsetsText(orders.partitions, (p) => (p.committed == null ? "-" : String(p.committed)))
      }  lag ${
        offsetsText(orders.partitions, (p) => String(p.lag ?? 0))
      } (total ${group.lagTotal})`,
    );
  }
  lines.push("");
  lines.push(`trail     ${fileText(report.trail, "segment")}`);
  const last = report.lastAudited;
  lines.push(
    last === null
      ? "          last audited: none"
      : `          last audited ${last.at}  ${last.outcome}  order ${last.orderId ?? "-"}${
        last.status === null ? "" : ` ${last.status}`
      }${
        last.errorClass === null ? "" : ` (${last.errorClass})`
      }  partition ${last.partition} offset ${last.offset}`,
  );
  lines.push(`health    ${fileText(report.tracker.healthLog, "file")}`);
  lines.push(`          ${fileText(report.producer.healthLog, "file")}`);
  return lines;
}

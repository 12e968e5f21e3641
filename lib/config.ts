/**
 * The one place for settings: defaults, environment variables and command-line
 * flags become one validated, typed, frozen Config. Precedence: flag, env, default.
 *
 * `SETTINGS` is the table every other view is derived from: the flag parser's
 * options, `--help` of each command, the list of variables a process may read
 * and the README's settings table (a test compares them). A default is written
 * as a user would type it and goes through the same parser as their input.
 *
 * `resolveConfig` is pure (the entry passes in the environment and the
 * arguments), so it is tested without any permission.
 */
import { parseArgs } from "node:util";
import { join } from "node:path";
import {
  AUDIT_FILE_NAME,
  BROKER_DIR_NAME,
  CHECKPOINT_FILE_NAME,
  DLQ_TOPIC,
  EXIT,
  HEALTH_LOG_FILE_NAME,
  KAFKA_VERSION,
  ORDERS_TOPIC,
  PRODUCER_ACKS_FILE_NAME,
  PRODUCER_DIR_NAME,
  PRODUCER_LOG_FILE_NAME,
  QUARANTINE_FILE_NAME,
  RUN_DIR_NAME,
  TRACKER_GROUP_ID,
  TRACKER_LOCK_FILE_NAME,
} from "./constants.ts";

/** How the broker is provided when KAFKA_BROKERS is not set. */
export const BROKER_PROVIDERS = ["auto", "docker", "jvm"] as const;
export type BrokerProvider = typeof BROKER_PROVIDERS[number];

export const LOG_LEVELS = ["debug", "info", "warning", "error"] as const;
export type LogLevel = typeof LOG_LEVELS[number];

/** The commands (deno.json tasks) whose `--help` lists settings. */
export const COMMANDS = [
  "start",
  "stop",
  "monitor",
  "producer",
  "tracker",
  "verify",
  "topics",
  "broker",
  "test",
  "bench:producer",
  "bench:tracker",
] as const;
export type Command = typeof COMMANDS[number];

const KAFKA_CLIENTS = [
  "start",
  "producer",
  "tracker",
  "verify",
  "topics",
  "test",
  "bench:producer",
  "bench:tracker",
] as const satisfies readonly Command[];
const LOCAL_BROKER = ["start", "stop", "broker", "test"] as const satisfies readonly Command[];
const PIPELINE = [
  "start",
  "stop",
  "producer",
  "tracker",
  "monitor",
  "verify",
] as const satisfies readonly Command[];

/** One row of the settings table. */
export interface SettingSpec {
  readonly env: string;
  /** Long flag name (without "--"); absent when the setting is env-only. */
  readonly flag?: string;
  /** The default as a user would type it; absent when there is none. */
  readonly default?: string;
  /** How the default reads in help and the README when it is derived or absent. */
  readonly shownDefault?: string;
  /** One line: what it means and which values it takes. */
  readonly help: string;
  /** Commands whose `--help` lists it. */
  readonly commands: readonly Command[];
}

/** Every setting a user may change. */
export const SETTINGS = {
  brokers: {
    env: "KAFKA_BROKERS",
    flag: "brokers",
    shownDefault: "local broker",
    help: "`host:port[,host:port]` of an existing cluster; never started or stopped",
    commands: [...KAFKA_CLIENTS, "stop", "broker"],
  },
  allowHosts: {
    env: "KAFKA_ALLOW_HOSTS",
    help:
      "extra `host:port` the clients may reach (brokers a cluster advertises beyond `KAFKA_BROKERS`)",
    commands: KAFKA_CLIENTS,
  },
  brokerPort: {
    env: "KAFKA_PORT",
    default: "9092",
    help: "port of the local broker (on 127.0.0.1)",
    commands: [...KAFKA_CLIENTS, "stop", "broker"],
  },
  controllerPort: {
    env: "KAFKA_CONTROLLER_PORT",
    default: "9093",
    help: "KRaft controller port of the local broker",
    commands: LOCAL_BROKER,
  },
  provider: {
    env: "KAFKA_PROVIDER",
    default: "auto",
    help: "`auto` (Docker if an engine answers, else JVM), `docker` or `jvm`",
    commands: LOCAL_BROKER,
  },
  jarsDir: {
    env: "KAFKA_JARS_DIR",
    default: `.cache/kafka-${KAFKA_VERSION}`,
    help: "where Maven puts the broker's jars",
    commands: LOCAL_BROKER,
  },
  brokerHeapOpts: {
    env: "KAFKA_HEAP_OPTS",
    default: "-Xms256m -Xmx512m",
    help: "JVM heap of the local broker",
    commands: LOCAL_BROKER,
  },
  topic: {
    env: "ORDERS_TOPIC",
    flag: "topic",
    default: ORDERS_TOPIC,
    help: "topic of order events",
    commands: [...KAFKA_CLIENTS, "monitor"],
  },
  dlqTopic: {
    env: "DLQ_TOPIC",
    flag: "dlq-topic",
    default: DLQ_TOPIC,
    help: "dead-letter topic",
    commands: ["start", "tracker", "verify", "topics", "bench:tracker"],
  },
  partitions: {
    env: "ORDERS_PARTITIONS",
    flag: "partitions",
    default: "3",
    help: "partitions of the orders topic",
    commands: ["start", "topics", "bench:producer", "bench:tracker"],
  },
  replicationFactor: {
    env: "REPLICATION_FACTOR",
    default: "1",
    help: "replication factor of both topics",
    commands: ["start", "topics"],
  },
  groupId: {
    env: "TRACKER_GROUP_ID",
    flag: "group",
    default: TRACKER_GROUP_ID,
    help: "consumer group of the tracker",
    commands: ["start", "tracker", "verify"],
  },
  dataDir: {
    env: "DATA_DIR",
    flag: "data-dir",
    default: "data",
    help:
      "the pipeline's files: the tracker's `tracker.events` and `tracker.log`, the producer's `producer/`",
    commands: PIPELINE,
  },
  stateDir: {
    env: "STATE_DIR",
    default: ".state",
    help: "PID files, process output, the local broker's data",
    commands: [...LOCAL_BROKER, "bench:tracker"],
  },
  rate: {
    env: "PRODUCER_RATE",
    flag: "rate",
    default: "5",
    help: "orders per second; `0` = as fast as possible",
    commands: ["start", "producer"],
  },
  count: {
    env: "PRODUCER_COUNT",
    flag: "count",
    default: "0",
    help: "orders to send; `0` = no limit",
    commands: ["start", "producer", "bench:producer", "bench:tracker"],
  },
  duration: {
    env: "PRODUCER_DURATION_S",
    flag: "duration",
    default: "0",
    help: "seconds to run; `0` = no limit",
    commands: ["start", "producer"],
  },
  seed: {
    env: "PRODUCER_SEED",
    flag: "seed",
    shownDefault: "random",
    help: "makes the generated orders reproducible",
    commands: ["start", "producer", "bench:producer", "bench:tracker"],
  },
  acksLog: {
    env: "PRODUCER_ACKS_LOG",
    flag: "acks-log",
    shownDefault: "`<DATA_DIR>/producer/acks.jsonl`",
    help:
      "the producer's outcomes (one JSON line per message) that `verify` checks; `none` keeps none",
    commands: ["start", "producer", "verify"],
  },
  segmentBytes: {
    env: "SEGMENT_BYTES",
    default: "128MiB",
    help:
      "size at which the audit trail and the producer's outcomes start a new segment (`KiB`, `MiB`, `GiB`)",
    commands: ["start", "tracker", "producer"],
  },
  retentionBytes: {
    env: "RETENTION_BYTES",
    default: "0",
    help:
      "the most the audit trail and the outcomes may each keep; the oldest segments go first; `0` keeps all",
    commands: ["start", "tracker", "producer"],
  },
  healthLogBytes: {
    env: "HEALTH_LOG_BYTES",
    default: "16MiB",
    help: "size at which a health log is rotated (`tracker.log` → `tracker.log.1` …)",
    commands: ["start", "tracker", "producer"],
  },
  healthLogFiles: {
    env: "HEALTH_LOG_FILES",
    default: "5",
    help: "rotated health logs kept besides the current one",
    commands: ["start", "tracker", "producer"],
  },
  dlqTimeoutMs: {
    env: "DLQ_TIMEOUT_MS",
    default: "30000",
    help:
      "how long the tracker retries an unreachable dead-letter topic (committing nothing) before it exits 1",
    commands: ["start", "tracker"],
  },
  logLevel: {
    env: "LOG_LEVEL",
    flag: "log-level",
    default: "info",
    help: "`debug`, `info`, `warning` or `error`",
    commands: ["start", "producer", "tracker"],
  },
  brokerReadyTimeoutMs: {
    env: "BROKER_READY_TIMEOUT_MS",
    default: "60000",
    help: "how long `broker:up` waits for the broker to answer",
    commands: LOCAL_BROKER,
  },
  stopTimeoutMs: {
    env: "STOP_TIMEOUT_MS",
    default: "15000",
    help: "how long `stop` waits after SIGTERM before SIGKILL",
    commands: ["stop"],
  },
  testBrokerPort: {
    env: "TEST_KAFKA_PORT",
    default: "19092",
    help: "port of the broker `deno task test` starts (controller: +1)",
    commands: ["test"],
  },
} as const satisfies Record<string, SettingSpec>;

export type SettingName = keyof typeof SETTINGS;

/** Flags of a command that are not settings (they change what the command does, not where). */
export interface CommandOption {
  readonly type: "boolean" | "string";
  readonly multiple?: boolean;
  readonly help: string;
}

/** The options each command takes besides the settings; `--help` is everyone's. */
export const COMMAND_OPTIONS: Partial<Record<Command, Readonly<Record<string, CommandOption>>>> = {
  monitor: {
    once: { type: "boolean", help: "print the current figures as text and exit" },
    json: { type: "boolean", help: "print the current view as JSON and exit" },
  },
  verify: {
    audit: {
      type: "string",
      multiple: true,
      help: "an audit trail to check (repeatable; default: the data directory's)",
    },
    json: { type: "boolean", help: "print the report as JSON" },
    offline: { type: "boolean", help: "check the files only: no dead letters, no commits" },
    "since-first": {
      type: "boolean",
      help: "a trail that starts after offset 0 (a new trail on an old topic)",
    },
  },
};

/** One or two examples per command for `--help`. */
const EXAMPLES: Partial<Record<Command, readonly string[]>> = {
  start: ["deno task start", "KAFKA_BROKERS=kafka-1:9092 deno task start --rate 50"],
  producer: ["deno task producer --count 1000 --rate 0", "deno task producer --seed 7 --rate 20"],
  tracker: ["deno task tracker", "deno task tracker --data-dir /srv/orders --group audit-2"],
  monitor: ["deno task monitor", "deno task monitor --once"],
  verify: ["deno task verify", "deno task verify --offline --json"],
};

/** The environment variables this project reads. */
export const CONFIG_ENV_VARS: readonly string[] = Object.values(SETTINGS).map((s) => s.env);

/** Files and directories derived from the data directory. */
export interface Paths {
  readonly dataDir: string;
  readonly auditFile: string;
  /** The trail's checkpoint: state and counts at a position, so start-up need not reread the trail. */
  readonly checkpointFile: string;
  readonly healthLog: string;
  readonly quarantineFile: string;
  readonly trackerLock: string;
  /** The producer's own files: its health log (lifecycle records `start` waits for). */
  readonly producerDir: string;
  readonly producerLog: string;
  /** Orchestration state: PID files, process output and the local broker's data. */
  readonly stateDir: string;
  /** PID files and process output of `deno task start`. */
  readonly runDir: string;
  /** Log dirs and generated configuration of the local broker. */
  readonly brokerDir: string;
}

/** The resolved configuration: every value present and valid. */
export interface Config {
  readonly brokers: readonly string[];
  /** True when KAFKA_BROKERS (or --brokers) names a cluster we must never start or stop. */
  readonly externalCluster: boolean;
  readonly provider: BrokerProvider;
  readonly brokerPort: number;
  readonly controllerPort: number;
  /** JVM options of the local broker's heap. */
  readonly brokerHeapOpts: readonly string[];
  /** Extra host:port pairs processes may connect to (advertised listeners of an external cluster). */
  readonly allowHosts: readonly string[];
  readonly jarsDir: string;
  readonly topic: string;
  readonly dlqTopic: string;
  readonly partitions: number;
  readonly replicationFactor: number;
  readonly groupId: string;
  readonly paths: Paths;
  readonly producer: {
    /** Messages per second; 0 means as fast as possible. */
    readonly ratePerSec: number;
    /** Orders to send; 0 means no limit. */
    readonly count: number;
    /** Run time in ms; 0 means no limit. */
    readonly durationMs: number;
    readonly seed: number | undefined;
    /** The outcomes file; undefined when none is kept. */
    readonly acksLog: string | undefined;
  };
  /** Segment size of the audit trail and the outcomes file (bytes). */
  readonly segmentBytes: number;
  /** Retention of each segmented file (bytes); 0 keeps everything. */
  readonly retentionBytes: number;
  readonly healthLog: { readonly maxBytes: number; readonly files: number };
  readonly dlqTimeoutMs: number;
  readonly logLevel: LogLevel;
  readonly brokerReadyTimeoutMs: number;
  readonly stopTimeoutMs: number;
  readonly testBrokerPort: number;
}

/** A setting has a bad value. Entries print the message and exit with code 2. */
export class ConfigError extends Error {
  override name = "ConfigError";
}

type Env = Readonly<Record<string, string | undefined>>;
export type OptionValues = Readonly<
  Record<string, string | boolean | (string | boolean)[] | undefined>
>;

/**
 * The flag parser's options: --help, the flags of the settings `command` uses
 * and its own options (for no command: every flag there is).
 */
function flagOptions(
  command: Command | undefined,
): Record<string, { type: "string" | "boolean"; multiple?: boolean }> {
  const options: Record<string, { type: "string" | "boolean"; multiple?: boolean }> = {
    help: { type: "boolean" },
  };
  for (const spec of Object.values(SETTINGS) as SettingSpec[]) {
    if (spec.flag === undefined) continue;
    if (command === undefined || spec.commands.includes(command)) {
      options[spec.flag] = { type: "string" };
    }
  }
  const tables = command === undefined
    ? Object.values(COMMAND_OPTIONS)
    : [COMMAND_OPTIONS[command] ?? {}];
  for (const table of tables) {
    for (const [name, option] of Object.entries(table)) {
      options[name] = { type: option.type, ...(option.multiple ? { multiple: true } : {}) };
    }
  }
  return options;
}

function defaultText(spec: SettingSpec): string {
  return spec.default ?? spec.shownDefault ?? "";
}

/** `--help` of a command: its settings and options, each with meaning, default and variable. */
export function usage(command: Command): string {
  const settings = (Object.values(SETTINGS) as SettingSpec[]).filter((s) =>
    s.commands.includes(command)
  );
  const plain = (text: string) => text.replaceAll("`", "");
  const flagged = settings.filter((s) => s.flag !== undefined);
  const envOnly = settings.filter((s) => s.flag === undefined);
  const options = Object.entries(COMMAND_OPTIONS[command] ?? {});
  const row = (left: string, help: string, spec?: SettingSpec) => {
    const extra = spec === undefined
      ? ""
      : ` (env ${spec.env}${defaultText(spec) ? `, default ${plain(defaultText(spec))}` : ""})`;
    return `  ${left.padEnd(24)} ${plain(help)}${extra}`;
  };
  const lines = [`Usage: deno task ${command} [flags]`];
  if (options.length > 0 || flagged.length > 0) {
    lines.push("", "Flags:");
    for (const [name, option] of options) {
      lines.push(row(`--${name}${option.type === "string" ? " VALUE" : ""}`, option.help));
    }
    for (const spec of flagged) lines.push(row(`--${spec.flag} VALUE`, spec.help, spec));
  }
  lines.push(row("--help", "this help"));
  if (envOnly.length > 0) {
    lines.push("", "Environment:");
    for (const spec of envOnly) {
      lines.push(
        `  ${spec.env.padEnd(24)} ${plain(spec.help)}${
          defaultText(spec) ? ` (default ${plain(defaultText(spec))})` : ""
        }`,
      );
    }
  }
  const examples = EXAMPLES[command];
  if (examples) lines.push("", "Examples:", ...examples.map((e) => `  ${e}`));
  lines.push("", "Flags win over environment variables, which win over defaults.");
  return lines.join("\n");
}

/** The settings as README table rows: variable, flag, default, meaning (Markdown). */
export function settingsTableRows(): string[][] {
  return (Object.values(SETTINGS) as SettingSpec[]).map((spec) => [
    `\`${spec.env}\``,
    spec.flag === undefined ? "" : `\`--${spec.flag}\``,
    spec.default !== undefined ? `\`${spec.default}\`` : spec.shownDefault ?? "",
    spec.help,
  ]);
}

/**
 * Builds the configuration from the environment and the command-line arguments.
 *
 * @example
 * ```ts
 * const config = resolveConfig(Deno.env.toObject(), Deno.args, { command: "tracker" });
 * ```
 * @param options.command the command whose flags `args` may use (default: any)
 * @throws {ConfigError} naming the setting whose value is bad, or the unknown flag
 */
export function resolveConfig(
  env: Env,
  args: readonly string[] = [],
  { command }: { command?: Command } = {},
): Config & { readonly help: boolean; readonly options: OptionValues } {
  let flags: OptionValues;
  try {
    flags = parseArgs({
      args: [...args],
      options: flagOptions(command),
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (error) {
    throw new ConfigError(
      `Cannot read flags: ${(error as Error).message.split("\n")[0]}`,
      { cause: error },
    );
  }
  const read = settingReader(env, flags);

  const brokerPort = read.integer("brokerPort", { min: 1, max: 65535 });
  const controllerPort = read.integer("controllerPort", { min: 1, max: 65535 });
  if (brokerPort === controllerPort) {
    throw new ConfigError(
      `Cannot read configuration: KAFKA_CONTROLLER_PORT equals KAFKA_PORT (${brokerPort}), expected two different ports`,
    );
  }
  const givenBrokers = read.raw("brokers");
  const brokers = givenBrokers === undefined
    ? [`127.0.0.1:${brokerPort}`]
    : hostPortList(givenBrokers.source, givenBrokers.value, { allowEmpty: false });
  const givenAllow = read.raw("allowHosts");
  const allowHosts = givenAllow === undefined
    ? []
    : hostPortList(givenAllow.source, givenAllow.value, { allowEmpty: true });
  const topic = read.name("topic");
  const dlqTopic = read.name("dlqTopic");
  if (topic === dlqTopic) {
    throw new ConfigError(
      `Cannot read configuration: DLQ_TOPIC equals ORDERS_TOPIC ("${topic}"), expected two different topics`,
    );
  }
  const dataDir = read.path("dataDir")!;
  const stateDir = read.path("stateDir")!;
  const producerDir = join(dataDir, PRODUCER_DIR_NAME);
  const acksLog = read.path("acksLog");

  const config = {
    help: flags.help === true,
    options: flags,
    brokers,
    externalCluster: givenBrokers !== undefined,
    provider: read.oneOf("provider", BROKER_PROVIDERS),
    brokerPort,
    controllerPort,
    brokerHeapOpts: read.words("brokerHeapOpts"),
    allowHosts,
    jarsDir: read.path("jarsDir")!,
    topic,
    dlqTopic,
    partitions: read.integer("partitions", { min: 1, max: 1000 }),
    replicationFactor: read.integer("replicationFactor", { min: 1, max: 32 }),
    groupId: read.name("groupId"),
    paths: {
      dataDir,
      auditFile: join(dataDir, AUDIT_FILE_NAME),
      checkpointFile: join(dataDir, CHECKPOINT_FILE_NAME),
      healthLog: join(dataDir, HEALTH_LOG_FILE_NAME),
      quarantineFile: join(dataDir, QUARANTINE_FILE_NAME),
      trackerLock: join(dataDir, TRACKER_LOCK_FILE_NAME),
      producerDir,
      producerLog: join(producerDir, PRODUCER_LOG_FILE_NAME),
      stateDir,
      runDir: join(stateDir, RUN_DIR_NAME),
      brokerDir: join(stateDir, BROKER_DIR_NAME),
    },
    producer: {
      ratePerSec: read.nonNegative("rate"),
      count: read.integer("count", { min: 0 }),
      durationMs: Math.round(read.nonNegative("duration") * 1000),
      seed: read.raw("seed") === undefined
        ? undefined
        : read.integer("seed", { min: 0, max: 2 ** 32 - 1 }),
      acksLog: acksLog === "none"
        ? undefined
        : acksLog ?? join(producerDir, PRODUCER_ACKS_FILE_NAME),
    },
    segmentBytes: read.bytes("segmentBytes", { min: 64 * 1024 }),
    retentionBytes: read.bytes("retentionBytes", { min: 0 }),
    healthLog: {
      maxBytes: read.bytes("healthLogBytes", { min: 64 * 1024 }),
      files: read.integer("healthLogFiles", { min: 1, max: 1000 }),
    },
    dlqTimeoutMs: read.integer("dlqTimeoutMs", { min: 1000 }),
    logLevel: read.oneOf("logLevel", LOG_LEVELS),
    brokerReadyTimeoutMs: read.integer("brokerReadyTimeoutMs", { min: 1000 }),
    stopTimeoutMs: read.integer("stopTimeoutMs", { min: 100 }),
    testBrokerPort: read.integer("testBrokerPort", { min: 1, max: 65534 }),
  };
  return deepFreeze(config);
}

/** Reads and validates one setting at a time: flag, then env, then the table's default. */
function settingReader(env: Env, flags: OptionValues) {
  const raw = (name: SettingName): { value: string; source: string } | undefined => {
    const spec: SettingSpec = SETTINGS[name];
    const flagValue = spec.flag === undefined ? undefined : flags[spec.flag];
    if (typeof flagValue === "string") return { value: flagValue, source: `--${spec.flag}` };
    const envValue = env[spec.env];
    if (envValue !== undefined && envValue !== "") return { value: envValue, source: spec.env };
    return undefined;
  };
  /** The given value, or the default (which must pass the same checks). */
  const value = (name: SettingName): { value: string; source: string } | undefined => {
    const spec: SettingSpec = SETTINGS[name];
    return raw(name) ??
      (spec.default === undefined
        ? undefined
        : { value: spec.default, source: `the default of ${spec.env}` });
  };
  const bad = (source: string, given: string, expected: string): never => {
    throw new ConfigError(
      `Cannot read configuration: ${source} is "${given}", expected ${expected}`,
    );
  };
  const required = (name: SettingName) => {
    const given = value(name);
    if (given === undefined) throw new TypeError(`Setting ${name} has no default`);
    return given;
  };
  return {
    raw,
    integer(
      name: SettingName,
      { min, max = Number.MAX_SAFE_INTEGER }: { min: number; max?: number },
    ) {
      const given = required(name);
      const n = Number(given.value.trim());
      if (!/^-?\d+$/.test(given.value.trim()) || n < min || n > max) {
        bad(given.source, given.value, `an integer from ${min} to ${max}`);
      }
      return n;
    },
    nonNegative(name: SettingName): number {
      const given = required(name);
      const n = Number(given.value.trim());
      if (given.value.trim() === "" || !Number.isFinite(n) || n < 0) {
        bad(given.source, given.value, "a number >= 0");
      }
      return n;
    },
    name(name: SettingName): string {
      const given = required(name);
      // Kafka's legal topic and group characters; also keeps names safe in file paths.
      if (!/^[A-Za-z0-9._-]{1,249}$/.test(given.value)) {
        bad(given.source, given.value, "1-249 characters of A-Z a-z 0-9 . _ -");
      }
      return given.value;
    },
    oneOf<T extends string>(name: SettingName, allowed: readonly T[]): T {
      const given = required(name);
      const lower = given.value.toLowerCase();
      if (!(allowed as readonly string[]).includes(lower)) {
        bad(given.source, given.value, `one of ${allowed.join(", ")}`);
      }
      return lower as T;
    },
    path(name: SettingName): string | undefined {
      const given = value(name);
      if (given === undefined) return undefined;
      if (given.value.includes(",") || given.value.trim() !== given.value) {
        bad(given.source, given.value, "a path without commas or surrounding spaces");
      }
      return given.value;
    },
    /** A size: bytes, or a number with KiB, MiB or GiB. */
    bytes(name: SettingName, { min }: { min: number }): number {
      const given = required(name);
      const match = /^\s*(\d+(?:\.\d+)?)\s*(|B|KiB|MiB|GiB)\s*$/i.exec(given.value);
      const unit = { "": 1, b: 1, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3 }[
        (match?.[2] ?? "").toLowerCase() as "" | "b" | "kib" | "mib" | "gib"
      ];
      const n = match ? Math.round(Number(match[1]) * unit) : NaN;
      if (!Number.isSafeInteger(n) || n < min) {
        bad(given.source, given.value, `a size of at least ${min} bytes, e.g. 64MiB`);
      }
      return n;
    },
    words(name: SettingName): string[] {
      return required(name).value.split(/\s+/).filter(Boolean);
    },
  };
}

/** Whether a boolean command option was given. */
export function optionSet(options: OptionValues, name: string): boolean {
  return options[name] === true;
}

/** The values of a repeatable string option (empty when not given). */
export function optionList(options: OptionValues, name: string): string[] {
  const value = options[name];
  const values = Array.isArray(value) ? value : [value];
  return values.filter((v): v is string => typeof v === "string");
}

/**
 * The configuration of a command from this process's environment and `args`,
 * or the exit code to end with: 2 after printing a bad setting, 0 after
 * printing the help that `--help` asked for.
 *
 * @example
 * ```ts
 * const config = loadConfig(Deno.args, { command: "tracker" });
 * if (typeof config === "number") return config;
 * ```
 */
export function loadConfig(
  args: readonly string[],
  { command }: { command: Command },
): (Config & { readonly options: OptionValues }) | number {
  let config: ReturnType<typeof resolveConfig>;
  try {
    config = resolveConfig(readConfigEnv(), args, { command });
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(`${error.message} (deno task ${command} --help lists the settings)`);
    return EXIT.badConfig;
  }
  if (config.help) {
    console.log(usage(command));
    return EXIT.ok;
  }
  return config;
}

/** Reads the environment variables this project uses (only those: permissions stay scoped). */
export function readConfigEnv(): Record<string, string | undefined> {
  return Object.fromEntries(CONFIG_ENV_VARS.map((name) => [name, Deno.env.get(name)]));
}

function hostPortList(
  source: string,
  value: string,
  { allowEmpty }: { allowEmpty: boolean },
): string[] {
  const items = value.split(",").map((s) => s.trim()).filter((s) => s !== "");
  if (items.length === 0 && !allowEmpty) {
    throw new ConfigError(
      `Cannot read configuration: ${source} is empty, expected host:port[,host:port]`,
    );
  }
  for (const item of items) {
    const match = /^([A-Za-z0-9.-]+|\[[0-9A-Fa-f:]+\]):(\d{1,5})$/.exec(item);
    const port = match ? Number(match[2]) : 0;
    if (!match || port < 1 || port > 65535) {
      throw new ConfigError(
        `Cannot read configuration: ${source} has "${item}", expected host:port[,host:port]`,
      );
    }
  }
  return items;
}

function deepFreeze<T extends object>(value: T): T {
  for (const child of Object.values(value)) {
    if (typeof child === "object" && child !== null) deepFreeze(child);
  }
  return Object.freeze(value);
}

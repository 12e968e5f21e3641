/**
 * The one place for settings: defaults, environment variables and command-line
 * flags become one validated, typed, frozen Config. Precedence: flag, env, default.
 *
 * `resolveConfig` is pure (the entry passes in the environment and the
 * arguments), so it is tested without any permission.
 */
import { parseArgs } from "node:util";
import { join } from "node:path";
import {
  AUDIT_FILE_NAME,
  BROKER_DIR_NAME,
  DEFAULTS,
  DLQ_TOPIC,
  EXIT,
  HEALTH_LOG_FILE_NAME,
  ORDERS_TOPIC,
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

/** Every setting a user may change, with its environment variable and flag. */
export const SETTINGS = {
  brokers: { env: "KAFKA_BROKERS", flag: "brokers" },
  brokerPort: { env: "KAFKA_PORT", flag: undefined },
  controllerPort: { env: "KAFKA_CONTROLLER_PORT", flag: undefined },
  provider: { env: "KAFKA_PROVIDER", flag: undefined },
  allowHosts: { env: "KAFKA_ALLOW_HOSTS", flag: undefined },
  jarsDir: { env: "KAFKA_JARS_DIR", flag: undefined },
  topic: { env: "ORDERS_TOPIC", flag: "topic" },
  dlqTopic: { env: "DLQ_TOPIC", flag: "dlq-topic" },
  partitions: { env: "ORDERS_PARTITIONS", flag: "partitions" },
  replicationFactor: { env: "REPLICATION_FACTOR", flag: undefined },
  groupId: { env: "TRACKER_GROUP_ID", flag: "group" },
  dataDir: { env: "DATA_DIR", flag: "data-dir" },
  stateDir: { env: "STATE_DIR", flag: undefined },
  rate: { env: "PRODUCER_RATE", flag: "rate" },
  count: { env: "PRODUCER_COUNT", flag: "count" },
  duration: { env: "PRODUCER_DURATION_S", flag: "duration" },
  seed: { env: "PRODUCER_SEED", flag: "seed" },
  acksLog: { env: "PRODUCER_ACKS_LOG", flag: "acks-log" },
  logLevel: { env: "LOG_LEVEL", flag: "log-level" },
  brokerReadyTimeoutMs: { env: "BROKER_READY_TIMEOUT_MS", flag: undefined },
  stopTimeoutMs: { env: "STOP_TIMEOUT_MS", flag: undefined },
} as const satisfies Record<string, { env: string; flag: string | undefined }>;

/** The environment variables this project reads. */
export const CONFIG_ENV_VARS: readonly string[] = Object.values(SETTINGS).map((
  s,
) => s.env);

/** Files and directories derived from the data directory. */
export interface Paths {
  readonly dataDir: string;
  readonly auditFile: string;
  readonly healthLog: string;
  readonly quarantineFile: string;
  readonly trackerLock: string;
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
    readonly acksLog: string | undefined;
  };
  readonly monitor: {
    /** Print the current figures as text and exit (no terminal needed). */
    readonly once: boolean;
    /** Print the current view model as JSON and exit. */
    readonly json: boolean;
  };
  readonly logLevel: LogLevel;
  readonly brokerReadyTimeoutMs: number;
  readonly stopTimeoutMs: number;
}

/** A setting has a bad value. Entries print the message and exit with code 2. */
export class ConfigError extends Error {
  override name = "ConfigError";
}

type Env = Readonly<Record<string, string | undefined>>;
type SettingName = keyof typeof SETTINGS;

const FLAG_OPTIONS = {
  brokers: { type: "string" },
  topic: { type: "string" },
  "dlq-topic": { type: "string" },
  partitions: { type: "string" },
  group: { type: "string" },
  "data-dir": { type: "string" },
  rate: { type: "string" },
  count: { type: "string" },
  duration: { type: "string" },
  seed: { type: "string" },
  "acks-log": { type: "string" },
  "log-level": { type: "string" },
  once: { type: "boolean" },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

/** Help text listing the flags; entries print it for `--help`. */
export function usage(command: string): string {
  const lines = Object.values(SETTINGS)
    .filter((s) => s.flag !== undefined)
    .map((s) => `  --${s.flag!.padEnd(12)} (env ${s.env})`);
  return [
    `Usage: ${command} [flags]`,
    "",
    "Flags:",
    ...lines,
    "  --once         monitor: print the current figures and exit",
    "  --json         monitor: print the current view as JSON and exit",
  ].join("\n");
}

/**
 * Builds the configuration from the environment and the command-line arguments.
 *
 * @example
 * ```ts
 * const config = resolveConfig(Deno.env.toObject(), Deno.args);
 * ```
 * @throws {ConfigError} naming the setting whose value is bad
 */
export function resolveConfig(
  env: Env,
  args: readonly string[] = [],
): Config & { readonly help: boolean } {
  let flags: Record<string, string | boolean | undefined>;
  try {
    flags = parseArgs({
      args: [...args],
      options: FLAG_OPTIONS,
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (error) {
    throw new ConfigError(
      `Cannot read flags: ${(error as Error).message.split("\n")[0]}`,
      { cause: error },
    );
  }

  const raw = (name: SettingName): { value: string; source: string } | undefined => {
    const setting = SETTINGS[name];
    const flagValue = setting.flag === undefined ? undefined : flags[setting.flag];
    if (typeof flagValue === "string") {
      return { value: flagValue, source: `--${setting.flag}` };
    }
    const envValue = env[setting.env];
    if (envValue !== undefined && envValue !== "") {
      return { value: envValue, source: setting.env };
    }
    return undefined;
  };
  const bad = (source: string, value: string, expected: string): never => {
    throw new ConfigError(
      `Cannot read configuration: ${source} is "${value}", expected ${expected}`,
    );
  };
  const integer = (
    name: SettingName,
    fallback: number,
    { min, max = Number.MAX_SAFE_INTEGER }: { min: number; max?: number },
  ): number => {
    const given = raw(name);
    if (given === undefined) return fallback;
    const n = Number(given.value.trim());
    if (!/^-?\d+$/.test(given.value.trim()) || n < min || n > max) {
      bad(given.source, given.value, `an integer from ${min} to ${max}`);
    }
    return n;
  };
  const nonNegative = (name: SettingName, fallback: number): number => {
    const given = raw(name);
    if (given === undefined) return fallback;
    const n = Number(given.value.trim());
    if (given.value.trim() === "" || !Number.isFinite(n) || n < 0) {
      bad(given.source, given.value, "a number >= 0");
    }
    return n;
  };
  const name = (setting: SettingName, fallback: string): string => {
    const given = raw(setting);
    if (given === undefined) return fallback;
    // Kafka's legal topic and group characters; also keeps names safe in file paths.
    if (!/^[A-Za-z0-9._-]{1,249}$/.test(given.value)) {
      bad(given.source, given.value, "1-249 characters of A-Z a-z 0-9 . _ -");
    }
    return given.value;
  };
  const oneOf = <T extends string>(
    setting: SettingName,
    allowed: readonly T[],
    fallback: T,
  ): T => {
    const given = raw(setting);
    if (given === undefined) return fallback;
    const value = given.value.toLowerCase();
    if (!(allowed as readonly string[]).includes(value)) {
      bad(given.source, given.value, `one of ${allowed.join(", ")}`);
    }
    return value as T;
  };
  const path = (setting: SettingName, fallback: string): string => {
    const given = raw(setting);
    if (given === undefined) return fallback;
    if (given.value.includes(",") || given.value.trim() !== given.value) {
      bad(given.source, given.value, "a path without commas or surrounding spaces");
    }
    return given.value;
  };

  const brokerPort = integer("brokerPort", DEFAULTS.brokerPort, { min: 1, max: 65535 });
  const controllerPort = integer("controllerPort", DEFAULTS.controllerPort, {
    min: 1,
    max: 65535,
  });
  if (brokerPort === controllerPort) {
    throw new ConfigError(
      `Cannot read configuration: KAFKA_CONTROLLER_PORT equals KAFKA_PORT (${brokerPort}), expected two different ports`,
    );
  }

  const givenBrokers = raw("brokers");
  const brokers = givenBrokers === undefined
    ? [`${DEFAULTS.brokerHost}:${brokerPort}`]
    : hostPortList(givenBrokers.source, givenBrokers.value, { allowEmpty: false });
  const givenAllow = raw("allowHosts");
  const allowHosts = givenAllow === undefined
    ? []
    : hostPortList(givenAllow.source, givenAllow.value, { allowEmpty: true });

  const dataDir = path("dataDir", DEFAULTS.dataDir);
  const stateDir = path("stateDir", DEFAULTS.stateDir);
  const givenSeed = raw("seed");
  const seed = givenSeed === undefined
    ? undefined
    : integer("seed", 0, { min: 0, max: 2 ** 32 - 1 });
  const acksLog = raw("acksLog") === undefined ? undefined : path("acksLog", "");
  const topic = name("topic", ORDERS_TOPIC);
  const dlqTopic = name("dlqTopic", DLQ_TOPIC);
  if (topic === dlqTopic) {
    throw new ConfigError(
      `Cannot read configuration: DLQ_TOPIC equals ORDERS_TOPIC ("${topic}"), expected two different topics`,
    );
  }

  const config = {
    help: flags.help === true,
    brokers,
    externalCluster: givenBrokers !== undefined,
    provider: oneOf("provider", BROKER_PROVIDERS, "auto"),
    brokerPort,
    controllerPort,
    allowHosts,
    jarsDir: path("jarsDir", DEFAULTS.jarsDir),
    topic,
    dlqTopic,
    partitions: integer("partitions", DEFAULTS.partitions, { min: 1, max: 1000 }),
    replicationFactor: integer("replicationFactor", DEFAULTS.replicationFactor, {
      min: 1,
      max: 32,
    }),
    groupId: name("groupId", TRACKER_GROUP_ID),
    paths: {
      dataDir,
      auditFile: join(dataDir, AUDIT_FILE_NAME),
      healthLog: join(dataDir, HEALTH_LOG_FILE_NAME),
      quarantineFile: join(dataDir, QUARANTINE_FILE_NAME),
      trackerLock: join(dataDir, TRACKER_LOCK_FILE_NAME),
      stateDir,
      runDir: join(stateDir, RUN_DIR_NAME),
      brokerDir: join(stateDir, BROKER_DIR_NAME),
    },
    producer: {
      ratePerSec: nonNegative("rate", DEFAULTS.producerRatePerSec),
      count: integer("count", 0, { min: 0 }),
      durationMs: Math.round(nonNegative("duration", 0) * 1000),
      seed,
      acksLog,
    },
    monitor: { once: flags.once === true, json: flags.json === true },
    logLevel: oneOf("logLevel", LOG_LEVELS, DEFAULTS.logLevel),
    brokerReadyTimeoutMs: integer("brokerReadyTimeoutMs", DEFAULTS.brokerReadyTimeoutMs, {
      min: 1000,
    }),
    stopTimeoutMs: integer("stopTimeoutMs", DEFAULTS.stopTimeoutMs, { min: 100 }),
  };
  return deepFreeze(config);
}

/**
 * The configuration of a command from this process's environment and `args`,
 * or the exit code to end with: 2 after printing a bad setting, 0 after
 * printing the help that `--help` asked for.
 *
 * @example
 * ```ts
 * const config = loadConfig(Deno.args, { command: "deno task tracker" });
 * if (typeof config === "number") return config;
 * ```
 */
export function loadConfig(
  args: readonly string[],
  { command }: { command: string },
): Config | number {
  let config: ReturnType<typeof resolveConfig>;
  try {
    config = resolveConfig(readConfigEnv(), args);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(error.message);
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

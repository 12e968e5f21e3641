/**
 * The one place for settings: defaults, environment variables and command-line
 * flags become one validated, typed, frozen Config. Precedence: flag, env, default.
 *
 * The settings themselves, with their defaults and help, are the table in
 * settings.ts; a default goes through the same parser as a user's input.
 *
 * `resolveConfig` is pure (the entry passes in the environment and the
 * arguments), so it is tested without any permission.
 * Long (about 680 lines) because every setting's type, check and derived
 * path lives here once; the table itself is in settings.ts.
 */
import { parseArgs } from "node:util";
import {
  type Command,
  CONFIG_ENV_VARS,
  flagOptions,
  type SettingName,
  SETTINGS,
  type SettingSpec,
  usage,
} from "./settings.ts";
import { join } from "node:path";
import {
  AUDIT_FILE_NAME,
  BROKER_DIR_NAME,
  CHECKPOINT_FILE_NAME,
  EXIT,
  HEALTH_LOG_FILE_NAME,
  PRODUCER_ACKS_FILE_NAME,
  PRODUCER_DIR_NAME,
  PRODUCER_LOG_FILE_NAME,
  QUARANTINE_FILE_NAME,
  REDRIVE_DIR_NAME,
  REDRIVE_FILE_NAME,
  RUN_DIR_NAME,
  SUMMARY_FILE_NAME,
  TRACKER_LOCK_FILE_NAME,
} from "./constants.ts";
import {
  type BrokerNode,
  brokerNodes,
  MAX_BROKER_COUNT,
  portLayoutProblem,
} from "./cluster_layout.ts";
import {
  type KafkaSecurity,
  SASL_MECHANISMS,
  type SaslSettings,
  Secret,
  type TlsSettings,
} from "./kafka_security.ts";

/** How the broker is provided when KAFKA_BROKERS is not set. */
export const BROKER_PROVIDERS = ["auto", "docker", "jvm"] as const;
export type BrokerProvider = typeof BROKER_PROVIDERS[number];

export const LOG_LEVELS = ["debug", "info", "warning", "error"] as const;
export type LogLevel = typeof LOG_LEVELS[number];

/** Files and directories derived from the data directory. */
export interface Paths {
  readonly dataDir: string;
  readonly auditFile: string;
  /** The trail's checkpoint: state and counts at a position, so start-up need not reread the trail. */
  readonly checkpointFile: string;
  readonly healthLog: string;
  /** The trail summary (trail_summary.ts): the monitor's figures without reading the trail. */
  readonly summaryFile: string;
  readonly quarantineFile: string;
  readonly trackerLock: string;
  /** The producer's own files: its health log (lifecycle records `start` waits for). */
  readonly producerDir: string;
  readonly producerLog: string;
  /** What `dlq:redrive` sent back (redrive_record.ts), alone in its directory. */
  readonly redriveDir: string;
  readonly redriveRecord: string;
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
  /** The nodes of the local cluster (KAFKA_BROKER_COUNT, 1 by default) and their ports. */
  readonly nodes: readonly BrokerNode[];
  /** JVM options of the local broker's heap. */
  readonly brokerHeapOpts: readonly string[];
  /** Extra host:port pairs processes may connect to (advertised listeners of an external cluster). */
  readonly allowHosts: readonly string[];
  /** TLS and SASL of every Kafka client (kafka.ts builds each client from it). */
  readonly kafkaSecurity: KafkaSecurity;
  /** The local JVM broker's extra TLS + SCRAM listener; undefined when off. */
  readonly saslSslPort: number | undefined;
  readonly jarsDir: string;
  readonly topic: string;
  readonly dlqTopic: string;
  readonly partitions: number;
  /** Undefined: min(3, brokers in the cluster), asked from the cluster. */
  readonly replicationFactor: number | undefined;
  /** Undefined: one less than a replication factor of 3 or more, else the broker's default. */
  readonly minInsyncReplicas: number | undefined;
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
  /** How long a one-shot command tries to reach Kafka before it gives up. */
  readonly connectTimeoutMs: number;
  readonly logLevel: LogLevel;
  /** Milliseconds between the monitor dashboard's frames. */
  readonly monitorRefreshMs: number;
  /** Where the tracker serves Prometheus metrics; undefined when it serves none. */
  readonly metrics: { readonly hostname: string; readonly port: number } | undefined;
  readonly brokerReadyTimeoutMs: number;
  readonly stopTimeoutMs: number;
  /** Stop once this PID is no longer the parent's; undefined: run on. */
  readonly stopWithParent: number | undefined;
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
  const nodes = brokerNodes({
    port: brokerPort,
    controllerPort,
    count: read.integer("brokerCount", { min: 1, max: MAX_BROKER_COUNT }),
  });
  const clash = portLayoutProblem(nodes);
  if (clash !== undefined) {
    throw new ConfigError(
      `Cannot read configuration: with KAFKA_PORT ${brokerPort}, KAFKA_CONTROLLER_PORT ${controllerPort} and KAFKA_BROKER_COUNT ${nodes.length}, ${clash}; choose ports further apart`,
    );
  }
  const givenBrokers = read.raw("brokers");
  const brokers = givenBrokers === undefined
    ? nodes.map((node) => `127.0.0.1:${node.port}`)
    : hostPortList(givenBrokers.source, givenBrokers.value, { allowEmpty: false });
  const givenAllow = read.raw("allowHosts");
  const allowHosts = givenAllow === undefined
    ? []
    : hostPortList(givenAllow.source, givenAllow.value, { allowEmpty: true });
  const kafkaSecurity = securitySettings(read);
  if (givenBrokers === undefined && (kafkaSecurity.tls || kafkaSecurity.sasl)) {
    throw new ConfigError(
      `Cannot read configuration: ${
        kafkaSecurity.sasl ? "KAFKA_SASL_MECHANISM" : "KAFKA_TLS"
      } is set but KAFKA_BROKERS is not, and the local broker's listener takes neither TLS nor SASL; set KAFKA_BROKERS to the cluster's secure listener`,
    );
  }
  const saslSslPort = read.raw("saslSslPort") === undefined
    ? undefined
    : read.integer("saslSslPort", { min: 1, max: 65535 });
  if (saslSslPort !== undefined && nodes.length > 1) {
    throw new ConfigError(
      `Cannot read configuration: KAFKA_SASL_SSL_PORT is set with KAFKA_BROKER_COUNT ${nodes.length}, expected a single broker (the SASL_SSL listener is one broker's)`,
    );
  }
  if (saslSslPort === brokerPort || saslSslPort === controllerPort) {
    throw new ConfigError(
      `Cannot read configuration: KAFKA_SASL_SSL_PORT equals KAFKA_PORT or KAFKA_CONTROLLER_PORT (${saslSslPort}), expected a port of its own`,
    );
  }
  const topic = read.name("topic");
  const dlqTopic = read.name("dlqTopic");
  if (topic === dlqTopic) {
    throw new ConfigError(
      `Cannot read configuration: DLQ_TOPIC equals ORDERS_TOPIC ("${topic}"), expected two different topics`,
    );
  }
  const replicationFactor = read.raw("replicationFactor") === undefined
    ? undefined
    : read.integer("replicationFactor", { min: 1, max: 32 });
  const minInsyncReplicas = read.raw("minInsyncReplicas") === undefined
    ? undefined
    : read.integer("minInsyncReplicas", { min: 1, max: 32 });
  if (
    replicationFactor !== undefined && minInsyncReplicas !== undefined &&
    minInsyncReplicas > replicationFactor
  ) {
    throw new ConfigError(
      `Cannot read configuration: MIN_INSYNC_REPLICAS (${minInsyncReplicas}) is above REPLICATION_FACTOR (${replicationFactor}), expected at most as many`,
    );
  }
  const paths = pipelinePaths(read.path("dataDir")!, read.path("stateDir")!);
  const acksLog = read.path("acksLog");
  const metricsPort = read.raw("metricsPort") === undefined
    ? 0
    : read.integer("metricsPort", { min: 0, max: 65535 });

  const config = {
    help: flags.help === true,
    options: flags,
    brokers,
    externalCluster: givenBrokers !== undefined,
    provider: read.oneOf("provider", BROKER_PROVIDERS),
    brokerPort,
    controllerPort,
    nodes,
    brokerHeapOpts: read.words("brokerHeapOpts"),
    allowHosts,
    kafkaSecurity,
    saslSslPort,
    jarsDir: read.path("jarsDir")!,
    topic,
    dlqTopic,
    partitions: read.integer("partitions", { min: 1, max: 1000 }),
    replicationFactor,
    minInsyncReplicas,
    groupId: read.name("groupId"),
    paths,
    producer: {
      ratePerSec: read.nonNegative("rate"),
      count: read.integer("count", { min: 0 }),
      durationMs: Math.round(read.nonNegative("duration") * 1000),
      seed: read.raw("seed") === undefined
        ? undefined
        : read.integer("seed", { min: 0, max: 2 ** 32 - 1 }),
      acksLog: acksLog === "none"
        ? undefined
        : acksLog ?? join(paths.producerDir, PRODUCER_ACKS_FILE_NAME),
    },
    segmentBytes: read.bytes("segmentBytes", { min: 64 * 1024 }),
    retentionBytes: read.bytes("retentionBytes", { min: 0 }),
    healthLog: {
      maxBytes: read.bytes("healthLogBytes", { min: 64 * 1024 }),
      files: read.integer("healthLogFiles", { min: 1, max: 1000 }),
    },
    dlqTimeoutMs: read.integer("dlqTimeoutMs", { min: 1000 }),
    connectTimeoutMs: read.integer("connectTimeoutMs", { min: 100 }),
    logLevel: read.oneOf("logLevel", LOG_LEVELS),
    monitorRefreshMs: read.integer("monitorRefreshMs", { min: 20, max: 10_000 }),
    metrics: metricsPort === 0
      ? undefined
      : { hostname: read.host("metricsHost"), port: metricsPort },
    brokerReadyTimeoutMs: read.integer("brokerReadyTimeoutMs", { min: 1000 }),
    stopTimeoutMs: read.integer("stopTimeoutMs", { min: 100 }),
    stopWithParent: read.raw("stopWithParent") === undefined
      ? undefined
      : read.integer("stopWithParent", { min: 1 }),
    testBrokerPort: read.integer("testBrokerPort", { min: 1, max: 65533 }),
  };
  return deepFreeze(config);
}

/**
 * The TLS and SASL settings, checked as a whole: TLS is on when asked for or
 * when a TLS file or name is given; a client certificate needs its key; SASL
 * needs a mechanism, a user name and exactly one password source. A password
 * is never quoted in an error.
 */
function securitySettings(read: SettingReader): KafkaSecurity {
  const caFile = read.path("tlsCaFile");
  const certFile = read.path("tlsCertFile");
  const keyFile = read.path("tlsKeyFile");
  const serverName = read.hostName("tlsServerName");
  const tlsGiven = read.raw("tls");
  const tlsDetail = [
    caFile && "KAFKA_TLS_CA_FILE",
    certFile && "KAFKA_TLS_CERT_FILE",
    keyFile && "KAFKA_TLS_KEY_FILE",
    serverName && "KAFKA_TLS_SERVER_NAME",
  ].find((name) => name);
  const tlsOn = tlsGiven === undefined ? tlsDetail !== undefined : read.boolean("tls");
  if (!tlsOn && tlsDetail) {
    throw new ConfigError(
      `Cannot read configuration: KAFKA_TLS is "${tlsGiven?.value}" but ${tlsDetail} is set, expected KAFKA_TLS=true or no TLS settings`,
    );
  }
  if ((certFile === undefined) !== (keyFile === undefined)) {
    throw new ConfigError(
      `Cannot read configuration: ${
        certFile
          ? "KAFKA_TLS_CERT_FILE is set but KAFKA_TLS_KEY_FILE is not"
          : "KAFKA_TLS_KEY_FILE is set but KAFKA_TLS_CERT_FILE is not"
      }, expected a client certificate and its key together`,
    );
  }
  const tls: TlsSettings | undefined = tlsOn
    ? { caFile, certFile, keyFile, serverName }
    : undefined;

  const username = read.raw("saslUsername");
  const password = read.raw("saslPassword");
  const passwordFile = read.path("saslPasswordFile");
  if (read.raw("saslMechanism") === undefined) {
    const stray = [
      username && "KAFKA_SASL_USERNAME",
      password && "KAFKA_SASL_PASSWORD",
      passwordFile && "KAFKA_SASL_PASSWORD_FILE",
    ].find((name) => name);
    if (stray) {
      throw new ConfigError(
        `Cannot read configuration: ${stray} is set but KAFKA_SASL_MECHANISM is not, expected one of ${
          SASL_MECHANISMS.join(", ")
        }`,
      );
    }
    return { tls, sasl: undefined };
  }
  const mechanism = read.oneOf("saslMechanism", SASL_MECHANISMS);
  if (username === undefined) {
    throw new ConfigError(
      `Cannot read configuration: KAFKA_SASL_MECHANISM is ${mechanism} but KAFKA_SASL_USERNAME is not set, expected the user name`,
    );
  }
  if ((password === undefined) === (passwordFile === undefined)) {
    throw new ConfigError(
      `Cannot read configuration: ${
        password
          ? "both KAFKA_SASL_PASSWORD and KAFKA_SASL_PASSWORD_FILE are set"
          : "KAFKA_SASL_MECHANISM is " + mechanism + " but no password is set"
      }, expected one of KAFKA_SASL_PASSWORD or KAFKA_SASL_PASSWORD_FILE`,
    );
  }
  const sasl: SaslSettings = {
    mechanism,
    username: username.value,
    password: password ? { secret: new Secret(password.value) } : { file: passwordFile! },
  };
  return { tls, sasl };
}

/** The files of a pipeline whose data lives in `dataDir` and whose process state in `stateDir`. */
export function pipelinePaths(dataDir: string, stateDir: string): Paths {
  const producerDir = join(dataDir, PRODUCER_DIR_NAME);
  const redriveDir = join(dataDir, REDRIVE_DIR_NAME);
  return {
    dataDir,
    auditFile: join(dataDir, AUDIT_FILE_NAME),
    checkpointFile: join(dataDir, CHECKPOINT_FILE_NAME),
    healthLog: join(dataDir, HEALTH_LOG_FILE_NAME),
    summaryFile: join(dataDir, SUMMARY_FILE_NAME),
    quarantineFile: join(dataDir, QUARANTINE_FILE_NAME),
    trackerLock: join(dataDir, TRACKER_LOCK_FILE_NAME),
    producerDir,
    producerLog: join(producerDir, PRODUCER_LOG_FILE_NAME),
    redriveDir,
    redriveRecord: join(redriveDir, REDRIVE_FILE_NAME),
    stateDir,
    runDir: join(stateDir, RUN_DIR_NAME),
    brokerDir: join(stateDir, BROKER_DIR_NAME),
  };
}

/**
 * Reads and validates one setting at a time: flag, then env, then the table's
 * default. Long (about 130 lines) as an object of short readers, one per kind of value.
 */
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
    boolean(name: SettingName): boolean {
      const given = required(name);
      const lower = given.value.trim().toLowerCase();
      if (!["true", "false", "1", "0"].includes(lower)) {
        bad(given.source, given.value, "true or false");
      }
      return lower === "true" || lower === "1";
    },
    /** A DNS name (a certificate's subject): letters, digits, dots, hyphens. */
    hostName(name: SettingName): string | undefined {
      const given = raw(name);
      if (given === undefined) return undefined;
      if (!/^[A-Za-z0-9.-]{1,253}$/.test(given.value)) {
        bad(given.source, given.value, "a host name (letters, digits, dots and hyphens)");
      }
      return given.value;
    },
    /** A host name or IPv4 address, as `--allow-net` and `Deno.serve` take it. */
    host(name: SettingName): string {
      const given = required(name);
      if (!/^[A-Za-z0-9](?:[A-Za-z0-9.-]{0,252})$/.test(given.value)) {
        bad(given.source, given.value, "a host name or IPv4 address, e.g. 127.0.0.1");
      }
      return given.value;
    },
    words(name: SettingName): string[] {
      return required(name).value.split(/\s+/).filter(Boolean);
    },
  };
}

type SettingReader = ReturnType<typeof settingReader>;

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
  { command, env = readConfigEnv() }: {
    command: Command;
    /** The settings' variables (default: this process's). */
    env?: Env;
  },
): (Config & { readonly options: OptionValues }) | number {
  let config: ReturnType<typeof resolveConfig>;
  try {
    config = resolveConfig(env, args, { command });
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(configErrorText(error, command));
    return EXIT.badConfig;
  }
  if (config.help) {
    console.log(usage(command));
    return EXIT.ok;
  }
  const unreadable = (SETTINGS.tlsCaFile.commands as readonly Command[]).includes(command)
    ? securityFileProblem(config.kafkaSecurity, readTextFile)
    : undefined;
  if (unreadable !== undefined) {
    console.error(configErrorText(unreadable, command));
    return EXIT.badConfig;
  }
  return config;
}

function readTextFile(path: string): string {
  return Deno.readTextFileSync(path);
}

/**
 * The first of the files the security settings name that cannot be used: it
 * cannot be read, a PEM file holds no PEM block, a password file is empty.
 * Their contents are never quoted.
 *
 * @param read reads a file's text (throws when it cannot)
 */
export function securityFileProblem(
  security: KafkaSecurity,
  read: (path: string) => string,
): ConfigError | undefined {
  const { tls, sasl } = security;
  const files: Array<[env: string, path: string | undefined, kind: "pem" | "password"]> = [
    ["KAFKA_TLS_CA_FILE", tls?.caFile, "pem"],
    ["KAFKA_TLS_CERT_FILE", tls?.certFile, "pem"],
    ["KAFKA_TLS_KEY_FILE", tls?.keyFile, "pem"],
    [
      "KAFKA_SASL_PASSWORD_FILE",
      sasl && "file" in sasl.password ? sasl.password.file : undefined,
      "password",
    ],
  ];
  for (const [env, path, kind] of files) {
    if (path === undefined) continue;
    let text: string;
    try {
      text = read(path);
    } catch (error) {
      const reason = error instanceof Deno.errors.NotFound
        ? "no such file"
        : error instanceof Deno.errors.PermissionDenied
        ? "permission denied"
        : error instanceof Deno.errors.NotCapable
        ? "this process may not read it"
        : (error as Error).name;
      return new ConfigError(
        `Cannot read configuration: ${env} is "${path}", which cannot be read (${reason})`,
        { cause: error },
      );
    }
    if (kind === "pem" && !text.includes("-----BEGIN ")) {
      return new ConfigError(
        `Cannot read configuration: ${env} is "${path}", expected a PEM file (-----BEGIN …)`,
      );
    }
    if (kind === "password" && firstLine(text) === "") {
      return new ConfigError(
        `Cannot read configuration: ${env} is "${path}", whose first line is empty, expected the password`,
      );
    }
  }
  return undefined;
}

/** A password file's password: its first line, without the line break. */
export function firstLine(text: string): string {
  return text.split(/\r?\n/, 1)[0] ?? "";
}

/** How a bad setting reads for the user of `command`: the error and where the settings are listed. */
export function configErrorText(error: ConfigError, command: Command): string {
  const task = command === "broker" ? "broker:up" : command;
  return `${error.message} (deno task ${task} --help lists the settings)`;
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

/**
 * What a user may set, as one table: each setting's environment variable,
 * flag, default (written as a user would type it), a line of help and the
 * commands that use it, plus each command's own options and examples. Every
 * other view derives from it: the flag parser's options, `--help` of each
 * command, the variables a process may read, the README's settings table (a
 * test compares them). Long because it is the table itself; config.ts turns
 * it into a Config. Pure.
 */
import {
  DLQ_TOPIC,
  KAFKA_VERSION,
  ORDERS_TOPIC,
  STATUS_KAFKA_TIMEOUT_MS,
  TRACKER_GROUP_ID,
} from "./constants.ts";

/** The commands (deno.json tasks) whose `--help` lists settings. */
export const COMMANDS = [
  "start",
  "stop",
  "status",
  "monitor",
  "producer",
  "tracker",
  "verify",
  "topics",
  "broker",
  "test",
  "bench:producer",
  "bench:tracker",
  "bench:e2e",
  "bench:compare",
  "dlq:inspect",
  "dlq:redrive",
] as const;
export type Command = typeof COMMANDS[number];

const KAFKA_CLIENTS = [
  "start",
  "status",
  "producer",
  "tracker",
  "verify",
  "topics",
  "test",
  "bench:producer",
  "bench:tracker",
  "bench:e2e",
  "bench:compare",
  "dlq:inspect",
  "dlq:redrive",
] as const satisfies readonly Command[];
const LOCAL_BROKER = ["start", "stop", "broker", "test"] as const satisfies readonly Command[];
const PIPELINE = [
  "start",
  "stop",
  "status",
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
  /** Commands with a default of their own (the benchmarks'), as a user would type it. */
  readonly commandDefaults?: Partial<Record<Command, string>>;
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
  tls: {
    env: "KAFKA_TLS",
    shownDefault: "`false`; `true` when a `KAFKA_TLS_*` setting is given",
    help:
      "`true` to talk TLS to the brokers (checked against the bundled CAs unless `KAFKA_TLS_CA_FILE`)",
    commands: KAFKA_CLIENTS,
  },
  tlsCaFile: {
    env: "KAFKA_TLS_CA_FILE",
    help:
      "PEM file of the CA(s) that signed the brokers' certificates (a private or self-signed CA)",
    commands: KAFKA_CLIENTS,
  },
  tlsCertFile: {
    env: "KAFKA_TLS_CERT_FILE",
    help:
      "PEM client certificate, for a cluster that wants one (mutual TLS); needs `KAFKA_TLS_KEY_FILE`",
    commands: KAFKA_CLIENTS,
  },
  tlsKeyFile: {
    env: "KAFKA_TLS_KEY_FILE",
    help: "PEM private key of `KAFKA_TLS_CERT_FILE` (unencrypted)",
    commands: KAFKA_CLIENTS,
  },
  tlsServerName: {
    env: "KAFKA_TLS_SERVER_NAME",
    shownDefault: "each broker's host",
    help:
      "the name the brokers' certificates must carry, sent as SNI (for brokers reached by IP or tunnel)",
    commands: KAFKA_CLIENTS,
  },
  saslMechanism: {
    env: "KAFKA_SASL_MECHANISM",
    shownDefault: "none",
    help: "SASL authentication: `plain`, `scram-sha-256` or `scram-sha-512`",
    commands: KAFKA_CLIENTS,
  },
  saslUsername: {
    env: "KAFKA_SASL_USERNAME",
    help: "SASL user name (Confluent Cloud: the API key)",
    commands: KAFKA_CLIENTS,
  },
  saslPassword: {
    env: "KAFKA_SASL_PASSWORD",
    help:
      "SASL password (Confluent Cloud: the API secret); never printed. Prefer `KAFKA_SASL_PASSWORD_FILE`",
    commands: KAFKA_CLIENTS,
  },
  saslPasswordFile: {
    env: "KAFKA_SASL_PASSWORD_FILE",
    help: "file whose first line is the SASL password (instead of `KAFKA_SASL_PASSWORD`)",
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
    commands: [...LOCAL_BROKER, "status"],
  },
  brokerCount: {
    env: "KAFKA_BROKER_COUNT",
    default: "1",
    help:
      "nodes of the local KRaft cluster, 1 to 5; node i listens on `KAFKA_PORT`+2(i-1), its controller on the controller port +2(i-1): 9092/9093, 9094/9095, 9096/9097; give every command the same value",
    commands: [...KAFKA_CLIENTS, "stop", "broker"],
  },
  provider: {
    env: "KAFKA_PROVIDER",
    default: "auto",
    help: "`auto` (Docker if an engine answers, else JVM), `docker` or `jvm`",
    commands: [...LOCAL_BROKER, "status"],
  },
  jarsDir: {
    env: "KAFKA_JARS_DIR",
    default: `.cache/kafka-${KAFKA_VERSION}`,
    help: "where Maven puts the broker's jars (and, in `tools/`, those of Kafka's benchmark tools)",
    commands: [...LOCAL_BROKER, "bench:compare"],
  },
  brokerHeapOpts: {
    env: "KAFKA_HEAP_OPTS",
    default: "-Xms256m -Xmx512m",
    help: "JVM heap of the local broker",
    commands: LOCAL_BROKER,
  },
  saslSslPort: {
    env: "KAFKA_SASL_SSL_PORT",
    shownDefault: "off",
    help:
      "the JVM broker also listens here with TLS and SASL (SCRAM-SHA-512/256, PLAIN) for one user; its CA, password file and `client.env` are made in `<STATE_DIR>/kafka/sasl_ssl/`",
    commands: LOCAL_BROKER,
  },
  topic: {
    env: "ORDERS_TOPIC",
    flag: "topic",
    default: ORDERS_TOPIC,
    help: "topic of order events",
    // Not the benchmarks': each makes and deletes topics of its own.
    commands: [...KAFKA_CLIENTS.filter((command) => !command.startsWith("bench:")), "monitor"],
  },
  dlqTopic: {
    env: "DLQ_TOPIC",
    flag: "dlq-topic",
    default: DLQ_TOPIC,
    help: "dead-letter topic",
    commands: [
      "start",
      "status",
      "tracker",
      "verify",
      "topics",
      "dlq:inspect",
      "dlq:redrive",
    ],
  },
  partitions: {
    env: "ORDERS_PARTITIONS",
    flag: "partitions",
    default: "3",
    help: "partitions of the orders topic when created; for a benchmark, of the topics it makes",
    commands: ["start", "topics", "bench:producer", "bench:tracker", "bench:e2e", "bench:compare"],
  },
  replicationFactor: {
    env: "REPLICATION_FACTOR",
    shownDefault: "min(3, brokers)",
    help:
      "replication factor of both topics when created (default: as many as the cluster has brokers, at most 3)",
    commands: ["start", "topics"],
  },
  minInsyncReplicas: {
    env: "MIN_INSYNC_REPLICAS",
    shownDefault: "RF-1 from RF 3",
    help:
      "`min.insync.replicas` of both topics when created (default: one less than a replication factor of 3 or more, else the broker's)",
    commands: ["start", "topics"],
  },
  groupId: {
    env: "TRACKER_GROUP_ID",
    flag: "group",
    default: TRACKER_GROUP_ID,
    help: "consumer group of the tracker",
    commands: ["start", "status", "tracker", "verify"],
  },
  dataDir: {
    env: "DATA_DIR",
    flag: "data-dir",
    default: "data",
    help:
      "the pipeline's files: the tracker's `tracker.events` and `tracker.log`, the producer's `producer/`, the record of `dlq:redrive` in `redrive/`",
    commands: [...PIPELINE, "dlq:redrive"],
  },
  stateDir: {
    env: "STATE_DIR",
    default: ".state",
    help: "PID files, process output, the local broker's data",
    commands: [...LOCAL_BROKER, "status", "bench:tracker", "bench:e2e", "bench:compare"],
  },
  rate: {
    env: "PRODUCER_RATE",
    flag: "rate",
    default: "5",
    commandDefaults: { "bench:e2e": "5000", "bench:compare": "5000" },
    help: "orders per second; `0` = as fast as possible",
    commands: ["start", "producer", "bench:e2e", "bench:compare"],
  },
  count: {
    env: "PRODUCER_COUNT",
    flag: "count",
    default: "0",
    commandDefaults: {
      "bench:producer": "50000",
      "bench:tracker": "50000",
      "bench:compare": "100000",
    },
    help: "orders to send; `0` = no limit",
    commands: ["start", "producer", "bench:producer", "bench:tracker", "bench:compare"],
  },
  duration: {
    env: "PRODUCER_DURATION_S",
    flag: "duration",
    default: "0",
    commandDefaults: { "bench:e2e": "30", "bench:compare": "30" },
    help: "seconds to run; `0` = no limit",
    commands: ["start", "producer", "bench:e2e", "bench:compare"],
  },
  seed: {
    env: "PRODUCER_SEED",
    flag: "seed",
    shownDefault: "random",
    help: "makes the generated orders reproducible",
    commands: ["start", "producer", "bench:producer", "bench:tracker", "bench:e2e"],
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
  connectTimeoutMs: {
    env: "CONNECT_TIMEOUT_MS",
    default: "5000",
    help:
      "how long a one-shot command (producer with `--count` or `--duration`, topics, verify, benchmarks) tries to reach Kafka before it exits 1; the tracker and an endless producer wait for ever",
    commands: [
      "start",
      "producer",
      "verify",
      "topics",
      "bench:producer",
      "bench:tracker",
      "bench:e2e",
      "bench:compare",
      "dlq:inspect",
      "dlq:redrive",
    ],
  },
  metricsPort: {
    env: "METRICS_PORT",
    shownDefault: "off",
    help: "port of the tracker's Prometheus endpoint (`/metrics`); unset or `0` serves none",
    commands: ["start", "tracker"],
  },
  metricsHost: {
    env: "METRICS_HOST",
    default: "127.0.0.1",
    help: "address the Prometheus endpoint listens on (`0.0.0.0`: every interface)",
    commands: ["start", "tracker"],
  },
  logLevel: {
    env: "LOG_LEVEL",
    flag: "log-level",
    default: "info",
    help: "`debug`, `info`, `warning` or `error`",
    commands: ["start", "producer", "tracker"],
  },
  monitorRefreshMs: {
    env: "MONITOR_REFRESH_MS",
    flag: "refresh-ms",
    default: "100",
    help:
      "milliseconds between the dashboard's frames (`100`: 10 Hz); more is lighter on the CPU and a slow terminal link",
    commands: ["monitor"],
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
  stopWithParent: {
    env: "STOP_WITH_PARENT",
    shownDefault: "off",
    help:
      "a PID: stop as on SIGTERM once that process is no longer this one's parent (bench:e2e sets it for its tracker and producer, so they end with it, even when it is killed with SIGKILL)",
    commands: ["producer", "tracker"],
  },
  testBrokerPort: {
    env: "TEST_KAFKA_PORT",
    default: "19092",
    help:
      "port of the broker `deno task test` starts (controller: +1, SASL_SSL listener: +2; tests' own listeners: +10 to +19; three-broker tests: +100 to +105); keep them under 32768, below the ports Linux gives outgoing connections",
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
  status: {
    json: { type: "boolean", help: "print the same report as JSON" },
  },
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
  "dlq:inspect": {
    json: { type: "boolean", help: "print the report as JSON" },
  },
  "bench:producer": {
    json: { type: "boolean", help: "print one JSON result record instead of the report" },
  },
  "bench:tracker": {
    json: { type: "boolean", help: "print one JSON result record instead of the report" },
  },
  "bench:e2e": {
    json: { type: "boolean", help: "print one JSON result record instead of the report" },
    warmup: {
      type: "string",
      help:
        "seconds of producing before the measured --duration, left out of the figures (default 5)",
    },
  },
  "bench:compare": {
    rounds: {
      type: "string",
      help: "rounds of ours and Kafka's tools in turn; the figures are their medians (default 3)",
    },
    warmup: {
      type: "string",
      help: "seconds of bench:e2e's warm-up before its measured --duration (default 5)",
    },
    "latency-messages": {
      type: "string",
      help:
        "messages EndToEndLatency sends one at a time each round (default 10000; fewer for a distant cluster)",
    },
    json: { type: "boolean", help: "print the comparison as JSON" },
  },
  "dlq:redrive": {
    "dry-run": {
      type: "boolean",
      help: "count what would be sent, by reason; send and record nothing",
    },
    class: {
      type: "string",
      multiple: true,
      help: "only letters of this error class (repeatable, or comma-separated)",
    },
    since: {
      type: "string",
      help: "only letters that failed at or after this ISO time, or this long ago (30m, 2h, 7d)",
    },
    until: { type: "string", help: "only letters that failed before this time (as --since)" },
    "source-offsets": {
      type: "string",
      multiple: true,
      help: "only letters from these source offsets: PARTITION:FROM-TO[,FROM-TO] (repeatable)",
    },
    "max-redrives": {
      type: "string",
      help:
        "leave letters already redriven this many times (default 1: a copy rejected again stays)",
    },
    batch: { type: "string", help: "letters per send and record step (default 500)" },
    json: { type: "boolean", help: "print the summary as JSON" },
  },
};

/** One or two examples per command for `--help`. */
const EXAMPLES: Partial<Record<Command, readonly string[]>> = {
  start: ["deno task start", "KAFKA_BROKERS=kafka-1:9092 deno task start --rate 50"],
  stop: ["deno task stop", "STOP_TIMEOUT_MS=30000 deno task stop"],
  topics: ["deno task topics", "ORDERS_PARTITIONS=6 deno task topics --topic orders-6"],
  broker: ["deno task broker:up", "KAFKA_PROVIDER=jvm KAFKA_PORT=9192 deno task broker:down"],
  "bench:producer": ["deno task bench:producer", "deno task bench:producer --count 200000"],
  "bench:tracker": ["deno task bench:tracker", "deno task bench:tracker --count 1000000"],
  "bench:e2e": [
    "deno task bench:e2e",
    "deno task bench:e2e --rate 10000 --duration 60 --warmup 10",
  ],
  "bench:compare": [
    "deno task bench:compare",
    "deno task bench:compare --rounds 5 --count 300000 --duration 10",
  ],
  status: ["deno task status", "deno task status --json --data-dir /srv/orders"],
  producer: ["deno task producer --count 1000 --rate 0", "deno task producer --seed 7 --rate 20"],
  tracker: [
    "deno task tracker",
    "deno task tracker --data-dir /srv/orders --group audit-2",
    "METRICS_PORT=9464 deno task tracker",
  ],
  monitor: ["deno task monitor", "deno task monitor --once"],
  verify: ["deno task verify", "deno task verify --offline --json"],
  "dlq:inspect": ["deno task dlq:inspect", "deno task dlq:inspect --json"],
  "dlq:redrive": [
    "deno task dlq:redrive --class validation --dry-run",
    "deno task dlq:redrive --since 2h --source-offsets 0:100-200",
  ],
  test: ["deno task test", "deno task test tests/order_test.ts --filter total"],
};

/** What a command's `--help` says after its examples: rules a user relies on. */
const NOTES: Partial<Record<Command, readonly string[]>> = {
  status: [
    "Exit code 0 when everything that should run runs: the broker (unless KAFKA_BROKERS",
    `names an external cluster), Kafka answering within ${
      STATUS_KAFKA_TIMEOUT_MS / 1000
    } s, the tracker, and the producer`,
    "(or a producer that finished: its last lifecycle record is `stopped` with nothing",
    "failed, indeterminate or unsent, as after a --count or --duration run). 1 otherwise.",
    "Give it the settings `start` was given (--data-dir, KAFKA_PORT, STATE_DIR, ...).",
  ],
  "bench:compare": [
    "Each round runs bench:producer, ProducerPerformance, bench:tracker, ConsumerPerformance,",
    "bench:e2e and EndToEndLatency in turn on the same cluster; the tools get records of our",
    "orders' mean size. Kafka's tools are fetched with Maven on first use (needs java and mvn).",
    "Exit code 1 when a run fails or bench:e2e reports an order missing.",
  ],
  "bench:e2e": [
    "--duration is the seconds measured, after the warm-up.",
    "Exit code 1 when an acknowledged order is missing from the audit trail, the producer",
    "could not send every order, or the producer or tracker did not stop cleanly.",
  ],
};

/** What follows the task's name where it is not this project's flags. */
const ARGUMENTS: Partial<Record<Command, string>> = {
  test: "[files and flags for deno test]",
};

/** The environment variables this project reads. */
export const CONFIG_ENV_VARS: readonly string[] = Object.values(SETTINGS).map((s) => s.env);

/**
 * The settings among parsed `flags` as the environment variables that carry
 * them to a child process (`start` passes its flags on this way).
 */
export function settingsEnv(flags: Readonly<Record<string, unknown>>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const spec of Object.values(SETTINGS) as SettingSpec[]) {
    const value = spec.flag === undefined ? undefined : flags[spec.flag];
    if (typeof value === "string") env[spec.env] = value;
  }
  return env;
}

/**
 * The flag parser's options: --help, the flags of the settings `command` uses
 * and its own options (for no command: every flag there is).
 */
export function flagOptions(
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

function defaultText(spec: SettingSpec, command: Command): string {
  return spec.commandDefaults?.[command] ?? spec.default ?? spec.shownDefault ?? "";
}

/**
 * The default of `setting` for `command`: its own (a benchmark's) or the
 * setting's.
 */
export function commandDefault(
  setting: keyof typeof SETTINGS,
  command: Command,
): string | undefined {
  const spec: SettingSpec = SETTINGS[setting];
  return spec.commandDefaults?.[command] ?? spec.default;
}

/** `--help` of a command: its settings and options, each with meaning, default and variable. */
export function usage(command: Command): string {
  const settings = (Object.values(SETTINGS) as SettingSpec[]).filter((s) =>
    s.commands.includes(command)
  );
  const plain = (text: string) => text.replaceAll("`", "");
  // A command whose arguments are another program's reads its settings from the environment only.
  const takesFlags = ARGUMENTS[command] === undefined;
  const flagged = settings.filter((s) => takesFlags && s.flag !== undefined);
  const envOnly = settings.filter((s) => !takesFlags || s.flag === undefined);
  const options = Object.entries(COMMAND_OPTIONS[command] ?? {});
  const row = (left: string, help: string, spec?: SettingSpec) => {
    const extra = spec === undefined
      ? ""
      : ` (env ${spec.env}${
        defaultText(spec, command) ? `, default ${plain(defaultText(spec, command))}` : ""
      })`;
    return `  ${left.padEnd(24)} ${plain(help)}${extra}`;
  };
  const task = command === "broker" ? "broker:up | broker:down" : command;
  const lines = [`Usage: deno task ${task} ${ARGUMENTS[command] ?? "[flags]"}`];
  lines.push("", "Flags:");
  for (const [name, option] of options) {
    lines.push(row(`--${name}${option.type === "string" ? " VALUE" : ""}`, option.help));
  }
  for (const spec of flagged) lines.push(row(`--${spec.flag} VALUE`, spec.help, spec));
  lines.push(row("--help", "this help"));
  if (envOnly.length > 0) {
    lines.push("", "Environment:");
    for (const spec of envOnly) {
      lines.push(
        `  ${spec.env.padEnd(24)} ${plain(spec.help)}${
          defaultText(spec, command) ? ` (default ${plain(defaultText(spec, command))})` : ""
        }`,
      );
    }
  }
  const examples = EXAMPLES[command];
  if (examples) lines.push("", "Examples:", ...examples.map((e) => `  ${e}`));
  const notes = NOTES[command];
  if (notes) lines.push("", ...notes.map(plain));
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

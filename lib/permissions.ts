/**
 * The Deno permissions of each process, computed from the configuration, so
 * that every process gets only the hosts, paths and variables it uses even when
 * the brokers, ports or data directory are changed. Pure.
 */
import { dirname, join } from "node:path";
import { type Config, optionList, type OptionValues } from "./config.ts";
import { type Command, CONFIG_ENV_VARS } from "./settings.ts";
import { KAFKAJS_ENV_VARS } from "./constants.ts";
import { securityFiles } from "./kafka_security.ts";

/** The processes a task can run (one per command); each has its own permission set below. */
export type Role = Command;

/** Variables blessed reads to learn about the terminal. */
const TERMINAL_ENV_VARS = [
  "TERM",
  "TERMINFO",
  "TERMINFO_DIRS",
  "TERMCAP",
  "TERMPATH",
  "TERM_PROGRAM",
  "COLORTERM",
  "NCURSES_NO_UTF8_ACS",
  "NCURSES_CJK_WIDTH",
  "NCURSES_UNICODE",
  "NCURSES_NO_SETBUF",
  "NCURSES_NO_PADDING",
  "BLESSED_FORCE_MODES",
  "HOME",
  "DISPLAY",
  "TMUX",
  "VTE_VERSION",
  "TERMINATOR_UUID",
  "SHELL",
  "WINDIR",
  "LANG",
  "LANGUAGE",
  "LC_ALL",
  "LC_CTYPE",
  "ITERM_SESSION_ID",
  "NCURSES_NO_MAGIC_COOKIE",
  "NODE_V8_COVERAGE",
];

/**
 * Where blessed looks for terminal descriptions, in its own order. It treats a
 * denied read as fatal, so every place it tries must be readable.
 */
const TERMINFO_PATHS = [
  "/usr/share/terminfo",
  "/usr/share/lib/terminfo",
  "/usr/lib/terminfo",
  "/usr/local/share/terminfo",
  "/usr/local/share/lib/terminfo",
  "/usr/local/lib/terminfo",
  "/usr/local/ncurses/lib/terminfo",
  "/lib/terminfo",
  "/etc/terminfo",
  "/usr/share/misc/termcap",
  "/etc/termcap",
];

/** Every host:port a Kafka client of this configuration may have to reach. */
export function kafkaHosts(config: Config): string[] {
  return unique([...config.brokers, ...config.allowHosts]);
}

/**
 * The `deno run` permission flags of a role.
 *
 * @param options.projectDir the project root, for reading the project's own files
 * @param options.home the user's home directory (the monitor reads ~/.terminfo)
 */
export function permissionFlags(
  role: Role,
  config: Config & { readonly options?: OptionValues },
  { projectDir, home }: { projectDir: string; home?: string | undefined },
): string[] {
  const { paths } = config;
  const kafkaEnv = [...CONFIG_ENV_VARS, ...KAFKAJS_ENV_VARS];
  const net = `--allow-net=${kafkaHosts(config).join(",")}`;
  const loopback = `--allow-net=127.0.0.1`;
  // A Kafka client reads the CA, client certificate, key and password file its settings name.
  const secrets = securityFiles(config.kafkaSecurity);
  const read = (dirs: string[]) => `--allow-read=${unique([...dirs, ...secrets]).join(",")}`;
  const env = (extra: string[] = []) => `--allow-env=${unique([...kafkaEnv, ...extra]).join(",")}`;
  // The order generator's thread loads its code (lib/ and faker) as a worker,
  // which Deno checks as a read.
  const generatorCode = [join(projectDir, "lib"), join(projectDir, "node_modules")];
  const orchestration = [
    // Orchestrators read the project's files (pom, compose file, scripts), the
    // state (PID files, process output), the data (health logs, to see a
    // process get ready) and the jars; they write only state, data and jars.
    `--allow-read=${unique([projectDir, paths.stateDir, paths.dataDir, config.jarsDir]).join(",")}`,
    `--allow-write=${paths.dataDir},${paths.stateDir},${config.jarsDir}`,
    // Whole environment: node:child_process copies it into the detached children.
    "--allow-env",
    // Whole: sending a signal to a PID needs it, and so does starting Deno,
    // whose path depends on how it was installed.
    "--allow-run",
  ];
  switch (role) {
    case "producer": {
      // Its own directory (health log, outcomes by default) and the directory of
      // an outcomes file given elsewhere (its segments are numbered files beside
      // it); never the trail.
      const { acksLog } = config.producer;
      const dirs = unique([paths.producerDir, ...(acksLog ? [dirname(acksLog) || "."] : [])]);
      return [
        "--no-prompt",
        net,
        env(),
        read([...dirs, ...generatorCode]),
        `--allow-write=${dirs.join(",")}`,
      ];
    }
    case "tracker": {
      // Its own directory: audit trail, health log, quarantine and lock file;
      // and the Prometheus endpoint's address when one is set. Its parsing
      // thread loads its code from lib/ as a worker, which Deno checks as a read.
      const { metrics } = config;
      return [
        "--no-prompt",
        metrics === undefined ? net : `${net},${metrics.hostname}:${metrics.port}`,
        env(),
        read([paths.dataDir, join(projectDir, "lib")]),
        `--allow-write=${paths.dataDir}`,
      ];
    }
    case "monitor":
      // The data directory, read only: the trail's segments (numbered as they
      // rotate), its checkpoint and the health log. No network, no writes.
      return [
        "--no-prompt",
        env(TERMINAL_ENV_VARS),
        `--allow-read=${
          [
            paths.dataDir,
            join(projectDir, "node_modules"),
            ...TERMINFO_PATHS,
            ...(home ? [join(home, ".terminfo"), join(home, ".termcap")] : []),
          ].join(",")
        }`,
      ];
    case "topics":
      return ["--no-prompt", net, env(), ...(secrets.length > 0 ? [read([])] : [])];
    case "bench:producer":
    case "bench:tracker": {
      // The benchmarks' scratch directory only: the tracker's data directory
      // there, each run's claim on what it makes and what killed runs left
      // (tasks/_bench_scratch.ts); and the generator's code, to produce.
      const scratch = join(paths.stateDir, "bench");
      return [
        "--no-prompt",
        net,
        env(),
        read([scratch, ...generatorCode]),
        `--allow-write=${scratch}`,
      ];
    }
    case "bench:e2e": {
      // Its scratch directory (the tracker's and producer's files, which it
      // reads) and the broker's PID file. All of --allow-run: it starts Deno
      // (whose path depends on how it was installed) for the tracker and the
      // producer, each with its own permissions; `ps` to recognise the broker;
      // `cat` for /proc/<pid>/stat, which Deno reads only under --allow-all.
      const scratch = join(paths.stateDir, "bench");
      return [
        "--no-prompt",
        net,
        env(),
        read([scratch, paths.runDir]),
        `--allow-write=${scratch}`,
        "--allow-run",
      ];
    }
    case "bench:compare": {
      // Its scratch directory (the client properties of Kafka's tools, which
      // hold the password: made there, removed after) and the tools' jars
      // (fetched once, marked complete). All of --allow-run: Deno for our
      // benchmarks (each with its own permissions), java and mvn for Kafka's
      // tools. Kafka: the brokers, for its scratch topics.
      const scratch = join(paths.stateDir, "bench");
      const tools = join(config.jarsDir, "tools");
      return [
        "--no-prompt",
        net,
        env(),
        read([scratch, tools]),
        `--allow-write=${scratch},${tools}`,
        "--allow-run",
      ];
    }
    case "status": {
      // Read only: the PID files and the recorded provider (the run directory,
      // not the broker's data beside it), the health logs and the trail's end
      // (data directory); never writes, so a stale PID file stays. `ps` for liveness, start times and memory; `docker` only
      // when the provider may be Docker (it is recorded in the run directory,
      // which this pure function cannot read). Kafka: the brokers only.
      const run = config.externalCluster || config.provider === "jvm" ? "ps" : "ps,docker";
      return [
        "--no-prompt",
        net,
        env(),
        read([paths.dataDir, paths.runDir]),
        `--allow-run=${run}`,
      ];
    }
    case "verify": {
      // Reads the trails it is given (their segments are numbered files beside
      // them; default the data directory's) and the outcomes file; asks Kafka
      // for offsets and dead letters.
      const given = optionList(config.options ?? {}, "audit");
      const trails = given.length > 0 ? given.map((path) => dirname(path) || ".") : [paths.dataDir];
      const { acksLog } = config.producer;
      return [
        "--no-prompt",
        net,
        env(),
        read([...trails, ...(acksLog ? [dirname(acksLog) || "."] : [])]),
      ];
    }
    case "dlq:inspect":
      // Reads the dead-letter topic; no files but the security settings' own.
      return ["--no-prompt", net, env(), ...(secrets.length > 0 ? [read([])] : [])];
    case "dlq:redrive": {
      // Reads the DLQ, writes the orders topic; its record's directory only.
      const dir = paths.redriveDir;
      return ["--no-prompt", net, env(), read([dir]), `--allow-write=${dir}`];
    }
    case "broker":
    case "start":
    case "stop":
    case "test":
      // Loopback only: the local broker's readiness. Kafka work goes to children with `net`.
      return ["--no-prompt", loopback, ...orchestration];
  }
}

function unique(values: string[]): string[] {
  return [...new Set(values)];
}

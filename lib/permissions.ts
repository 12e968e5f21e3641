/**
 * The Deno permissions of each process, computed from the configuration, so
 * that every process gets only the hosts, paths and variables it uses even when
 * the brokers, ports or data directory are changed. Pure.
 */
import { join } from "node:path";
import { type Config, CONFIG_ENV_VARS } from "./config.ts";
import { KAFKAJS_ENV_VARS } from "./constants.ts";

/** What can be run, and the entry module of each. */
export const ROLES = {
  producer: "producer.ts",
  tracker: "tracker.ts",
  monitor: "monitor.ts",
  topics: "tasks/create_topics.ts",
  broker: "tasks/broker.ts",
  start: "tasks/start.ts",
  stop: "tasks/stop.ts",
  test: "tasks/test.ts",
} as const;
export type Role = keyof typeof ROLES;

/** Where terminal descriptions live; blessed reads them to draw. */
const TERMINFO_DIRS = ["/usr/share/terminfo", "/lib/terminfo", "/etc/terminfo"];

/** Every host:port a Kafka client of this configuration may have to reach. */
export function kafkaHosts(config: Config): string[] {
  return unique([...config.brokers, ...config.allowHosts]);
}

/**
 * The `deno run` permission flags of a role.
 *
 * @param options.projectDir the project root, for reading the project's own files
 */
export function permissionFlags(
  role: Role,
  config: Config,
  { projectDir }: { projectDir: string },
): string[] {
  const { paths } = config;
  const kafkaEnv = [...CONFIG_ENV_VARS, ...KAFKAJS_ENV_VARS];
  const net = `--allow-net=${kafkaHosts(config).join(",")}`;
  const loopback = `--allow-net=127.0.0.1`;
  const env = (extra: string[] = []) => `--allow-env=${unique([...kafkaEnv, ...extra]).join(",")}`;
  const orchestration = [
    // Orchestrators read the project's files (pom, compose file) and write only its state.
    `--allow-read`,
    `--allow-write=${paths.dataDir},${paths.stateDir},${config.jarsDir}`,
    // Whole environment: node:child_process copies it into the detached children.
    "--allow-env",
    // Whole: sending a signal to a PID needs it, and so does starting Deno,
    // whose path depends on how it was installed.
    "--allow-run",
  ];
  switch (role) {
    case "producer": {
      const files = config.producer.acksLog === undefined ? [] : [config.producer.acksLog];
      return [
        "--no-prompt",
        net,
        env(),
        ...(files.length ? [`--allow-write=${files.join(",")}`] : []),
      ];
    }
    case "tracker": {
      // Its own directory: audit trail, health log, quarantine and lock file.
      return [
        "--no-prompt",
        net,
        env(),
        `--allow-read=${paths.dataDir}`,
        `--allow-write=${paths.dataDir}`,
      ];
    }
    case "monitor":
      return [
        "--no-prompt",
        env(["TERM", "TERMINFO", "COLORTERM", "NCURSES_NO_UTF8_ACS", "LANG", "LC_ALL", "LC_CTYPE"]),
        `--allow-read=${
          [
            paths.auditFile,
            paths.healthLog,
            join(projectDir, "node_modules"),
            ...TERMINFO_DIRS,
          ].join(",")
        }`,
      ];
    case "topics":
      return ["--no-prompt", net, env()];
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

/**
 * `deno task test`: starts a broker of its own (ports 19092/19093, a SASL_SSL
 * listener on 19094, state in .state/test, so a running `deno task start` is
 * left alone; or the cluster KAFKA_BROKERS names), runs the unit and
 * integration tests against it, and stops it again, also when tests fail or
 * are interrupted. Arguments go to
 * `deno test` (e.g. a file or `--filter`). A JUnit report is written to
 * .state/test/junit.xml (.state/test-<port>/ with another TEST_KAFKA_PORT).
 *
 * Permissions: as tasks/start.ts.
 */
import { join } from "node:path";
import { type Config, loadConfig, readConfigEnv } from "../lib/config.ts";
import { usage } from "../lib/settings.ts";
import { SETTINGS } from "../lib/settings.ts";
import { EXIT } from "../lib/constants.ts";
import { brokerDown, brokerProcess, brokerUp } from "./_broker.ts";
import { runningPid } from "./_process.ts";
import { runCommand } from "./_command.ts";
import { PROJECT_DIR } from "./_project_dir.ts";

/** State of the test broker; another TEST_KAFKA_PORT gets its own, so two runs can coexist. */
export function testStateDir(port: number): string {
  return port === Number(SETTINGS.testBrokerPort.default) ? ".state/test" : `.state/test-${port}`;
}

/**
 * Where the suite's ports lie, from TEST_KAFKA_PORT: the broker's controller
 * and SASL_SSL listener, tests' own listeners (`LISTENERS` of them) and the
 * three-broker tests' cluster (two ports a node).
 */
export const TEST_PORT_OFFSETS = {
  controller: 1,
  saslSsl: 2,
  listeners: 10,
  cluster: 100,
} as const;
export const TEST_LISTENERS = 10;
const CLUSTER_PORTS = 3 * 2;

/** The ports the suite listens on for TEST_KAFKA_PORT `port`, as first and last of the span. */
export function testPortSpan(port: number): { first: number; last: number } {
  return { first: port, last: port + TEST_PORT_OFFSETS.cluster + CLUSTER_PORTS - 1 };
}

/** Where Linux lists the ports it gives outgoing connections: "32768\t60999". */
const EPHEMERAL_PORT_RANGE_FILE = "/proc/sys/net/ipv4/ip_local_port_range";

/**
 * A warning when the suite's ports reach into the range the machine gives
 * outgoing connections their local ports from (the text of
 * EPHEMERAL_PORT_RANGE_FILE): any client connection may hold one of them, and
 * the test that listens there then fails. Undefined when they do not, or when
 * the range is unknown (not Linux, not readable).
 */
export function ephemeralPortWarning(
  port: number,
  rangeText: string | undefined,
): string | undefined {
  const match = rangeText?.trim().match(/^(\d+)\s+(\d+)$/);
  if (!match) return undefined;
  const [low, high] = [Number(match[1]), Number(match[2])];
  const { first, last } = testPortSpan(port);
  if (last < low || first > high) return undefined;
  const span = last - first + 1;
  const advice = low - span >= 1024
    ? `Set TEST_KAFKA_PORT to at most ${low - span}.`
    : high + span <= 65535
    ? `Set TEST_KAFKA_PORT to between ${high + 1} and ${65536 - span}.`
    : "No TEST_KAFKA_PORT leaves it: narrow the range (net.ipv4.ip_local_port_range).";
  return `Warning: TEST_KAFKA_PORT ${port} puts the tests' ports (${first}-${last}) in this machine's range for outgoing connections (${low}-${high}): a client's connection can hold one, and a test that listens there fails. ${advice}`;
}

/** The settings of the test broker: the user's, with test ports and state directory. */
export function testEnv(
  env: Record<string, string | undefined>,
  port: number,
): Record<string, string> {
  const testEnv: Record<string, string> = {
    KAFKA_PORT: String(port),
    KAFKA_CONTROLLER_PORT: String(port + TEST_PORT_OFFSETS.controller),
    STATE_DIR: testStateDir(port),
    // A second listener with TLS and SCRAM, for the tests of the clients' security settings.
    KAFKA_SASL_SSL_PORT: String(port + TEST_PORT_OFFSETS.saslSsl),
    // One broker for the suite; the cluster test starts its own three (tests/support.ts).
    KAFKA_BROKER_COUNT: "1",
    LOG_LEVEL: env.LOG_LEVEL ?? "warning",
  };
  if (env.KAFKA_BROKERS) testEnv.KAFKA_BROKERS = env.KAFKA_BROKERS;
  if (env.KAFKA_PROVIDER) testEnv.KAFKA_PROVIDER = env.KAFKA_PROVIDER;
  return testEnv;
}

async function runTests(config: Config, args: string[]): Promise<number> {
  const junit = join(config.paths.stateDir, "junit.xml");
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "test",
      "--no-prompt",
      "--allow-net=127.0.0.1",
      "--allow-read",
      `--allow-write`,
      "--allow-env",
      "--allow-run",
      `--junit-path=${junit}`,
      ...(args.length > 0 ? args : ["tests/"]),
    ],
    cwd: PROJECT_DIR,
    env: {
      KAFKA_BROKERS: config.brokers.join(","),
      STATE_DIR: config.paths.stateDir,
      // Tests that kill the broker skip a cluster they did not start.
      TEST_EXTERNAL_CLUSTER: config.externalCluster ? "1" : "0",
    },
    stdin: "null",
  }).spawn();
  const { code } = await child.status;
  return code;
}

async function main(): Promise<number> {
  // Deno.args are `deno test`'s (but --help is ours): the settings come from the environment only.
  if (Deno.args.includes("--help")) {
    console.log(usage("test"));
    return EXIT.ok;
  }
  const env = readConfigEnv();
  const user = loadConfig([], { command: "test", env });
  if (typeof user === "number") return user;
  const config = loadConfig([], {
    command: "test",
    env: { ...env, ...testEnv(env, user.testBrokerPort) },
  });
  if (typeof config === "number") return config;
  // Through `cat`: Deno reads /proc only under --allow-all.
  const range = await runCommand("cat", [EPHEMERAL_PORT_RANGE_FILE]).catch(() => undefined);
  const rangeText = range?.code === 0 ? range.output : undefined;
  const warning = ephemeralPortWarning(user.testBrokerPort, rangeText);
  if (warning) console.error(warning);
  // Ctrl+C reaches `deno test` through the process group; stay alive to stop the broker.
  const stayAlive = () => console.error("Interrupted: stopping the test broker");
  Deno.addSignalListener("SIGINT", stayAlive);
  Deno.addSignalListener("SIGTERM", stayAlive);
  try {
    if (!config.externalCluster && runningPid(brokerProcess(config), () => {}) === undefined) {
      // A fresh broker each run: old test topics do not pile up.
      await Deno.remove(config.paths.brokerDir, { recursive: true }).catch(() => {});
    }
    await brokerUp(config);
    return await runTests(config, Deno.args);
  } catch (error) {
    console.error((error as Error).message);
    return EXIT.failure;
  } finally {
    await brokerDown(config).catch((error) => console.error((error as Error).message));
    Deno.removeSignalListener("SIGINT", stayAlive);
    Deno.removeSignalListener("SIGTERM", stayAlive);
  }
}

if (import.meta.main) {
  Deno.exitCode = await main();
}

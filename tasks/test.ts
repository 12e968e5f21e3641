/**
 * `deno task test`: starts a broker of its own (ports 19092/19093 and state in
 * .state/test, so a running `deno task start` is left alone; or the cluster
 * KAFKA_BROKERS names), runs the unit and integration tests against it, and
 * stops it again, also when tests fail or are interrupted. Arguments go to
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
import { PROJECT_DIR } from "./_project_dir.ts";

/** State of the test broker; another TEST_KAFKA_PORT gets its own, so two runs can coexist. */
export function testStateDir(port: number): string {
  return port === Number(SETTINGS.testBrokerPort.default) ? ".state/test" : `.state/test-${port}`;
}

/** The settings of the test broker: the user's, with test ports and state directory. */
export function testEnv(
  env: Record<string, string | undefined>,
  port: number,
): Record<string, string> {
  const testEnv: Record<string, string> = {
    KAFKA_PORT: String(port),
    KAFKA_CONTROLLER_PORT: String(port + 1),
    STATE_DIR: testStateDir(port),
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

/**
 * Launcher behind every deno.json task: `tasks/run.ts <script> [args]` resolves
 * the configuration (a bad value is a one-line error, exit 2), then runs the
 * script in a child Deno with only the permissions lib/permissions.ts computes
 * for its role, forwarding signals and the exit code.
 *
 * Permissions: --allow-env (to read the settings), --allow-run (to start Deno,
 * whose path depends on how it was installed).
 */
import { join } from "node:path";
import { PROJECT_DIR } from "./_project_dir.ts";
import { ConfigError, configErrorText, readConfigEnv, resolveConfig } from "../lib/config.ts";
import { EXIT } from "../lib/constants.ts";
import { permissionFlags, type Role } from "../lib/permissions.ts";

/** The script each role runs (deno.json names the script; this gives its role). */
export const SCRIPTS: Readonly<Record<Role, string>> = {
  producer: "producer.ts",
  tracker: "tracker.ts",
  monitor: "monitor.ts",
  topics: "tasks/topics.ts",
  broker: "tasks/broker.ts",
  start: "tasks/start.ts",
  stop: "tasks/stop.ts",
  status: "tasks/status.ts",
  test: "tasks/test.ts",
  "bench:producer": "tasks/bench_producer.ts",
  "bench:tracker": "tasks/bench_tracker.ts",
  "bench:e2e": "tasks/bench_e2e.ts",
  "bench:compare": "tasks/bench_compare.ts",
  verify: "tasks/verify.ts",
  "dlq:inspect": "tasks/dlq_inspect.ts",
  "dlq:redrive": "tasks/dlq_redrive.ts",
};

/**
 * V8 flags of the roles that handle every order: semi-spaces of 16 MB. With
 * 64 MB (tried while a batch waited for its fdatasync before the next fetch,
 * to keep its messages from being promoted), each scavenge at 5,000 orders/s
 * copied a second of survivors (the dedup keys, open orders) and stopped the
 * tracker for 8–13 ms. Now that batches go back to KafkaJS before their sync,
 * 16 MB gives shorter pauses end to end and the same throughput on a backlog
 * (1M orders at ~40k/s, the second half as fast as the first).
 */
const ORDER_PATH_V8_FLAGS = ["--max-semi-space-size=16"];
const V8_FLAGS: Partial<Record<Role, readonly string[]>> = {
  tracker: ORDER_PATH_V8_FLAGS,
  "bench:tracker": ORDER_PATH_V8_FLAGS,
};

/** The role whose script is `script` (as deno.json names it), or undefined. */
export function roleOf(script: string): Role | undefined {
  return (Object.keys(SCRIPTS) as Role[]).find((role) => SCRIPTS[role] === script);
}

/**
 * The argument list that runs `role` with its own permissions. The broker role
 * takes an action (`up`, `down`) before its flags; test takes `deno test`'s.
 *
 * @param options.args the role's arguments
 * @param options.env the settings the child will see (default: this process's)
 * @throws {ConfigError} when a setting is bad
 */
export function denoRunArgs(
  role: Role,
  { args = [], env = { ...readConfigEnv(), HOME: Deno.env.get("HOME") } }: {
    args?: readonly string[];
    env?: Record<string, string | undefined>;
  } = {},
): string[] {
  const configArgs = role === "broker" ? args.slice(1) : role === "test" ? [] : args;
  const config = resolveConfig(env, configArgs, { command: role });
  const v8Flags = V8_FLAGS[role];
  return [
    "run",
    ...permissionFlags(role, config, { projectDir: PROJECT_DIR, home: env.HOME }),
    ...(v8Flags === undefined ? [] : [`--v8-flags=${v8Flags.join(",")}`]),
    join(PROJECT_DIR, SCRIPTS[role]),
    ...args,
  ];
}

async function main(): Promise<number> {
  const [script, ...args] = Deno.args;
  const role = script === undefined ? undefined : roleOf(script);
  if (role === undefined) {
    console.error(
      `Cannot run: unknown script "${script ?? ""}", expected one of ${
        Object.values(SCRIPTS).join(", ")
      }`,
    );
    return EXIT.badConfig;
  }
  let runArgs: string[];
  try {
    runArgs = denoRunArgs(role, { args });
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(configErrorText(error, role));
      return EXIT.badConfig;
    }
    throw error;
  }
  const child = new Deno.Command(Deno.execPath(), {
    args: runArgs,
    cwd: PROJECT_DIR,
    stdin: "inherit",
    stdout: "inherit",
    stderr: "inherit",
  }).spawn();
  // A terminal's Ctrl+C already reaches the child through the process group:
  // ignore it here (passing it on would look like a second Ctrl+C). A SIGTERM
  // sent to this launcher alone is passed on. Either way the child decides.
  const ignoreInterrupt = () => {};
  const forwardTerminate = () => {
    try {
      child.kill("SIGTERM");
    } catch {
      // The child has already exited.
    }
  };
  Deno.addSignalListener("SIGINT", ignoreInterrupt);
  Deno.addSignalListener("SIGTERM", forwardTerminate);
  const status = await child.status;
  Deno.removeSignalListener("SIGINT", ignoreInterrupt);
  Deno.removeSignalListener("SIGTERM", forwardTerminate);
  return status.signal === null ? status.code : 128 + signalNumber(status.signal);
}

function signalNumber(signal: Deno.Signal): number {
  return ({ SIGINT: 2, SIGKILL: 9, SIGTERM: 15 } as Partial<Record<Deno.Signal, number>>)[signal] ??
    1;
}

if (import.meta.main) {
  Deno.exitCode = await main();
}

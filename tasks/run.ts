/**
 * Launcher behind every deno.json task: resolves the configuration (a bad value
 * is a one-line error, exit 2), then runs the role's module in a child Deno with
 * only the permissions lib/permissions.ts computes for it, forwarding signals
 * and the exit code.
 *
 * Permissions: --allow-env (to read the settings), --allow-run (to start Deno,
 * whose path depends on how it was installed).
 */
import { join } from "node:path";
import { PROJECT_DIR } from "./project_dir.ts";
import { ConfigError, readConfigEnv, resolveConfig } from "../lib/config.ts";
import { EXIT } from "../lib/constants.ts";
import { permissionFlags, type Role, ROLES } from "../lib/permissions.ts";

/**
 * The argument list that runs `role` with its own permissions. The broker role
 * takes an action (`up`, `down`) before its flags; test and verify read their
 * settings from the environment only.
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
  // The broker takes an action first; test and verify take arguments of their own.
  const configArgs = role === "broker"
    ? args.slice(1)
    : role === "test" || role === "verify"
    ? []
    : args;
  const config = resolveConfig(env, configArgs);
  return [
    "run",
    ...permissionFlags(role, config, { projectDir: PROJECT_DIR, home: env.HOME }),
    join(PROJECT_DIR, ROLES[role]),
    ...args,
  ];
}

async function main(): Promise<number> {
  const [role, ...args] = Deno.args;
  if (role === undefined || !(role in ROLES)) {
    console.error(
      `Cannot run: unknown role "${role ?? ""}", expected one of ${Object.keys(ROLES).join(", ")}`,
    );
    return EXIT.badConfig;
  }
  let runArgs: string[];
  try {
    runArgs = denoRunArgs(role as Role, { args });
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
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

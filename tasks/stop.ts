/**
 * `deno task stop`: SIGTERM to the producer (stop intake), then the tracker (it
 * finishes its batch, syncs and commits), a bounded wait for each, SIGKILL only
 * after that (and said so); PID files removed; then the broker this project
 * started. Safe to run twice.
 *
 * Permissions: as tasks/start.ts.
 */
import { type Config, loadConfig } from "../lib/config.ts";
import { EXIT } from "../lib/constants.ts";
import { brokerDown } from "./_broker.ts";
import { PIPELINE_ROLES, pipelineProcess } from "./_pipeline.ts";
import { stopManaged } from "./_process.ts";

async function stop(config: Config): Promise<void> {
  for (const role of [...PIPELINE_ROLES].reverse()) {
    const outcome = await stopManaged(pipelineProcess(config, role), {
      timeoutMs: config.stopTimeoutMs,
    });
    console.log(
      {
        "not-running": `${role} was not running`,
        stopped: `Stopped ${role}`,
        killed:
          `${role} did not exit within ${config.stopTimeoutMs} ms of SIGTERM: killed it (SIGKILL)`,
      }[outcome],
    );
  }
  await brokerDown(config);
}

async function main(): Promise<number> {
  const config = loadConfig(Deno.args, { command: "stop" });
  if (typeof config === "number") return config;
  try {
    await stop(config);
    return EXIT.ok;
  } catch (error) {
    console.error((error as Error).message);
    return EXIT.failure;
  }
}

if (import.meta.main) {
  Deno.exitCode = await main();
}

/**
 * `deno task broker:up` / `deno task broker:down`: the local Kafka broker
 * alone (see `_broker.ts` for which provider runs it). `up` is a no-op when the
 * broker runs; `down` stops only what `up` started.
 *
 * Permissions: --allow-read, --allow-write to the state and jar directories,
 * --allow-net to 127.0.0.1 (readiness), --allow-run (java, mvn, docker), --allow-env.
 */
import { loadConfig } from "../lib/config.ts";
import { EXIT } from "../lib/constants.ts";
import { brokerDown, brokerUp } from "./_broker.ts";

async function main(): Promise<number> {
  const [action, ...args] = Deno.args;
  const config = loadConfig(args, { command: "broker" });
  if (typeof config === "number") return config;
  if (action !== "up" && action !== "down") {
    console.error(`Cannot run broker task: unknown action "${action ?? ""}", expected up or down`);
    return EXIT.badConfig;
  }
  try {
    if (action === "up") await brokerUp(config);
    else await brokerDown(config);
    return EXIT.ok;
  } catch (error) {
    console.error((error as Error).message);
    return EXIT.failure;
  }
}

if (import.meta.main) {
  Deno.exitCode = await main();
}

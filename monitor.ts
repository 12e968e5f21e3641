/**
 * Monitor entry: parse flags → build config → tail the tracker's health log
 * and audit trail and draw the dashboard (or, with --once / --json, print the
 * current figures and exit). Reads files only; no network.
 */
import { loadConfig, optionSet } from "./lib/config.ts";
import { EXIT } from "./lib/constants.ts";
import { printOnce, runDashboard } from "./lib/monitor_app.ts";
import { installShutdown } from "./lib/shutdown.ts";

async function main(): Promise<number> {
  const config = loadConfig(Deno.args, { command: "monitor" });
  if (typeof config === "number") return config;
  const { healthLog, auditFile, checkpointFile, summaryFile } = config.paths;
  const files = { healthLog, auditFile, checkpointFile, summaryFile };
  const json = optionSet(config.options, "json");
  if (json || optionSet(config.options, "once")) {
    console.log(await printOnce(files, { json }));
    return EXIT.ok;
  }
  if (!Deno.stdin.isTerminal() || !Deno.stdout.isTerminal()) {
    console.error(
      "Cannot open the dashboard: not a terminal. Use --once (text) or --json to print the current figures",
    );
    return EXIT.badConfig;
  }
  const shutdown = installShutdown({ hardDeadlineMs: 3_000 });
  try {
    await runDashboard(files, {
      signal: shutdown.signal,
      frameMs: config.monitorRefreshMs,
    });
    return EXIT.ok;
  } finally {
    shutdown.dispose();
  }
}

if (import.meta.main) {
  Deno.exitCode = await main();
}

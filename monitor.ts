/**
 * Monitor entry: parse flags → build config → tail the tracker's health log
 * and audit trail and draw the dashboard (or, with --once / --json, print the
 * current figures and exit). Reads two files; no network.
 */
import { loadConfig } from "./lib/config.ts";
import { EXIT } from "./lib/constants.ts";
import { MonitorFeed } from "./lib/monitor_feed.ts";
import { formatOnce, formatPanels, type Panels } from "./lib/monitor_format.ts";
import { installShutdown } from "./lib/shutdown.ts";

/** Redraws at most this often (the issue allows 5-10 Hz). */
const FRAME_MS = 100;
/** Time-based figures (rates, "silent") change with no new line: redraw anyway. */
const IDLE_REDRAW_MS = 1_000;

async function catchUp(feed: MonitorFeed): Promise<void> {
  while ((await feed.poll()).behindBytes > 0) { /* read the backlog in bounded chunks */ }
}

async function runDashboard(feed: MonitorFeed, signal: AbortSignal): Promise<void> {
  // Imported here so --once and --json never load the terminal library.
  const { Dashboard } = await import("./lib/dashboard.ts");
  let paused = false;
  let dirty = true;
  const done = Promise.withResolvers<void>();
  const dashboard = new Dashboard({
    quit: () => done.resolve(),
    togglePause: () => {
      paused = !paused;
      dirty = true;
    },
  }, { onResize: () => (dirty = true) });
  signal.addEventListener("abort", () => done.resolve(), { once: true });
  let lastDraw = 0;
  let shown: Panels | undefined;
  const status = (behindBytes: number) => {
    const state = paused ? "{yellow-bg}{black-fg} PAUSED {/}" : "{green-fg}live{/green-fg}";
    const backlog = behindBytes > 0
      ? `  reading history… ${Math.ceil(behindBytes / 1024)} KiB left`
      : "";
    return ` ${state}  q quit  p pause  tab switch pane  ↑↓ scroll  ? help${backlog}`;
  };
  try {
    while (true) {
      const tick = new Promise((resolve) => setTimeout(resolve, FRAME_MS));
      const { changed, behindBytes } = await feed.poll();
      const now = Date.now();
      if (!paused && (dirty || changed || now - lastDraw >= IDLE_REDRAW_MS)) {
        // Rows are cut to the current size, so a resize redraws from the view.
        shown = formatPanels(feed.model.view(now), { ...dashboard.widths(), tags: true });
        dashboard.draw(shown, { status: status(behindBytes) });
        lastDraw = now;
        dirty = false;
      } else if (paused && dirty && shown) {
        // Paused: the figures stay as they were; only the status line changes.
        dashboard.draw(shown, { status: status(behindBytes) });
        dirty = false;
      }
      const winner = await Promise.race([tick.then(() => "tick"), done.promise.then(() => "done")]);
      if (winner === "done") break;
    }
  } finally {
    dashboard.destroy();
  }
}

async function main(): Promise<number> {
  const config = loadConfig(Deno.args, { command: "deno task monitor" });
  if (typeof config === "number") return config;
  const feed = new MonitorFeed({
    healthLog: config.paths.healthLog,
    auditFile: config.paths.auditFile,
  });
  if (config.monitor.once || config.monitor.json) {
    await catchUp(feed);
    const view = feed.model.view(Date.now());
    console.log(
      config.monitor.json ? JSON.stringify(view, null, 2) : formatOnce(view, { width: 100 }),
    );
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
    await runDashboard(feed, shutdown.signal);
    return EXIT.ok;
  } finally {
    shutdown.dispose();
  }
}

if (import.meta.main) {
  Deno.exitCode = await main();
}

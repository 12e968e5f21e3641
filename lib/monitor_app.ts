/**
 * The monitor's run loop: catch up with the tracker's files, then either print
 * the current figures once (text or JSON) or redraw the dashboard at most once
 * a frame (MONITOR_REFRESH_MS) until quit or signalled. The terminal is imported only for the
 * dashboard, so `--once` and `--json` never load it.
 */
import { MonitorFeed, type MonitorFiles } from "./monitor_feed.ts";
import { formatOnce, formatPanels } from "./monitor_format.ts";
import type { View } from "./monitor_model.ts";

/** Time-based figures (rates, "silent") change with no new line: redraw anyway. */
const IDLE_REDRAW_MS = 1_000;
/**
 * The events pane shows the trail's newest lines at most this often. At
 * thousands of orders a second every row of it changes at each redraw, and
 * blessed parses, renders and writes every one: at 10 Hz that was half the
 * monitor's CPU. Rows that all change are not read faster than this anyway;
 * the other panes still change within a frame.
 */
const EVENTS_REDRAW_MS = 500;

export type { MonitorFiles };

/** Reads all there is now and prints the figures as text (or JSON). */
export async function printOnce(
  files: MonitorFiles,
  { json }: { json: boolean },
): Promise<string> {
  // No waiting for the next summary line: the trail after the last one is read at once.
  const feed = new MonitorFeed(files, { staleAfterMs: 0 });
  while ((await feed.poll()).behindBytes > 0) { /* read the backlog in bounded chunks */ }
  const view = feed.model.view(Date.now());
  feed.close();
  return json ? JSON.stringify(view, null, 2) : formatOnce(view, { width: 100 });
}

function statusLine({ paused, behindBytes }: { paused: boolean; behindBytes: number }): string {
  const state = paused ? "{yellow-bg}{black-fg} PAUSED {/}" : "{green-fg}live{/green-fg}";
  const backlog = behindBytes > 0
    ? `  reading history… ${Math.ceil(behindBytes / 1024)} KiB left`
    : "";
  return ` ${state}  q quit  p pause  tab switch pane  d dead letters  ↑↓ scroll  ? help${backlog}`;
}

/** Draws the live dashboard until the user quits or `signal` aborts; restores the terminal. */
export async function runDashboard(
  files: MonitorFiles,
  { signal, frameMs }: {
    signal: AbortSignal;
    /** Milliseconds between frames (MONITOR_REFRESH_MS). */
    frameMs: number;
  },
): Promise<void> {
  const { Dashboard } = await import("./dashboard.ts");
  const feed = new MonitorFeed(files);
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
  let lastEvents = 0;
  let shown: View | undefined;
  try {
    while (true) {
      const tick = new Promise((resolve) => setTimeout(resolve, frameMs));
      // Paused, the rows stay as they were: the trail's newest lines need not be read.
      const eventsDue = !paused && Date.now() - lastEvents >= EVENTS_REDRAW_MS;
      const { changed, eventsChanged, behindBytes } = await feed.poll({ events: eventsDue });
      const now = Date.now();
      if (eventsDue) lastEvents = now;
      const status = () => statusLine({ paused, behindBytes });
      if (!paused && (dirty || changed || eventsChanged || now - lastDraw >= IDLE_REDRAW_MS)) {
        // Rows are cut to the current size, so a resize redraws from the view;
        // live, the scrolling panes get the rows they can show.
        shown = feed.model.view(now);
        const panels = formatPanels(shown, {
          ...dashboard.widths(),
          rows: dashboard.rowsShown(),
          tags: true,
        });
        // Only the panes whose rows changed are drawn: none, often.
        dashboard.draw(panels, { status: status() });
        lastDraw = now;
        dirty = false;
      } else if (paused && dirty && shown) {
        // Paused: the figures stay as they were, with every row to scroll through.
        dashboard.draw(formatPanels(shown, { ...dashboard.widths(), tags: true }), {
          status: status(),
        });
        dirty = false;
      }
      const winner = await Promise.race([tick.then(() => "tick"), done.promise.then(() => "done")]);
      if (winner === "done") break;
    }
  } finally {
    feed.close();
    dashboard.destroy();
  }
}

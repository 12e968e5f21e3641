/**
 * The terminal shell of the monitor: the only module that imports blessed. It
 * lays out panes that follow the terminal's size, draws the rows
 * monitor_format.ts makes, and maps keys to actions. It never computes a figure.
 */
import blessed from "blessed";
import type { Panels } from "./monitor_format.ts";

export interface DashboardActions {
  quit(): void;
  togglePause(): void;
}

/** Inner widths (columns) of the panes. */
export interface PaneWidths {
  width: number;
  healthWidth: number;
  chartWidth: number;
  paneWidth: number;
}

const HELP = [
  "{bold}Keys{/bold}",
  "",
  "  q, Ctrl+C   quit",
  "  p           pause / resume the display",
  "  tab         switch between the log and event panes",
  "  d           dead letters by reason in place of the events",
  "  ↑ ↓ PgUp PgDn  scroll the selected pane",
  "  ?           this help (any key closes it)",
].join("\n");

export class Dashboard {
  #screen: blessed.Widgets.Screen;
  #headline: blessed.Widgets.BoxElement;
  #health: blessed.Widgets.BoxElement;
  #charts: blessed.Widgets.BoxElement;
  #logs: blessed.Widgets.BoxElement;
  #events: blessed.Widgets.BoxElement;
  #deadLetters: blessed.Widgets.BoxElement;
  #status: blessed.Widgets.BoxElement;
  #help: blessed.Widgets.BoxElement;
  #focused: "logs" | "events" = "events";
  #destroyed = false;

  /** Lays out the panes and binds the keys: long (about 90 lines) because it declares every box. */
  constructor(actions: DashboardActions, { onResize }: { onResize: () => void }) {
    this.#screen = blessed.screen({
      smartCSR: true,
      fullUnicode: true,
      title: "order-tracking monitor",
      autoPadding: true,
    });
    const pane = (options: blessed.Widgets.BoxOptions) =>
      blessed.box({
        parent: this.#screen,
        tags: true,
        border: { type: "line" },
        style: { border: { fg: "cyan" }, label: { fg: "cyan", bold: true } },
        ...options,
      });
    this.#headline = pane({ label: " order-tracking ", top: 0, left: 0, width: "100%", height: 6 });
    this.#health = pane({ label: " health ", top: 6, left: 0, width: "40%", height: 8 });
    this.#charts = pane({
      label: " last 5 minutes ",
      top: 6,
      left: "40%",
      width: "60%",
      height: 8,
    });
    const scrolling = {
      scrollable: true,
      alwaysScroll: true,
      keys: false,
      scrollbar: { ch: " ", style: { bg: "cyan" } },
    };
    this.#logs = pane({
      label: " health log ",
      top: 14,
      left: 0,
      width: "50%",
      bottom: 1,
      ...scrolling,
    });
    this.#events = pane({
      label: " audit events ",
      top: 14,
      left: "50%",
      width: "50%",
      bottom: 1,
      ...scrolling,
    });
    // Over the events pane, shown with `d`.
    this.#deadLetters = pane({
      label: " dead letters ",
      top: 14,
      left: "50%",
      width: "50%",
      bottom: 1,
      hidden: true,
    });
    this.#status = blessed.box({ parent: this.#screen, bottom: 0, left: 0, height: 1, tags: true });
    this.#help = blessed.box({
      parent: this.#screen,
      top: "center",
      left: "center",
      width: 58,
      height: 12,
      tags: true,
      hidden: true,
      border: { type: "line" },
      style: { border: { fg: "yellow" } },
      content: HELP,
    });

    this.#screen.key(["q", "C-c"], () => actions.quit());
    this.#screen.key(["p"], () => actions.togglePause());
    this.#screen.key(["?"], () => {
      this.#help.toggle();
      this.#screen.render();
    });
    this.#screen.key(["d"], () => {
      this.#deadLetters.toggle();
      this.#screen.render();
    });
    this.#screen.key(["tab"], () => {
      this.#focused = this.#focused === "logs" ? "events" : "logs";
      this.#highlight();
      this.#screen.render();
    });
    const scroll = (lines: number) => () => {
      (this.#focused === "logs" ? this.#logs : this.#events).scroll(lines);
      this.#screen.render();
    };
    this.#screen.key(["up", "k"], scroll(-1));
    this.#screen.key(["down", "j"], scroll(1));
    this.#screen.key(["pageup"], scroll(-10));
    this.#screen.key(["pagedown"], scroll(10));
    this.#screen.on("keypress", (_ch, key) => {
      if (!this.#help.hidden && key.full !== "?") {
        this.#help.hide();
        this.#screen.render();
      }
    });
    this.#screen.on("resize", onResize);
    this.#highlight();
  }

  #highlight(): void {
    this.#logs.style.border = { fg: this.#focused === "logs" ? "yellow" : "cyan" };
    this.#events.style.border = { fg: this.#focused === "events" ? "yellow" : "cyan" };
  }

  /** Inner widths of the panes at the current terminal size. */
  widths(): PaneWidths {
    const columns = Number(this.#screen.width);
    const inner = (share: number) => Math.max(10, Math.floor(columns * share) - 3);
    return {
      width: inner(1),
      healthWidth: inner(0.4),
      chartWidth: inner(0.6),
      // The scrolling panes give a column to their scrollbar.
      paneWidth: inner(0.5) - 1,
    };
  }

  /** Draws the panes. */
  draw(panels: Panels, { status }: { status: string }): void {
    if (this.#destroyed) return;
    this.#headline.setContent(panels.headline.join("\n"));
    this.#health.setContent(panels.health.join("\n"));
    this.#charts.setContent(panels.charts.join("\n"));
    for (const [box, rows] of [[this.#logs, panels.logs], [this.#events, panels.events]] as const) {
      const offset = box.getScroll();
      box.setContent(rows.join("\n"));
      box.setScroll(offset);
    }
    this.#deadLetters.setContent(panels.deadLetters.join("\n"));
    this.#status.setContent(status);
    this.#screen.render();
  }

  /** Restores the terminal. Idempotent. */
  destroy(): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    this.#screen.destroy();
  }
}

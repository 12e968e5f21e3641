/**
 * The terminal shell of the monitor: the only module that imports blessed. It
 * lays out panes that follow the terminal's size, draws the rows
 * monitor_format.ts makes, and maps keys to actions. It never computes a figure.
 * A frame sets the text of the panes that changed only, and has blessed draw
 * only those: blessed's own render goes through every cell of every pane.
 */
import blessed from "blessed";
import { changedPanes, type Pane, type Panels } from "./monitor_format.ts";

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

/** Rows PgUp and PgDn scroll. */
const SCROLL_PAGE_ROWS = 10;

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
  /** What the panes and the status line show, once drawn. */
  #shown: { panels: Panels; status: string } | undefined;
  /** Set when blessed has redrawn the screen on its own (a resize): every pane is drawn again. */
  #stale = false;

  /** Lays out the panes and binds the keys: long (about 90 lines) because it declares every box. */
  constructor(actions: DashboardActions, { onResize }: { onResize: () => void }) {
    answerAsciiWidths();
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
    this.#screen.key(["pageup"], scroll(-SCROLL_PAGE_ROWS));
    this.#screen.key(["pagedown"], scroll(SCROLL_PAGE_ROWS));
    this.#screen.on("keypress", (_ch, key) => {
      if (!this.#help.hidden && key.full !== "?") {
        this.#help.hide();
        this.#screen.render();
      }
    });
    this.#screen.on("resize", () => {
      this.#stale = true;
      onResize();
    });
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

  /**
   * How many rows of the log and event panes can be seen: down to the bottom
   * of what each shows at its scroll position, and a page more, so a key
   * scrolls into rows that are there before the next frame fills the rest.
   */
  rowsShown(): { logs: number; events: number } {
    const shown = (box: blessed.Widgets.BoxElement) =>
      box.getScroll() + Number(box.height) + SCROLL_PAGE_ROWS;
    return { logs: shown(this.#logs), events: shown(this.#events) };
  }

  /** Draws the panes whose rows changed, and the status line if it did; nothing when none did. */
  draw(panels: Panels, { status }: { status: string }): void {
    if (this.#destroyed) return;
    const shown = this.#stale ? undefined : this.#shown;
    const boxes = this.#boxes();
    const changed = changedPanes(shown?.panels, panels).map((pane) => {
      const box = boxes[pane];
      if (pane === "logs" || pane === "events") {
        const offset = box.getScroll();
        setText(box, panels[pane].join("\n"));
        // Setting the same offset still emits "scroll", on which a label redraws the whole screen.
        if (box.getScroll() !== offset) box.setScroll(offset);
      } else {
        setText(box, panels[pane].join("\n"));
      }
      return box;
    });
    if (status !== shown?.status) {
      setText(this.#status, status);
      changed.push(this.#status);
    }
    this.#shown = { panels, status };
    if (changed.length === 0) return;
    if (shown === undefined || !this.#help.hidden) {
      this.#screen.render(); // Everything, or the help box over the panes.
      this.#stale = false;
      return;
    }
    for (const box of changed) {
      // The dead-letter pane covers the events pane exactly while it is shown.
      if (box === this.#events && !this.#deadLetters.hidden) continue;
      box.render();
    }
    this.#screen.draw(0, Number(this.#screen.height) - 1);
  }

  #boxes(): Record<Pane, blessed.Widgets.BoxElement> {
    return {
      headline: this.#headline,
      health: this.#health,
      charts: this.#charts,
      logs: this.#logs,
      events: this.#events,
      deadLetters: this.#deadLetters,
    };
  }

  /** Restores the terminal. Idempotent. */
  destroy(): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    this.#screen.destroy();
  }
}

/**
 * Sets a box's text without blanking its cells first (blessed's `noClear`,
 * which its type declarations leave out): a pane keeps its place and size, and
 * its render covers every cell; blanking would also wipe a pane shown over it.
 */
function setText(box: blessed.Widgets.BoxElement, text: string): void {
  (box.setContent as (text: string, noClear: boolean) => void).call(box, text, true);
}

/** blessed's character widths, which its type declarations leave out. */
interface BlessedUnicode {
  charWidth(text: string | number, index?: number): number;
  asciiAnswered?: true;
}

/**
 * blessed asks `unicode.charWidth` for every cell of every row it draws, and
 * for each that is not a wide character it reads NCURSES_CJK_WIDTH from the
 * environment: under Deno a call into the runtime, measured at 0.7% of a core
 * at 10 Hz under 5k msg/s. Printable ASCII is one column whatever that says
 * (blessed's own answer too), so it is answered here without the lookup.
 */
function answerAsciiWidths(): void {
  const unicode = (blessed as unknown as { unicode: BlessedUnicode }).unicode;
  if (unicode.asciiAnswered) return;
  const charWidth = unicode.charWidth;
  unicode.charWidth = (text, index = 0) => {
    const code = typeof text === "number" ? text : text.charCodeAt(index);
    return code >= 0x20 && code < 0x7f ? 1 : charWidth(text, index);
  };
  unicode.asciiAnswered = true;
}

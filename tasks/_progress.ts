/**
 * A progress line for long work on a terminal (reading a big trail, a
 * benchmark, the first fetch of the broker's jars): rewritten in place on
 * stderr at most a few times a second, ended with a newline. Silent when
 * stderr is not a terminal, so logs and pipes get the results only.
 */

/** What a benchmark stopped by Ctrl+C or SIGTERM says (it then exits with EXIT.interrupted). */
export const BENCH_INTERRUPTED = "Interrupted: the benchmark stopped without figures";

/** How often the line is rewritten at most. */
const REDRAW_MS = 250;

export interface ProgressLine {
  /** Shows `text` (throttled). */
  update(text: string): void;
  /** Shows `text` at once and ends the line; later updates are ignored. */
  done(text?: string): void;
}

/**
 * A progress line on stderr.
 *
 * @param options.enabled write at all (default: stderr is a terminal)
 * @param options.write where the text goes (default: stderr)
 * @param options.now the clock (default: Date.now)
 */
export function progressLine(
  {
    enabled = Deno.stderr.isTerminal(),
    write = (text: string) => Deno.stderr.writeSync(new TextEncoder().encode(text)),
    now = Date.now,
  }: { enabled?: boolean; write?: (text: string) => void; now?: () => number } = {},
): ProgressLine {
  let drawnAt = -Infinity;
  let width = 0;
  let finished = !enabled;
  const draw = (text: string, end: string) => {
    // Pad over a longer previous text; "\r" returns to the start of the line.
    write(`\r${text.padEnd(width)}${end}`);
    width = text.length;
  };
  return {
    update(text) {
      if (finished || now() - drawnAt < REDRAW_MS) return;
      drawnAt = now();
      draw(text, "");
    },
    done(text) {
      if (finished) return;
      finished = true;
      if (text !== undefined) draw(text, "\n");
      else if (width > 0) write("\n");
    },
  };
}

/** "12.3 MB" from bytes (decimal units, as download sizes are shown). */
export function megabytes(bytes: number): string {
  return `${(bytes / 1e6).toFixed(1)} MB`;
}

/**
 * Progress of `total` items on a terminal: "Producing: 12,000 of 50,000 (24%)".
 * Returns the function to call with the count done so far.
 */
export function countProgress(
  label: string,
  total: number,
  line: ProgressLine = progressLine(),
): (done: number) => void {
  const of = total.toLocaleString("en-US");
  return (done) => {
    const text = `${label}: ${done.toLocaleString("en-US")} of ${of} (${
      Math.floor((done / total) * 100)
    }%)`;
    if (done >= total) line.done(text);
    else line.update(text);
  };
}

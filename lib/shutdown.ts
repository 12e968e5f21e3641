/**
 * One AbortController per process: SIGINT and SIGTERM abort it so every loop
 * stops taking work and drains. A second signal forces exit 130; a hard
 * deadline is the backstop for a shutdown that hangs.
 */
import { EXIT } from "./constants.ts";

export interface Shutdown {
  /** Aborted on the first SIGINT/SIGTERM (reason: the signal's name). */
  readonly signal: AbortSignal;
  /** Removes the signal handlers and the deadline; call when the process is done. */
  dispose(): void;
}

const SIGNALS = ["SIGINT", "SIGTERM"] as const;
/** Signals this soon after the first are copies of the same request. */
const DUPLICATE_WINDOW_MS = 1_000;

/**
 * Installs the handlers.
 *
 * @param options.hardDeadlineMs after the first signal, exit 1 if still running by then
 * @param options.onSignal told of each signal (for a log line)
 * @param options.exit ends the process when forced (default Deno.exit)
 */
export function installShutdown(
  { hardDeadlineMs, onSignal, exit = Deno.exit }: {
    hardDeadlineMs: number;
    onSignal?: (signal: Deno.Signal, forced: boolean) => void;
    /** How the process ends when forced (tests pass their own). */
    exit?: (code: number) => void;
  },
): Shutdown {
  const controller = new AbortController();
  let deadline: ReturnType<typeof setTimeout> | undefined;
  let firstAt = 0;
  const handler = (signal: Deno.Signal) => () => {
    // One request often arrives more than once: a terminal's Ctrl+C reaches
    // the whole process group, and `deno task` and the launcher pass signals
    // on. Only a signal sent later, on purpose, forces the exit.
    if (controller.signal.aborted && Date.now() - firstAt < DUPLICATE_WINDOW_MS) return;
    const forced = controller.signal.aborted;
    firstAt ||= Date.now();
    // Act first, tell after: telling can fail (a closed stdout when the
    // parent is gone) and must never keep the process from stopping.
    if (!forced) {
      controller.abort(signal);
      deadline = setTimeout(() => {
        try {
          console.error(`Shutdown did not finish within ${hardDeadlineMs} ms: exiting`);
        } finally {
          exit(EXIT.failure);
        }
      }, hardDeadlineMs);
      Deno.unrefTimer(deadline as unknown as number);
    }
    try {
      onSignal?.(signal, forced);
    } catch {
      // Nowhere left to report it.
    }
    if (forced) exit(EXIT.interrupted);
  };
  const installed = SIGNALS.map((signal) => {
    const listener = handler(signal);
    Deno.addSignalListener(signal, listener);
    return [signal, listener] as const;
  });
  return {
    signal: controller.signal,
    dispose() {
      clearTimeout(deadline);
      for (const [signal, listener] of installed) Deno.removeSignalListener(signal, listener);
    },
  };
}

/** How long a finished process may wait for its event loop to drain before it exits anyway. */
const EXIT_GRACE_MS = 3_000;

/**
 * Ends a process whose work is done with `code`. Cleanup has run; a client
 * still retrying in the background (a send abandoned at its deadline) must not
 * keep the process alive, so it exits anyway after `graceMs`.
 *
 * @param options.graceMs how long the event loop may drain (default EXIT_GRACE_MS)
 */
export function exitWhenDone(
  code: number,
  { graceMs = EXIT_GRACE_MS }: { graceMs?: number } = {},
): void {
  Deno.exitCode = code;
  Deno.unrefTimer(setTimeout(() => Deno.exit(), graceMs));
}

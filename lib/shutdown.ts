/**
 * One AbortController per process: SIGINT and SIGTERM abort it so every loop
 * stops taking work and drains. A second signal forces exit 130; a hard
 * deadline is the backstop for a shutdown that hangs. A process started by
 * another one that must not outlive it (STOP_WITH_PARENT) stops the same way
 * once that parent is gone, even killed with SIGKILL, which it cannot pass on.
 */
import { EXIT } from "./constants.ts";

export interface Shutdown {
  /** Aborted on the first SIGINT/SIGTERM (reason: the signal's name) or when the parent is gone. */
  readonly signal: AbortSignal;
  /** Removes the signal handlers and the deadline; call when the process is done. */
  dispose(): void;
}

const SIGNALS = ["SIGINT", "SIGTERM"] as const;
/** Signals this soon after the first are copies of the same request. */
const DUPLICATE_WINDOW_MS = 1_000;
/** How often a process that stops with its parent looks whether it still has it. */
export const PARENT_CHECK_MS = 1_000;

/** Why a process stops: a signal's name, or its parent gone (`parentGone`). */
export type StopReason = Deno.Signal | `the parent process (PID ${number}) is gone`;

function parentGone(pid: number): StopReason {
  return `the parent process (PID ${pid}) is gone`;
}

/**
 * Installs the handlers.
 *
 * @param options.hardDeadlineMs after the first signal, exit 1 if still running by then
 * @param options.onSignal told of each signal, or of the parent gone (for a log line)
 * @param options.parentPid stop as on SIGTERM once this is no longer the parent's PID
 *   (a process whose parent ends is given another), looked at every PARENT_CHECK_MS
 * @param options.exit ends the process when forced (default Deno.exit)
 */
export function installShutdown(
  { hardDeadlineMs, onSignal, parentPid, exit = Deno.exit, ppid = () => Deno.ppid }: {
    hardDeadlineMs: number;
    onSignal?: (reason: StopReason, forced: boolean) => void;
    parentPid?: number | undefined;
    /** How the process ends when forced (tests pass their own). */
    exit?: (code: number) => void;
    /** This process's parent's PID now (tests pass their own). */
    ppid?: () => number;
  },
): Shutdown {
  const controller = new AbortController();
  let deadline: ReturnType<typeof setTimeout> | undefined;
  let firstAt = 0;
  const handler = (signal: StopReason) => () => {
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
  let watch: ReturnType<typeof setInterval> | undefined;
  if (parentPid !== undefined) {
    // Once: the request to stop is the same as a signal's; a signal may still force the exit.
    const look = () => {
      if (ppid() === parentPid) return;
      clearInterval(watch);
      if (!controller.signal.aborted) handler(parentGone(parentPid))();
    };
    watch = setInterval(look, PARENT_CHECK_MS);
    Deno.unrefTimer(watch as unknown as number);
  }
  return {
    signal: controller.signal,
    dispose() {
      clearTimeout(deadline);
      clearInterval(watch);
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

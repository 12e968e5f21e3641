/**
 * Background processes of the orchestration tasks: spawn detached with a PID
 * file and a log file, tell a live process from a stale PID file, stop with
 * SIGTERM and a bounded wait before SIGKILL.
 *
 * Permissions: --allow-read and --allow-write to the run directory, --allow-run
 * (signals need it).
 */
import { spawn } from "node:child_process";
import { closeSync, openSync } from "node:fs";
import process from "node:process";
import { dirname } from "node:path";

/** A process started by a task, known by its PID file. */
export interface ManagedProcess {
  /** Name used in messages, e.g. "tracker". */
  name: string;
  pidFile: string;
  logFile: string;
  /** A string the process's command line contains: tells our process from a reused PID. */
  marker: string;
}

/**
 * Whether a process with this PID is alive and runs our command. The command
 * line comes from `ps` (Deno reads /proc only with --allow-all); a zombie or a
 * reused PID does not match the marker.
 */
export function isRunning(pid: number, marker: string): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const { code, stdout } = new Deno.Command("ps", {
      args: ["-o", "args=", "-p", String(pid)],
      stdout: "piped",
      stderr: "null",
    }).outputSync();
    return code === 0 && new TextDecoder().decode(stdout).includes(marker);
  } catch {
    return true; // No `ps`: liveness is all we can tell.
  }
}

/**
 * The PID of a running managed process, or undefined. A PID file whose process
 * is gone (or is someone else's) is stale: it is removed and reported.
 */
export function runningPid(
  managed: ManagedProcess,
  onStale: (message: string) => void = console.log,
): number | undefined {
  let text: string;
  try {
    text = Deno.readTextFileSync(managed.pidFile).trim();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
  const pid = Number(text);
  if (Number.isSafeInteger(pid) && pid > 0 && isRunning(pid, managed.marker)) return pid;
  Deno.removeSync(managed.pidFile);
  onStale(`Removed stale PID file of ${managed.name} (${managed.pidFile}: "${text}")`);
  return undefined;
}

/**
 * Starts a detached process (own session) with stdout and stderr appended to its
 * log file. It inherits this process's environment.
 */
export function spawnDetached(
  managed: ManagedProcess,
  { command, args }: { command: string; args: string[] },
): number {
  Deno.mkdirSync(dirname(managed.pidFile), { recursive: true });
  Deno.mkdirSync(dirname(managed.logFile), { recursive: true });
  const fd = openSync(managed.logFile, "a");
  try {
    const child = spawn(command, args, {
      detached: true,
      stdio: ["ignore", fd, fd],
    });
    if (child.pid === undefined) {
      throw new Error(`Cannot start ${managed.name}: ${command} did not start`);
    }
    child.unref();
    Deno.writeTextFileSync(managed.pidFile, `${child.pid}\n`);
    return child.pid;
  } finally {
    closeSync(fd);
  }
}

/** Waits until `pid` has exited or the deadline passes; true if it exited. */
export async function waitForExit(
  pid: number,
  { marker, timeoutMs }: { marker: string; timeoutMs: number },
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!isRunning(pid, marker)) return true;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return !isRunning(pid, marker);
}

export type StopOutcome = "not-running" | "stopped" | "killed";

/**
 * Stops a managed process: SIGTERM, a bounded wait for a clean exit, SIGKILL only
 * after that. The PID file is removed in every case.
 */
export async function stopManaged(
  managed: ManagedProcess,
  { timeoutMs }: { timeoutMs: number },
): Promise<StopOutcome> {
  const pid = runningPid(managed);
  if (pid === undefined) return "not-running";
  let outcome: StopOutcome = "stopped";
  try {
    process.kill(pid, "SIGTERM");
    if (!await waitForExit(pid, { marker: managed.marker, timeoutMs })) {
      process.kill(pid, "SIGKILL");
      await waitForExit(pid, { marker: managed.marker, timeoutMs: 5_000 });
      outcome = "killed";
    }
  } catch (error) {
    if ((error as { code?: string }).code !== "ESRCH") throw error;
  }
  await Deno.remove(managed.pidFile).catch(() => {});
  return outcome;
}

/** The last `lines` lines of a text file ("" if it does not exist). */
export function tailOf(path: string, lines = 20): string {
  try {
    const text = Deno.readTextFileSync(path);
    return text.trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "";
  }
}

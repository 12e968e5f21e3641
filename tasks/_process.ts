/**
 * Background processes of the orchestration tasks: spawn detached with a PID
 * file and a log file, tell our live process from a stale PID file, stop with
 * SIGTERM and a bounded wait before SIGKILL.
 *
 * A PID file records the process's start time and full command line as `ps`
 * reports them: a PID the system reused for someone else's process (after a
 * reboot, or a crash long ago) never matches both, so `stop` never signals it.
 * PID files from before (a bare number) are recognised by a marker in the
 * command line, as they were then.
 *
 * Permissions: --allow-read and --allow-write to the run directory, --allow-run
 * (signals and `ps` need it). Reading alone (`inspectProcess`, `residentKiB`)
 * needs --allow-read of the run directory and --allow-run=ps.
 */
import { spawn } from "node:child_process";
import { closeSync, openSync } from "node:fs";
import process from "node:process";
import { dirname } from "node:path";
import type { ProcessFacts } from "../lib/status_report.ts";
import { SETTINGS } from "../lib/settings.ts";

/** A process started by a task, known by its PID file. */
export interface ManagedProcess {
  /** Name used in messages, e.g. "tracker". */
  name: string;
  pidFile: string;
  logFile: string;
  /** A string the process's command line contains (for PID files without an identity). */
  marker: string;
}

/** Who a process is: what `ps` says of its start and command line. */
export interface ProcessIdentity {
  pid: number;
  started: string;
  command: string;
}

/** Length of `ps -o lstart`'s fixed-width date ("Thu Nov 26 12:37:21 2026"). */
const LSTART_CHARS = 24;

/** Whether a process with this PID exists (a zombie does too). */
function exists(pid: number): boolean {
  // 0 and negative PIDs name process groups: never ask about (or signal) those.
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // A read-only task may run `ps` but not signal (node's kill needs all of
    // --allow-run, even for signal 0): ask `ps` instead.
    return error instanceof Deno.errors.NotCapable && psKnows(pid);
  }
}

/** Whether `ps` lists this PID (false when it does not, or cannot run). */
function psKnows(pid: number): boolean {
  try {
    return new Deno.Command("ps", {
      args: ["-o", "pid=", "-p", String(pid)],
      stdout: "null",
      stderr: "null",
    }).outputSync().code === 0;
  } catch {
    return false;
  }
}

/** The start time and command line of a live process, or undefined (gone, or no `ps`). */
export function identify(pid: number): ProcessIdentity | undefined {
  if (!exists(pid)) return undefined;
  try {
    const { code, stdout } = new Deno.Command("ps", {
      args: ["-ww", "-o", "lstart=", "-o", "args=", "-p", String(pid)],
      env: { LC_ALL: "C" },
      stdout: "piped",
      stderr: "null",
    }).outputSync();
    if (code !== 0) return undefined;
    const line = new TextDecoder().decode(stdout).trimEnd();
    return {
      pid,
      started: line.slice(0, LSTART_CHARS).trim(),
      command: line.slice(LSTART_CHARS).trim(),
    };
  } catch {
    return undefined;
  }
}

/**
 * Whether a process with this PID is alive and runs our command: its command
 * line contains `marker` (a zombie or a reused PID does not).
 */
export function isRunning(pid: number, marker: string): boolean {
  if (!exists(pid)) return false;
  const identity = identify(pid);
  return identity === undefined ? true : identity.command.includes(marker);
}

/** Whether the process `identity` describes is still the one running under its PID. */
export function isSameProcess(identity: ProcessIdentity): boolean {
  const now = identify(identity.pid);
  return now !== undefined && now.started === identity.started && now.command === identity.command;
}

/** A PID file's contents: an identity, or a bare PID (files from before identities). */
function readPidFile(text: string): ProcessIdentity | { pid: number; legacy: true } | undefined {
  const trimmed = text.trim();
  if (/^\d+$/.test(trimmed)) return { pid: Number(trimmed), legacy: true };
  try {
    const value = JSON.parse(trimmed);
    if (
      Number.isSafeInteger(value?.pid) && typeof value.started === "string" &&
      typeof value.command === "string"
    ) return { pid: value.pid, started: value.started, command: value.command };
  } catch {
    // Not ours.
  }
  return undefined;
}

/** What a PID file says, read only: no file, our process running, or stale. */
export type PidFileState =
  | { state: "none" }
  | { state: "running"; identity: ProcessIdentity }
  /** The process is gone, or its PID is someone else's now; `text` is the file's content. */
  | { state: "stale"; text: string; pid: number | undefined };

/**
 * Reads a managed process's PID file and tells whether its process runs;
 * changes nothing (a stale file stays: `runningProcess` removes it).
 */
export function inspectProcess(managed: ManagedProcess): PidFileState {
  let text: string;
  try {
    text = Deno.readTextFileSync(managed.pidFile);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return { state: "none" };
    throw error;
  }
  const recorded = readPidFile(text);
  if (recorded !== undefined && "legacy" in recorded) {
    if (isRunning(recorded.pid, managed.marker)) {
      const identity = identify(recorded.pid) ?? { ...recorded, started: "", command: "" };
      return { state: "running", identity };
    }
  } else if (recorded !== undefined && isSameProcess(recorded)) {
    return { state: "running", identity: recorded };
  }
  return { state: "stale", text, pid: recorded?.pid };
}

/**
 * The identity of a running managed process, or undefined. A PID file whose
 * process is gone (or is someone else's now) is stale: it is removed and reported.
 */
export function runningProcess(
  managed: ManagedProcess,
  onStale: (message: string) => void = console.log,
): ProcessIdentity | undefined {
  const found = inspectProcess(managed);
  if (found.state !== "stale") return found.state === "running" ? found.identity : undefined;
  Deno.removeSync(managed.pidFile);
  onStale(
    `Removed stale PID file of ${managed.name} (${managed.pidFile}: "${
      found.text.trim().slice(0, 60)
    }")`,
  );
  return undefined;
}

/**
 * A managed process as `status` shows it: running (with its start time and
 * memory), a stale PID file, or none. Read only.
 */
export function describeProcess(managed: ManagedProcess): ProcessFacts {
  const found = inspectProcess(managed);
  if (found.state === "none") return { state: "none", pid: null, startedAt: null, rssKiB: null };
  if (found.state === "stale") {
    return { state: "stale", pid: found.pid ?? null, startedAt: null, rssKiB: null };
  }
  const { pid, started } = found.identity;
  // `ps -o lstart` is local time, as Date.parse reads a date without a zone.
  const startedAt = Date.parse(started);
  return {
    state: "running",
    pid,
    startedAt: Number.isNaN(startedAt) ? null : startedAt,
    rssKiB: residentKiB([pid]).get(pid) ?? null,
  };
}

/**
 * The resident memory of processes in KiB, as `ps` reports it, by PID (a PID
 * that is gone is missing; the map is empty without `ps`).
 */
export function residentKiB(pids: readonly number[]): Map<number, number> {
  const sizes = new Map<number, number>();
  const valid = pids.filter((pid) => Number.isSafeInteger(pid) && pid > 0);
  if (valid.length === 0) return sizes;
  try {
    const { stdout } = new Deno.Command("ps", {
      args: ["-o", "pid=", "-o", "rss=", "-p", valid.join(",")],
      env: { LC_ALL: "C" },
      stdout: "piped",
      stderr: "null",
    }).outputSync();
    for (const line of new TextDecoder().decode(stdout).split("\n")) {
      const [pid, rss] = line.trim().split(/\s+/).map(Number);
      if (Number.isSafeInteger(pid) && Number.isSafeInteger(rss)) sizes.set(pid!, rss!);
    }
  } catch {
    // No `ps`: sizes unknown.
  }
  return sizes;
}

/** The PID of a running managed process, or undefined (see `runningProcess`). */
export function runningPid(
  managed: ManagedProcess,
  onStale: (message: string) => void = console.log,
): number | undefined {
  return runningProcess(managed, onStale)?.pid;
}

/**
 * Starts a detached process (own session) with stdout and stderr appended to its
 * log file, and records its identity in the PID file. It inherits this
 * process's environment, but for STOP_WITH_PARENT: it is meant to outlive it.
 */
export function spawnDetached(
  managed: ManagedProcess,
  { command, args, env = {} }: {
    command: string;
    args: string[];
    /** Variables set for the process on top of this one's environment. */
    env?: Record<string, string>;
  },
): number {
  Deno.mkdirSync(dirname(managed.pidFile), { recursive: true });
  Deno.mkdirSync(dirname(managed.logFile), { recursive: true });
  const fd = openSync(managed.logFile, "a");
  try {
    // Detached to outlive this process: never told to stop with a parent.
    const { [SETTINGS.stopWithParent.env]: _parent, ...inherited } = { ...process.env, ...env };
    const child = spawn(command, args, {
      detached: true,
      env: inherited,
      stdio: ["ignore", fd, fd],
    });
    if (child.pid === undefined) {
      throw new Error(`Cannot start ${managed.name}: ${command} did not start`);
    }
    child.unref();
    // spawn returns once the program is executing: ps shows its final command line.
    // Without `ps` the bare PID is written: such files are told apart by the marker.
    const identity = identify(child.pid);
    Deno.writeTextFileSync(
      managed.pidFile,
      identity === undefined ? `${child.pid}\n` : `${JSON.stringify(identity)}\n`,
    );
    return child.pid;
  } finally {
    closeSync(fd);
  }
}

/** Waits until `process` has exited or the deadline passes; true if it exited. */
export async function waitForExit(
  identity: ProcessIdentity,
  { timeoutMs }: { timeoutMs: number },
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  // Known only by its PID (no `ps`, or a PID file from before identities): alive while it exists.
  const alive = () => (identity.started === "" ? exists(identity.pid) : isSameProcess(identity));
  while (Date.now() < deadline) {
    if (!alive()) return true;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return !alive();
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
  const identity = runningProcess(managed);
  if (identity === undefined) return "not-running";
  let outcome: StopOutcome = "stopped";
  try {
    process.kill(identity.pid, "SIGTERM");
    if (!await waitForExit(identity, { timeoutMs })) {
      process.kill(identity.pid, "SIGKILL");
      await waitForExit(identity, { timeoutMs: 5_000 });
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

/**
 * The background processes `deno task start` runs and `deno task stop` ends:
 * where their PID, output and health-log files are, how each is recognised,
 * and how `start` learns that one is ready: a `lifecycle` record with its pid
 * in its health log (fields, never wording).
 */
import { join } from "node:path";
import type { Config } from "../lib/config.ts";
import { type LifecycleRecord, parseHealthLine } from "../lib/health_record.ts";
import type { ManagedProcess } from "./_process.ts";

/** Started in this order, stopped in reverse (tracker last, so it drains). */
export const PIPELINE_ROLES = ["tracker", "producer"] as const;
export type PipelineRole = typeof PIPELINE_ROLES[number];

/** The entry module of each role: how its command line is recognised. */
const ENTRIES: Readonly<Record<PipelineRole, string>> = {
  tracker: "tracker.ts",
  producer: "producer.ts",
};

/** The managed process of a pipeline role. */
export function pipelineProcess(config: Config, role: PipelineRole): ManagedProcess {
  return {
    name: role,
    pidFile: join(config.paths.runDir, `${role}.pid`),
    logFile: join(config.paths.runDir, `${role}.out`),
    marker: ENTRIES[role],
  };
}

/** The health log in which a role writes its lifecycle records. */
export function healthLogOf(config: Config, role: PipelineRole): string {
  return role === "tracker" ? config.paths.healthLog : config.paths.producerLog;
}

/**
 * The newest lifecycle record of process `pid` among health-log `lines`, or
 * undefined. Pure.
 */
export function lastLifecycle(lines: Iterable<string>, pid: number): LifecycleRecord | undefined {
  let last: LifecycleRecord | undefined;
  for (const line of lines) {
    if (line === "") continue;
    const parsed = parseHealthLine(line);
    if (parsed.ok && parsed.entry.kind === "lifecycle" && parsed.entry.lifecycle.pid === pid) {
      last = parsed.entry.lifecycle;
    }
  }
  return last;
}

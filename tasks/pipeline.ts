/**
 * The background processes `deno task start` runs and `deno task stop` ends:
 * where their PID and output files are, and how each is recognised.
 */
import { join } from "node:path";
import type { Config } from "../lib/config.ts";
import { ROLES } from "../lib/permissions.ts";
import type { ManagedProcess } from "./process.ts";

/** Started in this order, stopped in reverse (tracker last, so it drains). */
export const PIPELINE_ROLES = ["tracker", "producer"] as const;
export type PipelineRole = typeof PIPELINE_ROLES[number];

/** The managed process of a pipeline role. */
export function pipelineProcess(config: Config, role: PipelineRole): ManagedProcess {
  return {
    name: role,
    pidFile: join(config.paths.runDir, `${role}.pid`),
    logFile: join(config.paths.runDir, `${role}.out`),
    marker: ROLES[role],
  };
}

/**
 * Shared by the trail's unit tests: waiting for a checkpoint written in the
 * background, and reopening a trail to see what its checkpoint kept.
 */
import { assertEquals } from "./assert.ts";
import { AuditTrail, type TrailOptions } from "../lib/audit_trail.ts";

/** Resolves true once the checkpoint file differs from `before`, false after `deadlineMs`. */
export async function checkpointChanged(
  path: string,
  before: string,
  deadlineMs: number,
): Promise<boolean> {
  const deadline = Date.now() + deadlineMs;
  while (Date.now() < deadline) {
    if (await Deno.readTextFile(path) !== before) return true;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return false;
}

/**
 * Abandons `trail` (no checkpoint at close) and reopens it: the state must be
 * the one it had, with `audited` audited events, and (when given) only
 * `replayedLines` lines read after the checkpoint.
 */
export async function assertReopensAsLeft(
  trail: AuditTrail,
  options: TrailOptions,
  { audited, replayedLines }: { audited: number; replayedLines?: number },
): Promise<void> {
  const expected = trail.state.snapshot();
  trail.abandon();
  const reopened = await AuditTrail.open(options);
  try {
    if (replayedLines !== undefined) {
      assertEquals(reopened.report.replayedLines, replayedLines, "lines read after the checkpoint");
    }
    assertEquals(reopened.trail.state.snapshot(), expected);
    assertEquals(reopened.trail.totals.audited, audited);
  } finally {
    await reopened.trail.close();
  }
}

/**
 * Reading a whole segmented trail, oldest segment first, through the trail
 * line parser: for verify, the benchmarks and tests. Streams (a trail of any
 * size never sits in memory) and names the segment file and line of a line
 * that is not a trail line.
 */
import { parseTrailLine, type TrailLine } from "./audit_record.ts";
import { readSegments, segmentPaths } from "./segmented_log.ts";

/** The segments of the trail at `path` and their total size in bytes. */
export async function trailSegments(
  path: string,
): Promise<{ segments: Array<{ number: number; path: string; bytes: number }>; bytes: number }> {
  const segments = await Promise.all(
    (await segmentPaths(path)).map(async (s) => ({
      ...s,
      bytes: await Deno.stat(s.path).then((info) => info.size, () => 0),
    })),
  );
  return { segments, bytes: segments.reduce((sum, s) => sum + s.bytes, 0) };
}

/** Calls `onLine` for every line of every segment of the trail at `path`, oldest first. */
export async function readTrail(
  path: string,
  onLine: (line: TrailLine) => void,
  { withOrder = true }: {
    /** False when the orders are not needed: they stay unread (null), at a quarter of the cost. */
    withOrder?: boolean;
  } = {},
): Promise<void> {
  await readSegments(
    await segmentPaths(path),
    (text: string, n: number) => parseTrailLine(text, n, { withOrder }),
    onLine,
  );
}

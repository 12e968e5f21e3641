/**
 * Reading a whole segmented trail, oldest segment first, through the trail
 * line parser: for verify and the tracker's rebuild. Streams (a trail of any
 * size never sits in memory) and names the segment file and line of a line
 * that is not a trail line.
 */
import { parseTrailLine, type TrailLineResult } from "./audit_record.ts";
import { forEachLine, segmentPaths } from "./segmented_log.ts";

export type TrailLine = Exclude<TrailLineResult, { ok: false }>;

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

/**
 * Calls `onLine` for every line of every segment of the trail at `path`.
 *
 * @param options.onSegmentDone told the bytes of each segment once it is read
 * @throws {SyntaxError} naming the segment file and line of a line that is not a trail line
 */
export async function readTrail(
  path: string,
  onLine: (line: TrailLine) => void,
  { onSegmentDone, withOrder = true }: {
    onSegmentDone?: (bytes: number) => void;
    /** False when the orders are not needed: they stay unread (null), at a quarter of the cost. */
    withOrder?: boolean;
  } = {},
): Promise<void> {
  const { segments } = await trailSegments(path);
  for (const segment of segments) {
    await forEachLine(segment.path, (text, n) => {
      const parsed = parseTrailLine(text, n, { withOrder });
      if (!parsed.ok) throw new SyntaxError(`${segment.path}: ${parsed.error}`);
      onLine(parsed);
    });
    onSegmentDone?.(segment.bytes);
  }
}

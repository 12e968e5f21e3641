/**
 * Unit: the monitor's feed, from the tracker's two files (in a temporary
 * directory; nothing else is readable or writable to these tests) to the model.
 */
import { join } from "node:path";
import { assertEquals } from "./assert.ts";
import { MonitorFeed, SUMMARY_STALE_MS } from "../lib/monitor_feed.ts";
import { SUMMARY_SETTLE_MS } from "../lib/monitor_model.ts";
import { encodeCheckpoint } from "../lib/trail_checkpoint.ts";
import { encodeTrailSummary } from "../lib/trail_summary.ts";

const ROOT = await Deno.makeTempDir({ prefix: "monitor_feed_test_" });
globalThis.addEventListener("unload", () => Deno.removeSync(ROOT, { recursive: true }));
const permissions: Deno.PermissionOptionsObject = { read: [ROOT], write: [ROOT] };

const AT = "2026-03-01T12:00:00.000Z";

const HEALTH_LINE = JSON.stringify({
  "@timestamp": AT,
  level: "INFO",
  message: "Tracker starting (pid 42)",
  logger: "order-tracking.tracker",
  properties: { pid: 42 },
});

function auditLine(offset: number, fields: Record<string, unknown> = {}): string {
  return JSON.stringify({
    timestamp: AT,
    event_type: "order_created",
    kafka_topic: "orders",
    kafka_partition: 0,
    kafka_offset: offset,
    kafka_key: "0b7c9a52-3f5e-4e0c-9a57-0d5f5d6c1e11",
    message_size: 900,
    deserialized: true,
    outcome: "audited",
    order_id: "0b7c9a52-3f5e-4e0c-9a57-0d5f5d6c1e11",
    status: "created",
    error_class: null,
    error: null,
    latency_ms: 4,
    order: null,
    ...fields,
  });
}

async function withFiles(
  fn: (
    paths: {
      healthLog: string;
      auditFile: string;
      checkpointFile: string;
      summaryFile: string;
      dir: string;
    },
  ) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ dir: ROOT });
  try {
    await fn({
      healthLog: join(dir, "tracker.log"),
      auditFile: join(dir, "tracker.events"),
      checkpointFile: join(dir, "tracker.checkpoint"),
      summaryFile: join(dir, "tracker.summary"),
      dir,
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function headerLine(segment: number, trailId = "trail-1"): string {
  return JSON.stringify({
    trail_segment: segment,
    trail_id: trailId,
    epoch: {
      number: 1,
      cluster_id: "c",
      topic: "orders",
      started_at: AT,
      reason: "a new trail",
      continues_offsets: false,
    },
    created_at: AT,
  });
}

async function catchUp(feed: MonitorFeed): Promise<void> {
  for (let i = 0; (await feed.poll()).behindBytes > 0; i++) {
    if (i > 1_000) throw new Error("Cannot catch up: the backlog does not shrink");
  }
}

Deno.test({
  name: "a bad line is counted, never fatal, and never reaches the figures",
  permissions,
  async fn() {
    await withFiles(async (files) => {
      const { healthLog, auditFile } = files;
      const badHealth = [
        "not json",
        "[1, 2]",
        "null",
        JSON.stringify({ "@timestamp": AT, level: "INFO" }),
        JSON.stringify({ "@timestamp": AT, level: 40, message: "numeric level" }),
        JSON.stringify({ "@timestamp": AT, level: "INFO", message: { text: "object" } }),
      ];
      const badAudit = [
        '{"timestamp":',
        JSON.stringify({ timestamp: AT }),
        auditLine(1, { outcome: "lost" }),
        auditLine(2, { order_id: 12_345_678 }),
        auditLine(3, { status: 7 }),
        auditLine(4, { latency_ms: "4" }),
        auditLine(5, { kafka_offset: "5" }),
        auditLine(6, { timestamp: 1_700_000_000_000 }),
      ];
      await Deno.writeTextFile(healthLog, [HEALTH_LINE, ...badHealth, ""].join("\n"));
      await Deno.writeTextFile(
        auditFile,
        [auditLine(0), ...badAudit, auditLine(7, { outcome: "dead_lettered", status: null }), ""]
          .join("\n"),
      );
      const feed = new MonitorFeed(files);
      await catchUp(feed);
      feed.close();
      const view = feed.model.view(Date.parse(AT) + 1_000);
      assertEquals(view.figures.unreadableLines, badHealth.length + badAudit.length);
      assertEquals(
        { total: view.figures.total, dlq: view.figures.deadLettered, logs: view.logs.length },
        { total: 2, dlq: 1, logs: 1 },
      );
      assertEquals(view.events.map((e) => e.text), ["0/7 DLQ error", "0/0 0b7c9a52 created 4 ms"]);
    });
  },
});

Deno.test({
  name: "a rotated trail is followed into its next segment without losing a line",
  permissions,
  async fn() {
    await withFiles(async (files) => {
      const { auditFile } = files;
      await Deno.writeTextFile(
        auditFile,
        [headerLine(1), auditLine(0), auditLine(1), ""].join("\n"),
      );
      const feed = new MonitorFeed(files);
      await catchUp(feed);
      assertEquals(feed.model.view(Date.parse(AT)).figures.total, 2);
      // The tracker appends, rotates (the active file becomes segment 1), and goes on.
      await Deno.writeTextFile(auditFile, auditLine(2) + "\n", { append: true });
      await Deno.rename(auditFile, `${auditFile}.000001`);
      await Deno.writeTextFile(auditFile, [headerLine(2), auditLine(3), ""].join("\n"));
      await catchUp(feed);
      feed.close();
      const view = feed.model.view(Date.parse(AT));
      assertEquals(view.figures.total, 4);
      assertEquals(view.figures.unreadableLines, 0);
    });
  },
});

Deno.test({
  name: "with a checkpoint the feed starts from its totals and counts only what follows it",
  permissions,
  async fn() {
    await withFiles(async (files) => {
      const { auditFile, checkpointFile } = files;
      const before = [headerLine(1), auditLine(0), auditLine(1)].join("\n") + "\n";
      await Deno.writeTextFile(auditFile, before + auditLine(2, { status: "paid" }) + "\n");
      const totals = {
        lines: 1_000_002,
        audited: 1_000_000,
        dead_lettered: 2,
        duplicate: 0,
        by_status: { created: 1_000_000, paid: 0, shipped: 0, delivered: 0, cancelled: 0 },
      };
      await Deno.writeTextFile(
        checkpointFile,
        encodeCheckpoint({
          trail_id: "trail-1",
          written_at: AT,
          position: { segment: 1, bytes: new TextEncoder().encode(before).length },
          epoch: JSON.parse(headerLine(1)).epoch,
          totals,
          deleted: { segments: 0, bytes: 0 },
          state: { offsets: [], eventKeys: [], openOrders: [] },
        }),
      );
      const feed = new MonitorFeed(files);
      await catchUp(feed);
      feed.close();
      const view = feed.model.view(Date.parse(AT) + 1_000);
      assertEquals(view.figures.total, 1_000_003, "the checkpoint's lines and the one after it");
      assertEquals(view.lifecycle.paid, 1);
      assertEquals(view.events.length, 3, "lines before the checkpoint still show as events");
    });
  },
});

Deno.test({
  name: "far into a segment the feed reads the recent history from a line's start, cut or not",
  permissions,
  async fn(t) {
    // Lines of 1 KiB: the 8 MiB of history before the position start at a
    // line's first byte, or (half a KiB more in the last line) inside a line.
    for (const [name, extra] of [["at a line's start", 0], ["inside a line", 512]] as const) {
      await t.step(name, async () => {
        await withFiles(async (files) => {
          const line = (offset: number, bytes = 1024) => {
            const text = auditLine(offset, { error: "" });
            return text.slice(0, -1) + " ".repeat(bytes - 1 - text.length) + "}\n";
          };
          const body = Array.from({ length: 9 * 1024 - 1 }, (_, i) => line(i)).join("");
          const before = headerLine(1) + "\n" + body + line(9 * 1024 - 1, 1024 + extra);
          await Deno.writeTextFile(files.auditFile, before + line(9 * 1024));
          const totals = {
            lines: 9 * 1024,
            audited: 9 * 1024,
            dead_lettered: 0,
            duplicate: 0,
            by_status: { created: 9 * 1024, paid: 0, shipped: 0, delivered: 0, cancelled: 0 },
          };
          await Deno.writeTextFile(
            files.checkpointFile,
            encodeCheckpoint({
              trail_id: "trail-1",
              written_at: AT,
              position: { segment: 1, bytes: new TextEncoder().encode(before).length },
              epoch: JSON.parse(headerLine(1)).epoch,
              totals,
              deleted: { segments: 0, bytes: 0 },
              state: { offsets: [], eventKeys: [], openOrders: [] },
            }),
          );
          const feed = new MonitorFeed(files);
          await catchUp(feed);
          feed.close();
          const view = feed.model.view(Date.parse(AT) + 1_000);
          assertEquals(view.figures.unreadableLines, 0, "no cut line is taken for a bad one");
          assertEquals(view.figures.total, 9 * 1024 + 1);
        });
      });
    }
  },
});

Deno.test({
  name: "a trail replaced by another, or a truncated health log, starts every figure over",
  permissions,
  async fn() {
    await withFiles(async (files) => {
      const { healthLog, auditFile, dir } = files;
      await Deno.writeTextFile(healthLog, HEALTH_LINE + "\n");
      await Deno.writeTextFile(
        auditFile,
        [headerLine(1), ...[0, 1, 2].map((n) => auditLine(n)), ""].join("\n"),
      );
      const feed = new MonitorFeed(files);
      await catchUp(feed);
      assertEquals(feed.model.view(Date.parse(AT)).figures.total, 3);

      // Another trail takes this one's place: the old counts must not mix with the new.
      const next = join(dir, "next");
      await Deno.writeTextFile(
        next,
        [headerLine(1, "trail-2"), auditLine(0, { status: "paid" }), ""].join("\n"),
      );
      await Deno.rename(next, auditFile);
      await catchUp(feed);
      const view = feed.model.view(Date.parse(AT));
      assertEquals(view.figures.total, 1);
      assertEquals(view.lifecycle.paid, 1);
      assertEquals(view.logs.length, 1, "the health log is read again too");

      // The health log truncated: the same.
      await Deno.writeTextFile(healthLog, "");
      await catchUp(feed);
      feed.close();
      assertEquals(feed.model.view(Date.parse(AT)).logs.length, 0);
      assertEquals(feed.model.view(Date.parse(AT)).figures.total, 1);
    });
  },
});

/** A summary line of trail "trail-1" covering `from`..`through` (bytes of segment 1). */
function summaryLine(
  { from, through, lines, seconds = [] }: {
    from: number;
    through: number;
    lines: number;
    seconds?: Array<{ at: number; count: number }>;
  },
): string {
  return encodeTrailSummary({
    trail_id: "trail-1",
    written_at: AT,
    from: { segment: 1, bytes: from },
    through: { segment: 1, bytes: through },
    totals: {
      lines,
      audited: lines,
      dead_lettered: 0,
      duplicate: 0,
      by_status: { created: lines, paid: 0, shipped: 0, delivered: 0, cancelled: 0 },
    },
    seconds: seconds.map(({ at, count }) => ({
      at,
      last_at: at,
      count,
      ok: count,
      timed: count,
      kafka_timestamp: 0,
      oldest_produced_at: at - 4,
      latency_ms: [[4, count]],
      dead_letters: {},
    })),
  });
}

/** The trail's text and the byte where each of its lines ends. */
function trailText(lines: string[]): { text: string; ends: number[] } {
  const ends: number[] = [];
  let bytes = 0;
  for (const line of lines) ends.push(bytes += new TextEncoder().encode(line + "\n").length);
  return { text: lines.join("\n") + "\n", ends };
}

Deno.test({
  name:
    "started late, the counts are the newest summary line's; lines after it are counted once none comes",
  permissions,
  async fn() {
    await withFiles(async (files) => {
      const { text, ends } = trailText([headerLine(1), ...[0, 1, 2].map((n) => auditLine(n))]);
      await Deno.writeTextFile(files.auditFile, text);
      // Totals the three lines cannot make: they are the summary's, not read from the trail.
      await Deno.writeTextFile(
        files.summaryFile,
        summaryLine({ from: 0, through: ends.at(-1)!, lines: 1_000_003 }),
      );
      let now = Date.parse(AT) + 1_000;
      const feed = new MonitorFeed(files, { now: () => now });
      await catchUp(feed);
      assertEquals(feed.model.view(now).figures.total, 1_000_003);
      assertEquals(feed.model.view(now).events.length, 3, "the trail's newest lines as events");

      // The tracker stopped writing summaries (an older one, or it failed): after a while,
      // what follows the last line is read from the trail and counted.
      await Deno.writeTextFile(files.auditFile, auditLine(3) + "\n" + auditLine(4) + "\n", {
        append: true,
      });
      await catchUp(feed);
      assertEquals(feed.model.view(now).figures.total, 1_000_003, "not before SUMMARY_STALE_MS");
      now += SUMMARY_STALE_MS;
      await catchUp(feed);
      feed.close();
      assertEquals(feed.model.view(now).figures.total, 1_000_005);
      assertEquals(feed.model.view(now).events.length, 5);
    });
  },
});

Deno.test({
  name: "a gap between summary lines is read from the trail for the windows; totals stay exact",
  permissions,
  async fn() {
    await withFiles(async (files) => {
      const { text, ends } = trailText([headerLine(1), ...[0, 1, 2, 3].map((n) => auditLine(n))]);
      await Deno.writeTextFile(files.auditFile, text);
      const second = Date.parse(AT);
      // Lines 1 and 2 are in no summary line (a tracker stopped before writing it).
      await Deno.writeTextFile(
        files.summaryFile,
        summaryLine({ from: 0, through: ends[1]!, lines: 1, seconds: [{ at: second, count: 1 }] }) +
          summaryLine({
            from: ends[3]!,
            through: ends[4]!,
            lines: 4,
            seconds: [{ at: second, count: 1 }],
          }),
      );
      const now = second + 1_000 + SUMMARY_SETTLE_MS;
      const feed = new MonitorFeed(files, { now: () => now });
      await catchUp(feed);
      feed.close();
      const view = feed.model.view(now);
      assertEquals(view.figures.total, 4);
      assertEquals(view.figures.unreadableLines, 0);
      assertEquals(view.figures.throughputPerSec, 4 / 10, "both lines' and the gap's samples");
    });
  },
});

Deno.test({
  name: "summary lines of another trail are left out: the trail is read instead",
  permissions,
  async fn() {
    await withFiles(async (files) => {
      const { text, ends } = trailText([headerLine(1), ...[0, 1, 2].map((n) => auditLine(n))]);
      await Deno.writeTextFile(files.auditFile, text);
      await Deno.writeTextFile(
        files.summaryFile,
        summaryLine({ from: 0, through: ends.at(-1)!, lines: 99 }).replace("trail-1", "trail-0"),
      );
      const feed = new MonitorFeed(files, { now: () => Date.parse(AT) });
      await catchUp(feed);
      feed.close();
      assertEquals(feed.model.view(Date.parse(AT)).figures.total, 3);
    });
  },
});

Deno.test({
  name:
    "a checkpoint just after the newest summary line leaves it the counts; one long after takes them",
  permissions,
  async fn(t) {
    for (
      const [name, checkpointAfterMs, expected] of [
        ["a rotation's checkpoint a second later", 1_000, 500],
        ["a checkpoint of a tracker that wrote no summary since", 60_000, 700 + 1],
      ] as const
    ) {
      await t.step(name, async () => {
        await withFiles(async (files) => {
          const { text, ends } = trailText([headerLine(1), ...[0, 1, 2].map((n) => auditLine(n))]);
          await Deno.writeTextFile(files.auditFile, text);
          await Deno.writeTextFile(
            files.summaryFile,
            summaryLine({ from: 0, through: ends[1]!, lines: 500 }),
          );
          const totals = {
            lines: 700,
            audited: 700,
            dead_lettered: 0,
            duplicate: 0,
            by_status: { created: 700, paid: 0, shipped: 0, delivered: 0, cancelled: 0 },
          };
          await Deno.writeTextFile(
            files.checkpointFile,
            encodeCheckpoint({
              trail_id: "trail-1",
              written_at: new Date(Date.parse(AT) + checkpointAfterMs).toISOString(),
              position: { segment: 1, bytes: ends[2]! },
              epoch: JSON.parse(headerLine(1)).epoch,
              totals,
              deleted: { segments: 0, bytes: 0 },
              state: { offsets: [], eventKeys: [], openOrders: [] },
            }),
          );
          const feed = new MonitorFeed(files, { now: () => Date.parse(AT) + 1_000 });
          await catchUp(feed);
          feed.close();
          assertEquals(feed.model.view(Date.parse(AT) + 1_000).figures.total, expected);
        });
      });
    }
  },
});

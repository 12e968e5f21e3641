/**
 * Unit: the monitor's view model and its text formats, fed with records made
 * the way the tracker makes them (the logging library's JSON Lines formatter,
 * the audit trail's record builders) and a fixed clock.
 */
import type { LogLevel } from "@logtape/logtape";
import { assert, assertEquals, assertMatch } from "./assert.ts";
import {
  auditedRecord,
  type AuditRecord,
  deadLetterRecord,
  duplicateRecord,
  encodeAuditLines,
  type MessageCoordinates,
  parseAuditLine,
} from "../lib/audit_record.ts";
import { createOrderGenerator } from "../lib/order_generator.ts";
import type { OrderStatus } from "../lib/order.ts";
import {
  BACKLOG_MARGIN_MS,
  CHART_BUCKETS,
  type Flow,
  flowState,
  healthSignals,
  MonitorModel,
  NO_TRACKER_HINT,
  NOW_WINDOW_MS,
  RECENT_WINDOW_MS,
  SILENT_AFTER_MS,
  type Status,
  THRESHOLDS,
  type View,
  worst,
} from "../lib/monitor_model.ts";
import { clock, compact, duration, sparkline, truncate } from "../lib/terminal_text.ts";
import {
  changedPanes,
  formatOnce,
  formatPanels,
  type Panels,
  PANES,
  percentilesText,
} from "../lib/monitor_format.ts";
import {
  formatHealthLine,
  type HealthEntry,
  lifecycle,
  type LifecyclePhase,
  parseHealthLine,
} from "../lib/health_record.ts";
import { TrackerMetrics } from "../lib/tracker_metrics.ts";
import { seededRandom } from "./random.ts";

const NOW = Date.parse("2026-03-01T12:00:00.000Z");
const SECOND = 1_000;

/** A health-log entry exactly as the tracker's logging writes it and the feed parses it. */
function healthRecord(
  at: number,
  level: LogLevel,
  message: string,
  properties: Record<string, unknown> = {},
): HealthEntry {
  const line = formatHealthLine({
    category: ["order-tracking", "tracker"],
    level,
    message: [message],
    rawMessage: message,
    timestamp: at,
    properties,
  });
  const parsed = parseHealthLine(line);
  assert(parsed.ok, parsed.ok ? "" : parsed.error);
  return parsed.entry;
}

/** The record the tracker writes every 5 s (TrackerMetrics.toRecord). */
function metricsRecord(
  at: number,
  { lag = { "0": 0, "1": 0, "2": 0 }, uptimeS = 0 }: {
    lag?: Record<string, number>;
    uptimeS?: number;
  } = {},
): HealthEntry {
  const metrics = new TrackerMetrics({ startedAt: at - uptimeS * 1000 });
  for (const [partition, lagged] of Object.entries(lag)) {
    metrics.setLag(Number(partition), {
      highWatermark: lagged,
      nextOffset: 0,
      oldestTimestamp: at - 2_000,
      at,
    });
  }
  return healthRecord(at, "info", "Metrics", { ...metrics.toRecord(at, { openOrders: 0 }) });
}

/** A tracker lifecycle entry, as tracker.ts writes it. */
function lifecycleRecord(
  at: number,
  phase: LifecyclePhase,
  message: string,
  figures: Record<string, unknown> = {},
): HealthEntry {
  return healthRecord(
    at,
    phase === "failed" ? "error" : "info",
    message,
    lifecycle("tracker", phase, { pid: 42, ...figures }),
  );
}

const orders = createOrderGenerator({ seed: 3, now: () => NOW });
let nextOffset = 0;

function coordinates(): MessageCoordinates {
  const offset = nextOffset++;
  return { topic: "orders", partition: offset % 3, offset, key: null, size: 1_200 };
}

/** What the feed hands the model: the record after a trip through its line and parser. */
function asRead(record: AuditRecord): AuditRecord {
  const parsed = parseAuditLine(encodeAuditLines([record]).trimEnd(), 1);
  assert(parsed.ok, parsed.ok ? "" : parsed.error);
  return parsed.record;
}

function audited(
  at: number,
  { status = "created", latencyMs = 5 }: { status?: OrderStatus; latencyMs?: number } = {},
): AuditRecord {
  const order = { ...orders.next(), status, produced_at: at - latencyMs };
  return asRead(auditedRecord(at, coordinates(), order));
}

function deadLettered(at: number): AuditRecord {
  return asRead(
    deadLetterRecord(at, coordinates(), { class: "validation", message: "total does not add up" }),
  );
}

function duplicate(at: number, status: OrderStatus = "paid"): AuditRecord {
  return asRead(duplicateRecord(at, coordinates(), { ...orders.next(), status }));
}

function statusOf(view: View, name: string): { status: Status; reason: string } {
  const signal = view.health.signals.find((s) => s.name === name);
  assert(signal, `signal ${name} exists`);
  return { status: signal.status, reason: signal.reason };
}

/**
 * Display columns of text, independent of the code under test: marks are 0,
 * East Asian wide scripts, fullwidth forms and emoji are 2.
 */
function columns(text: string): number {
  let total = 0;
  for (const char of text) {
    const codePoint = char.codePointAt(0)!;
    if (/\p{M}/u.test(char)) continue;
    const wide = /[\p{Script=Han}\p{Script=Hangul}\p{Script=Hiragana}\p{Script=Katakana}]/u
          .test(char) && !(codePoint >= 0xff61 && codePoint <= 0xffdc) ||
      (codePoint >= 0xff01 && codePoint <= 0xff60) ||
      (/\p{Extended_Pictographic}/u.test(char) && codePoint >= 0x1f300);
    total += wide ? 2 : 1;
  }
  return total;
}

/** What blessed shows of a row with tags: tags vanish, {open} and {close} are braces. */
function shown(row: string): string {
  return row.replace(
    /\{(\/?[\w-]*)\}/g,
    (_, tag: string) => tag === "open" ? "{" : tag === "close" ? "}" : "",
  );
}

Deno.test({
  name: "throughput now counts the audited and dead-lettered records of the last 10 s only",
  permissions: "none",
  fn() {
    const model = new MonitorModel();
    // 50 records just before the window, one on its open edge, 30 inside, one in the future.
    for (let i = 0; i < 50; i++) model.addAudit(audited(NOW - 15 * SECOND + i * 10));
    model.addAudit(audited(NOW - NOW_WINDOW_MS));
    for (let i = 0; i < 25; i++) model.addAudit(audited(NOW - 9 * SECOND + i * 300));
    for (let i = 0; i < 5; i++) model.addAudit(deadLettered(NOW - i * SECOND));
    model.addAudit(audited(NOW + SECOND));

    assertEquals(model.view(NOW).figures.throughputPerSec, 30 / (NOW_WINDOW_MS / SECOND));
    assertEquals(statusOf(model.view(NOW), "throughput"), { status: "ok", reason: "flowing" });
    // The same records, looked at later: the window has moved past them.
    assertEquals(model.view(NOW + NOW_WINDOW_MS + 2 * SECOND).figures.throughputPerSec, 0);
    // Lifetime counts do not slide.
    assertEquals(model.view(NOW + 10 * 60 * SECOND).figures.total, 82);
  },
});

Deno.test({
  name: "success rate and latency percentiles cover the last 60 s only",
  permissions: "none",
  fn() {
    const model = new MonitorModel();
    // Outside the window: all rejections and very slow, they must not count.
    for (let i = 0; i < 100; i++) model.addAudit(deadLettered(NOW - RECENT_WINDOW_MS - i * 10));
    for (let i = 0; i < 10; i++) {
      model.addAudit(audited(NOW - RECENT_WINDOW_MS - SECOND, { latencyMs: 60_000 }));
    }
    // Inside: 99 audited with latencies 1..99 ms, one rejection.
    for (let i = 1; i <= 99; i++) {
      model.addAudit(audited(NOW - 59 * SECOND + i * 100, { latencyMs: i }));
    }
    model.addAudit(deadLettered(NOW - SECOND));

    const { figures } = model.view(NOW);
    assertEquals(figures.successRate, 0.99);
    assertEquals(figures.latencyMs, { p50: 50, p95: 95, p99: 99 });
    assertEquals(figures.audited, 109);
    assertEquals(figures.deadLettered, 101);
    assertEquals(statusOf(model.view(NOW), "success rate"), { status: "ok", reason: "clean" });
  },
});

Deno.test({
  name: "latency percentiles are nearest-rank over recent audited orders with a known latency",
  permissions: "none",
  async fn(t) {
    const cases: Array<[string, number[], { p50: number; p95: number; p99: number }]> = [
      ["one value", [7], { p50: 7, p95: 7, p99: 7 }],
      ["two values", [10, 2], { p50: 2, p95: 10, p99: 10 }],
      ["1..1000", Array.from({ length: 1_000 }, (_, i) => 1_000 - i), {
        p50: 500,
        p95: 950,
        p99: 990,
      }],
      ["one outlier in 100", [...Array(99).fill(3), 900], { p50: 3, p95: 3, p99: 3 }],
      ["two outliers in 100", [...Array(98).fill(3), 900, 800], { p50: 3, p95: 3, p99: 800 }],
    ];
    for (const [name, latencies, expected] of cases) {
      await t.step(name, () => {
        const model = new MonitorModel();
        latencies.forEach((latencyMs, i) =>
          model.addAudit(audited(NOW - 30 * SECOND + i, { latencyMs }))
        );
        // Neither rejections nor duplicates have a latency; they must not shift the ranks.
        for (let i = 0; i < 20; i++) {
          model.addAudit(deadLettered(NOW - SECOND));
          model.addAudit(duplicate(NOW - SECOND));
        }
        assertEquals(model.view(NOW).figures.latencyMs, expected);
      });
    }
  },
});

Deno.test({
  name: "with nothing in the last 60 s, success rate is idle and latency unknown",
  permissions: "none",
  fn() {
    const model = new MonitorModel();
    assertEquals(model.view(NOW).figures.successRate, null, "no records at all");
    for (let i = 0; i < 3; i++) model.addAudit(audited(NOW - 2 * RECENT_WINDOW_MS));
    model.addAudit(deadLettered(NOW - 2 * RECENT_WINDOW_MS));
    const view = model.view(NOW);
    assertEquals(view.figures.latencyMs, { p50: null, p95: null, p99: null });
    assertEquals(statusOf(view, "success rate"), { status: "unknown", reason: "idle" });
    // The headline falls back to the lifetime ratio rather than a blank.
    assertEquals(view.figures.successRate, 0.75);
  },
});

Deno.test({
  name: "each health signal changes status exactly at its threshold",
  permissions: "none",
  async fn(t) {
    const calm = {
      now: NOW,
      successRate: 1,
      flow: "flowing" as const,
      lagTotal: 0,
      recentErrors: 0,
      tracker: { at: NOW, stopped: false },
    };
    type Input = Parameters<typeof healthSignals>[0];
    const { successRate, lag, recentErrors } = THRESHOLDS;
    const cases: Array<[string, Partial<Input>, string, Status, string]> = [
      ["success rate 100%", { successRate: 1 }, "success rate", "ok", "clean"],
      ["success rate at warn", { successRate: successRate.warn }, "success rate", "ok", "clean"],
      [
        "success rate just under warn",
        { successRate: successRate.warn - 1e-4 },
        "success rate",
        "warn",
        "rejections",
      ],
      [
        "success rate at critical",
        { successRate: successRate.critical },
        "success rate",
        "warn",
        "rejections",
      ],
      [
        "success rate just under critical",
        { successRate: successRate.critical - 1e-4 },
        "success rate",
        "critical",
        "rejections",
      ],
      ["success rate unknown", { successRate: null }, "success rate", "unknown", "idle"],
      ["lag 0", { lagTotal: 0 }, "lag", "ok", "current"],
      ["lag just under warn", { lagTotal: lag.warn - 1 }, "lag", "ok", "current"],
      ["lag at warn", { lagTotal: lag.warn }, "lag", "warn", "behind"],
      ["lag just under critical", { lagTotal: lag.critical - 1 }, "lag", "warn", "behind"],
      ["lag at critical", { lagTotal: lag.critical }, "lag", "critical", "behind"],
      ["lag unknown", { lagTotal: null }, "lag", "unknown", "unknown"],
      ["no recent errors", { recentErrors: 0 }, "errors", "ok", "none"],
      ["errors at warn", { recentErrors: recentErrors.warn }, "errors", "warn", "some"],
      [
        "errors just under critical",
        { recentErrors: recentErrors.critical - 1 },
        "errors",
        "warn",
        "some",
      ],
      [
        "errors at critical",
        { recentErrors: recentErrors.critical },
        "errors",
        "critical",
        "many",
      ],
      ["tracker heard now", {}, "tracker", "ok", "alive"],
      [
        "tracker heard SILENT_AFTER_MS ago",
        { tracker: { at: NOW - SILENT_AFTER_MS, stopped: false } },
        "tracker",
        "ok",
        "alive",
      ],
      [
        "tracker heard just over SILENT_AFTER_MS ago",
        { tracker: { at: NOW - SILENT_AFTER_MS - 1, stopped: false } },
        "tracker",
        "critical",
        "silent",
      ],
      [
        "tracker stopped long ago",
        { tracker: { at: NOW - 3_600_000, stopped: true } },
        "tracker",
        "warn",
        "stopped",
      ],
      ["no health log", { tracker: undefined }, "tracker", "unknown", "no-log"],
      ["orders flowing", { flow: "flowing", lagTotal: 5 }, "throughput", "ok", "flowing"],
      ["nothing to do", { flow: "idle" }, "throughput", "ok", "idle"],
      [
        "a lag and nothing moves",
        { flow: "stuck", lagTotal: 1 },
        "throughput",
        "critical",
        "stuck",
      ],
      ["a backlog drains", { flow: "draining" }, "throughput", "ok", "draining"],
      [
        "draining with a lag at critical is a warning",
        { flow: "draining", lagTotal: lag.critical },
        "lag",
        "warn",
        "draining",
      ],
      [
        "draining with a lag at warn",
        { flow: "draining", lagTotal: lag.warn },
        "lag",
        "warn",
        "draining",
      ],
      [
        "draining with a lag under warn is current",
        { flow: "draining", lagTotal: lag.warn - 1 },
        "lag",
        "ok",
        "current",
      ],
    ];
    for (const [name, change, signalName, status, reason] of cases) {
      await t.step(name, () => {
        const signals = healthSignals({ ...calm, ...change });
        const signal = signals.find((s) => s.name === signalName);
        assertEquals(signal, { name: signalName, status, reason });
      });
    }
    await t.step("overall is the most severe signal, unknown above ok", () => {
      assertEquals(worst([]), "ok");
      assertEquals(worst(["ok", "unknown"]), "unknown");
      assertEquals(worst(["unknown", "warn", "ok"]), "warn");
      assertEquals(worst(["warn", "critical", "unknown"]), "critical");
    });
  },
});

Deno.test({
  name: "the model derives health from the records: errors, tracker state, lag and a stuck flow",
  permissions: "none",
  async fn(t) {
    await t.step("errors count ERROR and FATAL records of the last 60 s", () => {
      const model = new MonitorModel();
      model.addHealth(healthRecord(NOW - RECENT_WINDOW_MS - SECOND, "error", "Old failure"));
      model.addHealth(healthRecord(NOW - SECOND, "warning", "Dead-lettered offset 0/1"));
      assertEquals(statusOf(model.view(NOW), "errors"), { status: "ok", reason: "none" });
      model.addHealth(healthRecord(NOW - 2 * SECOND, "error", "Cannot finish a batch of 1"));
      assertEquals(statusOf(model.view(NOW), "errors"), { status: "warn", reason: "some" });
      for (let i = 0; i < 4; i++) model.addHealth(healthRecord(NOW - SECOND, "error", "Again"));
      assertEquals(statusOf(model.view(NOW), "errors").status, "warn", "5 errors");
      model.addHealth(healthRecord(NOW - SECOND, "fatal", "Gave up"));
      assertEquals(statusOf(model.view(NOW), "errors"), { status: "critical", reason: "many" });
      assertEquals(
        statusOf(model.view(NOW + RECENT_WINDOW_MS), "errors"),
        { status: "ok", reason: "none" },
        "a minute later they are history",
      );
    });

    await t.step(
      "the tracker is alive, then silent, stopped, and alive again after a restart",
      () => {
        const model = new MonitorModel();
        assertEquals(statusOf(model.view(NOW), "tracker"), { status: "unknown", reason: "no-log" });
        const started = NOW - 60 * SECOND;
        model.addHealth(
          lifecycleRecord(started, "starting", "Tracker starting (pid 42)", { pid: 42 }),
        );
        model.addHealth(metricsRecord(NOW - 5 * SECOND, { lag: { "0": 3, "1": 0, "2": 4 } }));
        let view = model.view(NOW);
        assertEquals(statusOf(view, "tracker"), { status: "ok", reason: "alive" });
        assertEquals(view.figures.uptimeSec, 60);
        assertEquals(view.figures.lagTotal, 7);
        assertEquals(view.figures.lagByPartition, { "0": 3, "1": 0, "2": 4 });

        const later = NOW - 5 * SECOND + SILENT_AFTER_MS + 1;
        assertEquals(statusOf(model.view(later), "tracker"), {
          status: "critical",
          reason: "silent",
        });

        model.addHealth(metricsRecord(NOW, { lag: {} }));
        model.addHealth(
          lifecycleRecord(
            NOW,
            "stopped",
            "Tracker stopped: 10 received, 10 audited, 0 dead-lettered",
          ),
        );
        view = model.view(NOW + SECOND);
        assertEquals(statusOf(view, "tracker"), { status: "warn", reason: "stopped" });
        assertEquals(view.figures.uptimeSec, null, "a stopped tracker has no uptime");

        model.addHealth(
          lifecycleRecord(NOW + 2 * SECOND, "starting", "Tracker starting (pid 43)", { pid: 43 }),
        );
        view = model.view(NOW + 3 * SECOND);
        assertEquals(statusOf(view, "tracker"), { status: "ok", reason: "alive" });
        assertEquals(view.figures.uptimeSec, 1);
        assertEquals(view.figures.lagTotal, null, "the previous run's lag describes nothing now");
        assertEquals(statusOf(view, "lag"), { status: "unknown", reason: "unknown" });
      },
    );

    await t.step("a tracker that fails is stopped too", () => {
      const model = new MonitorModel();
      model.addHealth(
        lifecycleRecord(NOW - 2 * SECOND, "starting", "Tracker starting (pid 7)", { pid: 7 }),
      );
      model.addHealth(lifecycleRecord(NOW - SECOND, "failed", "Tracker failed: disk full"));
      assertEquals(statusOf(model.view(NOW), "tracker"), { status: "warn", reason: "stopped" });
    });

    await t.step("lag behind with nothing flowing is stuck; once orders flow it is not", () => {
      const model = new MonitorModel();
      model.addHealth(
        lifecycleRecord(NOW - 30 * SECOND, "starting", "Tracker starting (pid 8)", { pid: 8 }),
      );
      model.addHealth(
        metricsRecord(NOW - 2 * SECOND, { lag: { "0": THRESHOLDS.lag.critical, "1": 0 } }),
      );
      let view = model.view(NOW);
      assertEquals(statusOf(view, "throughput"), { status: "critical", reason: "stuck" });
      assertEquals(statusOf(view, "lag"), { status: "critical", reason: "behind" });
      assertEquals(view.health.overall, "critical");
      model.addAudit(audited(NOW - SECOND));
      view = model.view(NOW);
      assertEquals(statusOf(view, "throughput"), { status: "ok", reason: "flowing" });
    });

    await t.step("all quiet and current is OK overall", () => {
      const model = new MonitorModel();
      model.addHealth(
        lifecycleRecord(NOW - 30 * SECOND, "starting", "Tracker starting (pid 9)", { pid: 9 }),
      );
      model.addHealth(metricsRecord(NOW - 2 * SECOND));
      for (let i = 0; i < 10; i++) model.addAudit(audited(NOW - i * 100));
      assertEquals(model.view(NOW).health.overall, "ok");
    });
  },
});

Deno.test({
  name: "the flow is draining only while orders move and a backlog is being caught up",
  permissions: "none",
  async fn(t) {
    const started = NOW - 10 * SECOND;
    const live = {
      throughput: 50,
      lagTotal: 0,
      lagBefore: 0,
      oldestProducedAt: started + SECOND,
      trackerStartedAt: started,
    };
    type Input = Parameters<typeof flowState>[0];
    const { warn } = THRESHOLDS.lag;
    const cases: Array<[string, Partial<Input>, Flow]> = [
      ["live traffic", {}, "flowing"],
      // The issue: orders produced 39 minutes ago, tracker up for 10 s.
      [
        "auditing orders produced long before the tracker started",
        { oldestProducedAt: NOW - 2_344_224, lagTotal: 50_000, lagBefore: 60_000 },
        "draining",
      ],
      [
        "an order produced just over the margin before the start",
        { oldestProducedAt: started - BACKLOG_MARGIN_MS - 1 },
        "draining",
      ],
      [
        "an order produced exactly the margin before the start (a producer started first)",
        { oldestProducedAt: started - BACKLOG_MARGIN_MS },
        "flowing",
      ],
      ["the start is unknown", {
        oldestProducedAt: NOW - 3_600_000,
        trackerStartedAt: null,
      }, "flowing"],
      ["no latency known", { oldestProducedAt: null }, "flowing"],
      ["lag at warn and falling", { lagTotal: warn, lagBefore: warn + 1 }, "draining"],
      ["lag just under warn and falling", { lagTotal: warn - 1, lagBefore: 5 * warn }, "flowing"],
      ["lag high and steady", { lagTotal: 5 * warn, lagBefore: 5 * warn }, "flowing"],
      // Genuinely slow: live orders wait 30 s each and the lag grows.
      [
        "slow live traffic, lag rising",
        {
          trackerStartedAt: NOW - 3_600_000,
          oldestProducedAt: NOW - 30 * SECOND,
          lagTotal: 8 * warn,
          lagBefore: 2 * warn,
        },
        "flowing",
      ],
      ["lag high, no earlier lag to compare", { lagTotal: 5 * warn, lagBefore: null }, "flowing"],
      ["nothing moves, no lag", { throughput: 0 }, "idle"],
      ["nothing moves, lag unknown", { throughput: 0, lagTotal: null }, "idle"],
      ["nothing moves, lag 1", { throughput: 0, lagTotal: 1 }, "stuck"],
      [
        "nothing moves with a backlog from before the start",
        { throughput: 0, lagTotal: 50_000, lagBefore: 60_000, oldestProducedAt: NOW - 3_600_000 },
        "stuck",
      ],
    ];
    for (const [name, change, expected] of cases) {
      await t.step(name, () => assertEquals(flowState({ ...live, ...change }), expected));
    }
  },
});

Deno.test({
  name: "a tracker catching up on a 39-minute backlog reads as draining, not as failing",
  permissions: "none",
  async fn(t) {
    const BACKLOG_MS = 2_344_000;
    /** A tracker started 20 s ago, auditing orders `latencyMs` old, its lag `lags` 5 s apart. */
    function catchingUp(
      { latencyMs, lags }: { latencyMs: number; lags: number[] },
    ): MonitorModel {
      const model = new MonitorModel();
      const started = NOW - 20 * SECOND;
      model.addHealth(lifecycleRecord(started, "starting", "Tracker starting (pid 5)"));
      lags.forEach((lag, i) =>
        model.addHealth(
          metricsRecord(NOW - (lags.length - 1 - i) * 5 * SECOND, { lag: { "0": lag } }),
        )
      );
      for (let i = 0; i < 100; i++) {
        model.addAudit(audited(NOW - 10 * SECOND + i * 100, { latencyMs: latencyMs + i }));
      }
      return model;
    }

    await t.step("the backlog: draining, lag a warning, a note after the latency", () => {
      const view = catchingUp({ latencyMs: BACKLOG_MS, lags: [40_000, 30_000, 20_000] })
        .view(NOW);
      assertEquals(view.figures.flow, "draining");
      assertEquals(statusOf(view, "throughput"), { status: "ok", reason: "draining" });
      assertEquals(statusOf(view, "lag"), { status: "warn", reason: "draining" });
      assertEquals(view.health.overall, "warn");
      const text = formatOnce(view, { width: 100 });
      assertMatch(text, /latency p50\/p95\/p99 39 min\/39 min\/39 min \(draining backlog\) {2}lag/);
      assertMatch(text, /^latency p95 \(max 39 min\)$/m);
      assertMatch(text, /^\d\d:\d\d:\d\d \d\/\d+ [0-9a-f]{8} created 39 min$/m);
    });

    await t.step("orders produced after the start that wait as long are a real delay", () => {
      // The same latencies, but the tracker has run for an hour and the lag grows.
      const model = new MonitorModel();
      model.addHealth(lifecycleRecord(NOW - 3_600_000, "starting", "Tracker starting (pid 5)"));
      model.addHealth(metricsRecord(NOW - 10 * SECOND, { lag: { "0": 20_000 } }));
      model.addHealth(metricsRecord(NOW, { lag: { "0": 30_000 } }));
      for (let i = 0; i < 100; i++) {
        model.addAudit(audited(NOW - 10 * SECOND + i * 100, { latencyMs: BACKLOG_MS }));
      }
      const view = model.view(NOW);
      assertEquals(view.figures.flow, "flowing");
      assertEquals(view.figures.latencyIncludesBacklog, false);
      assertEquals(statusOf(view, "lag"), { status: "critical", reason: "behind" });
      assert(!formatOnce(view, { width: 100 }).includes("draining"));
    });

    await t.step("a log that begins after the tracker's start still tells the backlog", () => {
      // Rotated: no "starting" entry; the metrics' uptime says when the run began.
      const model = new MonitorModel();
      model.addHealth(metricsRecord(NOW - SECOND, { lag: { "0": 0 }, uptimeS: 20 }));
      for (let i = 0; i < 10; i++) {
        model.addAudit(audited(NOW - 5 * SECOND + i, { latencyMs: BACKLOG_MS }));
      }
      assertEquals(model.view(NOW).figures.flow, "draining");
    });

    await t.step("the lag's earlier value is this run's, not the previous run's", () => {
      const model = new MonitorModel();
      model.addHealth(lifecycleRecord(NOW - 40 * SECOND, "starting", "Tracker starting (pid 5)"));
      model.addHealth(metricsRecord(NOW - 30 * SECOND, { lag: { "0": 90_000 } }));
      model.addHealth(lifecycleRecord(NOW - 20 * SECOND, "starting", "Tracker starting (pid 6)"));
      model.addHealth(metricsRecord(NOW - SECOND, { lag: { "0": 20_000 } }));
      for (let i = 0; i < 10; i++) model.addAudit(audited(NOW - 5 * SECOND + i));
      assertEquals(model.view(NOW).figures.flow, "flowing");
      model.addHealth(metricsRecord(NOW, { lag: { "0": 19_000 } }));
      assertEquals(model.view(NOW).figures.flow, "draining");
    });

    await t.step("once nothing moves, a backlog is stuck", () => {
      const view = catchingUp({ latencyMs: BACKLOG_MS, lags: [40_000, 30_000] })
        .view(NOW + NOW_WINDOW_MS);
      assertEquals(statusOf(view, "throughput"), { status: "critical", reason: "stuck" });
      assertEquals(statusOf(view, "lag"), { status: "critical", reason: "behind" });
    });

    await t.step("drained and idle, the minute's latency still says it holds the backlog", () => {
      const model = catchingUp({ latencyMs: BACKLOG_MS, lags: [40_000, 0] });
      const later = NOW + NOW_WINDOW_MS;
      const view = model.view(later);
      assertEquals(view.figures.flow, "idle");
      assertEquals(view.figures.latencyIncludesBacklog, true);
      assertMatch(formatOnce(view, { width: 100 }), /39 min \(includes backlog\) {2}lag 0/);
      // Once the backlog's orders leave the minute, the note goes with them.
      const clear = model.view(NOW + RECENT_WINDOW_MS);
      assertEquals(clear.figures.latencyIncludesBacklog, false);
      assert(!formatOnce(clear, { width: 100 }).includes("backlog"));
    });
  },
});

Deno.test({
  name: "with nothing read at all the monitor says no tracker has run and what to run",
  permissions: "none",
  async fn(t) {
    await t.step("the view carries the hint; the text shows it instead of no-log", () => {
      const view = new MonitorModel().view(NOW);
      assertEquals(view.hint, NO_TRACKER_HINT);
      assertEquals(statusOf(view, "tracker"), { status: "unknown", reason: "no-log" });
      const text = formatOnce(view, { width: 100 });
      assertMatch(text, /^no tracker has run here: deno task start$/m);
      assert(!text.includes("no-log"), text);
      assert(!/^overall:/m.test(text), text);
      assertMatch(text, /^● throughput {3}idle$/m);
    });

    await t.step("a narrow pane puts the command on a row of its own", () => {
      const panels = formatPanels(new MonitorModel().view(NOW), {
        width: 97,
        healthWidth: 37,
        paneWidth: 47,
        tags: false,
      });
      assertEquals(panels.health.slice(0, 2), ["no tracker has run here:", "  deno task start"]);
      assert(panels.health.length <= 6, "fits the health pane's six rows");
    });

    await t.step("an audit trail without a health log: a tracker has run, its log is gone", () => {
      const model = new MonitorModel();
      model.addAudit(audited(NOW - SECOND));
      const view = model.view(NOW);
      assertEquals(view.hint, null);
      assertMatch(formatOnce(view, { width: 100 }), /^▲ tracker {6}no-log$/m);
    });

    await t.step("files with unreadable lines only: no hint, something is there", () => {
      const model = new MonitorModel();
      model.addUnreadable(3);
      assertEquals(model.view(NOW).hint, null);
    });

    await t.step("a health log: no hint", () => {
      const model = new MonitorModel();
      model.addHealth(lifecycleRecord(NOW - SECOND, "starting", "Tracker starting (pid 5)"));
      const view = model.view(NOW);
      assertEquals(view.hint, null);
      const text = formatOnce(view, { width: 100 });
      assertMatch(text, /^overall: UNKNOWN$/m);
      assertMatch(text, /^● tracker {6}alive$/m);
    });
  },
});

Deno.test({
  name: "lifecycle counts audited orders by status; DLQ and duplicates are counted apart",
  permissions: "none",
  fn() {
    const model = new MonitorModel();
    const statuses: OrderStatus[] = ["created", "created", "paid", "shipped", "delivered"];
    for (const status of statuses) model.addAudit(audited(NOW, { status }));
    model.addAudit(audited(NOW, { status: "cancelled" }));
    model.addAudit(duplicate(NOW, "paid"));
    model.addAudit(deadLettered(NOW));
    const { figures, lifecycle } = model.view(NOW);
    assertEquals(lifecycle, { created: 2, paid: 1, shipped: 1, delivered: 1, cancelled: 1 });
    assertEquals(
      { total: figures.total, audited: figures.audited, dlq: figures.deadLettered },
      { total: 8, audited: 6, dlq: 1 },
    );
    assertEquals(figures.duplicates, 1);
  },
});

Deno.test({
  name: "recent rows are newest first and bounded",
  permissions: "none",
  fn() {
    const model = new MonitorModel();
    for (let i = 0; i < 250; i++) model.addAudit(audited(NOW - (250 - i) * 10));
    for (let i = 0; i < 250; i++) {
      model.addHealth(healthRecord(NOW - (250 - i) * 10, "info", `n${i}`));
    }
    model.addHealth(metricsRecord(NOW));
    const view = model.view(NOW);
    assertEquals(view.events.length, 200);
    assertEquals(view.events[0]!.at, NOW - 10);
    assertEquals(view.logs.length, 200);
    assertEquals(view.logs[0]!.text, "n249", "metrics records are figures, not rows");
    assertEquals(view.logs.at(-1)!.text, "n50");
  },
});

Deno.test({
  name: "charts hold the last 5 minutes in 5 s buckets",
  permissions: "none",
  fn() {
    const model = new MonitorModel();
    // 10 in the newest bucket, 5 in the oldest, 3 older than the chart.
    for (let i = 0; i < 10; i++) model.addAudit(audited(NOW - 4 * SECOND, { latencyMs: 10 + i }));
    const chartStart = NOW - CHART_BUCKETS * 5 * SECOND;
    for (let i = 0; i < 5; i++) model.addAudit(audited(chartStart + i, { latencyMs: 40 }));
    for (let i = 0; i < 3; i++) model.addAudit(audited(chartStart - SECOND));
    const { charts } = model.view(NOW);
    assertEquals(charts.throughput.length, CHART_BUCKETS);
    assertEquals(charts.latencyP95.length, CHART_BUCKETS);
    assertEquals(charts.throughput.at(-1), 2, "10 records / 5 s");
    assertEquals(charts.throughput[0], 1, "5 records / 5 s");
    assertEquals(charts.throughput.slice(1, -1).every((v) => v === 0), true);
    assertEquals(charts.latencyP95.at(-1), 19);
    assertEquals(charts.latencyP95[0], 40);
    assertEquals(charts.latencyP95.slice(1, -1).every((v) => v === null), true);
  },
});

Deno.test({
  name: "charts move a whole second at a time, and take in a record that comes late",
  permissions: "none",
  fn() {
    const model = new MonitorModel();
    for (let i = 0; i < 10; i++) model.addAudit(audited(NOW - 4 * SECOND, { latencyMs: 10 + i }));
    const first = model.view(NOW + 900).charts;
    assertEquals(first.throughput.at(-1), 2, "10 records / 5 s, up to the start of the second");
    // Within the same second a record of this second is not in the charts yet.
    model.addAudit(audited(NOW + 500, { latencyMs: 99 }));
    assertEquals(model.view(NOW + 950).charts, first);
    // A late record in a second the charts hold is.
    model.addAudit(audited(NOW - 2 * SECOND, { latencyMs: 70 }));
    const late = model.view(NOW + 950).charts;
    assertEquals(late.throughput.at(-1), 11 / 5);
    assertEquals(late.latencyP95.at(-1), 70);
    // The next second takes in the record of the second before.
    const next = model.view(NOW + SECOND).charts;
    assertEquals(next.throughput.at(-1), 12 / 5);
    assertEquals(next.latencyP95.at(-1), 99);
  },
});

Deno.test({
  name: "the last minute's figures take in a record that comes late, to a second already added up",
  permissions: "none",
  fn() {
    const model = new MonitorModel();
    for (let i = 1; i <= 20; i++) model.addAudit(audited(NOW - 30 * SECOND + i, { latencyMs: i }));
    assertEquals(model.view(NOW + 400).figures.latencyMs, { p50: 10, p95: 19, p99: 20 });
    model.addAudit(audited(NOW - 30 * SECOND, { latencyMs: 500 }));
    model.addAudit(deadLettered(NOW - 20 * SECOND));
    const { figures } = model.view(NOW + 450);
    assertEquals(figures.latencyMs, { p50: 11, p95: 20, p99: 500 });
    assertEquals(figures.successRate, 21 / 22);
  },
});

Deno.test({
  name: "one record stamped far in the future does not discard the records after it",
  permissions: "none",
  fn() {
    const model = new MonitorModel();
    model.addAudit(audited(NOW + 24 * 3_600_000));
    for (let i = 0; i < 30; i++) model.addAudit(audited(NOW - 3 * SECOND + i * 10));
    const view = model.view(NOW);
    assertEquals(view.figures.throughputPerSec, 3);
    assertEquals(view.charts.throughput.at(-1), 6);
  },
});

Deno.test({
  name: "a replayed log keeps its historical timestamps: at now nothing looks live",
  permissions: "none",
  async fn(t) {
    const HOUR_AGO = NOW - 3_600_000;
    function replay(): MonitorModel {
      const model = new MonitorModel();
      model.addHealth(
        lifecycleRecord(HOUR_AGO, "starting", "Tracker starting (pid 42)", { pid: 42 }),
      );
      model.addHealth(
        lifecycleRecord(HOUR_AGO + 400, "ready", 'Tracker ready: group "order-tracker"'),
      );
      // 10 s of traffic at 10 orders a second, 2 rejections, and the tracker's metrics.
      for (let i = 0; i < 100; i++) {
        model.addAudit(
          i % 50 === 7 ? deadLettered(HOUR_AGO + SECOND + i * 100) : audited(
            HOUR_AGO + SECOND + i * 100,
            { latencyMs: 4 },
          ),
        );
      }
      for (let s = 5; s <= 15; s += 5) {
        model.addHealth(metricsRecord(HOUR_AGO + s * SECOND, { uptimeS: s }));
      }
      return model;
    }

    await t.step("at their own time the same records are live (the model is not broken)", () => {
      const view = replay().view(HOUR_AGO + 10_950);
      assertEquals(view.figures.throughputPerSec, 10);
      assertEquals(statusOf(view, "tracker"), { status: "ok", reason: "alive" });
      assertEquals(view.figures.successRate, 0.98);
      assertEquals(view.figures.latencyMs.p95, 4);
    });

    await t.step("a tracker that went silent an hour ago", () => {
      const view = replay().view(NOW);
      assertEquals(view.figures.throughputPerSec, 0);
      assertEquals(statusOf(view, "tracker"), { status: "critical", reason: "silent" });
      assertEquals(statusOf(view, "success rate"), { status: "unknown", reason: "idle" });
      assertEquals(view.figures.latencyMs, { p50: null, p95: null, p99: null });
      assertEquals(view.figures.uptimeSec, null, "an uptime counting up to now would look live");
      assertEquals(view.charts.throughput.every((v) => v === 0), true);
      assertEquals(view.charts.latencyP95.every((v) => v === null), true);
      assertEquals(view.lastRecordAt, HOUR_AGO + 15 * SECOND);
      assertEquals(view.figures.total, 100, "history is still counted");
      assertEquals(view.logs.at(-1)!.at, HOUR_AGO);
      assertEquals(view.events[0]!.at, HOUR_AGO + SECOND + 99 * 100);

      const text = formatOnce(view, { width: 100 });
      assertEquals(clock(HOUR_AGO), "11:00:00");
      assertMatch(text, /^11:00:00 INFO {2}Tracker starting \(pid 42\)$/m);
      assertMatch(text, /^11:00:10 \d\/\d+ [0-9a-f]{8} \w+ 4 ms$/m);
      assert(!text.includes(clock(NOW)), `no row shows the clock of now:\n${text}`);
      assertMatch(text, /now 0\.0 msg\/s/);
      assertMatch(text, /uptime -/);
    });

    await t.step("a tracker that stopped an hour ago", () => {
      const model = replay();
      model.addHealth(
        lifecycleRecord(HOUR_AGO + 16 * SECOND, "stopped", "Tracker stopped: 100 received"),
      );
      const view = model.view(NOW);
      assertEquals(view.figures.throughputPerSec, 0);
      assertEquals(statusOf(view, "tracker"), { status: "warn", reason: "stopped" });
      assertEquals(view.figures.uptimeSec, null);
      assertEquals(view.logs[0]!.at, HOUR_AGO + 16 * SECOND);
    });
  },
});

Deno.test({
  name: "truncate cuts on code points to at most the width and marks the cut with …",
  permissions: "none",
  async fn(t) {
    const cases: Array<[string, number, string]> = [
      ["hello", 5, "hello"],
      ["hello", 4, "hel…"],
      ["hello", 1, "…"],
      ["hello", 0, ""],
      ["hello", -3, ""],
      ["", 4, ""],
      ["日本語", 6, "日本語"],
      ["日本語", 5, "日本…"],
      ["日本語", 4, "日…"],
      ["日本語", 2, "…"],
      ["a😀b", 4, "a😀b"],
      ["a😀b", 3, "a…"],
      ["😀😀😀", 5, "😀😀…"],
      ["😀😀😀", 4, "😀…"],
      ["한국어 텍스트", 7, "한국어…"],
      ["한국어 텍스트", 6, "한국…"],
      ["ＡＢＣ", 5, "ＡＢ…"],
      ["e\u0301e\u0301e\u0301", 3, "e\u0301e\u0301e\u0301"],
      ["abe\u0301cd", 4, "abe\u0301…"],
      ["naïve café", 10, "naïve café"],
      ["naïve café", 9, "naïve ca…"],
      ["tab\there", 20, "tab here"],
      ["one\ntwo\r\n", 20, "one two  "],
      ["\u001b[31mred\u001b[0m", 20, " [31mred [0m"],
      ["nul\u0000del\u007f", 20, "nul del "],
      ["ab\ncd", 3, "ab…"],
    ];
    for (const [text, width, expected] of cases) {
      await t.step(`${JSON.stringify(text)} in ${width}`, () => {
        const result = truncate(text, width);
        assertEquals(result, expected);
        assert(columns(result) <= Math.max(0, width), `${columns(result)} > ${width}`);
      });
    }
  },
});

Deno.test({
  name: "truncate never exceeds the width nor breaks a character, whatever the mix",
  permissions: "none",
  fn() {
    const alphabet = [
      "a",
      "Z",
      " ",
      "é",
      "e\u0301",
      "日",
      "한",
      "ｱ",
      "Ｗ",
      "😀",
      "🎉",
      "𝒜",
      "\t",
      "\n",
      "\u001b",
      "{",
      "€",
    ];
    const next = seededRandom(12_345);
    const random = (n: number) => Math.floor(next() * n);
    const encoder = new TextEncoder();
    const decoder = new TextDecoder("utf-8", { fatal: true });
    let cut = 0;
    for (let i = 0; i < 2_000; i++) {
      const text = Array.from({ length: random(16) }, () => alphabet[random(alphabet.length)])
        .join("");
      const width = random(14);
      const result = truncate(text, width);
      const context = `${JSON.stringify(text)} in ${width} gave ${JSON.stringify(result)}`;
      if (width === 0) {
        assertEquals(result, "", context);
        continue;
      }
      assert(columns(result) <= width, context);
      assert(result.isWellFormed(), `no broken surrogate pair: ${context}`);
      assertEquals(decoder.decode(encoder.encode(result)), result, context);
      // deno-lint-ignore no-control-regex
      assert(!/[\u0000-\u001f\u007f]/.test(result), `no control character: ${context}`);
      // deno-lint-ignore no-control-regex
      const clean = text.replace(/[\u0000-\u001f\u007f]/g, " ");
      if (columns(clean) <= width) {
        assertEquals(result, clean, context);
      } else {
        cut++;
        assert(result.endsWith("…"), context);
        assert(clean.startsWith(result.slice(0, -1)), `a prefix: ${context}`);
        // The next character would not fit: at most one column (a wide char's half) is lost.
        assert(columns(result) >= width - 1, `cut too short: ${context}`);
      }
    }
    assert(cut > 500, `the cases exercise cutting (${cut} cut)`);
  },
});

Deno.test({
  name: "sparkline scales to the largest value and shows missing data as a space",
  permissions: "none",
  async fn(t) {
    const cases: Array<[Array<number | null>, string]> = [
      [[], ""],
      [[0, 0, 0], "▁▁▁"],
      [[0, 1, 2, 3, 4, 5, 6, 7], "▁▂▃▄▅▆▇█"],
      [[5, 10], "▄█"],
      [[null, 3, null], " █ "],
      [[null, null], "  "],
      [[0.001, 1_000_000], "▁█"],
    ];
    for (const [values, expected] of cases) {
      await t.step(JSON.stringify(values), () => {
        assertEquals(sparkline(values), expected);
      });
    }
  },
});

Deno.test({
  name: "counts print exactly below 1000 and compactly above; clock times are UTC",
  permissions: "none",
  async fn(t) {
    const counts: Array<[number, string]> = [
      [0, "0"],
      [7, "7"],
      [999, "999"],
      [1_000, "1.00k"],
      [1_234, "1.23k"],
      [12_345, "12.3k"],
      [999_949, "999.9k"],
      [1_234_567, "1.23M"],
    ];
    for (const [n, expected] of counts) {
      await t.step(`compact(${n})`, () => assertEquals(compact(n), expected));
    }
    await t.step(
      "clock is UTC",
      () => assertEquals(clock(Date.UTC(2026, 0, 2, 3, 4, 5)), "03:04:05"),
    );
  },
});

Deno.test({
  name:
    "durations read in ms below 1 s, tenths below 10 s, then the largest unit with the next while it is one digit",
  permissions: "none",
  async fn(t) {
    const MIN = 60 * SECOND;
    const HOUR = 60 * MIN;
    const DAY = 24 * HOUR;
    const cases: Array<[number, string]> = [
      [0, "0 ms"],
      [0.4, "0 ms"],
      [-0.4, "0 ms"],
      [36, "36 ms"],
      [999, "999 ms"],
      [999.4, "999 ms"],
      [999.5, "1.0 s"],
      [1_000, "1.0 s"],
      [1_099, "1.0 s"],
      [2_340, "2.3 s"],
      [9_999, "9.9 s"],
      [10 * SECOND, "10 s"],
      [59_999, "59 s"],
      [MIN, "1 min 00 s"],
      [MIN + 5 * SECOND, "1 min 05 s"],
      [10 * MIN - 1, "9 min 59 s"],
      [10 * MIN, "10 min"],
      // The backlog: p95 2,344,186 ms.
      [2_344_186, "39 min"],
      [HOUR - 1, "59 min"],
      [HOUR, "1 h 00 min"],
      [HOUR + 5 * MIN, "1 h 05 min"],
      [10 * HOUR - 1, "9 h 59 min"],
      [10 * HOUR, "10 h"],
      [DAY - 1, "23 h"],
      [DAY, "1 d 00 h"],
      [DAY + 3 * HOUR, "1 d 03 h"],
      [10 * DAY - 1, "9 d 23 h"],
      [10 * DAY, "10 d"],
      [400 * DAY, "400 d"],
      // Latency from clocks of two hosts that disagree.
      [-3, "-3 ms"],
      [-2 * MIN - 5 * SECOND, "-2 min 05 s"],
    ];
    for (const [ms, expected] of cases) {
      await t.step(`duration(${ms})`, () => assertEquals(duration(ms), expected));
    }
  },
});

Deno.test({
  name: "latency percentiles share ms while all are below 1 s, else each carries its unit",
  permissions: "none",
  async fn(t) {
    const cases: Array<[[number | null, number | null, number | null], string]> = [
      [[2, 4, 5], "2/4/5 ms"],
      [[null, null, null], "-/-/- ms"],
      [[0, 999, 999], "0/999/999 ms"],
      [[36, 117, 2_340], "36 ms/117 ms/2.3 s"],
      [[999, 1_000, 1_000], "999 ms/1.0 s/1.0 s"],
      [[2_343_660, 2_344_186, 2_344_224], "39 min/39 min/39 min"],
      [[12, 95_000, 4_000_000], "12 ms/1 min 35 s/1 h 06 min"],
    ];
    for (const [[p50, p95, p99], expected] of cases) {
      await t.step(expected, () => assertEquals(percentilesText({ p50, p95, p99 }), expected));
    }
  },
});

/** A view with everything a pane can hold at its longest: wide text, braces, every status. */
function busyView(): View {
  const model = new MonitorModel();
  model.addHealth(
    lifecycleRecord(NOW - 50 * SECOND, "starting", "Tracker starting (pid 4242424)", {
      pid: 4242424,
    }),
  );
  model.addHealth(
    healthRecord(
      NOW - 3 * SECOND,
      "warning",
      'Dead-lettered offset 2/123456789: validation: {"total": "日本語 😀 ＡＢＣ {bold}x{/bold}"}',
    ),
  );
  for (let i = 0; i < 8; i++) {
    model.addHealth(healthRecord(NOW - 2 * SECOND, "error", `Cannot finish a batch {red-fg} ${i}`));
  }
  model.addHealth(metricsRecord(NOW - SECOND, { lag: { "0": 123_456, "1": 7_654_321 } }));
  for (let i = 0; i < 60; i++) {
    model.addAudit(audited(NOW - i * 5 * SECOND, { status: "delivered", latencyMs: 12_345 + i }));
    model.addAudit(deadLettered(NOW - i * 5 * SECOND));
    model.addAudit(duplicate(NOW - i * 5 * SECOND));
  }
  return model.view(NOW);
}

Deno.test({
  name: "formatted rows never exceed the width of their pane",
  permissions: "none",
  async fn(t) {
    const view = busyView();
    const sizes = [
      // The dashboard's widths at 100, 40 and 12 columns (lib/dashboard.ts widths()).
      { width: 97, healthWidth: 37, chartWidth: 57, paneWidth: 47 },
      { width: 37, healthWidth: 13, chartWidth: 21, paneWidth: 17 },
      { width: 10, healthWidth: 10, chartWidth: 10, paneWidth: 10 },
      { width: 200, healthWidth: 80, chartWidth: 120, paneWidth: 100 },
    ];
    for (const size of sizes) {
      for (const tags of [true, false]) {
        await t.step(`${JSON.stringify(size)}, tags ${tags}`, () => {
          const panels = formatPanels(view, { ...size, tags });
          const limits: Record<keyof Panels, number> = {
            headline: size.width,
            health: size.healthWidth,
            charts: size.chartWidth,
            logs: size.paneWidth,
            events: size.paneWidth,
            deadLetters: size.paneWidth,
          };
          for (const [pane, rows] of Object.entries(panels) as Array<[keyof Panels, string[]]>) {
            assert(rows.length > 0, `${pane} has rows`);
            for (const row of rows) {
              const text = tags ? shown(row) : row;
              assert(
                columns(text) <= limits[pane],
                `${pane} row is ${columns(text)} columns, pane is ${limits[pane]}: ${text}`,
              );
              assert(!text.includes("\n"), `${pane} row is one row`);
            }
          }
        });
      }
    }
  },
});

Deno.test({
  name: "an unchanged view redraws no pane; a change redraws only the panes it shows in",
  permissions: "none",
  fn() {
    const model = new MonitorModel();
    model.addHealth(lifecycleRecord(NOW - 10 * SECOND, "starting", "Tracker starting (pid 42)"));
    model.addAudit(audited(NOW - 2 * SECOND));
    const size = { width: 100, paneWidth: 48, healthWidth: 38, chartWidth: 58, tags: true };
    const before = formatPanels(model.view(NOW), size);
    assertEquals(changedPanes(undefined, before), [...PANES], "nothing shown yet: all");
    assertEquals(changedPanes(before, formatPanels(model.view(NOW), size)), []);
    model.addHealth(healthRecord(NOW - SECOND, "info", "Rebalanced"));
    assertEquals(changedPanes(before, formatPanels(model.view(NOW), size)), ["logs"]);
  },
});

Deno.test({
  name: "the scrolling panes can be given only the newest rows they can show",
  permissions: "none",
  fn() {
    const view = busyView();
    const size = { width: 100, paneWidth: 48, tags: false };
    const all = formatPanels(view, size);
    const some = formatPanels(view, { ...size, rows: { logs: 1, events: 2 } });
    assertEquals(some.events, all.events.slice(0, 2));
    assertEquals(some.logs, all.logs.slice(0, 1));
    assertEquals(some.headline, all.headline);
    assert(all.events.length > 2, "there were more");
  },
});

Deno.test({
  name: "content from the files cannot inject colour tags",
  permissions: "none",
  fn() {
    const panels = formatPanels(busyView(), { width: 200, paneWidth: 200, tags: true });
    const warning = panels.logs.find((row) => row.includes("Dead-lettered"));
    assert(warning, "the warning is shown");
    assert(warning.includes("{open}bold{close}x{open}/bold{close}"), warning);
    assert(!/\{\/?bold\}/.test(warning), warning);
    assertEquals(
      shown(warning),
      `${clock(NOW - 3 * SECOND)} WARN  Dead-lettered offset 2/123456789: validation: ` +
        '{"total": "日本語 😀 ＡＢＣ {bold}x{/bold}"}',
    );
    // Every tag left is one the formatter added: colours and the escapes.
    for (const row of Object.values(panels).flat()) {
      for (const [tag] of row.matchAll(/\{[^}]*\}/g)) {
        assertMatch(tag, /^\{(open|close|\/?(red|green|yellow|gray|white)-fg)\}$/, row);
      }
    }
  },
});

Deno.test({
  name: "health-log rows are coloured by level as the logging library writes it",
  permissions: "none",
  async fn(t) {
    const cases: Array<[LogLevel, string | undefined]> = [
      ["error", "red"],
      ["fatal", "red"],
      ["warning", "yellow"],
      ["info", "white"],
      ["debug", "gray"],
    ];
    for (const [level, colour] of cases) {
      await t.step(level, () => {
        const model = new MonitorModel();
        model.addHealth(healthRecord(NOW, level, "Something happened"));
        const [row] = formatPanels(model.view(NOW), { width: 80, paneWidth: 80, tags: true }).logs;
        assertMatch(
          row ?? "",
          new RegExp(`^\\{${colour}-fg\\}.*Something happened\\{/${colour}-fg\\}$`),
        );
      });
    }
  },
});

Deno.test({
  name: "formatOnce prints plain rows no wider than the width, with the exact counts",
  permissions: "none",
  async fn(t) {
    const view = busyView();
    for (const width of [100, 40]) {
      await t.step(`width ${width}`, () => {
        const text = formatOnce(view, { width });
        for (const row of text.split("\n")) {
          assert(columns(row) <= width, `${columns(row)} > ${width}: ${row}`);
        }
        // Content keeps its braces as they are; no colour the formatter would add.
        assert(!/\{open\}|\{close\}|\{\/\w+-fg\}/.test(text), "no tags");
      });
    }
    const text = formatOnce(view, { width: 100 });
    assertMatch(
      text,
      /^received 180 {2}audited 60 {2}DLQ 60 {2}duplicates 60 {2}success 50\.00% {2}uptime /m,
    );
    assertMatch(text, /^created 0 {2}paid 0 {2}shipped 0 {2}delivered 60 {2}cancelled 0$/m);
    assertMatch(text, /lag 7\.78M$/m);
    assertMatch(text, /^lag in time 2\.0 s$/m, "the oldest record's age; one sample: no trend");
    assertMatch(text, /^overall: CRITICAL$/m);
  },
});

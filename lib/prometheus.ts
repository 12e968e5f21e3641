/**
 * The tracker's figures in the Prometheus text format: the only module that
 * imports prom-client. Counters and lag are read from TrackerMetrics at each
 * scrape, so they say what the health log's metrics record says; latencies are
 * observed per audited record into a histogram. Process facts are prom-client's
 * default metrics, less those that cannot work under the tracker's permissions
 * or under Deno (they would read 0 or nothing, which looks like a fact).
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";
import type { AuditRecord } from "./audit_record.ts";
import type { TrackerCounters } from "./health_record.ts";
import type { TrackerMetrics } from "./tracker_metrics.ts";

/** Every name the tracker exports starts with this. */
export const METRIC_PREFIX = "order_tracker_";

/**
 * End-to-end latency buckets (seconds): live traffic takes milliseconds, a
 * drained backlog minutes.
 */
export const LATENCY_BUCKETS_S = [
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  5,
  10,
  30,
  60,
  300,
  1800,
] as const;

/**
 * Default metrics left out, and why: the first five read /proc/self, which the
 * tracker may not read (it reads its data directory only), so they would be 0
 * (resident memory comes from Deno.memoryUsage instead); Deno's Node layer
 * lists no libuv handles or requests and emits no GC performance entries.
 */
const UNAVAILABLE_DEFAULTS = [
  "process_resident_memory_bytes",
  "process_virtual_memory_bytes",
  "process_heap_bytes",
  "process_open_fds",
  "process_max_fds",
  "nodejs_active_handles",
  "nodejs_active_handles_total",
  "nodejs_active_requests",
  "nodejs_active_requests_total",
  "nodejs_gc_duration_seconds",
] as const;

/** The counters exported, each with the TrackerCounters field it mirrors. */
const COUNTERS: ReadonlyArray<{ name: string; field: keyof TrackerCounters; help: string }> = [
  {
    name: "messages_received_total",
    field: "received",
    help: "Messages consumed from the orders topic and handled (this run)",
  },
  {
    name: "messages_audited_total",
    field: "audited",
    help: "Messages audited as valid order events (this run)",
  },
  {
    name: "messages_dead_lettered_total",
    field: "dead_lettered",
    help: "Messages rejected and published to the dead-letter topic (this run)",
  },
  {
    name: "messages_duplicate_total",
    field: "duplicates",
    help: "Messages audited as duplicates of an earlier event (this run)",
  },
];

/** A registry of the tracker's metrics and the text a scrape returns. */
export interface TrackerExposition {
  /** Observes the latencies of records just written. */
  observe(records: readonly AuditRecord[]): void;
  /** The exposition text at this moment. */
  text(): Promise<string>;
  readonly contentType: string;
}

/**
 * The tracker's metrics over `metrics`.
 *
 * @param options.now the clock lag ages are computed with (default Date.now)
 * @param options.processMetrics include process facts (default true; they read the runtime)
 */
export function trackerExposition(
  metrics: TrackerMetrics,
  { now = Date.now, processMetrics = true }: { now?: () => number; processMetrics?: boolean } = {},
): TrackerExposition {
  const registry = new Registry();
  for (const { name, field, help } of COUNTERS) {
    let exported = 0;
    new Counter({
      name: METRIC_PREFIX + name,
      help,
      registers: [registry],
      collect() {
        // Catches up with the tracker's own count, which only grows within a run.
        const value = metrics.counters[field];
        if (value > exported) this.inc(value - exported);
        exported = value;
      },
    });
  }
  new Gauge({
    name: `${METRIC_PREFIX}lag_messages`,
    help: "Messages of the partition after the last one handled (as of its last chunk)",
    labelNames: ["partition"],
    registers: [registry],
    collect() {
      this.reset();
      for (const { partition, lag } of metrics.lagByPartition(now())) {
        this.set({ partition: String(partition) }, lag);
      }
    },
  });
  new Gauge({
    name: `${METRIC_PREFIX}lag_seconds`,
    help: "Age of the partition's oldest record not yet audited (0 with no lag)",
    labelNames: ["partition"],
    registers: [registry],
    collect() {
      this.reset();
      for (const { partition, ageMs } of metrics.lagByPartition(now())) {
        if (ageMs !== null) this.set({ partition: String(partition) }, ageMs / 1000);
      }
    },
  });
  new Gauge({
    name: `${METRIC_PREFIX}lag_drain_seconds`,
    help:
      "Time to drain every partition's lag at the current net rate (0: no lag; +Inf: not shrinking; NaN: not known yet)",
    registers: [registry],
    collect() {
      const drainMs = metrics.drainMs();
      this.set(drainMs === null ? NaN : drainMs === "never" ? Infinity : drainMs / 1000);
    },
  });
  const latency = new Histogram({
    name: `${METRIC_PREFIX}latency_seconds`,
    help: "End-to-end latency of audited orders: produced (or Kafka record time) to audited",
    buckets: [...LATENCY_BUCKETS_S],
    registers: [registry],
  });
  if (processMetrics) {
    collectDefaultMetrics({ register: registry });
    for (const name of UNAVAILABLE_DEFAULTS) registry.removeSingleMetric(name);
    new Gauge({
      name: "process_resident_memory_bytes",
      help: "Resident memory size in bytes.",
      registers: [registry],
      collect() {
        this.set(Deno.memoryUsage().rss);
      },
    });
  }
  return {
    observe(records) {
      for (const record of records) {
        if (record.outcome === "audited" && record.latency_ms !== null) {
          latency.observe(record.latency_ms / 1000);
        }
      }
    },
    text: () => registry.metrics(),
    contentType: registry.contentType,
  };
}

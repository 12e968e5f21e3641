/**
 * The end-to-end benchmark's figures (`deno task bench:e2e`): the latency of
 * orders produced within the measured window, tallied from the audit trail as
 * it is read; each process's CPU over that window; whether anything was lost;
 * and the report text and exit code. Pure: the task runs the processes and
 * reads the files.
 */
import type { AuditRecord } from "./audit_record.ts";
import { EXIT } from "./constants.ts";
import {
  coreShareText,
  cpuPerThousandText,
  cpuSum,
  type CpuTime,
  type MachineCpu,
} from "./process_cpu.ts";

/** The performance goal the benchmark measures: p99 at a rate, all processes on one machine. */
export const E2E_GOAL = { p99Ms: 20, ratePerSec: 5_000 } as const;

/** End-to-end latency percentiles (ms) of the orders produced in the window. */
export interface LatencyFigures {
  p50: number | null;
  p95: number | null;
  p99: number | null;
  max: number | null;
  /** Orders produced in the window whose latency is known. */
  count: number;
}

/** What the trail holds, by outcome (one record per message consumed). */
export interface TrailCounts {
  records: number;
  audited: number;
  deadLettered: number;
  duplicates: number;
}

/**
 * Tallies audit records, one at a time as the trail is read: every record by
 * outcome, and the latencies of orders produced in `[fromMs, toMs)`.
 */
export class LatencyTally {
  readonly #fromMs: number;
  readonly #toMs: number;
  /** How many orders had each latency: bounded by the distinct values, not the orders. */
  readonly #latencies = new Map<number, number>();
  readonly #counts: TrailCounts = { records: 0, audited: 0, deadLettered: 0, duplicates: 0 };
  #lastTimestamp = { text: "", ms: NaN };

  constructor({ fromMs, toMs }: { fromMs: number; toMs: number }) {
    this.#fromMs = fromMs;
    this.#toMs = toMs;
  }

  /** Counts a record; an audited one produced in the window adds its latency. */
  add(record: AuditRecord): void {
    const c = this.#counts;
    c.records++;
    if (record.outcome === "dead_lettered") c.deadLettered++;
    else if (record.outcome === "duplicate") c.duplicates++;
    else {
      c.audited++;
      const produced = this.#producedAt(record);
      if (produced !== undefined && produced >= this.#fromMs && produced < this.#toMs) {
        const ms = record.latency_ms!;
        this.#latencies.set(ms, (this.#latencies.get(ms) ?? 0) + 1);
      }
    }
  }

  get counts(): Readonly<TrailCounts> {
    return this.#counts;
  }

  /** Percentiles (nearest rank, as the tracker's metrics) and the maximum. */
  latency(): LatencyFigures {
    const values = [...this.#latencies.keys()].sort((a, b) => a - b);
    let count = 0;
    for (const n of this.#latencies.values()) count += n;
    const ranks = [50, 95, 99].map((p) => Math.max(1, Math.ceil((p / 100) * count)));
    const found: number[] = [];
    let seen = 0;
    for (const value of values) {
      seen += this.#latencies.get(value)!;
      while (found.length < ranks.length && seen >= ranks[found.length]!) found.push(value);
    }
    const pick = (i: number) => (count === 0 ? null : found[i]!);
    return { p50: pick(0), p95: pick(1), p99: pick(2), max: values.at(-1) ?? null, count };
  }

  /**
   * When the order was produced: the record's time less its latency, which is
   * exactly the order's `produced_at` (the tracker subtracts one from the
   * other). Read so, the trail is parsed without the orders, at a quarter of
   * the cost. Undefined when the latency counts from elsewhere.
   */
  #producedAt(record: AuditRecord): number | undefined {
    if (record.latency_source !== "produced_at" || record.latency_ms === null) return undefined;
    // A chunk's records share one timestamp: parse it once.
    if (record.timestamp !== this.#lastTimestamp.text) {
      this.#lastTimestamp = { text: record.timestamp, ms: Date.parse(record.timestamp) };
    }
    return this.#lastTimestamp.ms - record.latency_ms;
  }
}

/** One process whose CPU was read at the window's start and end. */
export interface ProcessCpu {
  /** "producer", "tracker", "broker", … */
  name: string;
  /** CPU used over the window; undefined when it could not be read (`note` says why). */
  cpu: CpuTime | undefined;
  /** Which process it is: "pid 1234", "this process", or why it is not measured. */
  note: string;
}

/** How the producer ended, from its `stopped` lifecycle record. */
export interface ProducerOutcome {
  acknowledged: number;
  failed: number;
  indeterminate: number;
  unsent: number;
}

/** Everything the report says, gathered by the task. */
export interface E2eFigures {
  rateAsked: number;
  warmupS: number;
  /** The measured window's length (s): from the warm-up's end to the producer's stop. */
  windowS: number;
  /** Undefined when the producer left no `stopped` record (it failed or was killed). */
  producer: ProducerOutcome | undefined;
  trail: TrailCounts;
  latency: LatencyFigures;
  /** The processes measured, in the order shown. */
  processes: ProcessCpu[];
  /** Processes of the goal's machine that were not run or not measured, and why. */
  notMeasured: Array<{ name: string; reason: string }>;
  /** The whole machine over the window; undefined when /proc/stat could not be read. */
  machine: { cores: number; cpu: MachineCpu } | undefined;
  /** Exit codes of the child processes (null: killed by a signal). */
  exits: { producer: number | null; tracker: number | null };
  partitions: number;
  topic: string;
  brokers: readonly string[];
  trailBytes: number;
}

/**
 * What went wrong, in sentences (empty when nothing did): acknowledged orders
 * missing from the trail, orders the producer could not send, a child that
 * did not stop cleanly.
 */
export function e2eProblems(figures: E2eFigures): string[] {
  const { producer, trail, exits } = figures;
  const problems: string[] = [];
  if (producer === undefined) {
    problems.push("the producer left no stopped record: its acknowledged orders are unknown");
  } else {
    const lost = producer.acknowledged - trail.records;
    if (lost > 0) problems.push(`acknowledged orders missing from the audit trail: ${count(lost)}`);
    const unsent = producer.failed + producer.indeterminate + producer.unsent;
    if (unsent > 0) {
      problems.push(
        `orders not acknowledged: ${count(unsent)} (${producer.failed} failed, ` +
          `${producer.indeterminate} indeterminate, ${producer.unsent} unsent)`,
      );
    }
  }
  for (const [name, code] of Object.entries(exits)) {
    if (code !== 0) {
      problems.push(`the ${name} ${code === null ? "was killed" : `exited with ${code}`}`);
    }
  }
  return problems;
}

/** 0 when nothing was lost and both children stopped cleanly, else 1. */
export function e2eExitCode(figures: E2eFigures): number {
  return e2eProblems(figures).length === 0 ? EXIT.ok : EXIT.failure;
}

/** Orders produced in the window per second. */
export function achievedRate(figures: Pick<E2eFigures, "latency" | "windowS">): number {
  return figures.windowS > 0 ? figures.latency.count / figures.windowS : 0;
}

/**
 * Whether this run measured the goal (at least the goal's rate asked, and the
 * rate asked reached within 1%: a pipeline that falls behind is not at that
 * rate) and met it; `measured: false` says why not.
 */
export function goalVerdict(
  figures: Pick<E2eFigures, "latency" | "windowS" | "rateAsked">,
): { measured: true; met: boolean } | { measured: false; reason: string } {
  const rate = achievedRate(figures);
  if (figures.rateAsked < E2E_GOAL.ratePerSec) {
    return { measured: false, reason: `${count(figures.rateAsked)} msg/s asked` };
  }
  if (rate < figures.rateAsked * 0.99) {
    return {
      measured: false,
      reason: `${count(Math.round(rate))} msg/s reached of ${count(figures.rateAsked)} asked`,
    };
  }
  const { p99 } = figures.latency;
  return { measured: true, met: p99 !== null && p99 <= E2E_GOAL.p99Ms };
}

/** The report, one labelled line per figure, as the other benchmarks print theirs. */
export function e2eReportText(figures: E2eFigures): string {
  const { producer, trail, latency, windowS } = figures;
  const ms = (v: number | null) => (v === null ? "-" : `${Math.round(v)} ms`);
  const orders = latency.count;
  const lost = producer === undefined
    ? "?"
    : count(Math.max(0, producer.acknowledged - trail.records));
  const lines = [
    `orders        ${producer === undefined ? "?" : count(producer.acknowledged)} acknowledged; ` +
    `in the audit trail ${count(trail.audited)} audited, ${count(trail.deadLettered)} ` +
    `dead-lettered, ${count(trail.duplicates)} duplicates; ${lost} lost`,
    `rate          ${count(Math.round(achievedRate(figures)))} msg/s produced in the ${
      seconds(windowS)
    } window (${count(figures.rateAsked)} asked; the ${
      seconds(figures.warmupS)
    } warm-up before it left out)`,
    `latency       p50 ${ms(latency.p50)}, p95 ${ms(latency.p95)}, p99 ${ms(latency.p99)}, max ${
      ms(latency.max)
    } over ${count(orders)} orders produced in the window`,
    "              (produced_at → taken in hand by the tracker: the audit line's latency_ms, " +
    "before its chunk's append and fdatasync)",
    `goal          ${goalText(figures)}`,
    "cpu           share of one core, CPU s per 1,000 orders, over the window",
  ];
  const measured = figures.processes.filter((p) => p.cpu !== undefined);
  const name = (text: string) => `  ${text.padEnd(12)}`;
  const cpuRow = (label: string, cpu: CpuTime, note: string) =>
    `${name(label)}${coreShareText(cpu, windowS).padStart(7)}  ${cpuPerThousandText(cpu, orders)}${
      note ? `  ${note}` : ""
    }`;
  for (const p of figures.processes) {
    lines.push(
      p.cpu === undefined
        ? `${name(p.name)}not measured: ${p.note}`
        : cpuRow(p.name, p.cpu, p.note),
    );
  }
  const together = cpuSum(measured.map((p) => p.cpu!));
  if (measured.length > 1) lines.push(cpuRow("together", together, ""));
  for (const { name: what, reason } of figures.notMeasured) lines.push(`${name(what)}${reason}`);
  const { machine } = figures;
  if (machine !== undefined && windowS > 0) {
    const busy = (machine.cpu.busyS / windowS) * 100;
    const outside = busy - ((together.userS + together.systemS) / windowS) * 100;
    lines.push(
      `machine       ${machine.cores} cores, ${busy.toFixed(1)}% busy over the window (of ${
        machine.cores * 100
      }%), ${Math.max(0, outside).toFixed(1)}% of it outside the processes above`,
    );
  }
  lines.push(
    `settings      ${figures.partitions} partitions; idempotent producer, acks=all; ` +
      "tracker: a fetch's batches at once, one fdatasync for the chunks ready together, the next fetch taken meanwhile, commits ≥ 50 ms apart; producer sends ≥ 2 ms apart",
    `topic         ${figures.topic} at ${figures.brokers.join(",")}; audit trail ${
      (figures.trailBytes / 1e6).toFixed(1)
    } MB`,
  );
  const problems = e2eProblems(figures);
  lines.push(
    problems.length === 0
      ? "result        nothing lost; producer and tracker stopped cleanly"
      : `result        FAILED: ${problems.join("; ")}`,
  );
  return lines.join("\n");
}

function goalText(figures: E2eFigures): string {
  const goal = `p99 ≤ ${E2E_GOAL.p99Ms} ms at ${count(E2E_GOAL.ratePerSec)} msg/s`;
  const verdict = goalVerdict(figures);
  if (!verdict.measured) return `${goal}: not measured in this run (${verdict.reason})`;
  const without = figures.notMeasured.length === 0
    ? ""
    : ` (without ${figures.notMeasured.map((n) => `the ${n.name}`).join(", ")})`;
  return `${goal}: ${verdict.met ? "met" : "not met"}${without}`;
}

function count(n: number): string {
  return n.toLocaleString("en-US");
}

function seconds(s: number): string {
  return `${Number(s.toFixed(1))} s`;
}

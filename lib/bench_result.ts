/**
 * The figures a benchmark prints with `--json`: one JSON object on its
 * standard output, the record `bench:compare` reads back (processes talk
 * through records, never by matching the report's wording). Type, encoder and
 * parser of that line. Pure.
 */

/** `bench:producer`: every order acknowledged (acks=all, idempotent). */
export interface ProducerBenchResult {
  readonly bench: "producer";
  readonly orders: number;
  readonly msgPerSec: number;
  readonly mbPerSec: number;
  /** The mean size of an order's message value. */
  readonly bytesPerOrder: number;
  /** The process's CPU (all threads, user + system) per 1,000 orders. */
  readonly cpuSecondsPer1000: number;
}

/** `bench:tracker`: every order audited, from the group join to the last line synced. */
export interface TrackerBenchResult {
  readonly bench: "tracker";
  readonly orders: number;
  readonly msgPerSec: number;
  /** Throughput of each slice of the run, first to last. */
  readonly sliceMsgPerSec: readonly number[];
  readonly cpuSecondsPer1000: number;
}

/** `bench:e2e`: latencies of the orders produced in the measured window (null: none known). */
export interface E2eBenchResult {
  readonly bench: "e2e";
  readonly orders: number;
  readonly rateAsked: number;
  readonly p50Ms: number | null;
  readonly p95Ms: number | null;
  readonly p99Ms: number | null;
  readonly maxMs: number | null;
  /** What went wrong (orders missing, a child that did not stop cleanly); empty when nothing. */
  readonly problems: readonly string[];
}

export type BenchResult = ProducerBenchResult | TrackerBenchResult | E2eBenchResult;
export type BenchName = BenchResult["bench"];
type ResultOf<B extends BenchName> = Extract<BenchResult, { bench: B }>;

/** The `--json` line of a result. */
export function benchResultLine(result: BenchResult): string {
  return JSON.stringify(result);
}

const FIELDS: { [B in BenchName]: Record<string, (v: unknown) => boolean> } = {
  producer: {
    orders: isCount,
    msgPerSec: isFigure,
    mbPerSec: isFigure,
    bytesPerOrder: isFigure,
    cpuSecondsPer1000: isFigure,
  },
  tracker: {
    orders: isCount,
    msgPerSec: isFigure,
    sliceMsgPerSec: (v) => Array.isArray(v) && v.every(isFigure),
    cpuSecondsPer1000: isFigure,
  },
  e2e: {
    orders: isCount,
    rateAsked: isFigure,
    p50Ms: isFigureOrNull,
    p95Ms: isFigureOrNull,
    p99Ms: isFigureOrNull,
    maxMs: isFigureOrNull,
    problems: (v) => Array.isArray(v) && v.every((p) => typeof p === "string"),
  },
};

/**
 * The result of benchmark `bench` in its standard output: the last line that
 * is a JSON object (progress and warnings may come before it).
 *
 * @throws {SyntaxError} when there is none, or a field is missing or of the wrong type
 */
export function parseBenchResult<B extends BenchName>(output: string, bench: B): ResultOf<B> {
  const line = output.split(/\r?\n/).map((l) => l.trim()).findLast((l) => l.startsWith("{"));
  if (line === undefined) {
    throw new SyntaxError(`Cannot parse the ${bench} benchmark's result: no JSON line`);
  }
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (error) {
    throw new SyntaxError(
      `Cannot parse the ${bench} benchmark's result: ${(error as Error).message}`,
      { cause: error },
    );
  }
  const record = value as Record<string, unknown>;
  if (typeof value !== "object" || value === null || record.bench !== bench) {
    throw new SyntaxError(
      `Cannot parse the ${bench} benchmark's result: "bench" is ${
        JSON.stringify(record?.bench)
      }, expected "${bench}"`,
    );
  }
  for (const [field, valid] of Object.entries(FIELDS[bench])) {
    if (!valid(record[field])) {
      throw new SyntaxError(
        `Cannot parse the ${bench} benchmark's result: field "${field}" is ${
          JSON.stringify(record[field]) ?? "missing"
        }`,
      );
    }
  }
  return value as ResultOf<B>;
}

function isFigure(value: unknown): boolean {
  return typeof value === "number" && Number.isFinite(value) && value >= 0;
}

function isFigureOrNull(value: unknown): boolean {
  return value === null || isFigure(value);
}

function isCount(value: unknown): boolean {
  return Number.isSafeInteger(value) && (value as number) >= 0;
}

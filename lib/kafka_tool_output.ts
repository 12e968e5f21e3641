/**
 * The figures Apache Kafka's own benchmark tools print, parsed from their
 * standard output: ProducerPerformance's summary line, ConsumerPerformance's
 * CSV row and EndToEndLatency's average and percentiles. `bench:compare` runs
 * them in turn with this project's benchmarks and sets the figures side by
 * side. A tool whose output lacks a figure is an error that quotes it, never a
 * zero. Pure.
 */

/** ProducerPerformance's summary: all records sent, acknowledged as its producer settings ask. */
export interface ProducerPerformanceFigures {
  readonly records: number;
  readonly recordsPerSec: number;
  readonly mbPerSec: number;
  readonly avgLatencyMs: number;
  readonly maxLatencyMs: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
}

/** ConsumerPerformance's row; the fetch figures leave out the group's join (rebalance). */
export interface ConsumerPerformanceFigures {
  readonly messages: number;
  readonly msgPerSec: number;
  readonly rebalanceMs: number;
  readonly fetchMs: number;
  readonly fetchMsgPerSec: number;
}

/** EndToEndLatency: one message at a time, produced and consumed back. */
export interface EndToEndLatencyFigures {
  readonly avgMs: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly p999Ms: number;
}

const NUMBER = String.raw`(\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)`;

// The last line is the summary; the lines before it are progress, every 5 s,
// without the percentiles:
// "100000 records sent, 45871.559633 records/sec (65.84 MB/sec), 317.93 ms avg
// latency, 490.00 ms max latency, 289 ms 50th, 468 ms 95th, 482 ms 99th, 487 ms 99.9th."
const PRODUCER_SUMMARY = new RegExp(
  String
    .raw`^(\d+) records sent, ${NUMBER} records/sec \(${NUMBER} MB/sec\), ${NUMBER} ms avg latency, ${NUMBER} ms max latency, (\d+) ms 50th, \d+ ms 95th, (\d+) ms 99th, \d+ ms 99\.9th\.?$`,
);

/** @throws {SyntaxError} when no summary line is there */
export function parseProducerPerformance(output: string): ProducerPerformanceFigures {
  for (const line of lines(output).reverse()) {
    const match = PRODUCER_SUMMARY.exec(line);
    if (match === null) continue;
    const [records, perSec, mb, avg, max, p50, p99] = match.slice(1).map(Number) as number[];
    return {
      records: records!,
      recordsPerSec: perSec!,
      mbPerSec: mb!,
      avgLatencyMs: avg!,
      maxLatencyMs: max!,
      p50Ms: p50!,
      p99Ms: p99!,
    };
  }
  throw new SyntaxError(
    `Cannot parse ProducerPerformance's output: no summary line (with percentiles) in ${
      excerpt(output)
    }`,
  );
}

const CONSUMER_COLUMNS = [
  "data.consumed.in.nMsg",
  "nMsg.sec",
  "rebalance.time.ms",
  "fetch.time.ms",
  "fetch.nMsg.sec",
] as const;

/**
 * ConsumerPerformance prints a header of column names and one row (without
 * --show-detailed-stats); the columns are found by name.
 *
 * @throws {SyntaxError} when the header or the row is missing or a figure is not a number
 */
export function parseConsumerPerformance(output: string): ConsumerPerformanceFigures {
  const all = lines(output);
  const headerAt = all.findIndex((line) => line.startsWith("start.time,"));
  const header = all[headerAt]?.split(",").map((name) => name.trim());
  const row = headerAt < 0 ? undefined : all[headerAt + 1]?.split(",").map((cell) => cell.trim());
  if (header === undefined || row === undefined || row.length !== header.length) {
    throw new SyntaxError(
      `Cannot parse ConsumerPerformance's output: expected a header and a row, got ${
        excerpt(output)
      }`,
    );
  }
  const value = (column: typeof CONSUMER_COLUMNS[number]) => {
    const cell = row[header.indexOf(column)];
    const number = cell === undefined ? NaN : Number(cell);
    if (cell === undefined || cell === "" || !Number.isFinite(number)) {
      throw new SyntaxError(
        `Cannot parse ConsumerPerformance's output: column ${column} is ${
          cell === undefined ? "missing" : `"${cell}"`
        }`,
      );
    }
    return number;
  };
  return {
    messages: value("data.consumed.in.nMsg"),
    msgPerSec: value("nMsg.sec"),
    rebalanceMs: value("rebalance.time.ms"),
    fetchMs: value("fetch.time.ms"),
    fetchMsgPerSec: value("fetch.nMsg.sec"),
  };
}

const LATENCY_AVERAGE = new RegExp(String.raw`^Avg latency: ${NUMBER} ms$`);
const LATENCY_PERCENTILES = new RegExp(
  String.raw`^Percentiles: 50th = ${NUMBER}, 99th = ${NUMBER}, 99\.9th = ${NUMBER}$`,
);

/** @throws {SyntaxError} when the average or the percentiles line is missing */
export function parseEndToEndLatency(output: string): EndToEndLatencyFigures {
  const all = lines(output);
  const average = all.map((line) => LATENCY_AVERAGE.exec(line)).find((m) => m !== null);
  const percentiles = all.map((line) => LATENCY_PERCENTILES.exec(line)).find((m) => m !== null);
  if (average == null || percentiles == null) {
    throw new SyntaxError(
      `Cannot parse EndToEndLatency's output: expected "Avg latency" and "Percentiles" lines, got ${
        excerpt(output)
      }`,
    );
  }
  const [p50, p99, p999] = percentiles.slice(1).map(Number) as number[];
  return { avgMs: Number(average[1]), p50Ms: p50!, p99Ms: p99!, p999Ms: p999! };
}

function lines(output: string): string[] {
  return output.split(/\r?\n/).map((line) => line.trim()).filter((line) => line !== "");
}

/** The end of a tool's output, for an error message. */
function excerpt(output: string): string {
  const tail = lines(output).slice(-3).join(" | ");
  if (tail === "") return "nothing";
  return `"${tail.length > 300 ? `…${tail.slice(-300)}` : tail}"`;
}

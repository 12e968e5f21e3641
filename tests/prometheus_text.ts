/**
 * Prometheus text parsed by a parser of its own (npm parse-prometheus-text-format),
 * not by the code under test, typed for the tests that read scrapes.
 */
// @ts-types="./prometheus_text.d.ts"
import parsePrometheusTextFormat from "parse-prometheus-text-format";

/** One sample of a counter or gauge. */
export interface Sample {
  value: string;
  labels?: Record<string, string>;
}

/** One sample of a histogram: cumulative counts per upper bound. */
export interface HistogramSample {
  buckets: Record<string, string>;
  count: string;
  sum: string;
  labels?: Record<string, string>;
}

export type MetricFamily =
  | { name: string; help: string; type: "COUNTER" | "GAUGE" | "UNTYPED"; metrics: Sample[] }
  | { name: string; help: string; type: "HISTOGRAM"; metrics: HistogramSample[] }
  | { name: string; help: string; type: "SUMMARY"; metrics: unknown[] };

/**
 * The families of a scrape by name.
 *
 * @throws {Error} when the text is not Prometheus text (the parser's message)
 */
export function parsePrometheus(text: string): Map<string, MetricFamily> {
  const families = parsePrometheusTextFormat(text) as MetricFamily[];
  return new Map(families.map((family) => [family.name, family]));
}

/** The value of a counter or gauge's sample with these labels (none: the unlabelled one). */
export function sampleValue(
  families: Map<string, MetricFamily>,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  const family = families.get(name);
  if (family === undefined || family.type === "HISTOGRAM" || family.type === "SUMMARY") {
    return undefined;
  }
  const wanted = JSON.stringify(Object.entries(labels).sort());
  const sample = family.metrics.find((s) =>
    JSON.stringify(Object.entries(s.labels ?? {}).sort()) === wanted
  );
  return sample === undefined ? undefined : Number(sample.value);
}

/**
 * Logging set-up shared by the processes: human-readable lines on the console
 * and, for the tracker, a JSON Lines health log. KafkaJS logs arrive here too
 * (see kafka.ts), under the "kafkajs" category.
 */
import {
  configure,
  getConsoleSink,
  getLogger,
  getTextFormatter,
  type Logger,
  type LogRecord,
  reset,
  type Sink,
} from "@logtape/logtape";
import { getFileSink } from "@logtape/file";
import type { LogLevel } from "./config.ts";

export type { Logger };

/** Root category of this project's loggers. */
export const LOG_ROOT = "order-tracking";

/** A message's values as text: strings bare (no quotes), anything else as JSON. */
function renderMessage(parts: readonly unknown[]): string {
  return parts.map((part, i) =>
    i % 2 === 0 || typeof part === "string" ? String(part) : JSON.stringify(part) ?? String(part)
  ).join("");
}

/**
 * One health-log line: the fields of LogTape's JSON Lines format
 * (`@timestamp`, `level`, `message`, `logger`, `properties`), with the
 * message's string values unquoted so it reads as a sentence.
 */
export function formatHealthLine(record: LogRecord): string {
  return JSON.stringify({
    "@timestamp": new Date(record.timestamp).toISOString(),
    level: record.level === "warning" ? "WARN" : record.level.toUpperCase(),
    message: renderMessage(record.message),
    logger: record.category.join("."),
    properties: record.properties,
  }) + "\n";
}

/** Returns the logger of one component, e.g. `logger("tracker")`. */
export function logger(component: string): Logger {
  return getLogger([LOG_ROOT, component]);
}

/**
 * Configures logging for a process. Returns a function that flushes and closes the sinks.
 *
 * @param options.level lowest level written
 * @param options.jsonFile optional JSON Lines file (the tracker's health log)
 */
export async function setupLogging(
  { level, jsonFile, kafkaLevel = level === "debug" ? "info" : "warning" }: {
    level: LogLevel;
    jsonFile?: string | undefined;
    /** Lowest KafkaJS level written; KafkaJS is chatty at info (every join, every connect). */
    kafkaLevel?: LogLevel | "fatal";
  },
): Promise<() => Promise<void>> {
  const sinks: Record<string, Sink> = {
    console: getConsoleSink({ formatter: getTextFormatter({ timestamp: "time", value: "bare" }) }),
  };
  if (jsonFile !== undefined) {
    // Unbuffered: a metrics record or an error must be visible to the monitor at once.
    sinks.file = getFileSink(jsonFile, { formatter: formatHealthLine, bufferSize: 0 });
  }
  const sinkNames = Object.keys(sinks);
  await configure({
    reset: true,
    sinks,
    loggers: [
      { category: [LOG_ROOT], lowestLevel: level, sinks: sinkNames },
      { category: ["kafkajs"], lowestLevel: kafkaLevel, sinks: sinkNames },
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: ["console"] },
    ],
  });
  return () => reset();
}

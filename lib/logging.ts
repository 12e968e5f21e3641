/**
 * Logging set-up shared by the processes: human-readable lines on the console
 * and a JSON Lines health log (the format is health_record.ts's). KafkaJS logs arrive here too
 * (see kafka.ts), under the "kafkajs" category.
 */
import {
  configure,
  getConsoleSink,
  getLogger,
  getTextFormatter,
  type Logger,
  reset,
  type Sink,
} from "@logtape/logtape";
import { getRotatingFileSink } from "@logtape/file";
import type { LogLevel } from "./config.ts";
import { formatHealthLine } from "./health_record.ts";

export type { Logger };

/** Root category of this project's loggers. */
export const LOG_ROOT = "order-tracking";

/** Returns the logger of one component, e.g. `logger("tracker")`. */
export function logger(component: string): Logger {
  return getLogger([LOG_ROOT, component]);
}

/**
 * Configures logging for a process. Returns a function that flushes and closes the sinks.
 *
 * @param options.level lowest level written
 * @param options.jsonFile optional JSON Lines file (the process's health log)
 */
export async function setupLogging(
  {
    level,
    jsonFile,
    kafkaLevel = level === "debug" ? "debug" : "warning",
  }: {
    level: LogLevel;
    /** The file, the size at which it is rotated, and how many rotated files are kept. */
    jsonFile?: { path: string; maxBytes: number; files: number };
    /**
     * Lowest KafkaJS level written: KafkaJS is chatty at info (every join, every
     * connect); at debug the entries kafka.ts demoted (retried responses, each
     * failed connection) show too.
     */
    kafkaLevel?: LogLevel | "fatal";
  },
): Promise<() => Promise<void>> {
  const sinks: Record<string, Sink> = {
    console: getConsoleSink({ formatter: getTextFormatter({ timestamp: "time", value: "bare" }) }),
  };
  if (jsonFile !== undefined) {
    // Unbuffered: a metrics record or an error must be visible to the monitor at
    // once, so each is written as it comes. Non-blocking: the fsync after a
    // write runs off the main thread (the blocking sink syncs in place, and
    // under the broker's writes that stalled the tracker 20–40 ms every
    // metrics record); records made while one runs are written after it. The
    // sink is flushed when logging closes; a forced exit (a second signal, the
    // shutdown's hard deadline) loses the records made during the last sync. Rotated by size: tracker.log →
    // tracker.log.1 … (the oldest dropped).
    sinks.file = getRotatingFileSink(jsonFile.path, {
      formatter: formatHealthLine,
      bufferSize: 0,
      nonBlocking: true,
      flushInterval: 0,
      maxSize: jsonFile.maxBytes,
      maxFiles: jsonFile.files,
    });
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

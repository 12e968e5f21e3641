/**
 * What becomes of the Kafka client's own log entries, so that WARN and ERROR
 * in a health log mean something the operator should read:
 * - a failed response the client retries by itself (the coordinator is still
 *   loading after a broker starts, a leader election) is debug, and counted;
 * - failed connections (KafkaJS logs a pair per attempt) are debug, and become
 *   one warning per interval per broker naming the reason and the number of
 *   attempts since the trouble began;
 * - what our own code reports anyway is debug (a consumer's crash, a failed
 *   send), and a consumer restart is information, not an error;
 * - everything else keeps its level.
 * Pure: the client's retriable error messages and the time are passed in.
 */

/** The level an entry is written at, or what it is folded into. */
export type ClientLogLevel = "error" | "warning" | "info" | "debug";

/** One entry as the client gives it. */
export interface ClientLogEntry {
  level: ClientLogLevel;
  message: string;
  /** The client's fields: `broker` ("host:port"), `error` (a response's error message), ... */
  properties: Readonly<Record<string, unknown>>;
}

/** What to write for an entry: the entry itself at a level, and perhaps a summary line. */
export interface ClientLogDecision {
  level: ClientLogLevel;
  /** A warning that stands for many failed connection attempts (at most one per interval). */
  summary?: { message: string; properties: Record<string, unknown> };
}

/** How often a broker that keeps refusing connections is reported. */
export const UNREACHABLE_REPORT_INTERVAL_MS = 10_000;
/** A broker that failed nothing for this long starts a new count. */
const TROUBLE_RESET_MS = 60_000;

/**
 * Why a connection failed, from the error text (the system's error code, or
 * the client's own timeout), in words an operator reads.
 */
export function connectionFailureReason(text: string): string {
  const code = /\b(E[A-Z_]{3,})\b/.exec(text)?.[1];
  switch (code) {
    case "ECONNREFUSED":
      return "connection refused";
    case "ENOTFOUND":
    case "EAI_AGAIN":
    case "EAI_NONAME":
    case "EAI_FAIL":
      return "host name not found (DNS)";
    case "ETIMEDOUT":
      return "timed out";
    case "EHOSTUNREACH":
    case "ENETUNREACH":
      return "host unreachable";
    case "ECONNRESET":
    case "EPIPE":
      return "connection reset";
    case undefined:
      return /timeout/i.test(text) ? "timed out" : text.slice(0, 80);
    default:
      return code;
  }
}

const CONNECTION_FAILURE =
  /^(Connection error|Connection timeout|Failed to connect to seed broker)/;

/** Client entries that say what another line says better, by their opening words. */
const RELEVELLED: ReadonlyArray<readonly [prefix: string, level: ClientLogLevel]> = [
  // The tracker logs the consumer's crash event itself, with what happens next.
  ["Crash: ", "debug"],
  // The producer accounts for every failed send and logs it with its outcome.
  ["Failed to send messages", "debug"],
  // The recovery after a crash, not a new error.
  ["Restarting the consumer in", "info"],
];

interface Trouble {
  since: number;
  attempts: number;
  lastAt: number;
  reportedAt: number | undefined;
  reason: string;
}

/** Decides, entry by entry, what the client's log entries become. */
export class ClientLogFilter {
  readonly #retriableErrors: ReadonlySet<string>;
  readonly #trouble = new Map<string, Trouble>();
  #retriedResponses = 0;

  /** @param retriableErrors the messages of the client's errors it retries by itself */
  constructor(retriableErrors: Iterable<string>) {
    this.#retriableErrors = new Set(retriableErrors);
  }

  /** Responses the client retried by itself, written at debug level. */
  get retriedResponses(): number {
    return this.#retriedResponses;
  }

  /** What to write for `entry` at time `now` (ms). */
  decide(entry: ClientLogEntry, now: number): ClientLogDecision {
    const { message, properties } = entry;
    if (message.startsWith("Response ")) {
      if (typeof properties.error === "string" && this.#retriableErrors.has(properties.error)) {
        this.#retriedResponses++;
        return { level: "debug" };
      }
      // A failed response that is not retried surfaces at the call that made it.
      return { level: entry.level === "error" ? "warning" : entry.level };
    }
    if (CONNECTION_FAILURE.test(message)) return this.#connectionFailure(entry, now);
    const relevelled = RELEVELLED.find(([prefix]) => message.startsWith(prefix));
    return { level: relevelled?.[1] ?? entry.level };
  }

  #connectionFailure({ message, properties }: ClientLogEntry, now: number): ClientLogDecision {
    // The seed-broker line repeats the connection error just counted.
    if (message.startsWith("Failed to connect")) return { level: "debug" };
    const broker = typeof properties.broker === "string" ? properties.broker : "a broker";
    const reason = connectionFailureReason(message);
    let trouble = this.#trouble.get(broker);
    if (trouble === undefined || now - trouble.lastAt > TROUBLE_RESET_MS) {
      trouble = { since: now, attempts: 0, lastAt: now, reportedAt: undefined, reason };
      this.#trouble.set(broker, trouble);
    }
    trouble.attempts++;
    trouble.lastAt = now;
    trouble.reason = reason;
    if (
      trouble.reportedAt !== undefined && now - trouble.reportedAt < UNREACHABLE_REPORT_INTERVAL_MS
    ) {
      return { level: "debug" };
    }
    trouble.reportedAt = now;
    const seconds = Math.round((now - trouble.since) / 1000);
    return {
      level: "debug",
      summary: {
        message:
          "Cannot reach Kafka broker {broker}: {reason} ({attempts} failed {attemptWord} in {seconds} s); the client keeps retrying",
        properties: {
          broker,
          reason,
          attempts: trouble.attempts,
          attemptWord: trouble.attempts === 1 ? "attempt" : "attempts",
          seconds,
        },
      },
    };
  }
}

/**
 * The audit line format, owned here alone: the `AuditRecord` type (one JSON
 * line of `tracker.events` per consumed message), its builders, its encoder and
 * the one parser every reader uses (tracker start-up, monitor, verify, tests).
 * Pure.
 */
import {
  ORDER_STATUSES,
  type OrderEvent,
  parseOrderValue,
  REJECTION_CLASSES,
  type RejectionClass,
} from "./order.ts";

export const AUDIT_OUTCOMES = ["audited", "dead_lettered", "duplicate"] as const;
export type AuditOutcome = typeof AUDIT_OUTCOMES[number];

/** One line of `tracker.events`. Field names follow the original Go tracker's records. */
export interface AuditRecord {
  /** When the tracker received the message (RFC 3339 UTC). */
  timestamp: string;
  /** The order's event type, or "rejected" for input that is not a valid order. */
  event_type: string;
  kafka_topic: string;
  kafka_partition: number;
  kafka_offset: number;
  kafka_key: string | null;
  message_size: number;
  /** Whether the value was valid JSON. */
  deserialized: boolean;
  outcome: AuditOutcome;
  order_id: string | null;
  /** The order's status; present for audited and duplicate records. */
  status: string | null;
  error_class: RejectionClass | null;
  error: string | null;
  /** From the order's produce time to this record; null when unknown. */
  latency_ms: number | null;
  /**
   * The order itself; null when rejected or a duplicate (already in the trail).
   * Read it with `auditedOrder`, which validates it.
   */
  order: OrderEvent | null;
}

/** The message coordinates and size every record carries. */
export interface MessageCoordinates {
  topic: string;
  partition: number;
  offset: number;
  key: string | null;
  size: number;
}

/** Builds the record of an accepted order. */
export function auditedRecord(
  at: number,
  message: MessageCoordinates,
  order: OrderEvent,
): AuditRecord {
  return {
    ...common(at, message),
    event_type: order.metadata.event_type,
    deserialized: true,
    outcome: "audited",
    order_id: order.order_id,
    status: order.status,
    error_class: null,
    error: null,
    latency_ms: Math.max(0, at - order.produced_at),
    order,
  };
}

/** Builds the record of a message sent to the dead-letter topic. */
export function deadLetterRecord(
  at: number,
  message: MessageCoordinates,
  rejection: { class: RejectionClass; message: string },
): AuditRecord {
  return {
    ...common(at, message),
    event_type: "rejected",
    deserialized: rejection.class !== "deserialization" && rejection.class !== "oversize",
    outcome: "dead_lettered",
    order_id: null,
    status: null,
    error_class: rejection.class,
    error: rejection.message,
    latency_ms: null,
    order: null,
  };
}

/** Builds the record of an event already in the trail (same order id and event type). */
export function duplicateRecord(
  at: number,
  message: MessageCoordinates,
  order: OrderEvent,
): AuditRecord {
  return {
    ...common(at, message),
    event_type: order.metadata.event_type,
    deserialized: true,
    outcome: "duplicate",
    order_id: order.order_id,
    status: order.status,
    error_class: null,
    error: null,
    latency_ms: null,
    order: null,
  };
}

function common(at: number, message: MessageCoordinates) {
  return {
    timestamp: new Date(at).toISOString(),
    kafka_topic: message.topic,
    kafka_partition: message.partition,
    kafka_offset: message.offset,
    kafka_key: message.key,
    message_size: message.size,
  };
}

/** Serialises records as JSON Lines (each ends with "\n"). */
export function encodeAuditLines(records: readonly AuditRecord[]): string {
  let text = "";
  for (const record of records) text += JSON.stringify(record) + "\n";
  return text;
}

export type AuditLineResult =
  | { ok: true; record: AuditRecord }
  | { ok: false; error: string };

const OUTCOMES: ReadonlySet<unknown> = new Set(AUDIT_OUTCOMES);
const STATUSES: ReadonlySet<unknown> = new Set(ORDER_STATUSES);
const ERROR_CLASSES: ReadonlySet<unknown> = new Set(REJECTION_CLASSES);

/**
 * Parses one line of the trail. Every field a reader relies on is checked, so
 * a reader never meets a value it does not know (an unknown status is an
 * error with the line number, not a TypeError later); the embedded order is
 * checked on demand by `auditedOrder`.
 */
export function parseAuditLine(line: string, lineNumber: number): AuditLineResult {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return { ok: false, error: `Cannot parse audit line ${lineNumber}: not valid JSON` };
  }
  const problem = auditProblem(value);
  if (problem !== undefined) {
    return { ok: false, error: `Cannot parse audit line ${lineNumber}: ${problem}` };
  }
  return { ok: true, record: value as AuditRecord };
}

/** What is wrong with a parsed JSON value as an audit record, or undefined when nothing is. */
function auditProblem(value: unknown): string | undefined {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return "not an audit record";
  }
  const r = value as Record<string, unknown>;
  const stringOrNull = (v: unknown) => v === null || typeof v === "string";
  const offset = (v: unknown) => Number.isSafeInteger(v) && (v as number) >= 0;
  if (!OUTCOMES.has(r.outcome)) {
    return `outcome ${quote(r.outcome)} is not one of ${AUDIT_OUTCOMES}`;
  }
  if (typeof r.kafka_topic !== "string") return "kafka_topic is not a string";
  if (!offset(r.kafka_partition)) return "kafka_partition is not an integer >= 0";
  if (!offset(r.kafka_offset)) return "kafka_offset is not an integer >= 0";
  if (typeof r.timestamp !== "string" || Number.isNaN(Date.parse(r.timestamp))) {
    return "timestamp is not a date-time";
  }
  if (!stringOrNull(r.kafka_key)) return "kafka_key is not a string or null";
  if (!stringOrNull(r.order_id)) return "order_id is not a string or null";
  if (r.status !== null && !STATUSES.has(r.status)) {
    return `status ${quote(r.status)} is not one of ${ORDER_STATUSES}`;
  }
  if (r.outcome !== "dead_lettered" && (r.order_id === null || r.status === null)) {
    return `an ${r.outcome} record has no order_id or status`;
  }
  if (r.error_class !== null && !ERROR_CLASSES.has(r.error_class)) {
    return `error_class ${quote(r.error_class)} is not one of ${REJECTION_CLASSES}`;
  }
  if (!stringOrNull(r.error)) return "error is not a string or null";
  if (r.latency_ms !== null && typeof r.latency_ms !== "number") {
    return "latency_ms is not a number or null";
  }
  if (r.order !== null && (typeof r.order !== "object" || Array.isArray(r.order))) {
    return "order is not an object or null";
  }
  return undefined;
}

/** A short, bounded rendering of a bad value for an error message. */
function quote(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 40 ? `${text.slice(0, 39)}…` : text;
}

/** The validated order of an audited record, or undefined when it has none or it is not valid. */
export function auditedOrder(record: AuditRecord): OrderEvent | undefined {
  if (record.order === null) return undefined;
  const parsed = parseOrderValue(record.order);
  return parsed.ok ? parsed.order : undefined;
}

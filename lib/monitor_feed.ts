/**
 * Feeds the monitor's model from the tracker's files: tails the health log and
 * the audit trail, parses each line (a bad line is counted, never fatal) and
 * starts the model over when a file is truncated or replaced.
 */
import { FileTail } from "./file_tail.ts";
import { type AuditSummary, type HealthRecord, MonitorModel } from "./monitor_model.ts";

/** Bytes per poll: audit lines carry whole orders, so read more of them. */
const HEALTH_BYTES_PER_POLL = 512 * 1024;
const AUDIT_BYTES_PER_POLL = 4 * 1024 * 1024;

export class MonitorFeed {
  #paths: { healthLog: string; auditFile: string };
  #health!: FileTail;
  #audit!: FileTail;
  model!: MonitorModel;
  /** Lines that were not valid records. */
  badLines = 0;

  constructor(paths: { healthLog: string; auditFile: string }) {
    this.#paths = paths;
    this.#startOver();
  }

  #startOver(): void {
    this.model = new MonitorModel();
    this.#health = new FileTail(this.#paths.healthLog, { maxBytesPerPoll: HEALTH_BYTES_PER_POLL });
    this.#audit = new FileTail(this.#paths.auditFile, { maxBytesPerPoll: AUDIT_BYTES_PER_POLL });
  }

  /**
   * Reads what was appended since the last poll (bounded).
   *
   * @returns whether anything changed and how many bytes are still unread
   */
  async poll(): Promise<{ changed: boolean; behindBytes: number }> {
    const [health, audit] = await Promise.all([this.#health.poll(), this.#audit.poll()]);
    if (health.reset || audit.reset) {
      // A file started over: so does every figure, or old and new would mix.
      this.#startOver();
      return { changed: true, behindBytes: 1 };
    }
    for (const line of health.lines) {
      const record = parse(line);
      if (record && isHealthRecord(record)) this.model.addHealth(record);
      else this.badLines++;
    }
    for (const line of audit.lines) {
      const record = parse(line);
      if (record && isAuditSummary(record)) this.model.addAudit(record);
      else this.badLines++;
    }
    return {
      changed: health.lines.length + audit.lines.length > 0,
      behindBytes: health.behindBytes + audit.behindBytes,
    };
  }
}

function parse(line: string): Record<string, unknown> | undefined {
  try {
    const value = JSON.parse(line);
    return typeof value === "object" && value !== null ? value : undefined;
  } catch {
    return undefined;
  }
}

// The model reads these fields as these types; a line without them is a bad line, not a crash.
function isHealthRecord(
  value: Record<string, unknown>,
): value is Record<string, unknown> & HealthRecord {
  return typeof value["@timestamp"] === "string" && typeof value.level === "string" &&
    typeof value.message === "string";
}

const OUTCOMES: ReadonlySet<unknown> = new Set(["audited", "dead_lettered", "duplicate"]);

function isAuditSummary(
  value: Record<string, unknown>,
): value is Record<string, unknown> & AuditSummary {
  const stringOrNull = (v: unknown) => v === null || typeof v === "string";
  return typeof value.timestamp === "string" && OUTCOMES.has(value.outcome) &&
    typeof value.kafka_partition === "number" && typeof value.kafka_offset === "number" &&
    stringOrNull(value.status) && stringOrNull(value.order_id) &&
    stringOrNull(value.error_class) &&
    (value.latency_ms === null || typeof value.latency_ms === "number");
}

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
      const record = parse<HealthRecord>(line);
      if (record && typeof record["@timestamp"] === "string") this.model.addHealth(record);
      else this.badLines++;
    }
    for (const line of audit.lines) {
      const record = parse<AuditSummary>(line);
      if (record && typeof record.timestamp === "string") this.model.addAudit(record);
      else this.badLines++;
    }
    return {
      changed: health.lines.length + audit.lines.length > 0,
      behindBytes: health.behindBytes + audit.behindBytes,
    };
  }
}

function parse<T>(line: string): T | undefined {
  try {
    const value = JSON.parse(line);
    return typeof value === "object" && value !== null ? value as T : undefined;
  } catch {
    return undefined;
  }
}

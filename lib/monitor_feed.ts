/**
 * Feeds the monitor's model from the tracker's files: tails the health log and
 * the audit trail, parses each line with its format's parser (a bad line is
 * counted and shown, never fatal) and starts the model over when a file is
 * truncated or replaced.
 */
import { parseAuditLine } from "./audit_record.ts";
import { FileTail } from "./file_tail.ts";
import { parseHealthLine } from "./health_record.ts";
import { MonitorModel } from "./monitor_model.ts";

/** Bytes per poll: audit lines carry whole orders, so read more of them. */
const HEALTH_BYTES_PER_POLL = 512 * 1024;
const AUDIT_BYTES_PER_POLL = 4 * 1024 * 1024;

export class MonitorFeed {
  #paths: { healthLog: string; auditFile: string };
  #health!: FileTail;
  #audit!: FileTail;
  #auditLines = 0;
  #skipped = 0;
  model!: MonitorModel;

  constructor(paths: { healthLog: string; auditFile: string }) {
    this.#paths = paths;
    this.#startOver();
  }

  #startOver(): void {
    this.model = new MonitorModel();
    this.#auditLines = 0;
    this.#skipped = 0;
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
      const parsed = parseHealthLine(line);
      if (parsed.ok) this.model.addHealth(parsed.entry);
      else this.model.addUnreadable();
    }
    for (const line of audit.lines) {
      const parsed = parseAuditLine(line, ++this.#auditLines);
      if (parsed.ok) this.model.addAudit(parsed.record);
      else this.model.addUnreadable();
    }
    // Lines too long to keep were skipped by the tails: unreadable too.
    const skipped = this.#health.skippedLines + this.#audit.skippedLines;
    this.model.addUnreadable(skipped - this.#skipped);
    this.#skipped = skipped;
    return {
      changed: health.lines.length + audit.lines.length > 0,
      behindBytes: health.behindBytes + audit.behindBytes,
    };
  }
}

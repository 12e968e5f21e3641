/**
 * What `dlq:inspect` reports: dead letters grouped by error class and message
 * (numbers folded, so "message is 70012 bytes" and "message is 81200 bytes"
 * are one group), each group with its count, first and last time, the source
 * offsets it covers and a few samples with personal data masked. Memory is
 * bounded at any DLQ size: at most MAX_GROUPS groups (the rest are counted in
 * one overflow group) and MAX_SAMPLES samples each. Pure.
 */
import {
  type DeadLetterSource,
  parseDeadLetterHeaders,
  type StoredDeadLetter,
} from "./dead_letter.ts";
import { maskPersonalData } from "./order.ts";

/** Groups kept; letters of further groups are counted in one overflow group. */
export const MAX_GROUPS = 50;
/** Samples kept per group (the first ones). */
export const MAX_SAMPLES = 3;
/** Source partitions listed per group. */
const MAX_SOURCES = 32;
/** Characters of a sample's masked value kept. */
export const MAX_SAMPLE_CHARS = 2_000;

/** The group that holds the letters of groups past MAX_GROUPS. */
export const OVERFLOW_GROUP = {
  errorClass: "(other)",
  message: `(groups past the first ${MAX_GROUPS})`,
};

export interface DeadLetterSample {
  /** Where the dead letter is: "partition/offset" of the dead-letter topic. */
  dlq: string;
  /** Where it came from: "topic/partition/offset". */
  source: string;
  key: string | null;
  failedAt: string;
  redriveCount: number;
  /** The exact error message. */
  error: string;
  /** The value as JSON with personal data masked, or a note saying why it is not shown. */
  value: string;
}

export interface DeadLetterGroup {
  errorClass: string;
  /** The error message with numbers folded to `#`. */
  message: string;
  count: number;
  /** Earliest and latest failure times (ISO), or null when no letter said. */
  firstSeen: string | null;
  lastSeen: string | null;
  /** Letters of the group that were redriven copies already. */
  redriven: number;
  /** Per source partition: the offsets the group's letters came from. */
  sources: Array<{ topic: string; partition: number; firstOffset: number; lastOffset: number }>;
  samples: DeadLetterSample[];
}

export interface DeadLetterReport {
  dlqTopic: string;
  total: number;
  /** Records of the dead-letter topic without the source headers (not ours). */
  unreadable: number;
  /** Largest count first. */
  groups: DeadLetterGroup[];
}

/** An error message with its numbers folded, so messages that differ only in numbers group. */
export function messagePattern(message: string): string {
  // Not digits inside words ("UTF-8", "v2").
  return message.replace(/(?<![\w.-])-?\d+(\.\d+)?(?!\w)/g, "#");
}

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * A dead letter's value for a report: its JSON object with personal data
 * masked (cut to `maxChars`), or a note when it is not a JSON object: free
 * text, a double-encoded order (a JSON string) or an array may hold anything.
 */
export function maskedValue(
  value: Uint8Array | null,
  { maxChars = MAX_SAMPLE_CHARS }: { maxChars?: number } = {},
): string {
  if (value === null) return "(null value: a tombstone)";
  let json: unknown;
  try {
    json = JSON.parse(strictUtf8.decode(value));
  } catch {
    return `(${value.byteLength} bytes, not JSON: not shown)`;
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    const kind = Array.isArray(json) ? "an array" : json === null ? "null" : `a ${typeof json}`;
    return `(${value.byteLength} bytes, JSON ${kind}, not an object: not shown)`;
  }
  const text = JSON.stringify(maskPersonalData(json));
  return text.length <= maxChars ? text : `${text.slice(0, maxChars)}… (${text.length} characters)`;
}

const keyDecoder = new TextDecoder();

/** Folds dead letters into groups; `report()` gives the groups so far. */
export class DeadLetterGroups {
  readonly #dlqTopic: string;
  #groups = new Map<string, DeadLetterGroup & { firstMs: number; lastMs: number }>();
  #total = 0;
  #unreadable = 0;

  constructor(dlqTopic: string) {
    this.#dlqTopic = dlqTopic;
  }

  /** Takes one dead letter into account. */
  add(letter: StoredDeadLetter): void {
    this.#total++;
    const parsed = parseDeadLetterHeaders(letter.headers);
    if (!parsed.ok) {
      this.#unreadable++;
      return;
    }
    const source = parsed.source;
    const group = this.#groupOf(source);
    group.count++;
    if (source.redriveCount > 0) group.redriven++;
    const at = Date.parse(source.failedAt);
    if (!Number.isNaN(at)) {
      if (at < group.firstMs) [group.firstMs, group.firstSeen] = [at, source.failedAt];
      if (at > group.lastMs) [group.lastMs, group.lastSeen] = [at, source.failedAt];
    }
    const range = group.sources.find((s) =>
      s.topic === source.topic && s.partition === source.partition
    );
    if (range) {
      range.firstOffset = Math.min(range.firstOffset, source.offset);
      range.lastOffset = Math.max(range.lastOffset, source.offset);
    } else if (group.sources.length < MAX_SOURCES) {
      group.sources.push({
        topic: source.topic,
        partition: source.partition,
        firstOffset: source.offset,
        lastOffset: source.offset,
      });
    }
    if (group.samples.length < MAX_SAMPLES) group.samples.push(sample(letter, source));
  }

  #groupOf(source: DeadLetterSource) {
    const message = messagePattern(source.error);
    const key = `${source.errorClass}\u0000${message}`;
    let group = this.#groups.get(key);
    if (group !== undefined) return group;
    const overflowKey = `${OVERFLOW_GROUP.errorClass}\u0000${OVERFLOW_GROUP.message}`;
    const full = this.#groups.size >= MAX_GROUPS;
    group = full ? this.#groups.get(overflowKey) : undefined;
    if (group !== undefined) return group;
    group = {
      ...(full ? OVERFLOW_GROUP : { errorClass: source.errorClass, message }),
      count: 0,
      firstSeen: null,
      lastSeen: null,
      firstMs: Infinity,
      lastMs: -Infinity,
      redriven: 0,
      sources: [],
      samples: [],
    };
    this.#groups.set(full ? overflowKey : key, group);
    return group;
  }

  /** The report: groups with the largest count first. */
  report(): DeadLetterReport {
    const groups = [...this.#groups.values()].map(({ firstMs: _f, lastMs: _l, ...group }) => ({
      ...group,
      sources: [...group.sources].sort((a, b) =>
        a.topic.localeCompare(b.topic) || a.partition - b.partition
      ),
    })).sort((a, b) => b.count - a.count);
    return {
      dlqTopic: this.#dlqTopic,
      total: this.#total,
      unreadable: this.#unreadable,
      groups,
    };
  }
}

function sample(letter: StoredDeadLetter, source: DeadLetterSource): DeadLetterSample {
  return {
    dlq: `${letter.partition}/${letter.offset}`,
    source: `${source.topic}/${source.partition}/${source.offset}`,
    key: letter.key === null ? null : keyDecoder.decode(letter.key),
    failedAt: source.failedAt,
    redriveCount: source.redriveCount,
    error: source.error,
    value: maskedValue(letter.value),
  };
}

/** The report as text for a terminal. */
export function formatDeadLetterReport(report: DeadLetterReport): string {
  const lines = [
    `${report.dlqTopic}: ${report.total} dead letters in ${report.groups.length} groups${
      report.unreadable > 0 ? ` (${report.unreadable} without source headers, not grouped)` : ""
    }`,
  ];
  for (const group of report.groups) {
    const sources = group.sources.map((s) =>
      `${s.topic}/${s.partition} offsets ${s.firstOffset}..${s.lastOffset}`
    ).join(", ");
    lines.push(
      "",
      `${group.errorClass} ×${group.count}  ${group.message}`,
      `  first ${group.firstSeen ?? "-"}  last ${group.lastSeen ?? "-"}${
        group.redriven > 0 ? `  redriven copies ${group.redriven}` : ""
      }`,
      `  from ${sources || "-"}`,
    );
    // The first sample's value in full (masked); the others by where they are and why.
    for (const [i, s] of group.samples.entries()) {
      lines.push(
        `  sample dlq ${s.dlq} from ${s.source} key ${s.key ?? "-"}${
          s.redriveCount > 0 ? ` redriven ${s.redriveCount}×` : ""
        }`,
        `    ${s.error}`,
        ...(i === 0 ? [`    ${s.value}`] : []),
      );
    }
  }
  return lines.join("\n");
}

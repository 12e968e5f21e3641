/**
 * Which dead letters `dlq:redrive` sends back, and why the others stay: the
 * selection from the command's flags (error classes, a time range, source
 * offsets, a limit on how often one message is redriven), parsed here with
 * errors that name the flag, and the decision for one letter with its
 * reason, so a dry run can count letters by reason. Pure (the current time is
 * passed in).
 */
import type { DeadLetterSource } from "./dead_letter.ts";

/** What the flags select; null means "any". */
export interface RedriveSelection {
  classes: ReadonlySet<string> | null;
  /** Failure time bounds (ms): since <= failed at < until. */
  since: number | null;
  until: number | null;
  /** Source offsets per source partition, as inclusive ranges. */
  offsets: ReadonlyMap<number, ReadonlyArray<readonly [number, number]>> | null;
  /** A letter redriven this many times already stays (stops a redrive loop). */
  maxRedrives: number;
}

/**
 * Redrives of one message at most, unless `--max-redrives` says otherwise: a
 * copy that failed again stays, so a repeated redrive never loops.
 */
export const DEFAULT_MAX_REDRIVES = 1;

/** Why a letter is or is not sent, in the order they are checked. */
export const REDRIVE_REASONS = {
  selected: "selected",
  unreadable: "no source headers",
  otherTopic: "from another topic",
  partitionGone: "source partition gone",
  alreadyRedriven: "already redriven",
  otherClass: "other error class",
  outsideTime: "outside the time range",
  outsideOffsets: "outside the source offsets",
  limit: "redrive limit reached",
} as const;
export type RedriveReason = typeof REDRIVE_REASONS[keyof typeof REDRIVE_REASONS];

/** The command's flag values as given (strings), before parsing. */
export interface RedriveFlags {
  classes: readonly string[];
  since?: string | undefined;
  until?: string | undefined;
  sourceOffsets: readonly string[];
  maxRedrives?: string | undefined;
}

const DURATION_UNITS_MS: Readonly<Record<string, number>> = {
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

/**
 * A point in time from a flag: an ISO 8601 date or date-time (`2026-11-26`,
 * `2026-11-26T14:00:00Z`), or a duration before `now` (`30m`, `2h`, `7d`).
 *
 * @throws {RangeError} naming the flag, when it is neither
 */
export function parseTimeFlag(flag: string, text: string, now: number): number {
  const ago = /^(\d+)([smhd])$/.exec(text.trim());
  if (ago) return now - Number(ago[1]) * DURATION_UNITS_MS[ago[2]!]!;
  const at = /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?)?$/.test(
      text.trim(),
    )
    ? Date.parse(text.trim())
    : NaN;
  if (Number.isNaN(at)) {
    throw new RangeError(
      `Cannot read --${flag}: "${text}" is not a time, expected an ISO date or date-time (2026-11-26T14:00:00Z) or a duration ago (30m, 2h, 7d)`,
    );
  }
  return at;
}

/**
 * Source offsets from `--source-offsets` values, each `PARTITION:RANGES` where
 * RANGES is a comma-separated list of `FROM-TO` (inclusive), `FROM-` (to the
 * end) or one `OFFSET`: `0:100-200`, `2:7,9,40-`.
 *
 * @throws {RangeError} naming the value that is not one
 */
export function parseSourceOffsets(
  values: readonly string[],
): Map<number, Array<[number, number]>> {
  const offsets = new Map<number, Array<[number, number]>>();
  const bad = (value: string, why: string): never => {
    throw new RangeError(
      `Cannot read --source-offsets: "${value}" ${why}, expected PARTITION:FROM-TO[,FROM-TO] (e.g. 0:100-200)`,
    );
  };
  for (const value of values) {
    const match = /^(\d+):(.+)$/.exec(value.trim());
    if (match === null) bad(value, "has no partition");
    const partition = Number(match![1]);
    const ranges = offsets.get(partition) ?? [];
    for (const part of match![2]!.split(",")) {
      const range = /^(\d+)(?:(-)(\d*))?$/.exec(part.trim());
      if (range === null) bad(value, `has "${part}"`);
      const from = Number(range![1]);
      const to = range![2] === undefined
        ? from
        : range![3] === ""
        ? Number.MAX_SAFE_INTEGER
        : Number(range![3]);
      if (!Number.isSafeInteger(from) || !Number.isSafeInteger(to) || to < from) {
        bad(value, `has "${part}", which is no range`);
      }
      ranges.push([from, to]);
    }
    offsets.set(partition, ranges);
  }
  return offsets;
}

/**
 * The selection the flags describe.
 *
 * @throws {RangeError} naming the flag whose value is bad
 */
export function parseSelection(flags: RedriveFlags, now: number): RedriveSelection {
  const since = flags.since === undefined ? null : parseTimeFlag("since", flags.since, now);
  const until = flags.until === undefined ? null : parseTimeFlag("until", flags.until, now);
  if (since !== null && until !== null && until <= since) {
    throw new RangeError(
      `Cannot read --until: it is not after --since (${new Date(until).toISOString()} <= ${
        new Date(since).toISOString()
      })`,
    );
  }
  const maxText = flags.maxRedrives ?? String(DEFAULT_MAX_REDRIVES);
  const maxRedrives = Number(maxText);
  if (!/^\d+$/.test(maxText.trim()) || maxRedrives < 1) {
    throw new RangeError(`Cannot read --max-redrives: "${maxText}", expected an integer >= 1`);
  }
  const classes = flags.classes.flatMap((c) => c.split(",")).map((c) => c.trim()).filter(
    Boolean,
  );
  return {
    classes: classes.length > 0 ? new Set(classes) : null,
    since,
    until,
    offsets: flags.sourceOffsets.length > 0 ? parseSourceOffsets(flags.sourceOffsets) : null,
    maxRedrives,
  };
}

/**
 * Whether one dead letter is sent, and if not why.
 *
 * @param letter.source its headers as read, or undefined when it has none of ours
 * @param letter.timestamp the dead-letter record's time (ms), used when the headers carry none
 * @param context.topic the topic a letter must come from (the one the tracker audits)
 * @param context.partitions that topic's partition count
 * @param context.redriven whether this letter is in the redrive record already
 */
export function decideRedrive(
  letter: { source: DeadLetterSource | undefined; timestamp: number | null },
  selection: RedriveSelection,
  context: { topic: string; partitions: number; redriven: boolean },
): RedriveReason {
  const { source } = letter;
  if (source === undefined) return REDRIVE_REASONS.unreadable;
  if (source.topic !== context.topic) return REDRIVE_REASONS.otherTopic;
  if (source.partition >= context.partitions) return REDRIVE_REASONS.partitionGone;
  if (context.redriven) return REDRIVE_REASONS.alreadyRedriven;
  if (selection.classes !== null && !selection.classes.has(source.errorClass)) {
    return REDRIVE_REASONS.otherClass;
  }
  if (selection.since !== null || selection.until !== null) {
    const parsed = Date.parse(source.failedAt);
    const at = Number.isNaN(parsed) ? letter.timestamp : parsed;
    if (
      at === null || (selection.since !== null && at < selection.since) ||
      (selection.until !== null && at >= selection.until)
    ) return REDRIVE_REASONS.outsideTime;
  }
  if (selection.offsets !== null) {
    const ranges = selection.offsets.get(source.partition) ?? [];
    if (!ranges.some(([from, to]) => source.offset >= from && source.offset <= to)) {
      return REDRIVE_REASONS.outsideOffsets;
    }
  }
  if (source.redriveCount >= selection.maxRedrives) return REDRIVE_REASONS.limit;
  return REDRIVE_REASONS.selected;
}

/** Error classes counted apart in a summary; further ones are counted together. */
const MAX_CLASSES = 20;

/** What a redrive run did (or, dry, would do). */
export interface RedriveSummary {
  dlqTopic: string;
  topic: string;
  dryRun: boolean;
  /** Dead letters read. */
  read: number;
  /** Letters per reason (`selected` are those sent, or that a dry run would send). */
  byReason: Partial<Record<RedriveReason, number>>;
  /** Selected letters per error class. */
  selectedByClass: Record<string, number>;
  /** Copies acknowledged by the broker and recorded in this run. */
  sent: number;
  /**
   * Letters of batches an earlier run left in doubt (crashed between send and
   * record): how many, and how many of their copies were found in the topic
   * (recorded as sent; the others were sent again as selected letters).
   */
  inDoubt: { letters: number; found: number };
  /** Stopped by a signal: what was sent is recorded; run again to send the rest. */
  interrupted: boolean;
}

/** An empty summary to count into. */
export function newRedriveSummary(
  { dlqTopic, topic, dryRun }: { dlqTopic: string; topic: string; dryRun: boolean },
): RedriveSummary {
  return {
    dlqTopic,
    topic,
    dryRun,
    read: 0,
    byReason: {},
    selectedByClass: {},
    sent: 0,
    inDoubt: { letters: 0, found: 0 },
    interrupted: false,
  };
}

/** Counts one decided letter into `summary`. */
export function countDecision(
  summary: RedriveSummary,
  reason: RedriveReason,
  errorClass: string | undefined,
): void {
  summary.read++;
  summary.byReason[reason] = (summary.byReason[reason] ?? 0) + 1;
  if (reason !== REDRIVE_REASONS.selected || errorClass === undefined) return;
  const classes = summary.selectedByClass;
  const key = errorClass in classes || Object.keys(classes).length < MAX_CLASSES
    ? errorClass
    : "(other)";
  classes[key] = (classes[key] ?? 0) + 1;
}

/** The summary as text for a terminal. */
export function formatRedriveSummary(summary: RedriveSummary): string {
  const selected = summary.byReason[REDRIVE_REASONS.selected] ?? 0;
  const classes = Object.entries(summary.selectedByClass).map(([c, n]) => `${c} ${n}`).join(
    ", ",
  );
  const lines = [
    `${summary.dlqTopic} → ${summary.topic}: ${summary.read} dead letters read${
      summary.dryRun ? " (dry run: nothing sent, nothing recorded)" : ""
    }`,
  ];
  if (summary.inDoubt.letters > 0) {
    lines.push(
      `  interrupted earlier run: ${summary.inDoubt.letters} letters in doubt, ${summary.inDoubt.found} of their copies found in ${summary.topic} and recorded${
        summary.dryRun ? " (would be)" : ""
      }`,
    );
  }
  for (const reason of Object.values(REDRIVE_REASONS)) {
    const n = summary.byReason[reason];
    if (n === undefined) continue;
    const label = reason === REDRIVE_REASONS.selected
      ? summary.dryRun ? "would send" : "selected"
      : reason;
    lines.push(
      `  ${label.padEnd(28)} ${n}${
        reason === REDRIVE_REASONS.selected && classes ? `  (${classes})` : ""
      }`,
    );
  }
  if (!summary.dryRun) {
    lines.push(
      summary.interrupted
        ? `Interrupted: sent ${summary.sent} of ${selected} (acknowledged and recorded); run again to send the rest`
        : summary.sent === 0
        ? "Sent 0 (nothing selected)"
        : `Sent ${summary.sent} (acknowledged by all in-sync replicas and recorded)`,
    );
  }
  return lines.join("\n");
}

/**
 * The producer's outcomes file format, owned here alone: one JSON line per
 * message, saying whether Kafka acknowledged it (and where), refused it, or
 * left it unanswered at shutdown. The type, the encoder and the one parser the
 * delivery checker and the tests use. Pure.
 */

export const ACK_OUTCOMES = ["acknowledged", "failed", "indeterminate"] as const;
export type AckOutcome = typeof ACK_OUTCOMES[number];

/** One line of the outcomes file. */
export interface AckRecord {
  outcome: AckOutcome;
  order_id: string;
  sequence: number;
  status: string;
  topic: string;
  partition: number;
  /** Present when acknowledged. */
  offset?: number;
  /** The cluster that acknowledged it; absent in files written before it was kept. */
  cluster_id?: string;
  error?: string;
}

/** Serialises records as JSON Lines (each ends with "\n"). */
export function encodeAckLines(records: readonly AckRecord[]): string {
  let text = "";
  for (const record of records) text += JSON.stringify(record) + "\n";
  return text;
}

export type AckLineResult = { ok: true; record: AckRecord } | { ok: false; error: string };

const OUTCOMES: ReadonlySet<unknown> = new Set(ACK_OUTCOMES);

/** Parses one line of the outcomes file; an acknowledged record must say where it was written. */
export function parseAckLine(line: string, lineNumber: number): AckLineResult {
  const fail = (why: string): AckLineResult => ({
    ok: false,
    error: `Cannot parse outcome line ${lineNumber}: ${why}`,
  });
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return fail("not valid JSON");
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return fail("not an outcome record");
  }
  const r = value as Record<string, unknown>;
  const count = (v: unknown) => Number.isSafeInteger(v) && (v as number) >= 0;
  if (!OUTCOMES.has(r.outcome)) return fail(`outcome is not one of ${ACK_OUTCOMES}`);
  if (typeof r.order_id !== "string" || typeof r.status !== "string") {
    return fail("order_id or status is not a string");
  }
  if (typeof r.topic !== "string" || !count(r.partition) || !Number.isSafeInteger(r.sequence)) {
    return fail("topic, partition or sequence is missing");
  }
  if (r.outcome === "acknowledged" && !count(r.offset)) {
    return fail("an acknowledged record has no offset");
  }
  if (r.offset !== undefined && !count(r.offset)) return fail("offset is not an integer >= 0");
  if (r.error !== undefined && typeof r.error !== "string") return fail("error is not a string");
  if (r.cluster_id !== undefined && typeof r.cluster_id !== "string") {
    return fail("cluster_id is not a string");
  }
  return { ok: true, record: value as AckRecord };
}

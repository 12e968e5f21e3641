/**
 * The shell of `dlq:redrive`: reads the dead-letter topic, decides each letter
 * (redrive_plan.ts), and sends the selected ones back to the orders topic in
 * batches with the idempotent producer (acks=all). Each batch is recorded
 * around its send (redrive_record.ts, redrive_file.ts):
 *
 *   1. `sending` line (the letters, the topic's end offsets), fdatasync;
 *   2. send, and wait for the acknowledgement;
 *   3. `sent` line, fdatasync; only then is the batch counted as sent.
 *
 * A crash before 1 is synced sent nothing. A crash between 1 and 3 leaves the
 * batch in doubt: the next run reads the topic from the recorded end offsets,
 * finds the copies that landed by their `x-redrive-of` header, records them as
 * sent and sends only the others. So no dead letter is sent twice, even when
 * killed between the acknowledgement and the record.
 */
import type { Config } from "./config.ts";
import { MAX_SEND_BYTES } from "./constants.ts";
import {
  deadLetterBytes,
  parseDeadLetterHeaders,
  parseRedriveOf,
  type RedriveMessage,
  redriveMessage,
} from "./dead_letter.ts";
import {
  clusterId,
  createIdempotentProducer,
  createKafka,
  type Kafka,
  NEW_TOPIC_GRACE_MS,
  partitionCount,
  publishMessages,
  readTopic,
  topicEnds,
  withAdmin,
} from "./kafka.ts";
import { RangeSet } from "./range_set.ts";
import { RedriveRecordFile } from "./redrive_file.ts";
import {
  countDecision,
  decideRedrive,
  newRedriveSummary,
  REDRIVE_REASONS,
  type RedriveSelection,
  type RedriveSummary,
} from "./redrive_plan.ts";
import {
  offsetsText,
  parseRanges,
  recoveredLine,
  RedriveLedger,
  type SendingLine,
} from "./redrive_record.ts";

/** Letters per send at most, unless `--batch` says otherwise. */
export const DEFAULT_BATCH_SIZE = 500;

/** Retries of one send before the run fails (backing off up to 5 s: about a minute). */
const SEND_RETRIES = 12;

/**
 * Redrives the selected dead letters (or, `dryRun`, only counts them).
 * Resolves with what was done; a signal stops it after the batch in hand is
 * recorded (`interrupted`).
 *
 * @param options.batchSize letters per send at most (default DEFAULT_BATCH_SIZE)
 * @param options.beforeRecord awaited after each acknowledged send, before
 *   its `sent` line: tests fail there to stand for a crash in that window
 * @throws {Error} when Kafka or the record fails; what was recorded stays recorded
 */
export async function runRedrive(
  config: Config,
  { selection, dryRun, signal, batchSize = DEFAULT_BATCH_SIZE, onSent, beforeRecord }: {
    selection: RedriveSelection;
    dryRun: boolean;
    signal?: AbortSignal;
    batchSize?: number;
    /** Told after each recorded batch, with the running summary. */
    onSent?: (summary: Readonly<RedriveSummary>) => void;
    beforeRecord?: () => void | Promise<void>;
  },
): Promise<RedriveSummary> {
  const summary = newRedriveSummary({ dlqTopic: config.dlqTopic, topic: config.topic, dryRun });
  const kafka = createKafka(config, { clientId: "dlq-redrive" });
  const { cluster, partitions } = await withAdmin(kafka, async (admin) => ({
    cluster: await clusterId(admin),
    partitions: await partitionCount(admin, config.topic),
  }));
  const ledger = new RedriveLedger({ clusterId: cluster, dlqTopic: config.dlqTopic });
  // A dry run takes the lock too: it then sees a record no run is changing.
  const record = await RedriveRecordFile.open(config.paths.redriveRecord, ledger);
  const producer = dryRun ? undefined : createIdempotentProducer(kafka, { retries: SEND_RETRIES });
  const admin = kafka.admin();
  try {
    await Promise.all([admin.connect(), producer?.connect()]);
    for (const sending of ledger.inDoubt()) {
      const found = await copiesInTopic(kafka, sending, signal);
      const line = recoveredLine(sending, found, { at: new Date().toISOString() });
      if (!dryRun) await record.append(line);
      ledger.apply(line);
      summary.inDoubt.letters += Object.values(sending.dlq_offsets)
        .reduce((n, ranges) => n + parseRanges(ranges).size, 0);
      summary.inDoubt.found += found.length;
    }

    /** The batch being sent: a signal ends the read at once, but this one is finished. */
    let inFlight: Promise<void> = Promise.resolve();
    let batch: Array<{ partition: number; offset: number; message: RedriveMessage }> = [];
    let batchBytes = 0;
    const flush = async () => {
      if (batch.length === 0 || producer === undefined) return;
      // Stopping: the letters collected are not recorded, so the next run sends them.
      signal?.throwIfAborted();
      const letters = batch;
      batch = [];
      batchBytes = 0;
      const offsets = new Map<number, RangeSet>();
      for (const { partition, offset } of letters) {
        let set = offsets.get(partition);
        if (set === undefined) offsets.set(partition, set = new RangeSet());
        set.add(offset);
      }
      // A broker that does not list the topic yet (a new topic on a cluster) is asked again:
      // without ends, recovering this batch would read the whole topic.
      const ends = await topicEnds(admin, config.topic, { graceMs: NEW_TOPIC_GRACE_MS });
      const sending: SendingLine = {
        kind: "sending",
        at: new Date().toISOString(),
        batch: crypto.randomUUID(),
        cluster_id: cluster,
        dlq_topic: config.dlqTopic,
        dlq_offsets: offsetsText(offsets),
        target_topic: config.topic,
        target_ends: Object.fromEntries([...ends].map(([p, end]) => [String(p), end])),
      };
      await record.append(sending);
      ledger.apply(sending);
      await publishMessages(producer, config.topic, letters.map((l) => l.message));
      await beforeRecord?.();
      const sent = {
        ...sending,
        kind: "sent" as const,
        at: new Date().toISOString(),
        recovered: false,
      };
      const { target_topic: _t, target_ends: _e, ...line } = sent;
      await record.append(line);
      ledger.apply(line);
      summary.sent += letters.length;
      onSent?.(summary);
    };

    try {
      await readTopic(kafka, config.dlqTopic, {
        ...(signal ? { signal } : {}),
        onMessage: async (stored) => {
          const parsed = parseDeadLetterHeaders(stored.headers);
          const source = parsed.ok ? parsed.source : undefined;
          const reason = decideRedrive({ source, timestamp: stored.timestamp }, selection, {
            topic: config.topic,
            partitions,
            redriven: ledger.isRedriven(stored.partition, stored.offset),
          });
          countDecision(summary, reason, source?.errorClass);
          if (reason !== REDRIVE_REASONS.selected || source === undefined || dryRun) return;
          const message = redriveMessage(stored, { dlqTopic: config.dlqTopic, source });
          const bytes = deadLetterBytes(message);
          if (batch.length >= batchSize || batchBytes + bytes > MAX_SEND_BYTES) {
            await (inFlight = flush());
          }
          batch.push({ partition: stored.partition, offset: stored.offset, message });
          batchBytes += bytes;
        },
      });
      await (inFlight = flush());
    } catch (error) {
      if (!signal?.aborted) throw error;
      await inFlight.catch(() => {});
      summary.interrupted = true;
    }
    return summary;
  } finally {
    await producer?.disconnect().catch(() => {});
    await admin.disconnect().catch(() => {});
    record.close();
  }
}

/**
 * The dead letters of a batch in doubt whose copies are in the target topic:
 * read from the end offsets recorded before its send (its copies cannot be
 * earlier) to the end now.
 */
async function copiesInTopic(
  kafka: Kafka,
  sending: SendingLine,
  signal: AbortSignal | undefined,
): Promise<Array<{ partition: number; offset: number }>> {
  const batch = new Map(
    Object.entries(sending.dlq_offsets).map(([p, ranges]) => [Number(p), parseRanges(ranges)]),
  );
  const found: Array<{ partition: number; offset: number }> = [];
  await readTopic(kafka, sending.target_topic, {
    from: new Map(Object.entries(sending.target_ends).map(([p, end]) => [Number(p), end])),
    ...(signal ? { signal } : {}),
    onMessage: ({ headers }) => {
      const of = parseRedriveOf(headers);
      if (of?.dlqTopic === sending.dlq_topic && batch.get(of.partition)?.has(of.offset)) {
        found.push({ partition: of.partition, offset: of.offset });
      }
    },
  });
  return found;
}

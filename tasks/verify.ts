/**
 * `deno task verify`: checks that nothing acknowledged was lost. Streams the
 * audit trail(s) and the producer's outcomes (every segment of each), reads the
 * dead-letter topic and the group's committed offsets, and reports counts,
 * losses, duplicates, offset gaps per partition and commits past what was
 * audited. Memory stays flat however large the trail. Exit 1 on any loss,
 * duplicate, gap or commit too far, or when Kafka cannot be reached (then it
 * says so in one line and offers --offline).
 *
 * Permissions: --allow-read, --allow-net to the brokers, --allow-env.
 */
import { exitWhenDone } from "../lib/shutdown.ts";
import {
  type Config,
  loadConfig,
  optionList,
  optionSet,
  type OptionValues,
} from "../lib/config.ts";
import { EXIT } from "../lib/constants.ts";
import {
  clusterId,
  committedOffsets,
  createKafka,
  type Kafka,
  readTopic,
  topicStarts,
  withAdmin,
} from "../lib/kafka.ts";
import { parseAckLine } from "../lib/ack_record.ts";
import { parseTrailLine } from "../lib/audit_record.ts";
import { parseDeadLetterHeaders } from "../lib/dead_letter.ts";
import {
  DeliveryChecker,
  type DeliveryReport,
  formatReport,
  runPasses,
} from "../lib/delivery_check.ts";
import { readSegments, segmentPaths } from "../lib/segmented_log.ts";
import { trailSegments } from "../lib/trail_reader.ts";
import { setupLogging } from "../lib/logging.ts";
import { megabytes, progressLine } from "./_progress.ts";
import { awaitKafka, KafkaAccessError, KafkaUnreachableError } from "../lib/reachability.ts";

/** Average size of an audit line, to size the checker's filter from the trail's bytes. */
const BYTES_PER_LINE_ESTIMATE = 1_000;

/** Trails smaller than this are read too fast for a progress line. */
const PROGRESS_FROM_BYTES = 16 * 1024 * 1024;

/** Shows how far a long read is, on a terminal only. */
function progress(total: number): (bytes: number) => void {
  const line = progressLine({ enabled: Deno.stderr.isTerminal() && total >= PROGRESS_FROM_BYTES });
  let done = 0;
  return (bytes) => {
    done += bytes;
    if (done >= total) line.done(`Read the trail: ${megabytes(total)}`);
    else line.update(`Reading the trail: ${megabytes(done)} of ${megabytes(total)}`);
  };
}

/** Streams the dead-letter topic into the checker. */
async function readDeadLetters(
  kafka: Kafka,
  dlqTopic: string,
  onLetter: (source: { topic: string; partition: number; offset: number }) => void,
): Promise<void> {
  await readTopic(kafka, dlqTopic, {
    onMessage: ({ headers }) => {
      const parsed = parseDeadLetterHeaders(headers);
      if (parsed.ok) onLetter(parsed.source);
    },
  });
}

/** Why Kafka cannot be reached, in one line, or undefined when it answers. */
async function unreachable(config: Config): Promise<string | undefined> {
  try {
    await awaitKafka(config, { oneShot: true });
    return undefined;
  } catch (error) {
    if (!(error instanceof KafkaUnreachableError || error instanceof KafkaAccessError)) throw error;
    return `${error.message}. To check the files alone: \`deno task verify --offline\``;
  }
}

/** Runs the checker's passes over the trails, the dead letters and the outcomes. */
async function check(
  config: Config & { readonly options: OptionValues },
  { online }: { online: boolean },
): Promise<DeliveryReport> {
  const { options } = config;
  const given = optionList(options, "audit");
  const trails = await Promise.all(
    (given.length > 0 ? given : [config.paths.auditFile]).map(trailSegments),
  );
  const totalBytes = trails.reduce((sum, t) => sum + t.bytes, 0);
  // A trail whose first segments retention deleted starts after offset 0.
  const trimmed = trails.some((t) => t.segments[0]!.number > 1);
  const kafka = online ? createKafka(config, { clientId: "verify" }) : undefined;
  const { cluster, logStarts } = kafka
    ? await withAdmin(kafka, async (admin) => ({
      cluster: await clusterId(admin),
      logStarts: await topicStarts(admin, config.topic),
    }))
    : { cluster: undefined, logStarts: undefined };
  // The offsets are read before the trail: a running tracker commits only
  // what is already on disk, so these never run ahead of the trail read next,
  // and what was acknowledged past them, and still kept, is yet to be consumed.
  const { groupId, topic } = config;
  const committed = online ? await committedOffsets(config, { groupId, topic }) : undefined;
  const checker = new DeliveryChecker({
    topic: config.topic,
    expectedLines: Math.ceil(totalBytes / BYTES_PER_LINE_ESTIMATE),
    fromOffsetZero: !optionSet(options, "since-first") && !trimmed,
    ...(committed && cluster
      ? {
        committedBefore: {
          offsets: committed,
          clusterId: cluster,
          logStarts: logStarts ?? new Map(),
        },
      }
      : {}),
  });
  const onBytes = progress(totalBytes);
  const { acksLog } = config.producer;
  await runPasses(checker, {
    trails: trails.map(({ segments }) => (onLine, pass) =>
      readSegments(
        segments,
        (text: string, n: number) => parseTrailLine(text, n, { withOrder: false }),
        onLine,
        {
          onSegmentDone: pass === "read" ? (segment) => onBytes(segment.bytes) : undefined,
        },
      )
    ),
    deadLetters: kafka &&
      ((onLetter) =>
        readDeadLetters(kafka, config.dlqTopic, (source) => onLetter(source, cluster ?? null))),
    acks: acksLog === undefined
      ? undefined
      : async (onAck) =>
        await readSegments(await segmentPaths(acksLog), parseAckLine, (p) => onAck(p.record)),
  });
  if (cluster === undefined || committed === undefined) return checker.report();
  return checker.report({ committed, clusterId: cluster });
}

async function main(): Promise<number> {
  const config = loadConfig(Deno.args, { command: "verify" });
  if (typeof config === "number") return config;
  const online = !optionSet(config.options, "offline");
  // KafkaJS's own retries would only repeat what the reachability check says.
  const closeLogging = await setupLogging({ level: "warning", kafkaLevel: "fatal" });
  try {
    const down = online ? await unreachable(config) : undefined;
    if (down !== undefined) {
      console.error(down);
      return EXIT.failure;
    }
    const report = await check(config, { online });
    const json = optionSet(config.options, "json");
    console.log(json ? JSON.stringify(report, null, 2) : formatReport(report));
    return report.ok ? EXIT.ok : EXIT.failure;
  } catch (error) {
    console.error(`Cannot verify: ${(error as Error).message}`);
    return EXIT.failure;
  } finally {
    await closeLogging();
  }
}

if (import.meta.main) {
  exitWhenDone(await main());
}

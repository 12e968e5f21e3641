/**
 * The only module that imports KafkaJS: client creation (from a connection:
 * brokers with their TLS and SASL settings) with logs routed to our logger,
 * cluster readiness and idempotent topic creation. Swap the client here.
 * Long (about 500 lines) because it is the only module that imports KafkaJS:
 * every Kafka call and every workaround of the client lives here.
 */
// First: its patches must be in place before KafkaJS's modules load.
import { refuseUnpatchable } from "./kafka_codec_patch.ts";
import {
  type Admin,
  ConfigResourceTypes,
  type Consumer,
  type ConsumerConfig,
  type ConsumerRunConfig,
  type EachBatchPayload,
  Kafka,
  type KafkaMessage,
  logLevel as KafkaLogLevel,
  Partitioners,
  type Producer,
  type RecordMetadata,
  type SASLOptions,
} from "kafkajs";
import { getLogger } from "@logtape/logtape";
import process from "node:process";
import { Buffer } from "node:buffer";
import type { DeadLetterMessage } from "./dead_letter.ts";
import RequestQueue from "kafkajs/src/network/requestQueue/index.js";
import Cluster from "kafkajs/src/cluster/index.js";
import kafkaErrors from "kafkajs/src/errors.js";
import protocolErrors from "kafkajs/src/protocol/error.js";
import { keyPartition } from "./murmur2.ts";
import { ClientLogFilter, type ClientLogLevel } from "./client_log.ts";
import type { KafkaConnection, KafkaSecurity, SaslSettings } from "./kafka_security.ts";
import type { ConnectionOptions } from "node:tls";
import Encoder from "kafkajs/src/protocol/encoder.js";
import {
  decodeTopicIdResponse,
  encodeTopicIdRequest,
  METADATA_API_KEY,
  TOPIC_ID_METADATA_VERSION,
  UNKNOWN_TOPIC_OR_PARTITION,
} from "./topic_id_codec.ts";

export type {
  Admin,
  Consumer,
  ConsumerRunConfig,
  EachBatchPayload,
  KafkaMessage,
  Producer,
  RecordMetadata,
};

const kafkaLog = getLogger(["kafkajs"]);

// KafkaJS 2.2.4's request queue re-arms a timer after every check, even with
// nothing pending and no throttling; the delay it computes is then negative,
// so the timer fires after 1 ms and re-arms itself: ~900 wake-ups a second per
// broker connection, about 2% of a core for an idle consumer. Skip the timer
// when there is nothing to check: push() schedules again when a request waits,
// and a finished request checks the queue itself.
type Queue = { pending: unknown[]; throttledUntil: number; scheduleCheckPendingRequests(): void };
type QueueClass = { prototype: Queue; new (options: Record<string, unknown>): Queue };

/**
 * What in KafkaJS's request queue differs from what the timer patch replaces,
 * or undefined when it has the expected shape: a `scheduleCheckPendingRequests`
 * method, and instances with a `pending` array and a numeric `throttledUntil`.
 */
export function requestQueueShapeProblem(queueClass: unknown): string | undefined {
  if (typeof queueClass !== "function") return "it is not a class";
  const proto = (queueClass as QueueClass).prototype;
  if (typeof proto?.scheduleCheckPendingRequests !== "function") {
    return "it has no scheduleCheckPendingRequests method";
  }
  let probe: Queue;
  try {
    const silent = () => {};
    probe = new (queueClass as QueueClass)({
      maxInFlightRequests: 1,
      requestTimeout: 1_000,
      enforceRequestTimeout: false,
      clientId: "shape-probe",
      broker: "shape-probe:0",
      logger: { debug: silent, info: silent, warn: silent, error: silent },
    });
  } catch (error) {
    return `it cannot be constructed as in 2.2.4 (${(error as Error).message})`;
  }
  if (!Array.isArray(probe.pending)) return "its instances have no pending array";
  if (typeof probe.throttledUntil !== "number") {
    return "its instances have no throttledUntil number";
  }
  return undefined;
}

/**
 * Installs the timer patch on `queueClass`.
 *
 * @throws {Error} when the class does not have the shape the patch relies on
 */
export function patchRequestQueue(queueClass: unknown): void {
  refuseUnpatchable("request queue", requestQueueShapeProblem(queueClass), "lib/kafka.ts");
  const proto = (queueClass as QueueClass).prototype;
  const scheduleCheck = proto.scheduleCheckPendingRequests;
  proto.scheduleCheckPendingRequests = function (this: Queue) {
    if (this.pending.length === 0 && this.throttledUntil <= Date.now()) return;
    scheduleCheck.call(this);
  };
}
patchRequestQueue(RequestQueue);

/** The shape check of the installed KafkaJS's request queue (undefined: as the patch expects). */
export function installedRequestQueueProblem(): string | undefined {
  return requestQueueShapeProblem(RequestQueue);
}

type MetadataCall = (this: unknown, ...args: unknown[]) => Promise<unknown>;

/**
 * What in KafkaJS's cluster differs from what the metadata patch relies on, or
 * undefined: a class with a `metadata` method.
 */
export function clusterShapeProblem(clusterClass: unknown): string | undefined {
  if (typeof clusterClass !== "function") return "it is not a class";
  const proto = (clusterClass as { prototype?: { metadata?: unknown } }).prototype;
  if (typeof proto?.metadata !== "function") return "it has no metadata method";
  return undefined;
}

/**
 * KafkaJS 2.2.4's cluster metadata call, which the admin's listTopics,
 * fetchTopicMetadata and describeCluster make, resolves null when every broker
 * of its pool failed the request (its broker pool swallows each error), and
 * the admin then fails with a TypeError ("Cannot destructure property
 * 'topicMetadata' of ... as it is null"). A broker restarting under a running
 * tracker met it: the epoch check after the rejoin failed with that TypeError,
 * the consumer crashed with an error KafkaJS does not restart from, and the
 * tracker stopped. The patch turns the null into KafkaJS's own retriable
 * KafkaJSBrokerNotFound. The admin calls do not retry it themselves; out of
 * eachBatch, KafkaJS's fetch loop does (see kafkaRetries), and elsewhere the
 * caller sees a broker error instead of a TypeError. What each broker
 * answered is lost in KafkaJS's pool, so an error that lasts (a topic the
 * client lost access to) is retried too, with this message.
 *
 * @throws {Error} when the class does not have the shape the patch relies on
 */
export function patchClusterMetadata(clusterClass: unknown): void {
  refuseUnpatchable("cluster metadata", clusterShapeProblem(clusterClass), "lib/kafka.ts");
  const proto = (clusterClass as { prototype: { metadata: MetadataCall } }).prototype;
  const metadata = proto.metadata;
  proto.metadata = async function (this: unknown, ...args: unknown[]) {
    const found = await metadata.apply(this, args);
    if (found === null || found === undefined) {
      throw new kafkaErrors.KafkaJSBrokerNotFound("No broker answered the metadata request");
    }
    return found;
  };
}
patchClusterMetadata(Cluster);

/** The shape check of the installed KafkaJS's cluster (undefined: as the patch expects). */
export function installedClusterProblem(): string | undefined {
  return clusterShapeProblem(Cluster);
}

// KafkaJS's delay queue arms a timer with a negative delay when it is empty,
// which Deno reports as a TimeoutNegativeWarning once per process (harmless:
// the timer fires at once). Drop that one warning; pass every other on.
const emitWarning = process.emitWarning.bind(process);
process.emitWarning = ((warning: string | Error, ...rest: unknown[]) => {
  const name = typeof warning === "string" ? rest[0] : warning.name;
  if (name === "TimeoutNegativeWarning") return;
  (emitWarning as (...args: unknown[]) => void)(warning, ...rest);
}) as typeof process.emitWarning;

/** The messages of the protocol errors KafkaJS retries by itself. */
export const RETRIABLE_ERROR_MESSAGES: readonly string[] = (protocolErrors.errorCodes as Array<
  { retriable: boolean; message: string }
>).filter((e) => e.retriable).map((e) => e.message);

const clientLogFilter = new ClientLogFilter(RETRIABLE_ERROR_MESSAGES);

/** Failed responses the client retried by itself in this process (logged at debug level). */
export function clientRetriedResponses(): number {
  return clientLogFilter.retriedResponses;
}

const LEVELS: Partial<Record<KafkaLogLevel, ClientLogLevel>> = {
  [KafkaLogLevel.ERROR]: "error",
  [KafkaLogLevel.NOTHING]: "error",
  [KafkaLogLevel.WARN]: "warning",
  [KafkaLogLevel.INFO]: "info",
};

function logCreator() {
  return (
    { level, log }: {
      level: KafkaLogLevel;
      log: { message: string; [key: string]: unknown };
    },
  ) => {
    const { message, timestamp: _timestamp, logger: _logger, ...properties } = log;
    const decision = clientLogFilter.decide(
      { level: LEVELS[level] ?? "debug", message, properties },
      Date.now(),
    );
    kafkaLog[decision.level](message, properties);
    if (decision.summary) kafkaLog.warn(decision.summary.message, decision.summary.properties);
  };
}

/**
 * A file a security setting names, read when a client is created (KafkaJS's,
 * or the Java tools' keystore).
 *
 * @throws {Error} naming the setting and the file when it cannot be read
 */
export function readSettingFile(env: string, path: string): string {
  try {
    return Deno.readTextFileSync(path);
  } catch (error) {
    throw new Error(`Cannot read ${env} "${path}": ${(error as Error).name}`, { cause: error });
  }
}

/**
 * The SASL password: the setting's, or the first line of the file it names,
 * read now (a rotated password is used by the next client). For a client only
 * (KafkaJS, or the properties of Kafka's own tools); never for a log.
 */
export function saslPassword(sasl: SaslSettings): string {
  return "secret" in sasl.password
    ? sasl.password.secret.reveal()
    : readSettingFile("KAFKA_SASL_PASSWORD_FILE", sasl.password.file).split(/\r?\n/, 1)[0]!;
}

/**
 * KafkaJS's `ssl` and `sasl` options from the security settings, with the
 * files they name read now (a rotated password or certificate is used by the
 * next client created). The password goes to KafkaJS and nowhere else.
 */
function clientSecurity(
  security: KafkaSecurity,
): { ssl?: ConnectionOptions | boolean; sasl?: SASLOptions } {
  const { tls, sasl } = security;
  const options: { ssl?: ConnectionOptions | boolean; sasl?: SASLOptions } = {};
  if (tls !== undefined) {
    const ssl: ConnectionOptions = {};
    if (tls.caFile) ssl.ca = [readSettingFile("KAFKA_TLS_CA_FILE", tls.caFile)];
    if (tls.certFile) ssl.cert = readSettingFile("KAFKA_TLS_CERT_FILE", tls.certFile);
    if (tls.keyFile) ssl.key = readSettingFile("KAFKA_TLS_KEY_FILE", tls.keyFile);
    if (tls.serverName) ssl.servername = tls.serverName;
    options.ssl = Object.keys(ssl).length > 0 ? ssl : true;
  }
  if (sasl !== undefined) {
    const password = saslPassword(sasl);
    options.sasl = { mechanism: sasl.mechanism, username: sasl.username, password } as SASLOptions;
  }
  return options;
}

/**
 * Creates a client of the cluster `connection` names, with its TLS and SASL
 * settings; KafkaJS logs go to the "kafkajs" log category.
 *
 * @example
 * ```ts
 * const kafka = createKafka(config, { clientId: "order-producer" });
 * ```
 * @param options.retries connection retries before a call fails (KafkaJS backs off exponentially)
 * @param options.quiet log nothing (a probe whose caller reports the outcome itself)
 */
export function createKafka(
  connection: KafkaConnection,
  { clientId, retries = 8, quiet = false }: {
    clientId: string;
    retries?: number;
    quiet?: boolean;
  },
): Kafka {
  return new Kafka({
    clientId,
    brokers: [...connection.brokers],
    ...clientSecurity(connection.kafkaSecurity),
    logLevel: quiet ? KafkaLogLevel.NOTHING : KafkaLogLevel.INFO,
    logCreator,
    connectionTimeout: 3_000,
    requestTimeout: 30_000,
    retry: { initialRetryTime: 300, maxRetryTime: 10_000, retries },
  });
}

/**
 * An idempotent producer: acks from all in-sync replicas, no duplicates on retry.
 *
 * @param options.retries retries of a send before it fails (default: for ever,
 *   for callers that bound the wait themselves)
 */
export function createIdempotentProducer(
  kafka: Kafka,
  { retries = Number.MAX_SAFE_INTEGER }: { retries?: number } = {},
): Producer {
  return kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    createPartitioner: Partitioners.DefaultPartitioner,
    allowAutoTopicCreation: false,
    retry: { initialRetryTime: 300, maxRetryTime: 5_000, retries },
  });
}

/**
 * Sends messages that name their partition, and resolves once every one of
 * those partitions has answered. KafkaJS 2.2.4's send, retrying after a
 * partition leader failed, skips the partitions that moved to a broker which
 * had already answered within the same send (`responsePerBroker` in
 * producer/sendMessages.js) and resolves without them: on the three-broker
 * cluster, with a leader SIGKILLed mid-stream (fault 13), records came back
 * acknowledged with no offset and were never written. The partitions left
 * without an answer are sent again here, in a new send (the idempotent
 * producer's sequence numbers still apply).
 */
export async function sendToPartitions(
  producer: Producer,
  { topic, acks, messages }: {
    topic: string;
    /** Not 0: without acknowledgements no partition would ever count as answered. */
    acks: -1 | 1;
    messages: ReadonlyArray<
      Parameters<Producer["send"]>[0]["messages"][number] & { partition: number }
    >;
  },
): Promise<RecordMetadata[]> {
  const answered: RecordMetadata[] = [];
  let pending = [...messages];
  for (;;) {
    const results = await producer.send({ topic, acks, messages: pending });
    answered.push(...results);
    const done = new Set(results.map((r) => r.partition));
    const skipped = pending.filter((m) => !done.has(m.partition));
    if (skipped.length === 0) return answered;
    kafkaLog.warn(
      "The Kafka client skipped {count} messages of partitions {partitions} after a leader change; sending them again",
      { count: skipped.length, partitions: [...new Set(skipped.map((m) => m.partition))] },
    );
    pending = skipped;
  }
}

/** Runs `work` with a connected admin client, disconnecting it afterwards. */
export async function withAdmin<T>(kafka: Kafka, work: (admin: Admin) => Promise<T>): Promise<T> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    return await work(admin);
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

/**
 * Deletes a benchmark's scratch topics, and its consumer groups when named:
 * left behind, every run keeps its orders on the broker (1M orders are
 * 1.5 GB), and runs fill the broker's disk. The topics and groups that exist
 * are deleted; a missing one is not an error.
 */
export async function deleteScratch(
  connection: KafkaConnection,
  { topics, groups = [], clientId }: {
    topics: readonly string[];
    groups?: readonly string[];
    clientId: string;
  },
): Promise<void> {
  await withAdmin(createKafka(connection, { clientId, quiet: true }), async (admin) => {
    const existing = new Set(await admin.listTopics());
    const found = topics.filter((topic) => existing.has(topic));
    if (found.length > 0) await admin.deleteTopics({ topics: found, timeout: 10_000 });
    if (groups.length === 0) return;
    const listed = new Set((await admin.listGroups()).groups.map((g) => g.groupId));
    const present = groups.filter((group) => listed.has(group));
    if (present.length === 0) return;
    try {
      await admin.deleteGroups([...present]);
    } catch (error) {
      // KafkaJS says only "Error in DeleteGroups"; the reason is per group.
      // A group gone meanwhile (an empty one without offsets) is deleted.
      const errors = (error as {
        groups?: { groupId?: string; error?: Error & { type?: string } }[];
      }).groups;
      if (errors === undefined) throw error;
      const reasons = errors.filter((g) => g.error?.type !== "GROUP_ID_NOT_FOUND")
        .map((g) => `${g.groupId ?? "?"}: ${g.error?.message ?? "unknown"}`);
      if (reasons.length === 0) return;
      throw new Error(`Cannot delete groups ${reasons.join("; ")}`, { cause: error });
    }
  });
}

/**
 * The consumer groups named `prefix…` that have committed offsets on `topic`:
 * those a tool that names its own groups (Kafka's EndToEndLatency) left on a
 * scratch topic.
 */
export async function groupsWithOffsets(
  connection: KafkaConnection,
  { prefix, topic, clientId }: { prefix: string; topic: string; clientId: string },
): Promise<string[]> {
  return await withAdmin(createKafka(connection, { clientId, quiet: true }), async (admin) => {
    const named = (await admin.listGroups()).groups.map((g) => g.groupId)
      .filter((group) => group.startsWith(prefix));
    const found: string[] = [];
    for (const groupId of named) {
      const offsets = await admin.fetchOffsets({ groupId, topics: [topic] });
      const committed = offsets.some((t) => t.partitions.some((p) => Number(p.offset) >= 0));
      if (committed) found.push(groupId);
    }
    return found;
  });
}

/** The id of the cluster the admin client talks to. */
export async function clusterId(admin: Admin): Promise<string> {
  return (await admin.describeCluster()).clusterId;
}

/** The first offset still kept, per partition of a topic (empty when the topic is missing). */
export async function topicStarts(admin: Admin, topic: string): Promise<Map<number, number>> {
  if (!(await admin.listTopics()).includes(topic)) return new Map();
  const offsets = await admin.fetchTopicOffsets(topic);
  return new Map(offsets.map((p) => [p.partition, Number(p.low)]));
}

/**
 * The next offset to be written, per partition of a topic (empty when the topic is missing).
 *
 * @param options.graceMs how long a topic the broker asked does not list is asked for again (0: not)
 */
export async function topicEnds(
  admin: Pick<Admin, "listTopics" | "fetchTopicOffsets">,
  topic: string,
  { graceMs = 0 }: { graceMs?: number } = {},
): Promise<Map<number, number>> {
  if (!(await topicListed(admin, topic, { graceMs }))) return new Map();
  const offsets = await admin.fetchTopicOffsets(topic);
  return new Map(offsets.map((p) => [p.partition, Number(p.high)]));
}

/** What of KafkaJS's internal cluster the topic-id reader uses. */
interface ClusterInternals {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  brokerPool: {
    seedBroker?: {
      versions?: Record<number, { minVersion: number; maxVersion: number }>;
      connectionPool: { send(request: unknown): Promise<unknown> };
    };
  };
}

/** The symbol of KafkaJS's private cluster factory on a client, if it has one. */
function clusterFactoryKey(kafka: unknown): symbol | undefined {
  return Object.getOwnPropertySymbols(kafka as object)
    .find((s) => s.description === "private:Kafka:createCluster");
}

/**
 * What in KafkaJS's client differs from what the topic-id reader relies on,
 * or undefined: a private `createCluster` method, found by its symbol's name.
 */
function clusterFactoryProblem(kafka: unknown): string | undefined {
  const key = clusterFactoryKey(kafka);
  if (key === undefined) return "the client has no private:Kafka:createCluster";
  if (typeof (kafka as Record<symbol, unknown>)[key] !== "function") {
    return "private:Kafka:createCluster is not a function";
  }
  return undefined;
}

/**
 * Reads topic ids (KIP-516) with Metadata v10, on a connection of its own to
 * one of the brokers, kept between reads and made again after a failure.
 * KafkaJS 2.2.4 speaks Metadata up to version 6, which has no ids; the
 * request and response are topic_id_codec.ts's. The connection is KafkaJS's
 * own (its TLS, SASL and timeouts), from the client's private cluster factory.
 */
export class TopicIdReader {
  #cluster: ClusterInternals | undefined;

  constructor(readonly kafka: Kafka) {
    refuseUnpatchable("client", clusterFactoryProblem(kafka), "lib/kafka.ts (TopicIdReader)");
  }

  #newCluster(): ClusterInternals {
    const key = clusterFactoryKey(this.kafka)!;
    const create = (this.kafka as unknown as Record<symbol, (o: object) => ClusterInternals>)[key]!;
    return create.call(this.kafka, {});
  }

  /**
   * The topic's id now: null when the topic does not exist, undefined when
   * the brokers cannot say (before Kafka 2.8, or topics not given ids yet).
   *
   * @throws when the brokers cannot be reached or answer with another error
   */
  async read(topic: string): Promise<string | null | undefined> {
    const cluster = this.#cluster ??= this.#newCluster();
    try {
      await cluster.connect();
      const broker = cluster.brokerPool.seedBroker;
      if (broker === undefined) throw new Error("Cannot read a topic id: no broker connected");
      const range = broker.versions?.[METADATA_API_KEY];
      if (range === undefined || range.maxVersion < TOPIC_ID_METADATA_VERSION) return undefined;
      const body = Buffer.from(encodeTopicIdRequest([topic]));
      const topics = await broker.connectionPool.send({
        request: {
          apiKey: METADATA_API_KEY,
          apiVersion: TOPIC_ID_METADATA_VERSION,
          apiName: "Metadata",
          encode: () => Promise.resolve(new Encoder().writeBuffer(body)),
        },
        response: {
          decode: (payload: Buffer) => Promise.resolve(decodeTopicIdResponse(payload)),
          parse: (decoded: unknown) => Promise.resolve(decoded),
        },
      }) as ReturnType<typeof decodeTopicIdResponse>;
      const entry = topics.get(topic);
      if (entry === undefined || entry.errorCode === UNKNOWN_TOPIC_OR_PARTITION) return null;
      if (entry.errorCode !== 0) {
        throw new Error(`Cannot read the id of topic "${topic}": error code ${entry.errorCode}`);
      }
      // No id with no error: a cluster not yet moved to topic ids (its inter-broker protocol).
      return entry.topicId ?? undefined;
    } catch (error) {
      this.#cluster = undefined;
      await cluster.disconnect().catch(() => {});
      throw error;
    }
  }

  /** Closes the connection, if any. */
  async close(): Promise<void> {
    const cluster = this.#cluster;
    this.#cluster = undefined;
    await cluster?.disconnect();
  }
}

/**
 * An error that makes KafkaJS restart the consumer (it rejoins and fetches
 * again from the committed offsets) when thrown from eachBatch.
 */
export function consumerRestart(message: string): Error {
  // KafkaJS restarts a crashed consumer when the error's root cause says retriable.
  return Object.assign(new Error(message), { name: "ConsumerRestart", retriable: true });
}

/**
 * Bytes a consumer fetches per partition at most (KafkaJS's default). With
 * fetches going ahead of the planning (order_tracker.ts), 1 MiB audited
 * 100k orders faster than the 4 MiB used before: a median of 72k msg/s to
 * 59k over 8 interleaved runs, with 18% less CPU per order. A fetch's
 * messages, their copies and their parse results then fit the caches and
 * the young generation better; 512 KiB was as fast, 256 KiB slower.
 */
export const FETCH_MAX_BYTES_PER_PARTITION = 1024 * 1024;

/** A consumer-group member that never auto-commits. */
export function createConsumer(
  kafka: Kafka,
  { groupId, ...rest }: { groupId: string } & Partial<ConsumerConfig>,
): Consumer {
  return kafka.consumer({
    groupId,
    allowAutoTopicCreation: false,
    // A member that dies (SIGKILL) holds its partitions until its session
    // expires: 10 s bounds failover, while heartbeats every 3 s (and after each
    // audited chunk) keep a live member in.
    sessionTimeout: 10_000,
    rebalanceTimeout: 20_000,
    heartbeatInterval: 3_000,
    // Idle cost: a longer fetch wait means fewer empty fetch round trips.
    maxWaitTimeInMs: 1_000,
    // The fetch-ahead pipeline overlaps fetches: see FETCH_MAX_BYTES_PER_PARTITION.
    maxBytesPerPartition: FETCH_MAX_BYTES_PER_PARTITION,
    maxBytes: FETCH_MAX_BYTES_PER_PARTITION * 4,
    ...rest,
  });
}

/**
 * Waits until a metadata request to the cluster succeeds.
 *
 * @throws {Error} when the deadline passes, with the last connection error as cause
 */
export async function waitForCluster(
  connection: KafkaConnection,
  { timeoutMs, signal }: { timeoutMs: number; signal?: AbortSignal },
): Promise<{ brokers: number; elapsedMs: number }> {
  const { brokers } = connection;
  const started = Date.now();
  let lastError: unknown;
  while (Date.now() - started < timeoutMs) {
    signal?.throwIfAborted();
    const admin = createKafka(connection, { clientId: "readiness-probe", retries: 0 }).admin();
    try {
      await admin.connect();
      const cluster = await admin.describeCluster();
      return { brokers: cluster.brokers.length, elapsedMs: Date.now() - started };
    } catch (error) {
      lastError = error;
    } finally {
      await admin.disconnect().catch(() => {});
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  throw new Error(
    `Cannot reach Kafka at ${brokers.join(",")}: no metadata after ${timeoutMs} ms (${
      (lastError as Error | undefined)?.message ?? "no answer"
    })`,
    { cause: lastError },
  );
}

export interface TopicSpec {
  topic: string;
  partitions: number;
  replicationFactor: number;
  /** The topic's `min.insync.replicas` (default: the broker's). */
  minInsyncReplicas?: number;
}

export type TopicOutcome =
  | { topic: string; state: "created"; partitions: number }
  | { topic: string; state: "exists"; partitions: number }
  | { topic: string; state: "mismatch"; partitions: number; expected: number };

/**
 * Creates the topics that are missing; reports those that exist, and those
 * whose partition count differs from the spec (never silently accepted).
 */
export async function ensureTopics(
  connection: KafkaConnection,
  specs: readonly TopicSpec[],
): Promise<TopicOutcome[]> {
  return await withAdmin(createKafka(connection, { clientId: "topic-setup" }), async (admin) => {
    const existing = new Set(await admin.listTopics());
    const missing = specs.filter((spec) => !existing.has(spec.topic));
    if (missing.length > 0) {
      await admin.createTopics({
        // KafkaJS's own wait retries only LEADER_NOT_AVAILABLE; a cluster's other
        // brokers answer UNKNOWN_TOPIC_OR_PARTITION for a moment: waited for below.
        waitForLeaders: false,
        topics: missing.map(({ topic, partitions, replicationFactor, minInsyncReplicas }) => ({
          topic,
          numPartitions: partitions,
          replicationFactor,
          configEntries: minInsyncReplicas === undefined
            ? []
            : [{ name: "min.insync.replicas", value: String(minInsyncReplicas) }],
        })),
      });
    }
    const metadata = await topicsWithLeaders(admin, specs.map((s) => s.topic));
    return specs.map((spec): TopicOutcome => {
      const found = metadata.topics.find((t) => t.name === spec.topic);
      const partitions = found?.partitions.length ?? 0;
      if (partitions !== spec.partitions) {
        return { topic: spec.topic, state: "mismatch", partitions, expected: spec.partitions };
      }
      return {
        topic: spec.topic,
        state: missing.includes(spec) ? "created" : "exists",
        partitions,
      };
    });
  });
}

/** How many brokers the cluster has (as its metadata says: the live ones). */
export async function clusterBrokerCount(connection: KafkaConnection): Promise<number> {
  return await withAdmin(
    createKafka(connection, { clientId: "topic-setup" }),
    async (admin) => (await admin.describeCluster()).brokers.length,
  );
}

/**
 * What each of `topics` has: partitions, replication factor, the smallest
 * in-sync replica set, and its effective `min.insync.replicas`
 * (describeConfigs). For topics that exist, such as `ensureTopics` leaves;
 * a broker that does not know a new one yet is asked again.
 */
export async function topicDurabilityFacts(
  connection: KafkaConnection,
  topics: readonly string[],
): Promise<
  Array<{
    topic: string;
    partitions: number;
    replicationFactor: number;
    minInsyncReplicas: number | undefined;
    fewestInSync: number;
  }>
> {
  return await withAdmin(createKafka(connection, { clientId: "topic-setup" }), async (admin) => {
    const present = [...topics];
    const metadata = await topicsWithLeaders(admin, present);
    const configs = await retryWhileNew(() =>
      admin.describeConfigs({
        includeSynonyms: false,
        resources: present.map((name) => ({
          type: ConfigResourceTypes.TOPIC,
          name,
          configNames: ["min.insync.replicas"],
        })),
      })
    );
    return present.map((topic) => {
      const partitions = metadata.topics.find((t) => t.name === topic)?.partitions ?? [];
      const value = configs.resources.find((r) => r.resourceName === topic)?.configEntries
        .find((e) => e.configName === "min.insync.replicas")?.configValue;
      return {
        topic,
        partitions: partitions.length,
        replicationFactor: Math.max(0, ...partitions.map((p) => p.replicas.length)),
        minInsyncReplicas: value === undefined ? undefined : Number(value),
        fewestInSync: partitions.length === 0
          ? 0
          : Math.min(...partitions.map((p) => p.isr.length)),
      };
    });
  });
}

/**
 * The leader of each partition of a topic, by node id (fault tests kill one).
 */
export async function partitionLeaders(
  connection: KafkaConnection,
  topic: string,
): Promise<Map<number, number>> {
  return await withAdmin(createKafka(connection, { clientId: "leader-reader" }), async (admin) => {
    const metadata = await admin.fetchTopicMetadata({ topics: [topic] });
    return new Map(
      (metadata.topics[0]?.partitions ?? []).map((p) => [p.partitionId, p.leader]),
    );
  });
}

/** Errors a broker answers for a topic the controller has just created. */
const NEW_TOPIC_ERRORS = new Set(["UNKNOWN_TOPIC_OR_PARTITION", "LEADER_NOT_AVAILABLE"]);

/**
 * Runs `request` again while a broker answers that it does not know a topic
 * yet (KafkaJS does not retry that here), for up to `timeoutMs`.
 */
async function retryWhileNew<T>(request: () => Promise<T>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await request();
    } catch (error) {
      if (!NEW_TOPIC_ERRORS.has((error as { type?: string }).type ?? "") || Date.now() > deadline) {
        throw error;
      }
    }
    await new Promise((resolve) => setTimeout(resolve, NEW_TOPIC_POLL_MS));
  }
}

/** The topics' metadata once every partition has a leader (or after `timeoutMs`). */
async function topicsWithLeaders(
  admin: Admin,
  topics: string[],
  timeoutMs = 30_000,
): Promise<Awaited<ReturnType<Admin["fetchTopicMetadata"]>>> {
  return await askUntil(
    () => retryWhileNew(() => admin.fetchTopicMetadata({ topics }), timeoutMs),
    (metadata) => metadata.topics.every((t) => t.partitions.every((p) => p.leader >= 0)),
    timeoutMs,
  );
}

/** How often a cluster catching up on a new topic is asked again. */
const NEW_TOPIC_POLL_MS = 200;

/** Asks until `done` holds of the answer or `timeoutMs` has passed; returns the last answer. */
async function askUntil<T>(
  ask: () => Promise<T>,
  done: (answer: T) => boolean,
  timeoutMs: number,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const answer = await ask();
    if (done(answer) || Date.now() >= deadline) return answer;
    await new Promise((resolve) => setTimeout(resolve, NEW_TOPIC_POLL_MS));
  }
}

/** Offsets the group has committed, per partition of a topic (-1: none). */
export async function committedOffsets(
  connection: KafkaConnection,
  { groupId, topic }: { groupId: string; topic: string },
): Promise<Map<number, number>> {
  return await withAdmin(
    createKafka(connection, { clientId: "offset-reader" }),
    (admin) => groupCommits(admin, { groupId, topic }),
  );
}

/** Offsets the group has committed, per partition of a topic (-1: none), on a connected admin. */
export async function groupCommits(
  admin: Admin,
  { groupId, topic }: { groupId: string; topic: string },
): Promise<Map<number, number>> {
  const [result] = await admin.fetchOffsets({ groupId, topics: [topic] });
  return new Map((result?.partitions ?? []).map((p) => [p.partition, Number(p.offset)]));
}

/** A consumer group's state as the coordinator reports it ("Stable", "Empty", "Dead", …). */
export async function groupState(
  admin: Admin,
  groupId: string,
): Promise<{ state: string; members: number }> {
  const { groups } = await admin.describeGroups([groupId]);
  return { state: groups[0]?.state ?? "Unknown", members: groups[0]?.members.length ?? 0 };
}

/** A partition as an admin sees it: its replicas and the offsets it holds. */
export interface PartitionInfo {
  partition: number;
  /** Replicas assigned to it: the replication factor. */
  replicas: number;
  /** The oldest offset still held. */
  start: number;
  /** The next offset to be written. */
  end: number;
}

/** The partitions of each topic, by name; a missing topic is absent from the map. */
export async function describeTopics(
  admin: Admin,
  topics: readonly string[],
): Promise<Map<string, PartitionInfo[]>> {
  const existing = new Set(await admin.listTopics());
  const found = topics.filter((topic) => existing.has(topic));
  const described = new Map<string, PartitionInfo[]>();
  if (found.length === 0) return described;
  const metadata = await admin.fetchTopicMetadata({ topics: found });
  for (const topic of found) {
    const offsets = await admin.fetchTopicOffsets(topic);
    const replicas = new Map(
      (metadata.topics.find((t) => t.name === topic)?.partitions ?? [])
        .map((p) => [p.partitionId, p.replicas.length]),
    );
    described.set(
      topic,
      offsets.map((p) => ({
        partition: p.partition,
        replicas: replicas.get(p.partition) ?? 0,
        start: Number(p.low),
        end: Number(p.high),
      })).sort((a, b) => a.partition - b.partition),
    );
  }
  return described;
}

/**
 * Runs `work` with a connected admin client, giving up when `timeoutMs` passes
 * (connecting included): for tools that must answer at once when the cluster is
 * down. A failed connection or request is retried (another seed broker, fresh
 * metadata after a node of a cluster died) within the deadline.
 *
 * @throws {Error} "Cannot reach Kafka at …" when the deadline passes first, or the work's error
 */
export async function withAdminWithin<T>(
  connection: KafkaConnection,
  { timeoutMs, clientId, retries = 5, quiet = false }: {
    timeoutMs: number;
    clientId: string;
    /** Connection and request retries within the deadline. */
    retries?: number;
    /** Log nothing (the caller reports the outcome). */
    quiet?: boolean;
  },
  work: (admin: Admin) => Promise<T>,
): Promise<T> {
  const { brokers } = connection;
  const admin = createKafka(connection, { clientId, retries, quiet }).admin();
  const working = (async () => {
    await admin.connect();
    return await work(admin);
  })();
  // Lost races still settle later: observed here so they are never unhandled.
  working.catch(() => {});
  let timer: ReturnType<typeof setTimeout> | undefined;
  let late = false;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      late = true;
      reject(
        new Error(`Cannot reach Kafka at ${brokers.join(",")}: no answer within ${timeoutMs} ms`),
      );
    }, timeoutMs);
  });
  try {
    return await Promise.race([working, deadline]);
  } finally {
    clearTimeout(timer);
    const closing = admin.disconnect().catch(() => {});
    // After the deadline, disconnecting waits for the request in flight (up to
    // its own 30 s timeout): let it close in the background.
    if (!late) await closing;
  }
}

/** Latest offsets (the next offset to be written) per partition of a topic (empty when missing). */
export async function endOffsets(
  connection: KafkaConnection,
  topic: string,
): Promise<Map<number, number>> {
  return await withAdmin(
    createKafka(connection, { clientId: "offset-reader" }),
    (admin) => topicEnds(admin, topic),
  );
}

/**
 * The partition the default (Java-compatible murmur2) partitioner picks for a
 * key. Computed up front so the producer knows each message's partition and
 * offset from the broker's per-partition base offset; murmur2.ts computes the
 * same hash as KafkaJS's DefaultPartitioner (a test compares them) without
 * its 64-bit Long objects.
 */
export function partitionFor(key: string, partitions: number): number {
  return keyPartition(key, partitions);
}

/** KafkaJS's own default partitioner, for the test that compares `partitionFor` with it. */
export const KafkaDefaultPartitioner: typeof Partitioners.DefaultPartitioner =
  Partitioners.DefaultPartitioner;

/**
 * How long a topic may be unknown to the broker asked before it counts as
 * missing where it was just created: a cluster's brokers learn of a new topic
 * one after another, and a command started right after `deno task topics` may
 * ask one that has not yet. KafkaJS asks a broker picked at random each time.
 */
export const NEW_TOPIC_GRACE_MS = 3_000;

/**
 * Whether the cluster has `topic`: while the broker asked does not list it,
 * it is asked again for `graceMs`.
 */
export async function topicListed(
  admin: Pick<Admin, "listTopics">,
  topic: string,
  { graceMs = NEW_TOPIC_GRACE_MS }: { graceMs?: number } = {},
): Promise<boolean> {
  return await askUntil(
    async () => (await admin.listTopics()).includes(topic),
    (listed) => listed,
    graceMs,
  );
}

/**
 * The number of partitions of a topic.
 *
 * @param options.graceMs how long an unknown topic is asked for again
 * @throws {Error} when the topic does not exist (still, after `graceMs`)
 */
export async function partitionCount(
  admin: Pick<Admin, "listTopics" | "fetchTopicMetadata">,
  topic: string,
  { graceMs = NEW_TOPIC_GRACE_MS }: { graceMs?: number } = {},
): Promise<number> {
  if (!(await topicListed(admin, topic, { graceMs }))) {
    throw new Error(`Cannot use topic "${topic}": it does not exist (run deno task topics)`);
  }
  const metadata = await retryWhileNew(
    () => admin.fetchTopicMetadata({ topics: [topic] }),
    graceMs,
  );
  return metadata.topics[0]?.partitions.length ?? 0;
}

/**
 * Whether a failed send will fail again however often it is retried: the
 * broker refused the request itself (a message too large, an invalid record,
 * no authorisation). Connection failures and exhausted retries are transient.
 */
export function isPermanentSendError(error: unknown): boolean {
  for (let e = error as Record<string, unknown> | undefined; e;) {
    if (e.name === "KafkaJSProtocolError" && e.retriable === false) return true;
    e = (e.originalError ?? e.cause) as Record<string, unknown> | undefined;
  }
  return false;
}

const REJOIN_TYPES = new Set([
  "UNKNOWN_MEMBER_ID",
  "REBALANCE_IN_PROGRESS",
  "NOT_COORDINATOR_FOR_GROUP",
  "ILLEGAL_GENERATION",
]);

/**
 * The group error inside `error` that a rejoin cures (the member was dropped
 * after a broker outage, a rebalance started), or undefined. KafkaJS's
 * commitOffsets wraps these in a non-retriable error, which would crash the
 * consumer; its fetch loop rejoins when it gets the inner error instead.
 */
export function rejoinableGroupError(error: unknown): Error | undefined {
  for (let e = error as Record<string, unknown> | undefined; e;) {
    if (typeof e.type === "string" && REJOIN_TYPES.has(e.type)) return e as unknown as Error;
    e = (e.originalError ?? e.cause) as Record<string, unknown> | undefined;
  }
  return undefined;
}

/**
 * Whether `error` says the group began a rebalance (a heartbeat answered
 * REBALANCE_IN_PROGRESS): until the member rejoins, the group still takes
 * commits of the member's generation.
 */
export function rebalanceBegun(error: unknown): boolean {
  return (rejoinableGroupError(error) as { type?: string } | undefined)?.type ===
    "REBALANCE_IN_PROGRESS";
}

/** Errors KafkaJS 2.2.4's retrier never retries (kafkajs/src/retry/index.js). */
const UNRECOVERABLE_ERRORS = new Set(["RangeError", "ReferenceError", "SyntaxError", "TypeError"]);

/**
 * Whether KafkaJS fetches again after `error` came out of eachBatch, as its
 * retrier judges: unless the error says it is not retriable or is a
 * programming error (a TypeError, say). Once its retries (counted over the
 * consumer's run) are used up, it restarts the consumer.
 */
export function kafkaRetries(error: unknown): boolean {
  if (typeof error !== "object" || error === null) return false;
  const { name, retriable } = error as { name?: unknown; retriable?: unknown };
  return retriable !== false && !UNRECOVERABLE_ERRORS.has(String(name));
}

/**
 * KafkaJS errors it does not restart a crashed consumer for, though they come
 * of a cluster that is away or restarting, and go once it is back: the group
 * coordinator not found (a rejoin while the brokers restart; KafkaJS gives up
 * at once when no broker answers) and a lock not taken in time (requests
 * queued behind a broker that is away).
 */
const TRANSIENT_NON_RETRIABLE = new Set(["KafkaJSGroupCoordinatorNotFound", "KafkaJSLockTimeout"]);

/**
 * Whether a consumer crash KafkaJS does not restart from is one the consumer
 * may be started again after (see TRANSIENT_NON_RETRIABLE): looks through
 * the error's causes.
 */
export function transientCrash(error: unknown): boolean {
  for (let e = error as Record<string, unknown> | undefined; e;) {
    if (typeof e.name === "string" && TRANSIENT_NON_RETRIABLE.has(e.name)) return true;
    e = (e.originalError ?? e.cause) as Record<string, unknown> | undefined;
  }
  return false;
}

/** KafkaJS sizes values with Buffer methods; wrap the bytes without copying. */
export function asBuffer(bytes: Uint8Array): Buffer;
export function asBuffer(bytes: Uint8Array | null): Buffer | null;
export function asBuffer(bytes: Uint8Array | null): Buffer | null {
  if (bytes === null) return null;
  return Buffer.isBuffer(bytes)
    ? bytes
    : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Publishes dead letters and resolves once all in-sync replicas have acknowledged them. */
export async function publishDeadLetters(
  producer: Producer,
  topic: string,
  letters: readonly DeadLetterMessage[],
): Promise<void> {
  await publishMessages(producer, topic, letters);
}

/**
 * Publishes messages (key, bytes, headers; a partition when given, else the
 * key's) and resolves once all in-sync replicas have acknowledged them. When
 * every message names its partition, a partition KafkaJS skipped after a
 * leader change is sent again (see `sendToPartitions`); the dead-letter topic
 * we create has one partition, which that skip cannot hit.
 */
export async function publishMessages(
  producer: Producer,
  topic: string,
  messages: readonly (DeadLetterMessage & { partition?: number })[],
): Promise<void> {
  const encoded = messages.map(({ key, value, headers, partition }) => ({
    key: asBuffer(key),
    value: asBuffer(value),
    headers: Object.fromEntries(
      Object.entries(headers).map(([name, v]) => [name, typeof v === "string" ? v : asBuffer(v)]),
    ),
    ...(partition === undefined ? {} : { partition }),
  }));
  const placed = encoded.filter((m): m is typeof m & { partition: number } =>
    m.partition !== undefined
  );
  if (placed.length === encoded.length) {
    await sendToPartitions(producer, { topic, acks: -1, messages: placed });
  } else {
    await producer.send({ topic, acks: -1, messages: encoded });
  }
}

/** A message read back from a topic, with where it is. */
export interface StoredMessage {
  partition: number;
  offset: number;
  /** The record timestamp (ms), or null. */
  timestamp: number | null;
  key: Uint8Array | null;
  value: Uint8Array | null;
  headers: Record<string, unknown>;
}

/** A read that makes no progress for this long fails (the broker went away). */
const READ_IDLE_TIMEOUT_MS = 60_000;

/**
 * Reads a topic from `from` (per partition; default each partition's first
 * offset) up to the end offsets it has when the read begins, awaiting
 * `onMessage` for each message in partition order (so memory is the caller's
 * to bound). A throwaway consumer group does the fetching and is deleted
 * afterwards. Returns the end offsets read up to (empty for a missing topic).
 *
 * @throws {Error} when `onMessage` throws, `signal` aborts, or nothing arrives for a minute
 */
export async function readTopic(
  kafka: Kafka,
  topic: string,
  { from, onMessage, signal }: {
    from?: ReadonlyMap<number, number>;
    onMessage: (message: StoredMessage) => void | Promise<void>;
    signal?: AbortSignal;
  },
): Promise<Map<number, number>> {
  const bounds = await withAdmin(kafka, async (admin) => {
    if (!(await admin.listTopics()).includes(topic)) return [];
    return (await admin.fetchTopicOffsets(topic)).map((p) => ({
      partition: p.partition,
      low: Number(p.low),
      high: Number(p.high),
    }));
  });
  const ends = new Map(bounds.map((b) => [b.partition, b.high]));
  // `next`: the next offset to pass on. A consumer that KafkaJS restarts
  // (a broker bounce, a rebalance) fetches again from where it began; what
  // was passed on already is skipped, so `onMessage` sees each offset once.
  const pending = new Map<number, { start: number; end: number; low: number; next: number }>();
  for (const { partition, low, high } of bounds) {
    const start = Math.max(low, from?.get(partition) ?? low);
    if (start < high) pending.set(partition, { start, end: high, low, next: start });
  }
  if (pending.size === 0) return ends;
  const groupId = `reader-${crypto.randomUUID()}`;
  const consumer = kafka.consumer({ groupId, allowAutoTopicCreation: false, maxWaitTimeInMs: 500 });
  await consumer.connect();
  const done = Promise.withResolvers<void>();
  // A failure before the wait below is reported by the wait, not as unhandled.
  done.promise.catch(() => {});
  let lastProgress = Date.now();
  let failed = false;
  const fail = (error: unknown) => {
    failed = true;
    done.reject(error);
  };
  const onAbort = () => fail(signal?.reason ?? new Error("Aborted"));
  signal?.addEventListener("abort", onAbort, { once: true });
  // A consumer KafkaJS gives up on (not restarted) ends the read with its error.
  consumer.on(consumer.events.CRASH, ({ payload }) => {
    if (!payload.restart) fail(payload.error);
  });
  let busy = false;
  const idle = setInterval(() => {
    // Time spent in `onMessage` (a slow send) is the caller's, not the broker's.
    if (!busy && Date.now() - lastProgress > READ_IDLE_TIMEOUT_MS) {
      fail(new Error(`Cannot read ${topic}: nothing arrived for ${READ_IDLE_TIMEOUT_MS / 1000} s`));
    }
  }, 1_000);
  try {
    signal?.throwIfAborted();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      // The group is thrown away: nothing to commit.
      autoCommit: false,
      eachMessage: async ({ partition, message }) => {
        const range = pending.get(partition);
        if (failed || range === undefined) return;
        lastProgress = Date.now();
        const offset = Number(message.offset);
        // Offsets before the start arrive when the seek below is not applied
        // yet, and offsets passed on already after a restart of the consumer.
        if (offset >= range.next && offset < range.end) {
          const timestamp = Number(message.timestamp);
          busy = true;
          try {
            await onMessage({
              partition,
              offset,
              timestamp: Number.isSafeInteger(timestamp) && timestamp >= 0 ? timestamp : null,
              key: message.key,
              value: message.value,
              headers: { ...message.headers },
            });
          } catch (error) {
            fail(error);
            return;
          } finally {
            busy = false;
            lastProgress = Date.now();
          }
          range.next = offset + 1;
        }
        if (offset + 1 >= range.end) {
          pending.delete(partition);
          if (pending.size === 0) done.resolve();
        }
      },
    });
    for (const [partition, { start, low }] of pending) {
      if (start > low) consumer.seek({ topic, partition, offset: String(start) });
    }
    await done.promise;
    return ends;
  } finally {
    clearInterval(idle);
    signal?.removeEventListener("abort", onAbort);
    await consumer.disconnect().catch(() => {});
    // Leave no consumer group behind.
    await withAdmin(kafka, (admin) => admin.deleteGroups([groupId])).catch(() => {});
  }
}

/** Creates a plain client for tests and tools that need the raw API. */
export { Kafka };

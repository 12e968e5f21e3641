/**
 * Names and numbers that never change at run time: topic names, file names,
 * the pinned Kafka version and limits. Settings a user may change, with their
 * defaults, live in config.ts; the dead-letter headers in dead_letter.ts.
 */

/** The one place the Apache Kafka version is pinned (pom.xml and compose read it from here). */
export const KAFKA_VERSION = "3.9.1";

/** Topic that carries order events. */
export const ORDERS_TOPIC = "orders";
/** Topic that receives input the tracker could not accept. */
export const DLQ_TOPIC = "orders-dlq";

export const PRODUCER_CLIENT_ID = "order-producer";
export const TRACKER_CLIENT_ID = "order-tracker";
export const TRACKER_GROUP_ID = "order-tracker";

/** Audit trail of the tracker (JSON Lines), inside the data directory. */
export const AUDIT_FILE_NAME = "tracker.events";
/** Structured health log of the tracker (JSON Lines), inside the data directory. */
export const HEALTH_LOG_FILE_NAME = "tracker.log";
/** The trail's checkpoint (JSON), inside the data directory; rebuilt from the trail when missing. */
export const CHECKPOINT_FILE_NAME = "tracker.checkpoint";
/**
 * What the tracker appended to the trail, about a line a second (trail_summary.ts),
 * inside the data directory; the monitor reads it instead of the trail.
 */
export const SUMMARY_FILE_NAME = "tracker.summary";
/** Where a torn last audit line is moved on start. */
export const QUARANTINE_FILE_NAME = "tracker.events.quarantine";
/** Lock file: one tracker owns one audit file. */
export const TRACKER_LOCK_FILE_NAME = "tracker.lock";

/** The producer's directory inside the data directory, and its health log there. */
export const PRODUCER_DIR_NAME = "producer";
export const PRODUCER_LOG_FILE_NAME = "producer.log";
/** The producer's outcomes by default (JSON Lines, segmented), in its directory. */
export const PRODUCER_ACKS_FILE_NAME = "acks.jsonl";

/** `dlq:redrive`'s directory inside the data directory, and its record there (JSON Lines). */
export const REDRIVE_DIR_NAME = "redrive";
export const REDRIVE_FILE_NAME = "redriven.jsonl";

/** Subdirectories of the state directory. */
export const RUN_DIR_NAME = "run";
export const BROKER_DIR_NAME = "kafka";

/** Larger order messages are rejected unread (oversize). */
export const MAX_ORDER_BYTES = 64 * 1024;

/** Environment variables KafkaJS reads; processes must be allowed to read them. */
export const KAFKAJS_ENV_VARS = [
  "NODE_ENV",
  "KAFKAJS_DEBUG_PROTOCOL_BUFFERS",
  "KAFKAJS_DEBUG_EXTENDED_PROTOCOL_BUFFERS",
  "KAFKAJS_NO_PARTITIONER_WARNING",
  "KAFKAJS_LOG_LEVEL",
] as const;

/** How long `status` waits for Kafka before it reports it unreachable (its help says so). */
export const STATUS_KAFKA_TIMEOUT_MS = 4_000;

/** Exit codes, as the house style defines them. */
export const EXIT = {
  ok: 0,
  failure: 1,
  badConfig: 2,
  interrupted: 130,
} as const;

/**
 * Bytes per send at most (orders, dead letters). A partition's share of one
 * send becomes one record batch, which must stay under the broker's
 * message.max.bytes (1 MiB by default): 3,000 rejected orders of 1.5 KB in one
 * dead-letter send were refused, and the tracker restarted on the same offsets
 * for ever.
 */
export const MAX_SEND_BYTES = 512 * 1024;

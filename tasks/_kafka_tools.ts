/**
 * Apache Kafka's own benchmark tools (ProducerPerformance,
 * ConsumerPerformance, EndToEndLatency) for `bench:compare`: their jars
 * fetched once with Maven (`tasks/broker/tools-pom.xml`, into
 * <KAFKA_JARS_DIR>/tools), run on the JVM against the configured cluster with
 * its TLS and SASL settings as a client properties file. That file holds the
 * password, so it lives in a directory of its own only this user can read, and
 * `close()` removes it.
 */
import { dirname, join } from "node:path";
import type { Config } from "../lib/config.ts";
import { readSettingFile, saslPassword } from "../lib/kafka.ts";
import { javaClientProperties, pemKeystore } from "../lib/java_client_properties.ts";
import {
  type ConsumerPerformanceFigures,
  type EndToEndLatencyFigures,
  parseConsumerPerformance,
  parseEndToEndLatency,
  parseProducerPerformance,
  type ProducerPerformanceFigures,
} from "../lib/kafka_tool_output.ts";
import { commandWorks, runChecked } from "./_command.ts";
import { ensureMavenJars } from "./_broker_providers.ts";
import { PROJECT_DIR } from "./_project_dir.ts";

const TOOLS_POM = join(PROJECT_DIR, "tasks", "broker", "tools-pom.xml");
const TOOLS_LOG4J = join(PROJECT_DIR, "tasks", "broker", "tools-log4j.properties");
/** A tool that has not finished in this long is stuck (a run at the defaults takes seconds). */
const TOOL_TIMEOUT_MS = 10 * 60_000;

/**
 * EndToEndLatency names its consumer group `test-group-<ms>` and commits in
 * it; the caller finds those groups by their offsets on its topic.
 */
export const END_TO_END_LATENCY_GROUP_PREFIX = "test-group-";

/** The tools, ready to run against the cluster of the settings they were opened with. */
export interface KafkaTools {
  /** ProducerPerformance: `records` of `recordBytes`, acks=all, idempotent, as fast as it can. */
  producerPerformance(
    options: { topic: string; records: number; recordBytes: number; signal: AbortSignal },
  ): Promise<ProducerPerformanceFigures>;
  /** ConsumerPerformance: `messages` from the start of `topic`, in group `group`. */
  consumerPerformance(
    options: { topic: string; messages: number; group: string; signal: AbortSignal },
  ): Promise<ConsumerPerformanceFigures>;
  /** EndToEndLatency: `messages` of `recordBytes`, one at a time, acks=all. */
  endToEndLatency(
    options: { topic: string; messages: number; recordBytes: number; signal: AbortSignal },
  ): Promise<EndToEndLatencyFigures>;
  /** Removes the properties file (and the keystore made for it). Idempotent. */
  close(): Promise<void>;
}

/**
 * Fetches the tools' jars unless fetched, and writes the client properties of
 * `config`'s security settings into a private directory `dir` (made here, not there before).
 *
 * @throws {Error} when Java is missing, the jars cannot be fetched or a
 *   security setting cannot be given to the Java client (the message names it)
 */
export async function openKafkaTools(
  config: Config,
  { dir, log }: { dir: string; log: (line: string) => void },
): Promise<KafkaTools> {
  if (!await commandWorks("java", ["-version"])) {
    throw new Error("Cannot run Kafka's tools: `java` is not installed. Install a JDK 17");
  }
  const jarsDir = await ensureMavenJars({
    pom: TOOLS_POM,
    dir: join(config.jarsDir, "tools"),
    what: "Kafka's benchmark tools",
    jars: "the jars of Kafka's benchmark tools",
    whose: "the tools'",
  }, log);
  await Deno.mkdir(dirname(dir), { recursive: true });
  await Deno.mkdir(dir, { mode: 0o700 });
  try {
    await Deno.chmod(dir, 0o700);
    const properties = join(dir, "client.properties");
    const { tls, sasl } = config.kafkaSecurity;
    let keystoreFile: string | undefined;
    if (tls?.certFile !== undefined && tls.keyFile !== undefined) {
      keystoreFile = join(dir, "keystore.pem");
      const keystore = pemKeystore(
        readSettingFile("KAFKA_TLS_CERT_FILE", tls.certFile),
        readSettingFile("KAFKA_TLS_KEY_FILE", tls.keyFile),
      );
      await Deno.writeTextFile(keystoreFile, keystore, { mode: 0o600 });
    }
    const text = javaClientProperties(config.kafkaSecurity, {
      ...(sasl === undefined ? {} : { password: saslPassword(sasl) }),
      ...(keystoreFile === undefined ? {} : { keystoreFile }),
    });
    await Deno.writeTextFile(properties, text, { mode: 0o600 });
    return toolsOf({ jarsDir, properties, dir, bootstrap: config.brokers.join(",") });
  } catch (error) {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    throw error;
  }
}

function toolsOf(
  { jarsDir, properties, dir, bootstrap }: {
    jarsDir: string;
    properties: string;
    dir: string;
    bootstrap: string;
  },
): KafkaTools {
  const java = async (tool: string, args: string[], signal: AbortSignal) =>
    await runChecked(`Cannot run ${tool}`, "java", [
      "-Xmx512m",
      `-Dlog4j.configuration=file:${TOOLS_LOG4J}`,
      "-cp",
      `${jarsDir}/*`,
      `org.apache.kafka.tools.${tool}`,
      ...args,
    ], { timeoutMs: TOOL_TIMEOUT_MS, signal });
  let closed = false;
  return {
    async producerPerformance({ topic, records, recordBytes, signal }) {
      return parseProducerPerformance(
        await java("ProducerPerformance", [
          "--topic",
          topic,
          "--num-records",
          String(records),
          "--record-size",
          String(recordBytes),
          "--throughput",
          "-1",
          "--producer.config",
          properties,
          "--producer-props",
          `bootstrap.servers=${bootstrap}`,
          "acks=all",
          "enable.idempotence=true",
        ], signal),
      );
    },
    async consumerPerformance({ topic, messages, group, signal }) {
      return parseConsumerPerformance(
        await java("ConsumerPerformance", [
          "--bootstrap-server",
          bootstrap,
          "--topic",
          topic,
          "--messages",
          String(messages),
          "--group",
          group,
          "--consumer.config",
          properties,
        ], signal),
      );
    },
    async endToEndLatency({ topic, messages, recordBytes, signal }) {
      return parseEndToEndLatency(
        await java("EndToEndLatency", [
          bootstrap,
          topic,
          String(messages),
          "all",
          String(recordBytes),
          properties,
        ], signal),
      );
    },
    async close() {
      if (closed) return;
      closed = true;
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

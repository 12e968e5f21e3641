/**
 * Brings the Kafka broker up and down through one of the providers in
 * `_broker_providers.ts`: the cluster KAFKA_BROKERS names; else Docker Compose
 * when an engine answers (or KAFKA_PROVIDER says so); else the JVM. `up` is a
 * no-op when the broker runs and always waits until it answers; `down` stops
 * only what `up` started (the provider is recorded in the run directory).
 */
import { join } from "node:path";
import type { Config } from "../lib/config.ts";
import type { BrokerFacts } from "../lib/status_report.ts";
import { waitForCluster } from "../lib/kafka.ts";
import { commandWorks, errorTail } from "./_command.ts";
import { tailOf } from "./_process.ts";
import { type BrokerProvider, type ProviderName, PROVIDERS } from "./_broker_providers.ts";

import { signalNode } from "./_broker_providers.ts";

export { brokerProcess, newClusterId, serverProperties } from "./_broker_providers.ts";

export interface BrokerState {
  provider: ProviderName;
  brokers: readonly string[];
  /** False when `up` found the broker already running. */
  started: boolean;
}

function providerFile(config: Config): string {
  return join(config.paths.runDir, "broker.provider");
}

async function chooseProvider(config: Config): Promise<BrokerProvider> {
  if (config.externalCluster) return PROVIDERS.external;
  if (config.provider === "jvm") return PROVIDERS.jvm;
  if (await commandWorks("docker", ["info", "--format", "{{.ServerVersion}}"])) {
    return PROVIDERS.docker;
  }
  if (config.provider === "docker") {
    throw new Error(
      "Cannot start broker: KAFKA_PROVIDER is docker but no Docker engine answers `docker info`",
    );
  }
  return PROVIDERS.jvm;
}

/** The provider `up` recorded, or the JVM's (a PID file is looked for all the same). */
function recordedProvider(config: Config): BrokerProvider {
  if (config.externalCluster) return PROVIDERS.external;
  try {
    const name = Deno.readTextFileSync(providerFile(config)).trim();
    if (name === "docker" || name === "jvm") return PROVIDERS[name];
  } catch {
    // Nothing recorded.
  }
  return PROVIDERS.jvm;
}

/** What runs of the broker `up` started (or the external cluster), for `status`; read only. */
export function describeBroker(config: Config): Promise<BrokerFacts> {
  return recordedProvider(config).describe(config);
}

/**
 * Brings the broker up (a no-op when it runs; a cluster's node that died is
 * started again) and waits until a metadata request lists every node. On
 * failure the error quotes the tail of the broker's log.
 */
export async function brokerUp(
  config: Config,
  { log = console.log, signal }: { log?: (line: string) => void; signal?: AbortSignal } = {},
): Promise<BrokerState> {
  const provider = await chooseProvider(config);
  const started = await provider.up(config, log);
  if (provider.name === "external") {
    return { provider: "external", brokers: config.brokers, started };
  }
  Deno.mkdirSync(config.paths.runDir, { recursive: true });
  Deno.writeTextFileSync(providerFile(config), `${provider.name}\n`);
  try {
    const readyMs = await waitUntilReady(config, provider, signal);
    const what = config.nodes.length === 1 ? "Broker" : `Cluster of ${config.nodes.length} brokers`;
    log(
      started
        ? `${what} ready at ${config.brokers.join(",")} after ${(readyMs / 1000).toFixed(1)} s`
        : `${what} already running at ${config.brokers.join(",")}`,
    );
  } catch (error) {
    const logFile = provider.logFile(config);
    const tail = logFile ? tailOf(logFile, 25) : "";
    throw new Error(
      `${(error as Error).message}${
        tail ? `\nLast lines of ${logFile}:\n${errorTail(tail, 25)}` : ""
      }`,
      { cause: error },
    );
  }
  return { provider: provider.name, brokers: config.brokers, started };
}

async function waitUntilReady(
  config: Config,
  provider: BrokerProvider,
  signal: AbortSignal | undefined,
): Promise<number> {
  const started = Date.now();
  // Probe in short rounds so a broker that died is noticed at once, not at the deadline.
  for (;;) {
    const left = config.brokerReadyTimeoutMs - (Date.now() - started);
    if (left <= 0) {
      throw new Error(
        `Cannot start broker: no metadata listing ${
          config.nodes.length === 1 ? "the broker" : `all ${config.nodes.length} brokers`
        } from ${
          config.brokers.join(",")
        } within ${config.brokerReadyTimeoutMs} ms (BROKER_READY_TIMEOUT_MS)`,
      );
    }
    const gone = provider.gone(config);
    if (gone !== undefined) throw new Error(`Cannot start broker: ${gone}`);
    try {
      // Each node is asked on its own port: the controller lists a node that
      // was just killed until its session expires, so the count alone is no proof.
      const answers = await Promise.all(config.brokers.map((broker) =>
        waitForCluster([broker], {
          timeoutMs: Math.min(left, 2_000),
          ...(signal ? { signal } : {}),
        })
      ));
      if (answers.every((a) => a.brokers >= config.nodes.length)) return Date.now() - started;
      await new Promise((resolve) => setTimeout(resolve, 300));
    } catch (error) {
      if (signal?.aborted) throw error;
    }
  }
}

/** Stops the broker `up` started; never an external cluster. */
export async function brokerDown(
  config: Config,
  { log = console.log }: { log?: (line: string) => void } = {},
): Promise<void> {
  await recordedProvider(config).down(config, log);
  if (!config.externalCluster) await Deno.remove(providerFile(config)).catch(() => {});
}

/**
 * Kills the broker `up` started, without a clean shutdown (SIGKILL), for fault
 * tests; `brokerUp` brings it back and it recovers its log.
 *
 * @throws {Error} for an external cluster, or when no broker runs
 */
export function killBroker(config: Config): Promise<void> {
  return recordedProvider(config).kill(config);
}

/**
 * Stops one node of a JVM cluster `up` started (SIGTERM: a controlled
 * shutdown; SIGKILL: a crash) and waits for its exit, for fault tests;
 * `brokerUp` starts it again.
 *
 * @throws {Error} for another provider, or when the node is not running
 */
export async function stopBrokerNode(
  config: Config,
  id: number,
  { signal }: { signal: "SIGKILL" | "SIGTERM" },
): Promise<void> {
  if (recordedProvider(config).name !== "jvm") {
    throw new Error("Cannot stop one broker node: only the JVM cluster's nodes can be");
  }
  await signalNode(config, id, { signal });
}

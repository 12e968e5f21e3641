/**
 * Whether the brokers can be reached, and why not, in one line: each round
 * probes every address over TCP (refused, timed out, host name not found),
 * then asks the cluster for metadata. A one-shot command gives up after
 * CONNECT_TIMEOUT_MS with one line naming each address, why, and what to do;
 * a long-running process waits, logging one line per interval. A refused
 * password or an untrusted certificate ends either at once: waiting cannot
 * cure it. The texts and the interval are pure; the probe and the metadata
 * request are the I/O.
 */
import { connect } from "node:net";
import { connectionFailureReason } from "./client_log.ts";
import type { Config } from "./config.ts";
import { withAdminWithin } from "./kafka.ts";
import { accessFailure, type KafkaConnection, securityHint } from "./kafka_security.ts";
import type { Logger } from "./logging.ts";

/** What a probe of one broker address found. */
export type ProbeResult =
  | { address: string; ok: true }
  | { address: string; ok: false; reason: string };

/** "host:port" → host and port (IPv6 in brackets allowed); undefined when malformed. */
export function splitAddress(address: string): { host: string; port: number } | undefined {
  const match = /^\[?([^\]]+?)\]?:(\d{1,5})$/.exec(address);
  if (match === null) return undefined;
  return { host: match[1]!, port: Number(match[2]) };
}

/** Opens (and closes) a TCP connection to `address`, within `timeoutMs`. */
export function probeAddress(address: string, timeoutMs: number): Promise<ProbeResult> {
  const target = splitAddress(address);
  if (target === undefined) {
    return Promise.resolve({ address, ok: false, reason: "not host:port" });
  }
  return new Promise((resolve) => {
    let socket: ReturnType<typeof connect> | undefined;
    const done = (result: ProbeResult) => {
      clearTimeout(timer);
      socket?.destroy();
      resolve(result);
    };
    const timer = setTimeout(() => done({ address, ok: false, reason: "timed out" }), timeoutMs);
    try {
      socket = connect(target);
    } catch (error) {
      done({ address, ok: false, reason: failureReason(error) });
      return;
    }
    socket.once("connect", () => done({ address, ok: true }));
    socket.once("error", (error) => done({ address, ok: false, reason: failureReason(error) }));
  });
}

function failureReason(error: unknown): string {
  const { code, message } = error as { code?: string; message?: string };
  if (code === "EPERM" || error instanceof Deno.errors.NotCapable) {
    return "not allowed by this process's --allow-net (add it to KAFKA_ALLOW_HOSTS)";
  }
  return connectionFailureReason(`${code ?? ""} ${message ?? String(error)}`);
}

/** The probes' findings in one phrase: "a:9092 connection refused, b:9092 timed out". */
export function describeProbes(results: readonly ProbeResult[]): string {
  return results.map((r) => `${r.address} ${r.ok ? "answers" : r.reason}`).join(", ");
}

/** What to do about unreachable brokers: start ours, or point at a running cluster. */
export function unreachableHint({ externalCluster }: { externalCluster: boolean }): string {
  return externalCluster
    ? "Check KAFKA_BROKERS and that this machine can reach the cluster"
    : "Start the local broker with `deno task broker:up` (or `deno task start`), or set KAFKA_BROKERS to a running cluster";
}

/** How long ago, in words for a message: "800 ms", "5 s", "2 min 5 s". */
export function waitedText(ms: number): string {
  if (ms < 1_000) return `${Math.round(ms)} ms`;
  const seconds = Math.round(ms / 1000);
  if (seconds < 60) return `${seconds} s`;
  return `${Math.floor(seconds / 60)} min${seconds % 60 === 0 ? "" : ` ${seconds % 60} s`}`;
}

/** What `reachKafka` says of a failed round. */
export interface WaitingRound {
  attempt: number;
  elapsedMs: number;
  problem: string;
}

/**
 * An `onWaiting` for a process that waits for Kafka for ever: it passes the
 * first failed round to `report`, then one round per `everyMs`, so a long
 * outage is one line per interval with the attempt count.
 */
export function everyInterval(
  report: (round: WaitingRound) => void,
  everyMs = 10_000,
): (round: WaitingRound) => void {
  let next = 0;
  return (round) => {
    if (round.elapsedMs < next) return;
    next = (Math.floor(round.elapsedMs / everyMs) + 1) * everyMs;
    report(round);
  };
}

/** Kafka could not be reached in the time a command allows. */
export class KafkaUnreachableError extends Error {
  override name = "KafkaUnreachableError";
  readonly retriable = true;
}

/**
 * Kafka answered but refused this client for good: the credentials, the
 * brokers' certificate or this client's certificate. The message names the
 * setting to check and never a secret.
 */
export class KafkaAccessError extends Error {
  override name = "KafkaAccessError";
  readonly retriable = false;
}

/** How long one probe of an address may take. */
const PROBE_TIMEOUT_MS = 3_000;

/**
 * A round of probes is begun only with at least this long left before the
 * deadline: a round begun with a millisecond left cut its probes short, and
 * an address that refuses read "timed out" (seen on a loaded machine).
 */
export const MIN_ROUND_MS = 500;

/**
 * After a failed round, `leftMs` before the deadline: how long to pause
 * before the next round, or, when no full round fits any more (`last`), how
 * long to wait before giving up with what the rounds so far found. Pure.
 */
export function nextRound(leftMs: number, intervalMs: number): { pauseMs: number; last: boolean } {
  const pauseMs = Math.min(intervalMs, leftMs - MIN_ROUND_MS);
  return pauseMs >= 0 ? { pauseMs, last: false } : { pauseMs: Math.max(0, leftMs), last: true };
}

/**
 * Waits until the cluster answers a metadata request: each round probes every
 * address (so a failure names each and why), then asks for metadata. Logs
 * nothing itself; `onWaiting` hears of each failed round.
 *
 * @param options.timeoutMs give up after this long (default: never, until `signal` aborts)
 * @param options.intervalMs pause between rounds
 * @param options.hint what to do, appended to the error
 * @throws {KafkaUnreachableError} after `timeoutMs`, naming each address and why it failed
 * @throws {KafkaAccessError} at once when the cluster refuses the credentials or a certificate
 */
export async function reachKafka(
  connection: KafkaConnection,
  { timeoutMs = Infinity, intervalMs = 1_000, hint, signal, onWaiting }: {
    timeoutMs?: number;
    intervalMs?: number;
    hint?: string;
    signal?: AbortSignal;
    onWaiting?: (waiting: { attempt: number; elapsedMs: number; problem: string }) => void;
  } = {},
): Promise<{ brokers: number; elapsedMs: number }> {
  const { brokers } = connection;
  const started = Date.now();
  for (let attempt = 1;; attempt++) {
    signal?.throwIfAborted();
    const left = () => timeoutMs - (Date.now() - started);
    const probes = await Promise.all(
      brokers.map((address) =>
        probeAddress(address, Math.max(1, Math.min(PROBE_TIMEOUT_MS, left())))
      ),
    );
    let problem = describeProbes(probes);
    if (probes.some((p) => p.ok)) {
      try {
        // Bounded by the time left: a listener that accepts but never answers
        // must not hold a one-shot command for the client's 30 s request timeout.
        const cluster = await withAdminWithin(
          connection,
          {
            timeoutMs: Math.max(1, Math.min(PROBE_TIMEOUT_MS * 2, left())),
            clientId: "reachability",
            retries: 0,
            quiet: true,
          },
          (admin) => admin.describeCluster(),
        );
        return { brokers: cluster.brokers.length, elapsedMs: Date.now() - started };
      } catch (error) {
        const refused = accessFailure(error, connection.kafkaSecurity);
        if (refused !== undefined) {
          throw new KafkaAccessError(
            `Cannot ${refused.action} Kafka at ${brokers.join(",")}: ${refused.problem}`,
            { cause: error },
          );
        }
        const hint = securityHint(error, connection.kafkaSecurity);
        problem = `${problem}, but no metadata (${(error as Error).message}${
          hint ? `; ${hint}` : ""
        })`;
      }
    }
    const unreachable = () =>
      new KafkaUnreachableError(
        `Cannot reach Kafka at ${brokers.join(",")} within ${waitedText(timeoutMs)}: ${problem}${
          hint ? `. ${hint}` : ""
        }`,
      );
    if (left() <= 0) throw unreachable();
    onWaiting?.({ attempt, elapsedMs: Date.now() - started, problem });
    const next = nextRound(left(), intervalMs);
    await abortableDelay(next.pauseMs, signal);
    if (next.last) throw unreachable();
  }
}

function abortableDelay(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * Waits for the cluster as a process of `config` should: a one-shot command
 * gives up after CONNECT_TIMEOUT_MS (throws KafkaUnreachableError); a
 * long-running process waits until `signal` aborts, logging the problem once
 * per interval with the attempt count. Either throws KafkaAccessError at once
 * when the cluster refuses the credentials or a certificate.
 */
export async function awaitKafka(
  config: Config,
  { oneShot, signal, log }: { oneShot: boolean; signal?: AbortSignal; log?: Logger },
): Promise<void> {
  const hint = unreachableHint(config);
  await reachKafka(config, {
    hint,
    ...(signal ? { signal } : {}),
    ...(oneShot ? { timeoutMs: config.connectTimeoutMs } : {
      onWaiting: everyInterval(({ attempt, elapsedMs, problem }) =>
        log?.warn(
          "Waiting for Kafka at {brokers}: {problem} (attempt {attempt}, {seconds} s); retrying",
          {
            brokers: config.brokers.join(","),
            problem,
            attempt,
            seconds: Math.round(elapsedMs / 1000),
            hint,
          },
        )
      ),
    }),
  });
}

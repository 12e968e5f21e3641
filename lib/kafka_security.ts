/**
 * How a Kafka client proves who it is and whom it trusts: the TLS and SASL
 * settings as config.ts resolves them, the connection every client is built
 * from (brokers and security together, so no call site can forget either), a
 * wrapper that keeps the password out of logs, the files the settings name
 * (the only reads a Kafka client gains), and what a failed connection means:
 * a refused password or an untrusted certificate fails the same way on every
 * retry, so it ends the process with one line naming the setting to fix. Pure.
 */

/** The SASL mechanisms a user may choose, as KafkaJS names them. */
export const SASL_MECHANISMS = ["plain", "scram-sha-256", "scram-sha-512"] as const;
export type SaslMechanism = typeof SASL_MECHANISMS[number];

const REDACTED = "[redacted]";

/**
 * A value that must never be printed: it reads as "[redacted]" in strings,
 * JSON and Deno's inspection; `reveal()` gives it to the one caller that
 * sends it (the Kafka client).
 */
export class Secret {
  readonly #value: string;
  constructor(value: string) {
    this.#value = value;
  }
  /** The value itself, for the client that sends it; never for a log or a message. */
  reveal(): string {
    return this.#value;
  }
  toString(): string {
    return REDACTED;
  }
  toJSON(): string {
    return REDACTED;
  }
  [Symbol.for("Deno.customInspect")](): string {
    return REDACTED;
  }
  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return REDACTED;
  }
}

/** TLS to the brokers; an absent file means the default (the bundled CAs, no client certificate). */
export interface TlsSettings {
  /** PEM file of the CA(s) the brokers' certificates must chain to. */
  readonly caFile: string | undefined;
  /** PEM client certificate and key (mutual TLS); both or neither. */
  readonly certFile: string | undefined;
  readonly keyFile: string | undefined;
  /** The name the brokers' certificates must carry (and SNI); default each broker's host. */
  readonly serverName: string | undefined;
}

/** SASL authentication; the password comes from the environment or from a file. */
export interface SaslSettings {
  readonly mechanism: SaslMechanism;
  readonly username: string;
  readonly password: { readonly secret: Secret } | { readonly file: string };
}

/** TLS and SASL of every Kafka client; undefined parts are off. */
export interface KafkaSecurity {
  readonly tls: TlsSettings | undefined;
  readonly sasl: SaslSettings | undefined;
}

/** Plain TCP, no authentication: the local broker's listener. */
export const NO_SECURITY: KafkaSecurity = Object.freeze({ tls: undefined, sasl: undefined });

/** What every Kafka client is created from: where the cluster is and how to talk to it. */
export interface KafkaConnection {
  readonly brokers: readonly string[];
  readonly kafkaSecurity: KafkaSecurity;
}

/** The files the security settings name: what a Kafka client may have to read. */
export function securityFiles(security: KafkaSecurity): string[] {
  const { tls, sasl } = security;
  const files = [tls?.caFile, tls?.certFile, tls?.keyFile];
  if (sasl !== undefined && "file" in sasl.password) files.push(sasl.password.file);
  return files.filter((f): f is string => f !== undefined);
}

/** Where the password came from, as the setting to check. */
function passwordSetting(sasl: SaslSettings): string {
  return "file" in sasl.password ? "KAFKA_SASL_PASSWORD_FILE" : "KAFKA_SASL_PASSWORD";
}

/** TLS verification codes (Node's names, which Deno's node:tls uses) of an untrusted chain. */
const UNTRUSTED_CODES = new Set([
  "SELF_SIGNED_CERT_IN_CHAIN",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "CERT_UNTRUSTED",
  "CERT_SIGNATURE_FAILURE",
  "CERT_REJECTED",
  "INVALID_CA",
]);
const EXPIRED_CODES = new Set(["CERT_HAS_EXPIRED", "CERT_NOT_YET_VALID"]);

/**
 * Why a connection failed for good: the broker refused the credentials, its
 * certificate is not trusted or not for this host, or it refused this
 * client's certificate. Retrying cannot help; the user must change a setting.
 */
export interface AccessFailure {
  /** What could not be done: "authenticate to" or "connect securely to". */
  readonly action: "authenticate to" | "connect securely to";
  /** Why, and which setting to check; never a secret. */
  readonly problem: string;
}

type ErrorLike = Record<string, unknown>;

/** The error and the errors it wraps (KafkaJS's `originalError`, then `cause`), outermost first. */
function errorChain(error: unknown): ErrorLike[] {
  const chain: ErrorLike[] = [];
  for (let e = error as ErrorLike | undefined; e && chain.length < 10;) {
    chain.push(e);
    e = (e.originalError ?? e.cause) as ErrorLike | undefined;
  }
  return chain;
}

/**
 * The permanent failure among a failed connection's errors, or undefined when
 * it may be transient (refused, reset, timed out: a broker restarting).
 *
 * @example
 * ```ts
 * const failure = accessFailure(error, config.kafkaSecurity);
 * if (failure) throw new KafkaAccessError(`Cannot ${failure.action} Kafka at …: ${failure.problem}`);
 * ```
 */
export function accessFailure(error: unknown, security: KafkaSecurity): AccessFailure | undefined {
  const { tls, sasl } = security;
  for (const e of errorChain(error)) {
    const message = typeof e.message === "string" ? e.message : "";
    const code = typeof e.code === "string" ? e.code : "";
    const mechanism = sasl?.mechanism.toUpperCase() ?? "";
    if (
      e.type === "UNSUPPORTED_SASL_MECHANISM" ||
      (e.name === "KafkaJSSASLAuthenticationError" && /not supported by the server/.test(message))
    ) {
      return {
        action: "authenticate to",
        problem:
          `the brokers do not offer SASL ${mechanism} (check KAFKA_SASL_MECHANISM: plain, scram-sha-256 or scram-sha-512)`,
      };
    }
    if (e.name === "KafkaJSSASLAuthenticationError" || e.type === "SASL_AUTHENTICATION_FAILED") {
      const user = sasl ? ` for user "${sasl.username}"` : "";
      const check = sasl
        ? `check KAFKA_SASL_USERNAME and ${passwordSetting(sasl)}`
        : "check the KAFKA_SASL_* settings";
      return {
        action: "authenticate to",
        problem: `SASL ${mechanism} authentication failed${user} (${check})`,
      };
    }
    if (e.type === "ILLEGAL_SASL_STATE") {
      return {
        action: "authenticate to",
        problem:
          "the listener does not take SASL (unset KAFKA_SASL_MECHANISM, or name the cluster's SASL listener in KAFKA_BROKERS)",
      };
    }
    if (UNTRUSTED_CODES.has(code)) {
      const fix = tls?.caFile
        ? `the CA in KAFKA_TLS_CA_FILE (${tls.caFile}) did not sign it`
        : "set KAFKA_TLS_CA_FILE to the CA that signed it";
      return {
        action: "connect securely to",
        problem: `the broker's certificate is not trusted: ${
          message.replace(/^Connection error: /, "")
        } (${fix})`,
      };
    }
    if (EXPIRED_CODES.has(code)) {
      return {
        action: "connect securely to",
        problem: `the broker's certificate is not valid now: ${
          message.replace(/^Connection error: /, "")
        }`,
      };
    }
    if (code === "ERR_TLS_CERT_ALTNAME_INVALID") {
      return {
        action: "connect securely to",
        problem: `the broker's certificate is for other names: ${
          message.replace(/^Connection error: /, "")
        } (${
          tls?.serverName
            ? "check KAFKA_TLS_SERVER_NAME"
            : "name the brokers in KAFKA_BROKERS as the certificate does, or set KAFKA_TLS_SERVER_NAME"
        })`,
      };
    }
    if (/^ERR_SSL_.*(CERTIFICATE|UNKNOWN_CA|ACCESS_DENIED)/.test(code)) {
      return {
        action: "connect securely to",
        problem: tls?.certFile
          ? `the broker refused this client's certificate (${
            message.replace(/^Connection error: /, "")
          }; check KAFKA_TLS_CERT_FILE and KAFKA_TLS_KEY_FILE)`
          : `the broker wants a client certificate (${
            message.replace(/^Connection error: /, "")
          }; set KAFKA_TLS_CERT_FILE and KAFKA_TLS_KEY_FILE)`,
      };
    }
  }
  return undefined;
}

/**
 * What a transient-looking failure may really be, given the security settings
 * (a TLS client on a plain listener, or the reverse), or undefined.
 */
export function securityHint(error: unknown, security: KafkaSecurity): string | undefined {
  for (const e of errorChain(error)) {
    const message = typeof e.message === "string" ? e.message : "";
    if (security.tls && /before secure TLS connection was established/.test(message)) {
      return "the TLS handshake was cut off: does this listener take TLS? (KAFKA_TLS is on)";
    }
    if (!security.tls && e.name === "KafkaJSConnectionClosedError") {
      return "the broker closed the connection: does this listener want TLS? (set KAFKA_TLS=true)";
    }
  }
  return undefined;
}

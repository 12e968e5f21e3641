/**
 * The local JVM broker's optional second listener, as a managed cluster has
 * it: TLS with a certificate from a CA of its own, and SASL (SCRAM-SHA-512,
 * SCRAM-SHA-256, PLAIN) for one user. Off unless KAFKA_SASL_SSL_PORT is set
 * (`deno task test` sets it, to test the clients' TLS and SASL settings).
 * Everything is made with openssl when the broker's storage is formatted, in
 * `<broker dir>/sasl_ssl/`: the CA, the broker's certificate for 127.0.0.1 and
 * localhost (a PKCS12 keystore), a client certificate, the user's password
 * file, and `client.env` with the settings a client needs. The SCRAM
 * credentials are written into the storage by Kafka's format tool.
 */
import { join, resolve } from "node:path";
import type { Config } from "../lib/config.ts";
import { runChecked } from "./_command.ts";

/** The user the listener knows. */
export const SASL_SSL_USER = "order-tracking";

/** The files of the listener, under the broker's directory. */
export interface SaslSslFiles {
  readonly dir: string;
  /** The CA that signed the broker's and the client's certificates (PEM). */
  readonly caFile: string;
  readonly caKey: string;
  readonly brokerCert: string;
  readonly brokerKey: string;
  readonly keystore: string;
  readonly keystorePasswordFile: string;
  /** A client certificate and key the broker accepts (it asks for one, not requires). */
  readonly clientCert: string;
  readonly clientKey: string;
  /** The user's password, one line. */
  readonly passwordFile: string;
  /** The client settings for this listener, one `NAME=value` a line. */
  readonly envFile: string;
}

/** Where the listener's files are for a broker of `config` (absolute paths). */
export function saslSslFiles(config: Config): SaslSslFiles {
  const dir = resolve(join(config.paths.brokerDir, "sasl_ssl"));
  return {
    dir,
    caFile: join(dir, "ca.pem"),
    caKey: join(dir, "ca.key"),
    brokerCert: join(dir, "broker.pem"),
    brokerKey: join(dir, "broker.key"),
    keystore: join(dir, "broker.p12"),
    keystorePasswordFile: join(dir, "keystore.password"),
    clientCert: join(dir, "client.pem"),
    clientKey: join(dir, "client.key"),
    passwordFile: join(dir, "password"),
    envFile: join(dir, "client.env"),
  };
}

/**
 * The client settings that reach the listener with SCRAM-SHA-512, the CA file
 * and the password file (no secret in them).
 */
export function saslSslClientEnv(config: Config, port: number): Record<string, string> {
  const files = saslSslFiles(config);
  return {
    KAFKA_BROKERS: `127.0.0.1:${port}`,
    KAFKA_TLS_CA_FILE: files.caFile,
    KAFKA_SASL_MECHANISM: "scram-sha-512",
    KAFKA_SASL_USERNAME: SASL_SSL_USER,
    KAFKA_SASL_PASSWORD_FILE: files.passwordFile,
  };
}

/**
 * `properties` (a broker's server.properties) with the SASL_SSL listener on
 * `port` added: listed, advertised on 127.0.0.1, mapped, and configured. Pure.
 *
 * @throws {TypeError} when `properties` lacks a line the listener extends
 */
export function withSaslSslListener(
  properties: string,
  { port, files, keystorePassword, password }: {
    port: number;
    files: SaslSslFiles;
    keystorePassword: string;
    password: string;
  },
): string {
  const extend: Record<string, string> = {
    "listeners": `SASL_SSL://127.0.0.1:${port}`,
    "advertised.listeners": `SASL_SSL://127.0.0.1:${port}`,
    "listener.security.protocol.map": "SASL_SSL:SASL_SSL",
  };
  const lines = properties.split("\n").map((line) => {
    const key = line.slice(0, line.indexOf("="));
    const extra = extend[key];
    if (extra === undefined || line.startsWith("#")) return line;
    delete extend[key];
    return `${line},${extra}`;
  });
  const missing = Object.keys(extend);
  if (missing.length > 0) {
    throw new TypeError(`Cannot add the SASL_SSL listener: no ${missing.join(", ")} line`);
  }
  const prefix = "listener.name.sasl_ssl";
  const scram = "org.apache.kafka.common.security.scram.ScramLoginModule required;";
  const end = lines.at(-1) === "" ? lines.pop() : undefined;
  lines.push(
    "# The SASL_SSL listener (KAFKA_SASL_SSL_PORT); its files are in " + files.dir,
    `${prefix}.sasl.enabled.mechanisms=SCRAM-SHA-512,SCRAM-SHA-256,PLAIN`,
    `${prefix}.scram-sha-512.sasl.jaas.config=${scram}`,
    `${prefix}.scram-sha-256.sasl.jaas.config=${scram}`,
    `${prefix}.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_${SASL_SSL_USER}="${password}";`,
    `${prefix}.ssl.keystore.type=PKCS12`,
    `${prefix}.ssl.keystore.location=${files.keystore}`,
    `${prefix}.ssl.keystore.password=${keystorePassword}`,
    `${prefix}.ssl.truststore.type=PEM`,
    `${prefix}.ssl.truststore.location=${files.caFile}`,
    `${prefix}.ssl.client.auth=requested`,
  );
  if (end !== undefined) lines.push(end);
  return lines.join("\n");
}

/** The format tool's arguments that create the user's SCRAM credentials. Pure. */
export function scramFormatArgs(password: string): string[] {
  return ["SCRAM-SHA-512", "SCRAM-SHA-256"].flatMap((mechanism) => [
    "--add-scram",
    `${mechanism}=[name=${SASL_SSL_USER},password=${password}]`,
  ]);
}

/** A random password of URL-safe characters (safe in the format tool's syntax and JAAS). */
function randomPassword(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(18));
  return btoa(String.fromCharCode(...bytes)).replaceAll("+", "-").replaceAll("/", "_");
}

async function openssl(args: string[]): Promise<void> {
  await runChecked("Cannot make the SASL_SSL listener's certificates", "openssl", args);
}

/** Writes an extensions file for `openssl x509 -req` and returns its path. */
function extensions(dir: string, name: string, lines: string[]): string {
  const path = join(dir, `${name}.ext`);
  Deno.writeTextFileSync(path, lines.join("\n") + "\n");
  return path;
}

/** Signs a new key's certificate with the CA; `ext` lines are its extensions. */
async function issue(
  files: SaslSslFiles,
  { cert, key, subject, ext }: { cert: string; key: string; subject: string; ext: string[] },
): Promise<void> {
  const csr = `${cert}.csr`;
  const extFile = extensions(files.dir, subject.slice(4), ext);
  await openssl([
    "req",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    key,
    "-out",
    csr,
    "-subj",
    subject,
  ]);
  // deno-fmt-ignore
  await openssl([
    "x509", "-req", "-in", csr, "-CA", files.caFile, "-CAkey", files.caKey, "-CAcreateserial",
    "-out", cert, "-days", "825", "-extfile", extFile,
  ]);
  await Deno.remove(csr);
  await Deno.remove(extFile);
}

/**
 * Makes the listener's CA, certificates, keystore, password and client
 * settings (about a second), replacing any there were.
 */
export async function createSaslSslFiles(config: Config, port: number): Promise<SaslSslFiles> {
  const files = saslSslFiles(config);
  await Deno.remove(files.dir, { recursive: true }).catch(() => {});
  await Deno.mkdir(files.dir, { recursive: true, mode: 0o700 });
  // deno-fmt-ignore
  await openssl([
    "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", files.caKey, "-out", files.caFile,
    "-days", "825", "-subj", "/CN=order-tracking local CA",
    "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
  ]);
  await issue(files, {
    cert: files.brokerCert,
    key: files.brokerKey,
    subject: "/CN=localhost",
    ext: [
      "subjectAltName=IP:127.0.0.1,DNS:localhost",
      "basicConstraints=CA:FALSE",
      "keyUsage=digitalSignature,keyEncipherment",
      "extendedKeyUsage=serverAuth",
    ],
  });
  await issue(files, {
    cert: files.clientCert,
    key: files.clientKey,
    subject: `/CN=${SASL_SSL_USER}`,
    ext: ["basicConstraints=CA:FALSE", "keyUsage=digitalSignature", "extendedKeyUsage=clientAuth"],
  });
  const keystorePassword = randomPassword();
  await Deno.writeTextFile(files.keystorePasswordFile, `${keystorePassword}\n`, { mode: 0o600 });
  // deno-fmt-ignore
  await openssl([
    "pkcs12", "-export", "-in", files.brokerCert, "-inkey", files.brokerKey, "-certfile", files.caFile,
    "-name", "broker", "-out", files.keystore, "-passout", `file:${files.keystorePasswordFile}`,
  ]);
  await Deno.writeTextFile(files.passwordFile, `${randomPassword()}\n`, { mode: 0o600 });
  const env = Object.entries(saslSslClientEnv(config, port)).map(([k, v]) => `${k}=${v}`);
  await Deno.writeTextFile(files.envFile, env.join("\n") + "\n");
  return files;
}

/** The first line of a file the listener made. */
export function readSecretLine(path: string): string {
  return Deno.readTextFileSync(path).split("\n", 1)[0]!;
}

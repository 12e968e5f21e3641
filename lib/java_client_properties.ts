/**
 * The security settings as a Java Kafka client's properties, for Apache
 * Kafka's own tools (`bench:compare` runs them against the same cluster as
 * this project's clients): the protocol, the CA as a PEM truststore, a client
 * certificate and key as one PEM keystore file, and SASL as a JAAS line. The
 * text is in `.properties` syntax (ISO-8859-1, escapes), which the tools read
 * with `--producer.config`/`--consumer.config` or as a file argument. Pure:
 * the caller reads the files and the password and writes the result where
 * only this user can read it (it holds the password).
 */
import type { KafkaSecurity, SaslMechanism } from "./kafka_security.ts";

const LOGIN_MODULES: Record<SaslMechanism, string> = {
  plain: "org.apache.kafka.common.security.plain.PlainLoginModule",
  "scram-sha-256": "org.apache.kafka.common.security.scram.ScramLoginModule",
  "scram-sha-512": "org.apache.kafka.common.security.scram.ScramLoginModule",
};

/**
 * The client properties of `security`.
 *
 * @param options.password the SASL password (required with SASL)
 * @param options.keystoreFile the PEM file `pemKeystore` made of the client
 *   certificate and key (required with them)
 * @throws {RangeError} for a setting the Java client cannot honour, naming it
 */
export function javaClientProperties(
  security: KafkaSecurity,
  { password, keystoreFile }: { password?: string; keystoreFile?: string } = {},
): string {
  const { tls, sasl } = security;
  const properties: [string, string][] = [[
    "security.protocol",
    tls === undefined
      ? (sasl === undefined ? "PLAINTEXT" : "SASL_PLAINTEXT")
      : (sasl === undefined ? "SSL" : "SASL_SSL"),
  ]];
  if (tls !== undefined) {
    if (tls.serverName !== undefined) {
      throw new RangeError(
        "Cannot run Kafka's tools with KAFKA_TLS_SERVER_NAME: the Java client checks each broker's certificate against the broker's own host name; name the brokers by the hosts their certificates carry",
      );
    }
    if (tls.caFile !== undefined) {
      properties.push(["ssl.truststore.type", "PEM"], ["ssl.truststore.location", tls.caFile]);
    }
    if (tls.certFile !== undefined) {
      if (keystoreFile === undefined) {
        throw new RangeError("Cannot write the Java client's properties: no keystore file given");
      }
      properties.push(["ssl.keystore.type", "PEM"], ["ssl.keystore.location", keystoreFile]);
    }
  }
  if (sasl !== undefined) {
    if (password === undefined) {
      throw new RangeError("Cannot write the Java client's properties: no SASL password given");
    }
    properties.push(
      ["sasl.mechanism", sasl.mechanism.toUpperCase()],
      [
        "sasl.jaas.config",
        `${LOGIN_MODULES[sasl.mechanism]} required username="${
          jaasQuoted(sasl.username)
        }" password="${jaasQuoted(password)}";`,
      ],
    );
  }
  return properties.map(([key, value]) => `${key}=${propertiesValue(value)}\n`).join("");
}

/** A PEM private key block; its kind ("RSA ", "EC ", "ENCRYPTED ") is absent for PKCS#8. */
const PRIVATE_KEY = /-----BEGIN ([A-Z]+ )?PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----/;
const CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

/**
 * One PEM keystore for the Java client: the private key, then the
 * certificate chain. The Java client reads PKCS#8 keys only, unencrypted here
 * (an encrypted key would need its password in the properties too).
 *
 * @throws {RangeError} when the key is not an unencrypted PKCS#8 key or there is no certificate
 */
export function pemKeystore(certificatePem: string, keyPem: string): string {
  const key = keyPem.match(PRIVATE_KEY);
  if (key === null || key[1] !== undefined) {
    throw new RangeError(
      `Cannot run Kafka's tools with KAFKA_TLS_KEY_FILE: the Java client reads unencrypted PKCS#8 keys ("BEGIN PRIVATE KEY"), this one is ${
        key === null ? "not a PEM private key" : `"BEGIN ${key[1]}PRIVATE KEY"`
      }; convert it with: openssl pkcs8 -topk8 -nocrypt -in key.pem -out key-pkcs8.pem`,
    );
  }
  const certificates = certificatePem.match(CERTIFICATE);
  if (certificates === null) {
    throw new RangeError(
      "Cannot run Kafka's tools with KAFKA_TLS_CERT_FILE: it holds no PEM certificate",
    );
  }
  return [key[0], ...certificates].join("\n") + "\n";
}

/** A value inside a JAAS double-quoted string. */
function jaasQuoted(value: string): string {
  return value.replaceAll("\\", "\\\\").replaceAll('"', '\\"');
}

/**
 * A `.properties` value: backslash escapes for what the format reads
 * specially, a leading space kept, anything beyond ASCII as \uXXXX (the
 * tools read the file as ISO-8859-1).
 */
export function propertiesValue(value: string): string {
  let out = "";
  for (let i = 0; i < value.length; i++) {
    const char = value[i]!;
    const code = value.charCodeAt(i);
    if (char === "\\") out += "\\\\";
    else if (char === "\n") out += "\\n";
    else if (char === "\r") out += "\\r";
    else if (char === "\t") out += "\\t";
    else if (char === "\f") out += "\\f";
    else if (char === " " && i === 0) out += "\\ ";
    else if (code < 0x20 || code > 0x7e) out += `\\u${code.toString(16).padStart(4, "0")}`;
    else out += char;
  }
  return out;
}

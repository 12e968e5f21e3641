/**
 * The TLS and SASL settings: how they are read and checked, that the password
 * never shows, which files they name, and what a failed connection means.
 */
import { assert, assertEquals, assertMatch, assertThrows } from "./assert.ts";
import { ConfigError, resolveConfig, securityFileProblem } from "../lib/config.ts";
import { usage } from "../lib/settings.ts";
import {
  accessFailure,
  type KafkaSecurity,
  NO_SECURITY,
  Secret,
  securityFiles,
  securityHint,
} from "../lib/kafka_security.ts";

const CLUSTER = { KAFKA_BROKERS: "kafka-1.example.com:9093" };
const PASSWORD = "hunter2-do-not-print";

Deno.test({
  name: "the security settings become TLS and SASL parts of the config",
  permissions: "none",
  async fn(t) {
    await t.step("none by default", () => {
      assertEquals(resolveConfig({}).kafkaSecurity, NO_SECURITY);
    });
    await t.step("KAFKA_TLS alone is TLS against the bundled CAs", () => {
      const { tls, sasl } = resolveConfig({ ...CLUSTER, KAFKA_TLS: "true" }).kafkaSecurity;
      assertEquals(tls, {
        caFile: undefined,
        certFile: undefined,
        keyFile: undefined,
        serverName: undefined,
      });
      assertEquals(sasl, undefined);
    });
    await t.step("a CA file turns TLS on without KAFKA_TLS", () => {
      const { tls } = resolveConfig({ ...CLUSTER, KAFKA_TLS_CA_FILE: "/etc/kafka/ca.pem" })
        .kafkaSecurity;
      assertEquals(tls?.caFile, "/etc/kafka/ca.pem");
    });
    await t.step("client certificate, key and server name", () => {
      const { tls } = resolveConfig({
        ...CLUSTER,
        KAFKA_TLS_CERT_FILE: "/c.pem",
        KAFKA_TLS_KEY_FILE: "/c.key",
        KAFKA_TLS_SERVER_NAME: "kafka.internal",
      }).kafkaSecurity;
      assertEquals(tls, {
        caFile: undefined,
        certFile: "/c.pem",
        keyFile: "/c.key",
        serverName: "kafka.internal",
      });
    });
    await t.step("SCRAM with the password from the environment, mechanism in any case", () => {
      const { sasl } = resolveConfig({
        ...CLUSTER,
        KAFKA_SASL_MECHANISM: "SCRAM-SHA-512",
        KAFKA_SASL_USERNAME: "orders",
        KAFKA_SASL_PASSWORD: PASSWORD,
      }).kafkaSecurity;
      assertEquals(sasl?.mechanism, "scram-sha-512");
      assertEquals(sasl?.username, "orders");
      assert(sasl && "secret" in sasl.password);
      assertEquals(sasl.password.secret.reveal(), PASSWORD);
    });
    await t.step("PLAIN with the password from a file", () => {
      const { sasl } = resolveConfig({
        ...CLUSTER,
        KAFKA_SASL_MECHANISM: "plain",
        KAFKA_SASL_USERNAME: "API_KEY",
        KAFKA_SASL_PASSWORD_FILE: "/run/secrets/kafka",
      }).kafkaSecurity;
      assertEquals(sasl, {
        mechanism: "plain",
        username: "API_KEY",
        password: { file: "/run/secrets/kafka" },
      });
    });
  },
});

Deno.test({
  name: "a contradictory or incomplete security setting is a one-line error naming it",
  permissions: "none",
  async fn(t) {
    const sasl = { KAFKA_SASL_MECHANISM: "scram-sha-256", KAFKA_SASL_USERNAME: "u" };
    const cases: Array<[string, Record<string, string>, RegExp]> = [
      [
        "certificate without key",
        { ...CLUSTER, KAFKA_TLS_CERT_FILE: "/c.pem" },
        /KAFKA_TLS_CERT_FILE is set but KAFKA_TLS_KEY_FILE is not/,
      ],
      [
        "key without certificate",
        { ...CLUSTER, KAFKA_TLS_KEY_FILE: "/c.key" },
        /KAFKA_TLS_KEY_FILE is set but KAFKA_TLS_CERT_FILE is not/,
      ],
      [
        "TLS off with a CA file",
        { ...CLUSTER, KAFKA_TLS: "false", KAFKA_TLS_CA_FILE: "/ca.pem" },
        /KAFKA_TLS is "false" but KAFKA_TLS_CA_FILE is set/,
      ],
      ["TLS not a boolean", { ...CLUSTER, KAFKA_TLS: "maybe" }, /KAFKA_TLS is "maybe"/],
      [
        "unknown mechanism",
        { ...CLUSTER, ...sasl, KAFKA_SASL_MECHANISM: "scram", KAFKA_SASL_PASSWORD: PASSWORD },
        /KAFKA_SASL_MECHANISM is "scram", expected one of plain, scram-sha-256, scram-sha-512/,
      ],
      [
        "oauthbearer is not offered",
        { ...CLUSTER, ...sasl, KAFKA_SASL_MECHANISM: "oauthbearer", KAFKA_SASL_PASSWORD: "x" },
        /KAFKA_SASL_MECHANISM is "oauthbearer"/,
      ],
      [
        "mechanism without user",
        { ...CLUSTER, KAFKA_SASL_MECHANISM: "plain", KAFKA_SASL_PASSWORD: PASSWORD },
        /KAFKA_SASL_USERNAME is not set/,
      ],
      ["mechanism without password", { ...CLUSTER, ...sasl }, /no password is set/],
      [
        "password twice",
        { ...CLUSTER, ...sasl, KAFKA_SASL_PASSWORD: PASSWORD, KAFKA_SASL_PASSWORD_FILE: "/p" },
        /both KAFKA_SASL_PASSWORD and KAFKA_SASL_PASSWORD_FILE are set/,
      ],
      [
        "password without mechanism",
        { ...CLUSTER, KAFKA_SASL_PASSWORD: PASSWORD },
        /KAFKA_SASL_PASSWORD is set but KAFKA_SASL_MECHANISM is not/,
      ],
      [
        "security for the local broker",
        { KAFKA_TLS: "true" },
        /KAFKA_TLS is set but KAFKA_BROKERS is not/,
      ],
      [
        "a bad server name",
        { ...CLUSTER, KAFKA_TLS_SERVER_NAME: "kafka/1" },
        /KAFKA_TLS_SERVER_NAME is "kafka\/1", expected a host name/,
      ],
      [
        "the SASL_SSL listener on a cluster",
        { KAFKA_SASL_SSL_PORT: "9192", KAFKA_BROKER_COUNT: "3" },
        /KAFKA_SASL_SSL_PORT is set with KAFKA_BROKER_COUNT 3, expected a single broker/,
      ],
      [
        "the SASL_SSL listener on the broker's port",
        { KAFKA_SASL_SSL_PORT: "9092" },
        /KAFKA_SASL_SSL_PORT equals KAFKA_PORT/,
      ],
    ];
    for (const [name, env, message] of cases) {
      await t.step(name, () => {
        assertThrows(() => resolveConfig(env), (error: unknown) => {
          assert(error instanceof ConfigError, String(error));
          assert(!error.message.includes("\n"), error.message);
          assert(!error.message.includes(PASSWORD), "the password is never quoted");
          assertMatch(error.message, message);
          return true;
        });
      });
    }
  },
});

Deno.test({
  name: "the password never shows: not in the config as text, JSON or inspected, nor in --help",
  permissions: "none",
  fn() {
    const config = resolveConfig({
      ...CLUSTER,
      KAFKA_SASL_MECHANISM: "scram-sha-512",
      KAFKA_SASL_USERNAME: "orders",
      KAFKA_SASL_PASSWORD: PASSWORD,
    });
    for (
      const shown of [
        JSON.stringify(config),
        Deno.inspect(config, { depth: 10 }),
        String(new Secret(PASSWORD)),
        `${new Secret(PASSWORD)}`,
      ]
    ) {
      assert(!shown.includes(PASSWORD), shown);
    }
    assertMatch(JSON.stringify(config.kafkaSecurity), /"secret":"\[redacted\]"/);
    for (const command of ["producer", "tracker", "topics", "verify", "start"] as const) {
      const help = usage(command);
      assertMatch(help, /KAFKA_SASL_PASSWORD +SASL password .*never printed/, command);
      assertMatch(help, /KAFKA_TLS_CA_FILE /, command);
    }
    assert(!usage("monitor").includes("KAFKA_SASL"), "the monitor does not talk to Kafka");
  },
});

Deno.test({
  name: "the files a security setting names are checked at start: readable, PEM, a password",
  permissions: "none",
  async fn(t) {
    const files: Record<string, string> = {
      "/ca.pem": "-----BEGIN CERTIFICATE-----\nMII…\n-----END CERTIFICATE-----\n",
      "/not-pem": "hello",
      "/password": `${PASSWORD}\n`,
      "/empty": "\n",
    };
    const read = (path: string) => {
      const text = files[path];
      if (text === undefined) throw new Deno.errors.NotFound(`No such file: ${path}`);
      return text;
    };
    const security = (env: Record<string, string>) =>
      resolveConfig({ ...CLUSTER, ...env }).kafkaSecurity;
    const sasl = { KAFKA_SASL_MECHANISM: "plain", KAFKA_SASL_USERNAME: "u" };
    await t.step("all there", () => {
      assertEquals(
        securityFileProblem(
          security({
            KAFKA_TLS_CA_FILE: "/ca.pem",
            ...sasl,
            KAFKA_SASL_PASSWORD_FILE: "/password",
          }),
          read,
        ),
        undefined,
      );
    });
    const cases: Array<[string, Record<string, string>, RegExp]> = [
      [
        "missing CA",
        { KAFKA_TLS_CA_FILE: "/nope.pem" },
        /KAFKA_TLS_CA_FILE is "\/nope.pem", which cannot be read \(no such file\)/,
      ],
      [
        "a key that is not PEM",
        { KAFKA_TLS_CERT_FILE: "/ca.pem", KAFKA_TLS_KEY_FILE: "/not-pem" },
        /KAFKA_TLS_KEY_FILE is "\/not-pem", expected a PEM file/,
      ],
      [
        "an empty password file",
        { ...sasl, KAFKA_SASL_PASSWORD_FILE: "/empty" },
        /KAFKA_SASL_PASSWORD_FILE is "\/empty", whose first line is empty/,
      ],
    ];
    for (const [name, env, message] of cases) {
      await t.step(name, () => {
        const problem = securityFileProblem(security(env), read);
        assert(problem instanceof ConfigError);
        assertMatch(problem.message, message);
      });
    }
  },
});

Deno.test({
  name: "the files the security settings name are the only ones a Kafka client adds",
  permissions: "none",
  fn() {
    assertEquals(securityFiles(NO_SECURITY), []);
    const security = resolveConfig({
      ...CLUSTER,
      KAFKA_TLS_CA_FILE: "/ca.pem",
      KAFKA_TLS_CERT_FILE: "/c.pem",
      KAFKA_TLS_KEY_FILE: "/c.key",
      KAFKA_SASL_MECHANISM: "plain",
      KAFKA_SASL_USERNAME: "u",
      KAFKA_SASL_PASSWORD_FILE: "/p",
    }).kafkaSecurity;
    assertEquals(securityFiles(security), ["/ca.pem", "/c.pem", "/c.key", "/p"]);
  },
});

/** A failure as KafkaJS 2.2.4 reports it under Deno: `outer` wrapping `inner` (shapes measured). */
function kafkaError(
  outer: Record<string, unknown>,
  inner?: Record<string, unknown>,
): Record<string, unknown> {
  return inner === undefined ? outer : { ...outer, originalError: inner };
}

const retriesExceeded = (message: string, code: string) =>
  kafkaError(
    { name: "KafkaJSNumberOfRetriesExceeded", message, retriable: false },
    { name: "KafkaJSConnectionError", message, code, retriable: true },
  );

Deno.test({
  name:
    "a refused password or certificate is permanent and names the setting; a refused connection is not",
  permissions: "none",
  async fn(t) {
    const scram: KafkaSecurity = resolveConfig({
      ...CLUSTER,
      KAFKA_TLS_CA_FILE: "/ca.pem",
      KAFKA_SASL_MECHANISM: "scram-sha-512",
      KAFKA_SASL_USERNAME: "orders",
      KAFKA_SASL_PASSWORD: PASSWORD,
    }).kafkaSecurity;
    const plainFromFile: KafkaSecurity = resolveConfig({
      ...CLUSTER,
      KAFKA_TLS: "true",
      KAFKA_SASL_MECHANISM: "plain",
      KAFKA_SASL_USERNAME: "KEY",
      KAFKA_SASL_PASSWORD_FILE: "/p",
    }).kafkaSecurity;
    const cases: Array<[string, unknown, KafkaSecurity, string | undefined]> = [
      [
        "wrong SCRAM password",
        {
          name: "KafkaJSSASLAuthenticationError",
          message:
            "SASL SCRAM SHA512 authentication failed: Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-512",
        },
        scram,
        'authenticate to: SASL SCRAM-SHA-512 authentication failed for user "orders" (check KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD)',
      ],
      [
        "wrong PLAIN password from a file",
        {
          name: "KafkaJSSASLAuthenticationError",
          message:
            "SASL PLAIN authentication failed: Authentication failed: Invalid username or password",
        },
        plainFromFile,
        'authenticate to: SASL PLAIN authentication failed for user "KEY" (check KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD_FILE)',
      ],
      [
        "a mechanism the broker does not offer",
        {
          name: "KafkaJSProtocolError",
          type: "UNSUPPORTED_SASL_MECHANISM",
          message: "The broker does not support the requested SASL mechanism",
        },
        scram,
        "authenticate to: the brokers do not offer SASL SCRAM-SHA-512 (check KAFKA_SASL_MECHANISM: plain, scram-sha-256 or scram-sha-512)",
      ],
      [
        "SASL on a plain listener",
        {
          name: "KafkaJSProtocolError",
          type: "ILLEGAL_SASL_STATE",
          message: "Request is not valid",
        },
        scram,
        "authenticate to: the listener does not take SASL (unset KAFKA_SASL_MECHANISM, or name the cluster's SASL listener in KAFKA_BROKERS)",
      ],
      [
        "a certificate from another CA",
        retriesExceeded(
          "Connection error: self-signed certificate in certificate chain",
          "SELF_SIGNED_CERT_IN_CHAIN",
        ),
        scram,
        "connect securely to: the broker's certificate is not trusted: self-signed certificate in certificate chain (the CA in KAFKA_TLS_CA_FILE (/ca.pem) did not sign it)",
      ],
      [
        "a private CA and no CA file",
        retriesExceeded(
          "Connection error: unable to get local issuer certificate",
          "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
        ),
        plainFromFile,
        "connect securely to: the broker's certificate is not trusted: unable to get local issuer certificate (set KAFKA_TLS_CA_FILE to the CA that signed it)",
      ],
      [
        "a certificate for other names",
        retriesExceeded(
          "Connection error: Hostname/IP does not match certificate's altnames: Host: kafka.example.com. is not in the cert's altnames: DNS:localhost",
          "ERR_TLS_CERT_ALTNAME_INVALID",
        ),
        scram,
        "connect securely to: the broker's certificate is for other names: Hostname/IP does not match certificate's altnames: Host: kafka.example.com. is not in the cert's altnames: DNS:localhost (name the brokers in KAFKA_BROKERS as the certificate does, or set KAFKA_TLS_SERVER_NAME)",
      ],
      [
        "a client certificate the broker refuses",
        retriesExceeded(
          "Connection error: received fatal alert: CertificateUnknown",
          "ERR_SSL_SSLV3_ALERT_CERTIFICATE_UNKNOWN",
        ),
        scram,
        "connect securely to: the broker wants a client certificate (received fatal alert: CertificateUnknown; set KAFKA_TLS_CERT_FILE and KAFKA_TLS_KEY_FILE)",
      ],
      [
        "connection refused: transient",
        retriesExceeded("Connection error: connect ECONNREFUSED 127.0.0.1:9093", "ECONNREFUSED"),
        scram,
        undefined,
      ],
      ["a timeout: transient", new Error("Request timed out"), scram, undefined],
    ];
    for (const [name, error, security, expected] of cases) {
      await t.step(name, () => {
        const failure = accessFailure(error, security);
        assertEquals(failure && `${failure.action}: ${failure.problem}`, expected);
        assert(!JSON.stringify(failure ?? {}).includes(PASSWORD));
      });
    }
  },
});

Deno.test({
  name: "a cut-off handshake or a closed connection hints at a TLS mismatch",
  permissions: "none",
  fn() {
    const tls = resolveConfig({ ...CLUSTER, KAFKA_TLS: "true" }).kafkaSecurity;
    const handshake = retriesExceeded(
      "Connection error: Client network socket disconnected before secure TLS connection was established",
      "ECONNRESET",
    );
    assertMatch(securityHint(handshake, tls) ?? "", /does this listener take TLS/);
    assertEquals(accessFailure(handshake, tls), undefined, "a broker restarting looks the same");
    const closed = kafkaError(
      { name: "KafkaJSNumberOfRetriesExceeded", message: "Closed connection" },
      { name: "KafkaJSConnectionClosedError", message: "Closed connection" },
    );
    assertMatch(securityHint(closed, NO_SECURITY) ?? "", /set KAFKA_TLS=true/);
    assertEquals(securityHint(closed, tls), undefined);
  },
});

/**
 * The local broker's SASL_SSL listener in server.properties, and the SCRAM
 * user the format tool creates. Pure.
 */
import { assert, assertEquals, assertMatch, assertThrows } from "./assert.ts";
import { resolveConfig } from "../lib/config.ts";
import { serverProperties } from "../tasks/_broker_providers.ts";
import {
  SASL_SSL_USER,
  saslSslClientEnv,
  saslSslFiles,
  scramFormatArgs,
  withSaslSslListener,
} from "../tasks/_sasl_ssl_listener.ts";

Deno.test({
  name: "the SASL_SSL listener is added to the broker's listeners, advertised on 127.0.0.1",
  permissions: "none",
  fn() {
    const config = resolveConfig({
      KAFKA_PORT: "29092",
      KAFKA_CONTROLLER_PORT: "29093",
      KAFKA_SASL_SSL_PORT: "29094",
      STATE_DIR: "/state",
    });
    const files = saslSslFiles(config);
    const text = withSaslSslListener(serverProperties(config, "/data/logs"), {
      port: 29094,
      files,
      keystorePassword: "ks-secret",
      password: "user-secret",
    });
    const lines = text.split("\n");
    for (
      const line of [
        "listeners=PLAINTEXT://127.0.0.1:29092,CONTROLLER://127.0.0.1:29093,SASL_SSL://127.0.0.1:29094",
        "advertised.listeners=PLAINTEXT://127.0.0.1:29092,SASL_SSL://127.0.0.1:29094",
        "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SASL_SSL:SASL_SSL",
        "inter.broker.listener.name=PLAINTEXT",
        "listener.name.sasl_ssl.sasl.enabled.mechanisms=SCRAM-SHA-512,SCRAM-SHA-256,PLAIN",
        "listener.name.sasl_ssl.ssl.keystore.location=/state/kafka/sasl_ssl/broker.p12",
        "listener.name.sasl_ssl.ssl.truststore.location=/state/kafka/sasl_ssl/ca.pem",
      ]
    ) {
      assert(lines.includes(line), `${line}\n---\n${text}`);
    }
    assertEquals(lines.filter((l) => l.startsWith("listeners=")).length, 1);
    assert(text.endsWith("\n"));
    assertThrows(
      () =>
        withSaslSslListener("node.id=1\n", { port: 1, files, keystorePassword: "", password: "" }),
      /no listeners, advertised.listeners, listener.security.protocol.map line/,
    );
  },
});

Deno.test({
  name: "the listener's user gets both SCRAM mechanisms at format time, and clients its settings",
  permissions: "none",
  fn() {
    assertEquals(scramFormatArgs("pw"), [
      "--add-scram",
      `SCRAM-SHA-512=[name=${SASL_SSL_USER},password=pw]`,
      "--add-scram",
      `SCRAM-SHA-256=[name=${SASL_SSL_USER},password=pw]`,
    ]);
    const config = resolveConfig({ STATE_DIR: "/state" });
    const env = saslSslClientEnv(config, 29094);
    assertEquals(env.KAFKA_BROKERS, "127.0.0.1:29094");
    assertMatch(env.KAFKA_SASL_PASSWORD_FILE!, /^\/state\/kafka\/sasl_ssl\/password$/);
    // The settings resolve: a client can be started with them as they are.
    const client = resolveConfig(env).kafkaSecurity;
    assertEquals(client.tls?.caFile, "/state/kafka/sasl_ssl/ca.pem");
    assertEquals(client.sasl?.mechanism, "scram-sha-512");
  },
});

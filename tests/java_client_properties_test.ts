/** Unit: the security settings as the properties of Kafka's own (Java) tools. */
import { assertEquals, assertThrows } from "./assert.ts";
import {
  javaClientProperties,
  pemKeystore,
  propertiesValue,
} from "../lib/java_client_properties.ts";
import { NO_SECURITY, Secret } from "../lib/kafka_security.ts";

const tls = {
  caFile: "/etc/kafka/ca.pem",
  certFile: undefined,
  keyFile: undefined,
  serverName: undefined,
};
const sasl = {
  mechanism: "scram-sha-512" as const,
  username: "order-tracking",
  password: { secret: new Secret("unused: the caller passes the password") },
};

Deno.test({
  name: "each combination of TLS and SASL gives the Java client's protocol and settings",
  permissions: "none",
  fn: async (t) => {
    await t.step("plain TCP", () => {
      assertEquals(javaClientProperties(NO_SECURITY), "security.protocol=PLAINTEXT\n");
    });
    await t.step("TLS with a CA file: a PEM truststore", () => {
      assertEquals(
        javaClientProperties({ tls, sasl: undefined }),
        "security.protocol=SSL\nssl.truststore.type=PEM\nssl.truststore.location=/etc/kafka/ca.pem\n",
      );
    });
    await t.step("TLS without a CA file: the JVM's own CAs", () => {
      assertEquals(
        javaClientProperties({ tls: { ...tls, caFile: undefined }, sasl: undefined }),
        "security.protocol=SSL\n",
      );
    });
    await t.step("mutual TLS: the keystore file made of certificate and key", () => {
      const mutual = { ...tls, certFile: "/c.pem", keyFile: "/k.pem" };
      assertEquals(
        javaClientProperties({ tls: mutual, sasl: undefined }, { keystoreFile: "/tmp/x/ks.pem" }),
        "security.protocol=SSL\nssl.truststore.type=PEM\nssl.truststore.location=/etc/kafka/ca.pem\n" +
          "ssl.keystore.type=PEM\nssl.keystore.location=/tmp/x/ks.pem\n",
      );
      assertThrows(
        () => javaClientProperties({ tls: mutual, sasl: undefined }),
        /no keystore file given/,
      );
    });
    await t.step("SASL over TLS: mechanism and a JAAS line with quotes escaped", () => {
      const text = javaClientProperties({ tls, sasl }, { password: 'p"a\\ss' });
      assertEquals(
        text.split("\n").slice(0, 5),
        [
          "security.protocol=SASL_SSL",
          "ssl.truststore.type=PEM",
          "ssl.truststore.location=/etc/kafka/ca.pem",
          "sasl.mechanism=SCRAM-SHA-512",
          // JAAS escapes the quote and the backslash; .properties escapes each backslash again.
          'sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="order-tracking" password="p\\\\"a\\\\\\\\ss";',
        ],
      );
    });
    await t.step("SASL PLAIN without TLS", () => {
      const plain = { ...sasl, mechanism: "plain" as const };
      assertEquals(
        javaClientProperties({ tls: undefined, sasl: plain }, { password: "pw" }),
        "security.protocol=SASL_PLAINTEXT\nsasl.mechanism=PLAIN\n" +
          'sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="order-tracking" password="pw";\n',
      );
      assertThrows(
        () => javaClientProperties({ tls: undefined, sasl: plain }),
        /no SASL password given/,
      );
    });
    await t.step(
      "a server name the Java client cannot check is refused, naming the setting",
      () => {
        assertThrows(
          () =>
            javaClientProperties({
              tls: { ...tls, serverName: "kafka.internal" },
              sasl: undefined,
            }),
          (error: Error) =>
            error instanceof RangeError && error.message.includes("KAFKA_TLS_SERVER_NAME"),
        );
      },
    );
  },
});

Deno.test({
  name: ".properties values keep what the format would read specially",
  permissions: "none",
  fn: () => {
    assertEquals(propertiesValue("a\\b"), "a\\\\b");
    assertEquals(propertiesValue(" lead and trail "), "\\ lead and trail ");
    assertEquals(propertiesValue("line\nnext\ttab"), "line\\nnext\\ttab");
    assertEquals(propertiesValue("pässwörd€"), "p\\u00e4ssw\\u00f6rd\\u20ac");
    assertEquals(propertiesValue("x=y:z#!"), "x=y:z#!");
  },
});

const CERT = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
const CA = "-----BEGIN CERTIFICATE-----\nMIIC\n-----END CERTIFICATE-----\n";
const KEY = "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n";

Deno.test({
  name: "the PEM keystore is the PKCS#8 key then the certificate chain; other keys are refused",
  permissions: "none",
  fn: async (t) => {
    await t.step("key first, then each certificate of the chain", () => {
      assertEquals(
        pemKeystore(`subject=...\n${CERT}${CA}`, `# comment\n${KEY}`),
        "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n" +
          "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n" +
          "-----BEGIN CERTIFICATE-----\nMIIC\n-----END CERTIFICATE-----\n",
      );
    });
    await t.step("PKCS#1, SEC1 and encrypted keys: how to convert them", () => {
      for (const kind of ["RSA ", "EC ", "ENCRYPTED "]) {
        assertThrows(
          () => pemKeystore(CERT, KEY.replaceAll("PRIVATE KEY", `${kind}PRIVATE KEY`)),
          (error: Error) =>
            error instanceof RangeError &&
            error.message.includes(`this one is "BEGIN ${kind}PRIVATE KEY"`) &&
            error.message.includes("openssl pkcs8 -topk8 -nocrypt"),
        );
      }
      assertThrows(() => pemKeystore(CERT, "not a key"), /not a PEM private key/);
    });
    await t.step("a certificate file without a certificate", () => {
      assertThrows(() => pemKeystore("nothing", KEY), /KAFKA_TLS_CERT_FILE: it holds no PEM/);
    });
  },
});

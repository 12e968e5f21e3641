import { assert, assertEquals } from "./assert.ts";
import { resolveConfig } from "../lib/config.ts";
import { permissionFlags, type Role } from "../lib/permissions.ts";
import { KAFKA_VERSION } from "../lib/constants.ts";

const projectDir = "/project";

function flag(flags: string[], name: string): string | undefined {
  return flags.find((f) => f === name || f.startsWith(`${name}=`));
}

Deno.test({
  name: "each process gets only its own hosts, files and variables",
  permissions: "none",
  async fn(t) {
    const config = resolveConfig({ KAFKA_PORT: "19092", DATA_DIR: "/srv/orders" });
    await t.step("producer: the brokers and its own directory, never the trail", () => {
      const flags = permissionFlags("producer", config, { projectDir });
      assertEquals(flag(flags, "--allow-net"), "--allow-net=127.0.0.1:19092");
      assertEquals(flag(flags, "--allow-write"), "--allow-write=/srv/orders/producer");
      // The order generator's worker thread loads lib/ and faker from node_modules.
      assertEquals(
        flag(flags, "--allow-read"),
        `--allow-read=/srv/orders/producer,${projectDir}/lib,${projectDir}/node_modules`,
      );
      assertEquals(flag(flags, "--allow-run"), undefined);
    });
    await t.step("producer with an outcomes file elsewhere may use that file's directory", () => {
      const withLog = resolveConfig({}, ["--acks-log", "/tmp/run-1/acks.jsonl"]);
      const flags = permissionFlags("producer", withLog, { projectDir });
      assertEquals(flag(flags, "--allow-write"), "--allow-write=data/producer,/tmp/run-1");
      assertEquals(
        flag(flags, "--allow-read"),
        `--allow-read=data/producer,/tmp/run-1,${projectDir}/lib,${projectDir}/node_modules`,
      );
    });
    await t.step("tracker: the brokers, its data directory and its parsing thread's code", () => {
      const flags = permissionFlags("tracker", config, { projectDir });
      assertEquals(flag(flags, "--allow-net"), "--allow-net=127.0.0.1:19092");
      assertEquals(flag(flags, "--allow-write"), "--allow-write=/srv/orders");
      assertEquals(flag(flags, "--allow-read"), `--allow-read=/srv/orders,${projectDir}/lib`);
      assertEquals(flag(flags, "--allow-run"), undefined);
    });
    await t.step(
      "monitor: no network, no writes, reads the data directory and terminal data",
      () => {
        const flags = permissionFlags("monitor", config, { projectDir });
        assertEquals(flag(flags, "--allow-net"), undefined);
        assertEquals(flag(flags, "--allow-write"), undefined);
        const read = flag(flags, "--allow-read")!.split(/[=,]/);
        assert(read.includes("/srv/orders"), "the trail's segments, checkpoint and health log");
        assert(!read.includes("/"), "not the whole file system");
      },
    );
    await t.step("verify: the trail's and the outcomes' directories only", () => {
      const flags = permissionFlags("verify", config, { projectDir });
      assertEquals(flag(flags, "--allow-read"), "--allow-read=/srv/orders,/srv/orders/producer");
      assertEquals(flag(flags, "--allow-write"), undefined);
      const given = resolveConfig({ DATA_DIR: "/srv/orders" }, [
        "--audit",
        "/backup/a/tracker.events",
        "--audit",
        "/backup/b/tracker.events",
        "--acks-log",
        "none",
      ], { command: "verify" });
      assertEquals(
        flag(permissionFlags("verify", given, { projectDir }), "--allow-read"),
        "--allow-read=/backup/a,/backup/b",
      );
    });
    await t.step("dlq:inspect: the brokers only, no files", () => {
      const flags = permissionFlags("dlq:inspect", config, { projectDir });
      assertEquals(flag(flags, "--allow-net"), "--allow-net=127.0.0.1:19092");
      assertEquals(flag(flags, "--allow-read"), undefined);
      assertEquals(flag(flags, "--allow-write"), undefined);
    });
    await t.step("dlq:redrive: the brokers and its record's directory, never the trail", () => {
      const flags = permissionFlags("dlq:redrive", config, { projectDir });
      assertEquals(flag(flags, "--allow-net"), "--allow-net=127.0.0.1:19092");
      assertEquals(flag(flags, "--allow-read"), "--allow-read=/srv/orders/redrive");
      assertEquals(flag(flags, "--allow-write"), "--allow-write=/srv/orders/redrive");
      assertEquals(flag(flags, "--allow-run"), undefined);
    });
    await t.step("orchestrators read the project, state, data and jars, not the whole disk", () => {
      for (const role of ["start", "stop", "broker", "test"] as const) {
        const flags = permissionFlags(role, config, { projectDir });
        assertEquals(
          flag(flags, "--allow-read"),
          "--allow-read=/project,.state,/srv/orders,.cache/kafka-3.9.1",
          role,
        );
      }
    });
    await t.step(
      "status: reads data and run dirs, runs ps (docker only if it may be Docker)",
      () => {
        const flags = permissionFlags("status", config, { projectDir });
        assertEquals(flag(flags, "--allow-net"), "--allow-net=127.0.0.1:19092");
        assertEquals(flag(flags, "--allow-read"), "--allow-read=/srv/orders,.state/run");
        assertEquals(flag(flags, "--allow-write"), undefined);
        assertEquals(flag(flags, "--allow-run"), "--allow-run=ps,docker");
        const jvm = resolveConfig({ KAFKA_PROVIDER: "jvm" });
        assertEquals(
          flag(permissionFlags("status", jvm, { projectDir }), "--allow-run"),
          "--allow-run=ps",
        );
        const external = resolveConfig({ KAFKA_BROKERS: "kafka-1:9092" });
        const externalFlags = permissionFlags("status", external, { projectDir });
        assertEquals(flag(externalFlags, "--allow-run"), "--allow-run=ps");
        assertEquals(flag(externalFlags, "--allow-net"), "--allow-net=kafka-1:9092");
      },
    );
    await t.step("bench:e2e: the brokers, its scratch directory and the broker's PID file", () => {
      const flags = permissionFlags("bench:e2e", config, { projectDir });
      assertEquals(flag(flags, "--allow-net"), "--allow-net=127.0.0.1:19092");
      assertEquals(flag(flags, "--allow-read"), "--allow-read=.state/bench,.state/run");
      assertEquals(flag(flags, "--allow-write"), "--allow-write=.state/bench");
      assert(!flag(flags, "--allow-env")!.includes("HOME"), "the settings' variables only");
      // Deno for its children, ps, and cat for /proc (Deno reads it only under --allow-all).
      assertEquals(flag(flags, "--allow-run"), "--allow-run");
    });
    await t.step("bench:compare: the brokers, its scratch directory and the tools' jars", () => {
      const flags = permissionFlags("bench:compare", config, { projectDir });
      assertEquals(flag(flags, "--allow-net"), "--allow-net=127.0.0.1:19092");
      const tools = `.cache/kafka-${KAFKA_VERSION}/tools`;
      assertEquals(flag(flags, "--allow-read"), `--allow-read=.state/bench,${tools}`);
      assertEquals(flag(flags, "--allow-write"), `--allow-write=.state/bench,${tools}`);
      // Deno for our benchmarks (each with its own permissions), java and mvn for Kafka's tools.
      assertEquals(flag(flags, "--allow-run"), "--allow-run");
    });
    await t.step("no process is given everything", () => {
      for (
        const role of [
          "producer",
          "tracker",
          "monitor",
          "topics",
          "broker",
          "start",
          "status",
          "dlq:inspect",
          "dlq:redrive",
          "bench:e2e",
          "bench:compare",
        ] as const
      ) {
        const flags = permissionFlags(role, config, { projectDir });
        assert(!flags.includes("-A") && !flags.includes("--allow-all"), role);
        assert(flags.includes("--no-prompt"), role);
      }
    });
  },
});

Deno.test({
  name: "the tracker may listen on the metrics address only when METRICS_PORT is set",
  permissions: "none",
  fn() {
    const off = permissionFlags("tracker", resolveConfig({ KAFKA_PORT: "19092" }), { projectDir });
    const on = permissionFlags(
      "tracker",
      resolveConfig({ KAFKA_PORT: "19092", METRICS_PORT: "9464" }),
      { projectDir },
    );
    assertEquals(flag(off, "--allow-net"), "--allow-net=127.0.0.1:19092");
    assertEquals(flag(on, "--allow-net"), "--allow-net=127.0.0.1:19092,127.0.0.1:9464");
    assertEquals(
      on.filter((f) => f !== flag(on, "--allow-net")),
      off.filter((f) => f !== flag(off, "--allow-net")),
      "nothing else changes",
    );
    const producer = permissionFlags(
      "producer",
      resolveConfig({ KAFKA_PORT: "19092", METRICS_PORT: "9464" }),
      { projectDir },
    );
    assertEquals(flag(producer, "--allow-net"), "--allow-net=127.0.0.1:19092", "the tracker's own");
  },
});

Deno.test({
  name: "extra hosts from KAFKA_ALLOW_HOSTS are allowed to Kafka clients",
  permissions: "none",
  fn() {
    const config = resolveConfig({
      KAFKA_BROKERS: "seed:9092",
      KAFKA_ALLOW_HOSTS: "broker-1:9092,broker-2:9092",
    });
    const flags = permissionFlags("tracker", config, { projectDir });
    assertEquals(flag(flags, "--allow-net"), "--allow-net=seed:9092,broker-1:9092,broker-2:9092");
  },
});

Deno.test({
  name: "a Kafka client may also read the CA, certificate, key and password files named, no more",
  permissions: "none",
  fn() {
    const config = resolveConfig({
      KAFKA_BROKERS: "kafka.example.com:9093",
      DATA_DIR: "/srv/orders",
      STATE_DIR: "/srv/state",
      KAFKA_TLS_CA_FILE: "/etc/kafka/ca.pem",
      KAFKA_TLS_CERT_FILE: "/etc/kafka/client.pem",
      KAFKA_TLS_KEY_FILE: "/etc/kafka/client.key",
      KAFKA_SASL_MECHANISM: "scram-sha-512",
      KAFKA_SASL_USERNAME: "orders",
      KAFKA_SASL_PASSWORD_FILE: "/run/secrets/kafka",
    });
    const secrets =
      "/etc/kafka/ca.pem,/etc/kafka/client.pem,/etc/kafka/client.key,/run/secrets/kafka";
    const reads = (role: Role) =>
      flag(permissionFlags(role, config, { projectDir }), "--allow-read");
    const code = `${projectDir}/lib,${projectDir}/node_modules`;
    assertEquals(reads("producer"), `--allow-read=/srv/orders/producer,${code},${secrets}`);
    assertEquals(reads("tracker"), `--allow-read=/srv/orders,${projectDir}/lib,${secrets}`);
    assertEquals(reads("topics"), `--allow-read=${secrets}`);
    assertEquals(reads("bench:producer"), `--allow-read=/srv/state/bench,${code},${secrets}`);
    assertEquals(reads("bench:tracker"), `--allow-read=/srv/state/bench,${code},${secrets}`);
    assertEquals(reads("bench:e2e"), `--allow-read=/srv/state/bench,/srv/state/run,${secrets}`);
    assertEquals(
      reads("bench:compare"),
      `--allow-read=/srv/state/bench,.cache/kafka-${KAFKA_VERSION}/tools,${secrets}`,
    );
    assertEquals(reads("status"), `--allow-read=/srv/orders,/srv/state/run,${secrets}`);
    assertEquals(reads("dlq:inspect"), `--allow-read=${secrets}`);
    assertEquals(reads("dlq:redrive"), `--allow-read=/srv/orders/redrive,${secrets}`);
    assertEquals(reads("verify"), `--allow-read=/srv/orders,/srv/orders/producer,${secrets}`);
    assert(!reads("monitor")!.includes("/etc/kafka"), "the monitor talks to no broker");
    // Writes and hosts do not grow.
    for (const role of ["producer", "tracker", "topics"] as const) {
      const flags = permissionFlags(role, config, { projectDir });
      assertEquals(flag(flags, "--allow-net"), "--allow-net=kafka.example.com:9093", role);
      assert(!(flag(flags, "--allow-write") ?? "").includes("/etc/kafka"), role);
    }
    // Without security settings, nothing is added.
    const plain = resolveConfig({ KAFKA_BROKERS: "kafka.example.com:9092" });
    assertEquals(flag(permissionFlags("topics", plain, { projectDir }), "--allow-read"), undefined);
  },
});

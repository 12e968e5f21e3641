import { assert, assertEquals, assertMatch, assertThrows } from "./assert.ts";
import { ConfigError, resolveConfig } from "../lib/config.ts";
import { COMMANDS, settingsEnv, settingsTableRows, usage } from "../lib/settings.ts";
import { SCRIPTS } from "../tasks/run.ts";

Deno.test({
  name: "config defaults give a local broker, the orders topics and a demo rate",
  permissions: "none",
  fn() {
    const config = resolveConfig({}, []);
    assertEquals(config.brokers, ["127.0.0.1:9092"]);
    assertEquals(config.externalCluster, false);
    assertEquals(config.topic, "orders");
    assertEquals(config.dlqTopic, "orders-dlq");
    assertEquals(config.partitions, 3);
    assertEquals(config.groupId, "order-tracker");
    assertEquals(config.paths.auditFile, "data/tracker.events");
    assertEquals(config.paths.healthLog, "data/tracker.log");
    assertEquals(config.producer.ratePerSec, 5);
    assertEquals(Object.isFrozen(config.paths), true);
  },
});

Deno.test({
  name: "config precedence is flag, then env, then default",
  permissions: "none",
  fn() {
    const env = { PRODUCER_RATE: "50", KAFKA_PORT: "29092", ORDERS_TOPIC: "env-topic" };
    const config = resolveConfig(env, ["--rate", "7", "--duration", "1.5"]);
    assertEquals(config.producer.ratePerSec, 7);
    assertEquals(config.producer.durationMs, 1500);
    assertEquals(config.topic, "env-topic");
    assertEquals(config.brokers, ["127.0.0.1:29092"]);
  },
});

Deno.test({
  name: "KAFKA_BROKER_COUNT=3 makes the clients' brokers every node of the local cluster",
  permissions: "none",
  fn() {
    const config = resolveConfig({ KAFKA_BROKER_COUNT: "3", KAFKA_PORT: "29192" });
    assertEquals(config.brokers, ["127.0.0.1:29192", "127.0.0.1:29194", "127.0.0.1:29196"]);
    assertEquals(config.nodes.map((n) => n.controllerPort), [9093, 9095, 9097]);
    assertEquals(resolveConfig({}).nodes.length, 1);
    assertEquals(resolveConfig({}).replicationFactor, undefined);
    assertEquals(resolveConfig({}).minInsyncReplicas, undefined);
    assertEquals(resolveConfig({ REPLICATION_FACTOR: "2" }).replicationFactor, 2);
  },
});

Deno.test({
  name: "KAFKA_BROKERS names an external cluster",
  permissions: "none",
  fn() {
    const config = resolveConfig({ KAFKA_BROKERS: "kafka-1:9092, kafka-2:9092" });
    assertEquals(config.brokers, ["kafka-1:9092", "kafka-2:9092"]);
    assertEquals(config.externalCluster, true);
  },
});

Deno.test({
  name: "a bad setting is a one-line error naming it",
  permissions: "none",
  async fn(t) {
    const cases: Array<[string, Record<string, string>, string[], RegExp]> = [
      ["rate not a number", {}, ["--rate", "fast"], /--rate is "fast", expected a number >= 0/],
      ["negative rate in env", { PRODUCER_RATE: "-1" }, [], /PRODUCER_RATE is "-1"/],
      ["port out of range", { KAFKA_PORT: "70000" }, [], /KAFKA_PORT is "70000"/],
      ["empty broker list", { KAFKA_BROKERS: " , " }, [], /KAFKA_BROKERS is empty/],
      ["broker without port", { KAFKA_BROKERS: "kafka" }, [], /KAFKA_BROKERS has "kafka"/],
      ["bad topic name", { ORDERS_TOPIC: "my topic" }, [], /ORDERS_TOPIC is "my topic"/],
      ["same topic twice", { DLQ_TOPIC: "orders" }, [], /DLQ_TOPIC equals ORDERS_TOPIC/],
      ["same ports", { KAFKA_CONTROLLER_PORT: "9092" }, [], /KAFKA_CONTROLLER_PORT equals/],
      ["unknown flag", {}, ["--speed", "3"], /Cannot read flags: .*speed/],
      ["bad log level", { LOG_LEVEL: "loud" }, [], /LOG_LEVEL is "loud", expected one of/],
      ["count not an integer", {}, ["--count", "1.5"], /--count is "1.5"/],
      ["zero partitions", { ORDERS_PARTITIONS: "0" }, [], /ORDERS_PARTITIONS is "0"/],
      ["metrics port too high", { METRICS_PORT: "65536" }, [], /METRICS_PORT is "65536"/],
      ["metrics port a word", { METRICS_PORT: "on" }, [], /METRICS_PORT is "on"/],
      [
        "metrics host with a port",
        { METRICS_PORT: "9464", METRICS_HOST: "127.0.0.1:80" },
        [],
        /METRICS_HOST is "127\.0\.0\.1:80", expected a host name or IPv4 address/,
      ],
      [
        "six brokers",
        { KAFKA_BROKER_COUNT: "6" },
        [],
        /KAFKA_BROKER_COUNT is "6", expected .* 1 to 5/,
      ],
      [
        "cluster ports collide",
        { KAFKA_BROKER_COUNT: "3", KAFKA_CONTROLLER_PORT: "9094" },
        [],
        /node 2's client port and node 1's controller port would both be 9094/,
      ],
      [
        "min ISR above RF",
        { REPLICATION_FACTOR: "2", MIN_INSYNC_REPLICAS: "3" },
        [],
        /MIN_INSYNC_REPLICAS \(3\) is above REPLICATION_FACTOR \(2\)/,
      ],
    ];
    for (const [name, env, args, message] of cases) {
      await t.step(name, () => {
        assertThrows(() => resolveConfig(env, args), (error: unknown) => {
          if (!(error instanceof ConfigError)) return false;
          if (error.message.includes("\n")) return false;
          return message.test(error.message);
        });
      });
    }
  },
});

Deno.test({
  name: "--help of a command lists only its settings, each with meaning, default and variable",
  permissions: "none",
  fn() {
    const producer = usage("producer");
    assertMatch(producer, /^Usage: deno task producer \[flags\]/);
    assertMatch(
      producer,
      /--rate VALUE +orders per second; 0 = as fast as possible \(env PRODUCER_RATE, default 5\)/,
    );
    assertMatch(producer, /--seed VALUE .*\(env PRODUCER_SEED, default random\)/);
    assertMatch(producer, /Examples:\n {2}deno task producer/);
    for (const foreign of ["--once", "--group", "--dlq-topic", "KAFKA_CONTROLLER_PORT"]) {
      assert(!producer.includes(foreign), `producer help does not list ${foreign}`);
    }
    const monitor = usage("monitor");
    assertMatch(monitor, /--once +print the current figures as text and exit/);
    assert(!monitor.includes("--rate"), "monitor help does not list --rate");
    assertMatch(usage("broker"), /Environment:\n(.*\n)* {2}KAFKA_HEAP_OPTS +JVM heap/);
    // The test task's arguments are deno test's: its settings are variables only.
    const test = usage("test");
    assertMatch(test, /^Usage: deno task test \[files and flags for deno test\]/);
    assertMatch(test, /Environment:\n(.*\n)* {2}KAFKA_BROKERS +host:port/);
    assert(!test.includes("--brokers"), "test help does not offer --brokers");
    assertMatch(usage("broker"), /^Usage: deno task broker:up \| broker:down \[flags\]/);
    for (const command of COMMANDS) {
      assertMatch(
        usage(command),
        /\nExamples:\n {2}(\S+=\S+ )*deno task \S/,
        `${command} has examples`,
      );
    }
  },
});

Deno.test({
  name: "a command refuses another command's flags",
  permissions: "none",
  fn() {
    assertThrows(
      () => resolveConfig({}, ["--once"], { command: "producer" }),
      (e: unknown) => e instanceof ConfigError && /Unknown option '--once'/.test(e.message),
    );
    assertEquals(resolveConfig({}, ["--once"], { command: "monitor" }).options.once, true);
    assertEquals(
      resolveConfig({}, ["--rate", "2"], { command: "producer" }).producer.ratePerSec,
      2,
    );
  },
});

Deno.test({
  name: "the benchmarks refuse --topic and --dlq-topic, and their help does not list them",
  permissions: "none",
  fn() {
    // Each benchmark makes and deletes scratch topics of its own: a topic given would be ignored.
    for (
      const command of ["bench:producer", "bench:tracker", "bench:e2e", "bench:compare"] as const
    ) {
      for (const flag of ["--topic", "--dlq-topic"]) {
        assertThrows(
          () => resolveConfig({}, [flag, "mine"], { command }),
          (e: unknown) =>
            e instanceof ConfigError && e.message.includes(`Unknown option '${flag}'`),
        );
      }
      assert(!/--topic|--dlq-topic/.test(usage(command)), `${command} --help lists a topic flag`);
    }
    assertEquals(resolveConfig({}, ["--topic", "mine"], { command: "tracker" }).topic, "mine");
  },
});

Deno.test({
  name: "the settings given as flags become the variables a child process reads",
  permissions: "none",
  fn() {
    const { options } = resolveConfig(
      { PRODUCER_RATE: "9", ORDERS_TOPIC: "from-env" },
      ["--rate", "50", "--data-dir", "/srv/orders"],
      { command: "start" },
    );
    assertEquals(settingsEnv(options), { PRODUCER_RATE: "50", DATA_DIR: "/srv/orders" });
    // A child given these on top of the environment resolves what `start` resolved.
    const child = resolveConfig({ PRODUCER_RATE: "9", ...settingsEnv(options) }, [], {
      command: "producer",
    });
    assertEquals(child.producer.ratePerSec, 50);
    assertEquals(child.paths.dataDir, "/srv/orders");
    assertEquals(settingsEnv({ once: true, help: true }), {});
  },
});

Deno.test({
  name: "every default in the table passes its own setting's checks",
  permissions: "none",
  fn() {
    const config = resolveConfig({});
    assertEquals(config.brokerHeapOpts, ["-Xms256m", "-Xmx512m"]);
    assertEquals(config.testBrokerPort, 19092);
    assertEquals(config.stopTimeoutMs, 15_000);
  },
});

Deno.test({
  name: "the Prometheus endpoint is off unless METRICS_PORT is set, and listens on loopback",
  permissions: "none",
  fn() {
    assertEquals(resolveConfig({}).metrics, undefined);
    assertEquals(resolveConfig({ METRICS_PORT: "0" }).metrics, undefined);
    assertEquals(resolveConfig({ METRICS_PORT: "9464" }).metrics, {
      hostname: "127.0.0.1",
      port: 9464,
    });
    assertEquals(
      resolveConfig({ METRICS_HOST: "0.0.0.0", METRICS_PORT: "9500" }).metrics,
      { hostname: "0.0.0.0", port: 9500 },
    );
  },
});

Deno.test("the README's settings table is the settings table", async () => {
  const readme = await Deno.readTextFile(new URL("../README.md", import.meta.url));
  const section = readme.split("\n## Settings\n")[1]?.split("\n## ")[0] ?? "";
  const rows = section.split("\n")
    .filter((line) => line.startsWith("|") && !/^\|[\s-|]+\|$/.test(line))
    .slice(1) // the header row
    .map((line) => line.slice(1, -1).split("|").map((cell) => cell.trim()));
  const expected = settingsTableRows();
  assertEquals(
    rows,
    expected,
    "README.md's settings table differs from SETTINGS in lib/settings.ts; its rows should be:\n" +
      expected.map((row) => `| ${row.join(" | ")} |`).join("\n"),
  );
});

Deno.test("every command is a deno.json task through the launcher, and every such task a command", async () => {
  const { tasks } = JSON.parse(await Deno.readTextFile(new URL("../deno.json", import.meta.url)));
  const launched = new Set(
    Object.values(tasks as Record<string, { command: string }>)
      .map(({ command }) => / tasks\/run\.ts (\S+)/.exec(command)?.[1])
      .filter((script) => script !== undefined),
  );
  assertEquals([...launched].sort(), [...new Set(Object.values(SCRIPTS))].sort());
  assertEquals(Object.keys(SCRIPTS).sort(), [...COMMANDS].sort());
  for (const command of COMMANDS) assertMatch(usage(command), /^Usage: deno task /);
});

Deno.test({
  name: "status --help states when it exits 0 and takes --json",
  permissions: "none",
  fn() {
    const help = usage("status");
    assertMatch(help, /--json +print the same report as JSON/);
    assertMatch(help, /--data-dir VALUE/);
    assertMatch(help, /Exit code 0 when everything that should run runs/);
    assert(!help.includes("--rate"), "status help does not list --rate");
  },
});

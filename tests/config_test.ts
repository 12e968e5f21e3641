import { assertEquals, assertThrows } from "./assert.ts";
import { ConfigError, resolveConfig } from "../lib/config.ts";

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

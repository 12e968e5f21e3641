/** Unit: the figures of Kafka's own benchmark tools, parsed from what Kafka 3.9.1's tools printed. */
import { assertEquals, assertThrows } from "./assert.ts";
import {
  parseConsumerPerformance,
  parseEndToEndLatency,
  parseProducerPerformance,
} from "../lib/kafka_tool_output.ts";

// Captured from the tools on a local 3.9.1 broker (log4j at WARN, to stderr).
const PRODUCER_OUTPUT = [
  "243713 records sent, 48742.6 records/sec (69.96 MB/sec), 290.1 ms avg latency, 601.0 ms max latency.",
  "300000 records sent, 52164.840897 records/sec (74.87 MB/sec), 263.98 ms avg latency, 402.00 ms max latency, 258 ms 50th, 377 ms 95th, 387 ms 99th, 396 ms 99.9th.",
  "",
].join("\n");
const CONSUMER_OUTPUT = [
  "start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec",
  "2026-11-27 16:33:25:680, 2026-11-27 16:33:27:081, 143.5280, 102.4468, 100000, 71377.5874, 322, 1079, 133.0194, 92678.4059",
  "",
].join("\n");
const LATENCY_OUTPUT = [
  "0\t47.325972",
  "1000\t0.8364790000000001",
  "9000\t0.510977",
  "Avg latency: 0.7396 ms",
  "Percentiles: 50th = 0, 99th = 3, 99.9th = 9",
  "",
].join("\n");

Deno.test({
  name: "Kafka tools' outputs give their figures",
  permissions: "none",
  fn: async (t) => {
    await t.step("ProducerPerformance: the summary line, not the progress before it", () => {
      assertEquals(parseProducerPerformance(PRODUCER_OUTPUT), {
        records: 300000,
        recordsPerSec: 52164.840897,
        mbPerSec: 74.87,
        avgLatencyMs: 263.98,
        maxLatencyMs: 402,
        p50Ms: 258,
        p99Ms: 387,
      });
    });
    await t.step("ConsumerPerformance: columns by name, fetch figures apart", () => {
      assertEquals(parseConsumerPerformance(CONSUMER_OUTPUT), {
        messages: 100000,
        msgPerSec: 71377.5874,
        rebalanceMs: 322,
        fetchMs: 1079,
        fetchMsgPerSec: 92678.4059,
      });
      // Columns found by name: another order reads the same.
      const reordered = [
        "start.time, fetch.nMsg.sec, data.consumed.in.nMsg, nMsg.sec, rebalance.time.ms, fetch.time.ms",
        "2026-11-27 16:33:25:680, 5.5, 7, 4.5, 1, 2",
      ].join("\n");
      assertEquals(parseConsumerPerformance(reordered), {
        messages: 7,
        msgPerSec: 4.5,
        rebalanceMs: 1,
        fetchMs: 2,
        fetchMsgPerSec: 5.5,
      });
    });
    await t.step("EndToEndLatency: average and percentiles, the samples ignored", () => {
      assertEquals(parseEndToEndLatency(LATENCY_OUTPUT), {
        avgMs: 0.7396,
        p50Ms: 0,
        p99Ms: 3,
        p999Ms: 9,
      });
    });
  },
});

Deno.test({
  name: "a tool's output without its figures is an error quoting it, never a zero",
  permissions: "none",
  fn: async (t) => {
    await t.step("ProducerPerformance stopped before its summary", () => {
      assertThrows(
        () => parseProducerPerformance(PRODUCER_OUTPUT.split("\n")[0]!),
        (error: Error) =>
          error instanceof SyntaxError &&
          error.message.startsWith("Cannot parse ProducerPerformance's output: no summary line") &&
          error.message.includes("243713 records sent"),
      );
      assertThrows(() => parseProducerPerformance(""), /in nothing$/);
    });
    await t.step("ConsumerPerformance without a row, or with a figure that is not a number", () => {
      assertThrows(
        () => parseConsumerPerformance(CONSUMER_OUTPUT.split("\n")[0]!),
        /expected a header and a row/,
      );
      assertThrows(
        () => parseConsumerPerformance("WARN Timed out waiting for records"),
        /expected a header and a row, got "WARN Timed out waiting for records"/,
      );
      const bad = CONSUMER_OUTPUT.replace("92678.4059", "NaN");
      assertThrows(() => parseConsumerPerformance(bad), /column fetch\.nMsg\.sec is "NaN"/);
      const missing = [
        "start.time, end.time, data.consumed.in.nMsg, nMsg.sec, rebalance.time.ms, fetch.time.ms",
        "a, b, 1, 2, 3, 4",
      ].join("\n");
      assertThrows(() => parseConsumerPerformance(missing), /column fetch\.nMsg\.sec is missing/);
    });
    await t.step("EndToEndLatency without its percentiles", () => {
      assertThrows(
        () => parseEndToEndLatency("0\t47.3\nAvg latency: 0.7396 ms\n"),
        /expected "Avg latency" and "Percentiles" lines/,
      );
    });
  },
});

/** Unit: the benchmarks' `--json` result records, written and read back. */
import { assertEquals, assertThrows } from "./assert.ts";
import { benchResultLine, parseBenchResult } from "../lib/bench_result.ts";

const producer = {
  bench: "producer" as const,
  orders: 100000,
  msgPerSec: 70522.4,
  mbPerSec: 106.2,
  bytesPerOrder: 1505.8,
  cpuSecondsPer1000: 0.02,
};
const tracker = {
  bench: "tracker" as const,
  orders: 100000,
  msgPerSec: 78555.1,
  sliceMsgPerSec: [54020, 86000.5],
  cpuSecondsPer1000: 0.019,
};
const e2e = {
  bench: "e2e" as const,
  orders: 150005,
  rateAsked: 5000,
  p50Ms: 3,
  p95Ms: 5,
  p99Ms: 9,
  maxMs: null,
  problems: [],
};

Deno.test({
  name: "a benchmark's result line reads back as the record written",
  permissions: "none",
  fn: () => {
    assertEquals(parseBenchResult(benchResultLine(producer), "producer"), producer);
    assertEquals(parseBenchResult(benchResultLine(tracker), "tracker"), tracker);
    assertEquals(parseBenchResult(benchResultLine(e2e), "e2e"), e2e);
    // Lines before it (a warning) are passed over; the last JSON line is the result.
    const output = `Warning: slow disk\n${benchResultLine(producer)}\n\n`;
    assertEquals(parseBenchResult(output, "producer"), producer);
  },
});

Deno.test({
  name: "a result that is missing, of another benchmark or with a bad field is an error naming it",
  permissions: "none",
  fn: async (t) => {
    await t.step("no JSON line", () => {
      assertThrows(() => parseBenchResult("orders 5 acknowledged\n", "producer"), /no JSON line/);
    });
    await t.step("a broken line", () => {
      assertThrows(
        () => parseBenchResult('{"bench":"producer",', "producer"),
        /Cannot parse the producer benchmark's result: /,
      );
    });
    await t.step("another benchmark's record", () => {
      assertThrows(
        () => parseBenchResult(benchResultLine(tracker), "producer"),
        /"bench" is "tracker", expected "producer"/,
      );
    });
    await t.step("a field missing or of the wrong type", () => {
      const { msgPerSec: _, ...withoutRate } = producer;
      assertThrows(
        () => parseBenchResult(JSON.stringify(withoutRate), "producer"),
        /field "msgPerSec" is missing/,
      );
      assertThrows(
        () => parseBenchResult(JSON.stringify({ ...tracker, sliceMsgPerSec: [1, "2"] }), "tracker"),
        /field "sliceMsgPerSec" is \[1,"2"\]/,
      );
      assertThrows(
        () => parseBenchResult(JSON.stringify({ ...e2e, p99Ms: -1 }), "e2e"),
        /field "p99Ms" is -1/,
      );
      assertThrows(
        () => parseBenchResult(JSON.stringify({ ...producer, orders: 1.5 }), "producer"),
        /field "orders" is 1.5/,
      );
    });
  },
});

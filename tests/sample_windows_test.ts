/** Unit: the monitor's sample windows and charts against the tallies of their samples. Pure. */
import { assertEquals } from "./assert.ts";
import { SampleWindows, Tally } from "../lib/sample_windows.ts";

Deno.test({
  name: "each chart bucket's throughput and p95 are those of the samples in it",
  permissions: "none",
  fn() {
    const buckets = 12;
    const bucketMs = 5_000;
    const windows = new SampleWindows({
      chartBuckets: buckets,
      chartBucketMs: bucketMs,
      keepMs: 120_000,
    });
    const end = Date.parse("2026-03-01T12:01:00.000Z");
    const start = end - buckets * bucketMs;
    const expected = Array.from({ length: buckets }, () => new Tally());
    let seed = 11;
    const random = () => (seed = (seed * 48271) % 2147483647) / 2147483647;
    for (let i = 0; i < 20_000; i++) {
      const at = start + Math.floor(random() * buckets * bucketMs);
      // Few distinct values in some buckets, many in others, a dead letter now and then.
      const latency = random() < 0.1
        ? null
        : Math.floor(random() * random() * (at % 7 === 0 ? 5 : 900));
      const ok = random() > 0.02;
      windows.add(at, ok, latency, false);
      expected[Math.floor((at - start) / bucketMs)]!.add(at, ok, latency, false);
    }
    const charts = windows.charts(end + 500);
    assertEquals(charts.throughput, expected.map((t) => t.count / (bucketMs / 1000)));
    assertEquals(charts.latencyP95, expected.map((t) => t.percentiles([95])[0] ?? null));
  },
});

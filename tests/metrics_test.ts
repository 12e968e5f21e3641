import { assertEquals } from "./assert.ts";
import { percentile, SlidingWindow, summarizeLatency } from "../lib/metrics.ts";

Deno.test({
  name: "percentiles use the nearest rank",
  permissions: "none",
  fn() {
    const values = Array.from({ length: 100 }, (_, i) => i + 1);
    assertEquals(percentile(values, 50), 50);
    assertEquals(percentile(values, 95), 95);
    assertEquals(percentile(values, 99), 99);
    assertEquals(percentile([7], 99), 7);
    assertEquals(percentile([], 50), undefined);
    assertEquals(summarizeLatency([]), { p50: null, p95: null, p99: null, count: 0 });
  },
});

Deno.test({
  name: "a sliding window forgets what is older than the window",
  permissions: "none",
  fn() {
    const window = new SlidingWindow({ windowMs: 10_000 });
    window.addCount(1_000, 100);
    window.addCount(5_000, 100);
    window.addValue(5_000, 42);
    assertEquals(window.ratePerSec(10_000), 20);
    assertEquals(window.ratePerSec(12_000), 10, "the first count left the window");
    assertEquals(window.values(14_000), [42]);
    assertEquals(window.values(15_000), []);
    assertEquals(window.ratePerSec(16_000), 0);
  },
});

Deno.test({
  name: "a young process's rate is measured over its own age",
  permissions: "none",
  fn() {
    const window = new SlidingWindow({ windowMs: 60_000 });
    window.addCount(1_000, 50);
    assertEquals(window.ratePerSec(2_000, { sinceMs: 0 }), 25);
  },
});

Deno.test({
  name: "a sliding window keeps the newest values up to its limit, whatever was added",
  permissions: "none",
  fn() {
    const window = new SlidingWindow({ windowMs: 60_000, maxSamples: 3 });
    for (let i = 1; i <= 10; i++) {
      window.addValue(i, i);
      assertEquals(
        window.values(i),
        Array.from({ length: Math.min(3, i) }, (_, k) => i - k).reverse(),
      );
    }
    // The limit counts values still in the window; expired ones leave first.
    assertEquals(window.values(60_009), [10]);
  },
});

/** Shell: reading the end of a JSON Lines file without reading the rest (temporary files). */
import { join } from "node:path";
import { assertEquals } from "./assert.ts";
import { lastLines } from "../lib/segmented_log.ts";

Deno.test("lastLines reads complete lines from the end only, never a cut or torn one", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "segmented_log_test_" });
  const path = join(dir, "log.jsonl");
  try {
    await t.step("a missing file has no lines", async () => {
      assertEquals(await lastLines(path), []);
    });
    // 1,000 lines of 10 bytes ("line 0001\n" …): 10,000 bytes.
    const lines = Array.from({ length: 1000 }, (_, i) => `line ${String(i).padStart(4, "0")}`);
    await Deno.writeTextFile(path, lines.map((l) => `${l}\n`).join("") + '{"torn');
    await t.step("a window at a line boundary keeps its first line", async () => {
      assertEquals(await lastLines(path, { maxBytes: 30 + 6 }), lines.slice(-3));
    });
    await t.step("a window that cuts a line leaves it out", async () => {
      assertEquals(await lastLines(path, { maxBytes: 35 + 6 }), lines.slice(-3));
    });
    await t.step("a window larger than the file reads all of it", async () => {
      assertEquals(await lastLines(path, { maxBytes: 1 << 20 }), lines);
    });
    await t.step("a window inside one long line has no complete line", async () => {
      assertEquals(await lastLines(path, { maxBytes: 5 }), []);
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

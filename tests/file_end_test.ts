/**
 * Unit: FileEnd, the newest lines of a growing file (in a temporary directory;
 * nothing else is readable or writable to these tests).
 */
import { join } from "node:path";
import { assertEquals } from "./assert.ts";
import { FileEnd } from "../lib/file_end.ts";

const ROOT = await Deno.makeTempDir({ prefix: "file_end_test_" });
globalThis.addEventListener("unload", () => Deno.removeSync(ROOT, { recursive: true }));
const permissions: Deno.PermissionOptionsObject = { read: [ROOT], write: [ROOT] };

Deno.test({
  name: "only the newest complete lines are read, and a passed-over stretch is a gap",
  permissions,
  async fn() {
    const path = join(ROOT, "newest.jsonl");
    const end = new FileEnd(path, { maxBytes: 17 });
    try {
      assertEquals(end.poll(), { lines: [], gap: false }, "no file yet");
      await Deno.writeTextFile(path, "aaaa\nbbbb\ncc");
      assertEquals(end.poll(), { lines: ["aaaa", "bbbb"], gap: false }, "the partial line waits");
      await Deno.writeTextFile(path, "cc\n", { append: true });
      assertEquals(end.poll(), { lines: ["cccc"], gap: false });
      // 25 bytes appended, the last 17 read: the first line is passed over, the one cut into dropped.
      await Deno.writeTextFile(path, "dddd\neeee\nffff\ngggg\nhhhh\n", { append: true });
      assertEquals(end.poll(), { lines: ["ffff", "gggg", "hhhh"], gap: true });
      assertEquals(end.poll(), { lines: [], gap: false });
      // Another file at the path (a rotation): read from its start, after a gap.
      await Deno.rename(path, `${path}.1`);
      await Deno.writeTextFile(path, "iiii\n");
      assertEquals(end.poll(), { lines: ["iiii"], gap: true });
    } finally {
      end.close();
    }
  },
});

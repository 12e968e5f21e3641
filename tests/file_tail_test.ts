/**
 * Unit: following a growing JSON Lines file on a real file system (a temporary
 * directory; nothing else is readable or writable to these tests).
 */
import { join } from "node:path";
import { assert, assertEquals } from "./assert.ts";
import { FileTail, LineSplitter, type TailPoll } from "../lib/file_tail.ts";

/** Each test works in a directory of its own under this one. */
const ROOT = await Deno.makeTempDir({ prefix: "file_tail_test_" });
globalThis.addEventListener("unload", () => Deno.removeSync(ROOT, { recursive: true }));
const permissions: Deno.PermissionOptionsObject = { read: [ROOT], write: [ROOT] };

const encoder = new TextEncoder();

async function append(path: string, data: string | Uint8Array): Promise<void> {
  await Deno.writeFile(path, typeof data === "string" ? encoder.encode(data) : data, {
    append: true,
  });
}

/** Runs `fn` with the path of a file (not yet created) in a fresh directory. */
async function withFile(fn: (path: string, dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ dir: ROOT });
  try {
    await fn(join(dir, "tracker.events"), dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Polls until nothing is left behind; returns every poll. */
async function drain(tail: FileTail): Promise<TailPoll[]> {
  const polls: TailPoll[] = [];
  do {
    polls.push(await tail.poll());
    assert(polls.length < 10_000, "the backlog ends");
  } while (polls.at(-1)!.behindBytes > 0);
  return polls;
}

Deno.test({
  name: "a partial last line is kept until its newline arrives",
  permissions,
  async fn() {
    await withFile(async (path) => {
      const tail = new FileTail(path);
      assertEquals(await tail.poll(), { lines: [], reset: false, behindBytes: 0 }, "no file yet");
      await append(path, '{"n":1}\n{"n":');
      assertEquals(await tail.poll(), { lines: ['{"n":1}'], reset: false, behindBytes: 0 });
      assertEquals(await tail.poll(), { lines: [], reset: false, behindBytes: 0 }, "still partial");
      await append(path, "2");
      assertEquals((await tail.poll()).lines, []);
      await append(path, '}\n{"n":3}\n');
      assertEquals((await tail.poll()).lines, ['{"n":2}', '{"n":3}']);
      assertEquals(await tail.poll(), { lines: [], reset: false, behindBytes: 0 });
    });
  },
});

Deno.test({
  name: "a multi-byte UTF-8 character split across two writes comes out whole",
  permissions,
  async fn(t) {
    const text = '{"name":"日本 😀 é"}';
    const bytes = encoder.encode(text + "\n");
    // Cut inside 日 (3 bytes), inside 😀 (4 bytes) and inside é (2 bytes).
    const cuts = [10, 11, 17, 19, 22].map((n) => {
      const head = bytes.subarray(0, n);
      assert(new TextDecoder().decode(head).endsWith("\ufffd"), `cut ${n} splits a character`);
      return n;
    });
    for (const cut of cuts) {
      await t.step(`cut after byte ${cut}`, async () => {
        await withFile(async (path) => {
          const tail = new FileTail(path);
          await append(path, bytes.subarray(0, cut));
          assertEquals((await tail.poll()).lines, []);
          await append(path, bytes.subarray(cut));
          assertEquals((await tail.poll()).lines, [text]);
        });
      });
    }
  },
});

Deno.test({
  name: "a truncated file is read again from the start, with reset, and no stale partial line",
  permissions,
  async fn() {
    await withFile(async (path) => {
      const tail = new FileTail(path);
      await append(path, "one\ntwo\nthree\nhalf-of-fo");
      assertEquals((await tail.poll()).lines, ["one", "two", "three"]);
      await Deno.truncate(path, 0);
      await append(path, "new\n");
      assertEquals(await tail.poll(), { lines: ["new"], reset: true, behindBytes: 0 });
      await append(path, "next\n");
      assertEquals(await tail.poll(), { lines: ["next"], reset: false, behindBytes: 0 });
    });
  },
});

Deno.test({
  name: "a rotated file is read to its end, then its successor from the start, without reset",
  permissions,
  async fn() {
    await withFile(async (path, dir) => {
      const tail = new FileTail(path);
      await append(path, "old-1\nold-2\n");
      assertEquals((await tail.poll()).lines, ["old-1", "old-2"]);
      // The writer adds a last line, renames the file away and starts a new one
      // that is larger than what was read: only its identity tells it apart.
      await append(path, "old-3\n");
      await Deno.rename(path, join(dir, "tracker.log.1"));
      await append(path, "new-1\nnew-2\nnew-3\nnew-4\nnew-5\n");
      const first = await tail.poll();
      assertEquals(first.lines, ["old-3"]);
      assertEquals(first.reset, false);
      assertEquals(first.behindBytes > 0, true, "the new file waits");
      assertEquals(await tail.poll(), {
        lines: ["new-1", "new-2", "new-3", "new-4", "new-5"],
        reset: false,
        behindBytes: 0,
      });
      assertEquals(await tail.poll(), { lines: [], reset: false, behindBytes: 0 });
    });
  },
});

Deno.test({
  name: "a deleted file is read to its end, and the file that comes back from the start",
  permissions,
  async fn() {
    await withFile(async (path) => {
      const tail = new FileTail(path);
      await append(path, "a\nb\n");
      assertEquals((await tail.poll()).lines, ["a", "b"]);
      await Deno.remove(path);
      assertEquals(await tail.poll(), { lines: [], reset: false, behindBytes: 0 });
      assertEquals(await tail.poll(), { lines: [], reset: false, behindBytes: 0 });
      await append(path, "c\n");
      assertEquals((await tail.poll()).lines, ["c"]);
    });
  },
});

Deno.test({
  name: "a line longer than maxLineBytes is skipped and counted, and the next lines still come",
  permissions,
  async fn(t) {
    const long = "x".repeat(40);
    const cases: Array<[string, { maxBytesPerPoll: number; maxLineBytes: number }]> = [
      ["read in one poll", { maxBytesPerPoll: 1024, maxLineBytes: 16 }],
      ["spread over many polls", { maxBytesPerPoll: 7, maxLineBytes: 16 }],
      ["polls smaller than a kept line", { maxBytesPerPoll: 3, maxLineBytes: 16 }],
    ];
    for (const [name, options] of cases) {
      await t.step(name, async () => {
        await withFile(async (path) => {
          const tail = new FileTail(path, options);
          const exact = "y".repeat(16);
          await append(path, `short\n${long}\n${exact}\n${"z".repeat(17)}\nafter\n`);
          const lines = (await drain(tail)).flatMap((p) => p.lines);
          assertEquals(lines, ["short", exact, "after"]);
          assertEquals(tail.skippedLines, 2);
        });
      });
    }
    await t.step("written slowly, polled in between", async () => {
      await withFile(async (path) => {
        const tail = new FileTail(path, { maxLineBytes: 16 });
        await append(path, "before\nxxxxxxxxxx");
        assertEquals((await tail.poll()).lines, ["before"]);
        await append(path, "xxxxxxxxxx");
        assertEquals((await tail.poll()).lines, [], "too long now: dropped");
        await append(path, "xxxxxxxxxx");
        assertEquals((await tail.poll()).lines, [], "still the same long line");
        await append(path, "xxx\nnext\n");
        assertEquals((await tail.poll()).lines, ["next"]);
        assertEquals(tail.skippedLines, 1);
      });
    });
  },
});

Deno.test({
  name: "a backlog is read in bounded chunks, behindBytes falling to 0",
  permissions,
  async fn() {
    await withFile(async (path) => {
      const expected = Array.from(
        { length: 100 },
        (_, i) => JSON.stringify({ n: i, note: i % 3 === 0 ? "日本語 😀" : "plain" }),
      );
      await append(path, expected.join("\n") + "\n");
      const size = (await Deno.stat(path)).size;
      const maxBytesPerPoll = 256;
      const tail = new FileTail(path, { maxBytesPerPoll });
      const polls = await drain(tail);
      assertEquals(polls.length, Math.ceil(size / maxBytesPerPoll));
      let behind = size;
      for (const poll of polls) {
        assert(poll.behindBytes < behind, "every poll makes progress");
        assert(behind - poll.behindBytes <= maxBytesPerPoll, "no poll reads more than the bound");
        behind = poll.behindBytes;
      }
      assertEquals(behind, 0);
      assertEquals(polls.flatMap((p) => p.lines), expected);

      // Appended later: only the new part is read.
      await append(path, '{"n":100}\n');
      assertEquals(await tail.poll(), { lines: ['{"n":100}'], reset: false, behindBytes: 0 });
    });
  },
});

Deno.test({
  name: "each line ends at the byte after its newline, whatever the characters and the reads",
  permissions: "none",
  async fn(t) {
    const texts = ['{"a":1}', '{"name":"日本 😀 é"}', "", '{"b":"plain"}', "\ufeff{}", "é"];
    const bytes = encoder.encode(texts.map((text) => text + "\n").join(""));
    const ends = texts.map((_, i) =>
      encoder.encode(texts.slice(0, i + 1).map((text) => text + "\n").join("")).length
    );
    for (const size of [1, 3, 7, 16, bytes.length]) {
      await t.step(`reads of ${size} bytes`, () => {
        const splitter = new LineSplitter();
        const lines = [];
        for (let at = 0; at < bytes.length; at += size) {
          lines.push(...splitter.splitAt(bytes.subarray(at, at + size), at));
        }
        assertEquals(lines.map((line) => line.end), ends);
        // A line's byte-order mark is dropped, as a decoder drops a file's.
        assertEquals(lines.map((line) => line.text), [...texts.slice(0, 4), "{}", "é"]);
      });
    }
  },
});

Deno.test({
  name: "a large read is cut into lines whole, one longer than the pieces it is decoded in too",
  permissions: "none",
  async fn(t) {
    const texts = [
      ...Array.from(
        { length: 300 },
        (_, i) => `{"n":${i},"pad":"${"é".repeat(i % 7)}${"x".repeat(i * 3)}"}`,
      ),
      `{"long":"${"y".repeat(200 * 1024)}"}`,
      ...Array.from({ length: 300 }, (_, i) => `{"m":${i}}`),
    ];
    const bytes = encoder.encode(texts.map((text) => text + "\n").join(""));
    for (const size of [bytes.length, 100_000, 65_536]) {
      await t.step(`reads of ${size} bytes`, () => {
        const splitter = new LineSplitter();
        const lines = [];
        for (let at = 0; at < bytes.length; at += size) {
          lines.push(...splitter.splitAt(bytes.subarray(at, at + size), at));
        }
        assertEquals(lines.map((line) => line.text), texts);
        assertEquals(lines.at(-1)!.end, bytes.length);
        const ends = lines.map((line) => line.end);
        assertEquals(
          ends.every((end) => bytes[end - 1] === 0x0a),
          true,
          "each ends at its newline",
        );
      });
    }
  },
});

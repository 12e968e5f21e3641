/**
 * Shell: a command that cannot reach Kafka says so in one line and exits 1
 * within a bounded time; the tracker waits instead, one line per interval,
 * and stops cleanly. Uses a loopback port nobody listens on (no broker needed).
 */
import { createServer } from "node:net";
import { join } from "node:path";
import { assert, assertEquals, assertMatch } from "./assert.ts";
import { spawnEntry, tempDataDir, waitFor } from "./support.ts";
import { parseHealthLine } from "../lib/health_record.ts";
import type { Role } from "../lib/permissions.ts";

/** A loopback port that refuses connections: bound once, then released. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const CONNECT_TIMEOUT_MS = 2_000;

Deno.test("a one-shot command that cannot reach Kafka says why in one line and exits 1", async (t) => {
  const port = await closedPort();
  const data = await tempDataDir();
  const env = {
    KAFKA_BROKERS: `127.0.0.1:${port}`,
    CONNECT_TIMEOUT_MS: String(CONNECT_TIMEOUT_MS),
    DATA_DIR: data.dir,
    LOG_LEVEL: "info",
  };
  const commands: Array<[Role, string[]]> = [
    ["producer", ["--count", "5"]],
    ["topics", []],
    ["verify", []],
    ["bench:producer", ["--count", "10"]],
    ["bench:e2e", ["--duration", "1"]],
  ];
  try {
    for (const [role, args] of commands) {
      await t.step(role, async () => {
        const started = Date.now();
        const entry = spawnEntry(role, { args, env });
        const status = await entry.exited;
        const elapsed = Date.now() - started;
        const lines = entry.output().trim().split("\n");
        assertEquals(status.code, 1, entry.output());
        assert(elapsed < CONNECT_TIMEOUT_MS + 8_000, `gave up after ${elapsed} ms`);
        const said = lines.filter((l) => l.includes("Cannot reach Kafka"));
        assertEquals(said.length, 1, entry.output());
        assertMatch(
          said[0]!,
          new RegExp(
            `Cannot reach Kafka at 127\\.0\\.0\\.1:${port} within 2 s: 127\\.0\\.0\\.1:${port} connection refused\\. Check KAFKA_BROKERS`,
          ),
        );
        // None of the client's per-attempt lines.
        assertEquals(lines.filter((l) => l.includes("kafkajs")), [], entry.output());
      });
    }
  } finally {
    await data.remove();
  }
});

Deno.test("the tracker waits for an unreachable Kafka, one line per interval, and stops cleanly", async () => {
  const port = await closedPort();
  const data = await tempDataDir();
  try {
    const entry = spawnEntry("tracker", {
      env: { KAFKA_BROKERS: `127.0.0.1:${port}`, DATA_DIR: data.dir, LOG_LEVEL: "info" },
    });
    const healthLog = join(data.dir, "tracker.log");
    const waiting = await waitFor("a waiting record", async () => {
      const text = await Deno.readTextFile(healthLog).catch(() => "");
      for (const line of text.split("\n")) {
        const parsed = line === "" ? undefined : parseHealthLine(line);
        if (parsed?.ok && parsed.entry.kind === "log" && parsed.entry.properties.attempt === 1) {
          return parsed.entry;
        }
      }
      return undefined;
    }, { timeoutMs: 30_000 });
    assertEquals(waiting.level, "WARN");
    assertEquals(waiting.properties.problem, `127.0.0.1:${port} connection refused`);
    // The record is written after the signal handlers are in place.
    entry.child.kill("SIGTERM");
    const status = await entry.exited;
    assertEquals(status.code, 0, entry.output());
    const entries = (await Deno.readTextFile(healthLog)).split("\n").filter((l) => l !== "")
      .map((l) => parseHealthLine(l)).flatMap((p) => (p.ok ? [p.entry] : []));
    assertEquals(entries.filter((e) => e.logger.startsWith("kafkajs")), []);
    assertEquals(entries.at(-1)?.kind, "lifecycle");
  } finally {
    await data.remove();
  }
});

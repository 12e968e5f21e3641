/**
 * Integration (broker, tmux): the monitor on the files of a real tracker fed
 * by a real producer. In a real pseudo-terminal (a tmux pane of a fixed size)
 * it shows the figures the audit trail holds, quits on q with exit code 0 and
 * gives the terminal back; --once and --json print the same figures; without a
 * terminal it refuses with exit code 2.
 */
import { join } from "node:path";
import { assert, assertEquals, assertMatch } from "./assert.ts";
import {
  readAuditRecords,
  spawnEntry,
  tempDataDir,
  testConnection,
  uniqueName,
  waitFor,
} from "./support.ts";
import { ensureTopics } from "../lib/kafka.ts";
import type { AuditRecord } from "../lib/audit_record.ts";
import { ORDER_STATUSES, type OrderStatus } from "../lib/order.ts";
import type { View } from "../lib/monitor_model.ts";
import { parseTrailSummary } from "../lib/trail_summary.ts";
import { denoRunArgs } from "../tasks/run.ts";
import { PROJECT_DIR } from "../tasks/_project_dir.ts";

/** Fewer than 1000, so the headline prints every count exactly (no "1.23k"). */
const ORDERS = 300;

interface Figures {
  total: number;
  audited: number;
  deadLettered: number;
  duplicates: number;
  lifecycle: Record<OrderStatus, number>;
}

/** The figures the monitor should show, computed from the audit trail itself. */
function figuresOf(records: readonly AuditRecord[]): Figures {
  const count = (keep: (r: AuditRecord) => boolean) => records.filter(keep).length;
  return {
    total: records.length,
    audited: count((r) => r.outcome === "audited"),
    deadLettered: count((r) => r.outcome === "dead_lettered"),
    duplicates: count((r) => r.outcome === "duplicate"),
    lifecycle: Object.fromEntries(
      ORDER_STATUSES.map((s) => [s, count((r) => r.outcome === "audited" && r.status === s)]),
    ) as Record<OrderStatus, number>,
  };
}

/** The figures a screen (or --once text) shows; undefined until both rows are there. */
function figuresShown(screen: string): Figures | undefined {
  const head = screen.match(/received (\d+) +audited (\d+) +DLQ (\d+) +duplicates (\d+)/);
  const life = screen.match(
    new RegExp(ORDER_STATUSES.map((s) => `${s} (\\d+)`).join(" +")),
  );
  if (!head || !life) return undefined;
  const [total, audited, deadLettered, duplicates] = head.slice(1).map(Number) as [
    number,
    number,
    number,
    number,
  ];
  return {
    total,
    audited,
    deadLettered,
    duplicates,
    lifecycle: Object.fromEntries(ORDER_STATUSES.map((s, i) => [s, Number(life[i + 1])])) as Record<
      OrderStatus,
      number
    >,
  };
}

/** A tmux server of this test's own (its own socket), so no other tmux is touched. */
class Tmux {
  /** A short path: a socket's path may not be longer than about 100 bytes. */
  readonly #dir = Deno.makeTempDirSync({ prefix: "monitor-test-" });
  readonly socket = join(this.#dir, "tmux.sock");

  async run(...args: string[]): Promise<string> {
    const { code, stdout, stderr } = await new Deno.Command("tmux", {
      args: ["-S", this.socket, "-f", "/dev/null", "-u", ...args],
      stdin: "null",
    }).output();
    const decoder = new TextDecoder();
    if (code !== 0) {
      throw new Error(`Cannot run tmux ${args[0]}: exit ${code}: ${decoder.decode(stderr)}`);
    }
    return decoder.decode(stdout);
  }

  /**
   * Runs a command in a new detached session of a fixed size. When the command
   * ends, the pane says "EXIT:<code>" and stays open, so its state can be read.
   */
  async start(
    session: string,
    command: string[],
    { env = {}, columns = 100, rows = 30 }: {
      env?: Record<string, string>;
      columns?: number;
      rows?: number;
    } = {},
  ): Promise<void> {
    await this.run(
      "new-session",
      "-d",
      "-s",
      session,
      "-x",
      String(columns),
      "-y",
      String(rows),
      "-c",
      PROJECT_DIR,
      ...Object.entries(env).flatMap(([key, value]) => ["-e", `${key}=${value}`]),
      "--",
      // The command's arguments travel as "$@": nothing is quoted into a shell string.
      "sh",
      "-c",
      '"$@"; echo "EXIT:$?"; exec sleep 120',
      "sh",
      ...command,
    );
  }

  screen(session: string): Promise<string> {
    return this.run("capture-pane", "-p", "-t", session);
  }

  /** The pane's terminal modes a program may change and must restore. */
  modes(session: string): Promise<string> {
    return this.run(
      "display-message",
      "-p",
      "-t",
      session,
      "alternate #{alternate_on} cursor #{cursor_flag} keypad #{keypad_flag} " +
        "keypad-cursor #{keypad_cursor_flag} mouse #{mouse_any_flag}#{mouse_button_flag}" +
        "#{mouse_standard_flag}#{mouse_all_flag} insert #{insert_flag} origin #{origin_flag}",
    ).then((text) => text.trim());
  }

  async exitCode(session: string): Promise<number> {
    const screen = await waitFor(`the command in ${session} to exit`, async () => {
      const text = await this.screen(session);
      return /EXIT:\d+/.test(text) ? text : undefined;
    }, { timeoutMs: 10_000 });
    return Number(screen.match(/EXIT:(\d+)/)![1]);
  }

  /** Ends the server and everything it runs, and removes its socket. */
  async close(): Promise<void> {
    await this.run("kill-server").catch(() => {/* no server was started */});
    await Deno.remove(this.#dir, { recursive: true });
  }
}

Deno.test("the monitor in a terminal shows what the audit trail holds, quits on q and restores the terminal", async () => {
  const connection = testConnection();
  const topic = uniqueName("orders");
  await ensureTopics(connection, [
    { topic, partitions: 3, replicationFactor: 1 },
    { topic: `${topic}-dlq`, partitions: 1, replicationFactor: 1 },
  ]);
  const data = await tempDataDir();
  const env = {
    ORDERS_TOPIC: topic,
    DLQ_TOPIC: `${topic}-dlq`,
    TRACKER_GROUP_ID: uniqueName("tracker"),
    DATA_DIR: data.dir,
    LOG_LEVEL: "info",
  };
  const tmux = new Tmux();
  const tracker = spawnEntry("tracker", { env });
  try {
    const producer = spawnEntry("producer", {
      env,
      args: ["--count", String(ORDERS), "--rate", "0", "--seed", "5"],
    });
    assertEquals((await producer.exited).code, 0, producer.output());
    const auditFile = join(data.dir, "tracker.events");
    const records = await waitFor("every order in the audit trail", async () => {
      const lines = await readAuditRecords(auditFile);
      return lines.length >= ORDERS ? lines : undefined;
    }, { timeoutMs: 30_000 });
    const expected = figuresOf(records);
    assertEquals(expected.total, ORDERS);
    assert(
      ORDER_STATUSES.filter((s) => expected.lifecycle[s] > 0).length >= 3,
      `the orders went through several statuses: ${JSON.stringify(expected.lifecycle)}`,
    );

    await tmux.start("ref", ["true"]);
    await tmux.start("monitor", [
      Deno.execPath(),
      ...denoRunArgs("monitor", { env: { ...Deno.env.toObject(), ...env } }),
    ], { env });

    const screen = await waitFor("the dashboard to show every record", async () => {
      const text = await tmux.screen("monitor");
      if (/EXIT:\d+/.test(text)) throw new Error(`The monitor exited early:\n${text}`);
      return figuresShown(text)?.total === ORDERS ? text : undefined;
    }, { timeoutMs: 15_000 });
    assertEquals(figuresShown(screen), expected, screen);
    assertMatch(screen, /tracker +alive/, screen);
    // The newest event is first in its pane.
    const last = records.at(-1)!;
    assert(
      screen.includes(
        `${last.kafka_partition}/${last.kafka_offset} ${last.order_id!.slice(0, 8)}`,
      ),
      `the newest event ${last.kafka_partition}/${last.kafka_offset} is shown:\n${screen}`,
    );
    assertEquals((await tmux.modes("monitor")).split(" ").slice(0, 2), ["alternate", "1"]);

    await tmux.run("send-keys", "-t", "monitor", "q");
    assertEquals(await tmux.exitCode("monitor"), 0, await tmux.screen("monitor"));
    assertEquals(await tmux.exitCode("ref"), 0);
    const after = await tmux.screen("monitor");
    assert(!/received|order-tracking/.test(after), `the dashboard is gone:\n${after}`);
    const modes = await tmux.modes("monitor");
    assertMatch(modes, /^alternate 0 /);
    assertEquals(
      modes,
      await tmux.modes("ref"),
      "the same modes as after a program that sets none",
    );

    // --once and --json, for scripts, print the same figures.
    const once = spawnEntry("monitor", { env, args: ["--once"] });
    assertEquals((await once.exited).code, 0, once.output());
    assertEquals(figuresShown(once.output()), expected, once.output());
    const json = spawnEntry("monitor", { env, args: ["--json"] });
    assertEquals((await json.exited).code, 0, json.output());
    const view = JSON.parse(json.output()) as View;
    assertEquals({
      total: view.figures.total,
      audited: view.figures.audited,
      deadLettered: view.figures.deadLettered,
      duplicates: view.figures.duplicates,
      lifecycle: view.lifecycle,
    }, expected);

    // Without a terminal and without --once, it refuses rather than draw into a pipe.
    const piped = spawnEntry("monitor", { env });
    assertEquals((await piped.exited).code, 2, piped.output());
    assertMatch(piped.output(), /Cannot open the dashboard: not a terminal/);

    tracker.child.kill("SIGTERM");
    assertEquals((await tracker.exited).code, 0, tracker.output());

    // The summary the dashboard read holds what the trail holds: line after line
    // with no gap, the last one's totals the trail's, every audit in a second.
    const summaries = (await Deno.readTextFile(join(data.dir, "tracker.summary")))
      .split("\n").filter((line) => line !== "").map((line) => {
        const parsed = parseTrailSummary(line);
        assert(parsed.ok, line);
        return parsed.summary;
      });
    assert(summaries.length > 0);
    for (const [i, summary] of summaries.entries()) {
      if (i > 0) assertEquals(summary.from, summaries[i - 1]!.through, "one goes on from the last");
    }
    const totals = summaries.at(-1)!.totals;
    assertEquals({
      total: totals.lines,
      audited: totals.audited,
      deadLettered: totals.dead_lettered,
      duplicates: totals.duplicate,
      lifecycle: totals.by_status,
    }, expected);
    const sampled = summaries.flatMap((s) => s.seconds).reduce((n, s) => n + s.count, 0);
    assertEquals(sampled, expected.audited + expected.deadLettered);
  } finally {
    await tmux.close();
    try {
      tracker.child.kill("SIGKILL");
    } catch { /* already exited */ }
    await tracker.exited;
    await data.remove();
  }
});

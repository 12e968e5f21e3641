/** Unit: the health log format — the line, the structured kinds and the parser. */
import { assert, assertEquals, assertMatch } from "./assert.ts";
import { formatHealthLine, lifecycle, parseHealthLine } from "../lib/health_record.ts";

const AT = Date.UTC(2026, 10, 26, 12);

function line(level: "info" | "warning" | "error", message: string, properties = {}) {
  return formatHealthLine({
    category: ["order-tracking", "tracker"],
    level,
    message: [message],
    rawMessage: message,
    timestamp: AT,
    properties,
  });
}

Deno.test({
  name: "a health line reads as a sentence and parses back with its level and logger",
  permissions: "none",
  fn() {
    const text = formatHealthLine({
      category: ["order-tracking", "tracker"],
      level: "warning",
      message: ["Joined group ", "g-1", ": partitions ", [0, 2], ""],
      rawMessage: "Joined group {group}: partitions {partitions}",
      timestamp: AT,
      properties: { group: "g-1", partitions: [0, 2] },
    });
    assert(text.endsWith("\n"));
    const parsed = parseHealthLine(text.trimEnd());
    assert(parsed.ok && parsed.entry.kind === "log");
    assertEquals(parsed.entry.message, "Joined group g-1: partitions [0,2]");
    assertEquals([parsed.entry.at, parsed.entry.level, parsed.entry.logger], [
      AT,
      "WARN",
      "order-tracking.tracker",
    ]);
    assertEquals(parsed.entry.properties, { group: "g-1", partitions: [0, 2] });
  },
});

Deno.test({
  name: "lifecycle records are read by their fields, whatever the wording",
  permissions: "none",
  fn() {
    const parsed = parseHealthLine(
      line("info", "Anything at all", lifecycle("tracker", "ready", { pid: 7, lines: 12 })),
    );
    assert(parsed.ok && parsed.entry.kind === "lifecycle");
    assertEquals(parsed.entry.lifecycle, {
      kind: "lifecycle",
      process: "tracker",
      phase: "ready",
      pid: 7,
      lines: 12,
    });
  },
});

Deno.test({
  name: "the parser rejects lines and structured records a reader could not rely on",
  permissions: "none",
  async fn(t) {
    const base = { "@timestamp": new Date(AT).toISOString(), level: "INFO", message: "m" };
    const cases: Array<[string, string, RegExp]> = [
      ["not JSON", "{", /not valid JSON/],
      ["an array", "[]", /not a log record/],
      ["no timestamp", JSON.stringify({ ...base, "@timestamp": "noon" }), /@timestamp/],
      ["numeric level", JSON.stringify({ ...base, level: 40 }), /level/],
      ["message as object", JSON.stringify({ ...base, message: { text: "x" } }), /message/],
      ["properties as text", JSON.stringify({ ...base, properties: "x" }), /properties/],
      [
        "metrics without counters",
        JSON.stringify({ ...base, properties: { kind: "metrics", lag: {} } }),
        /metrics record lacks/,
      ],
      [
        "lifecycle of an unknown phase",
        JSON.stringify({
          ...base,
          properties: { kind: "lifecycle", process: "tracker", phase: "dancing", pid: 1 },
        }),
        /lifecycle record lacks/,
      ],
      [
        "lifecycle without pid",
        JSON.stringify({
          ...base,
          properties: { kind: "lifecycle", process: "tracker", phase: "ready" },
        }),
        /lifecycle record lacks/,
      ],
    ];
    for (const [name, text, message] of cases) {
      await t.step(name, () => {
        const parsed = parseHealthLine(text);
        assert(!parsed.ok);
        assertMatch(parsed.error, message);
      });
    }
    await t.step("WARNING is read as WARN", () => {
      const parsed = parseHealthLine(JSON.stringify({ ...base, level: "WARNING" }));
      assert(parsed.ok);
      assertEquals(parsed.entry.level, "WARN");
    });
  },
});

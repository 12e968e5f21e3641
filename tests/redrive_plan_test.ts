/** Unit: dlq:redrive's selection — flags parsed, letters decided with a reason, summaries. */
import { assertEquals, assertThrows } from "./assert.ts";
import {
  countDecision,
  decideRedrive,
  formatRedriveSummary,
  newRedriveSummary,
  parseSelection,
  parseSourceOffsets,
  parseTimeFlag,
  REDRIVE_REASONS,
} from "../lib/redrive_plan.ts";
import type { DeadLetterSource } from "../lib/dead_letter.ts";

const NOW = Date.parse("2026-11-26T12:00:00Z");

Deno.test({
  name: "times are ISO dates, date-times or durations ago",
  permissions: "none",
  fn() {
    const cases: Array<[string, number]> = [
      ["2026-11-26", Date.parse("2026-11-26T00:00:00Z")],
      ["2026-11-26T10:30:00Z", Date.parse("2026-11-26T10:30:00Z")],
      ["2026-11-26T10:30:00+02:00", Date.parse("2026-11-26T08:30:00Z")],
      ["30m", NOW - 30 * 60_000],
      ["2h", NOW - 2 * 3_600_000],
      ["7d", NOW - 7 * 86_400_000],
      ["45s", NOW - 45_000],
    ];
    for (const [text, expected] of cases) {
      assertEquals(parseTimeFlag("since", text, NOW), expected, text);
    }
    for (const bad of ["yesterday", "2h30m", "26/11/2026", "", "-2h"]) {
      assertThrows(
        () => parseTimeFlag("since", bad, NOW),
        /Cannot read --since: .* is not a time/,
        bad,
      );
    }
  },
});

Deno.test({
  name: "source offsets are PARTITION:FROM-TO lists, repeatable; anything else is refused",
  permissions: "none",
  fn() {
    assertEquals(
      parseSourceOffsets(["0:100-200", "2:7,9,40-", "0:5"]),
      new Map([
        [0, [[100, 200], [5, 5]]],
        [2, [[7, 7], [9, 9], [40, Number.MAX_SAFE_INTEGER]]],
      ]),
    );
    for (const bad of ["100-200", "0:", "0:200-100", "x:1", "0:1-2-3", "0:a"]) {
      assertThrows(() => parseSourceOffsets([bad]), /Cannot read --source-offsets: /, bad);
    }
  },
});

Deno.test({
  name: "a selection from the flags: classes, time range, offsets, a redrive limit",
  permissions: "none",
  fn() {
    const selection = parseSelection({
      classes: ["validation,schema", "oversize"],
      since: "2h",
      sourceOffsets: ["1:10-20"],
    }, NOW);
    assertEquals(selection.classes, new Set(["validation", "schema", "oversize"]));
    assertEquals([selection.since, selection.until], [NOW - 7_200_000, null]);
    assertEquals(selection.maxRedrives, 1);
    const all = parseSelection({ classes: [], sourceOffsets: [] }, NOW);
    assertEquals([all.classes, all.offsets, all.since, all.until], [null, null, null, null]);
    assertThrows(
      () => parseSelection({ classes: [], sourceOffsets: [], since: "1h", until: "2h" }, NOW),
      /Cannot read --until: it is not after --since/,
    );
    assertThrows(
      () => parseSelection({ classes: [], sourceOffsets: [], maxRedrives: "0" }, NOW),
      /Cannot read --max-redrives/,
    );
  },
});

function source(overrides: Partial<DeadLetterSource> = {}): DeadLetterSource {
  return {
    topic: "orders",
    partition: 1,
    offset: 15,
    errorClass: "validation",
    error: "Cannot accept order: x",
    failedAt: "2026-11-26T11:00:00.000Z",
    redriveCount: 0,
    ...overrides,
  };
}

Deno.test({
  name: "each letter is sent or left with the first reason that applies",
  permissions: "none",
  fn() {
    const selection = parseSelection({
      classes: ["validation"],
      since: "2026-11-26T10:00:00Z",
      until: "2026-11-26T11:30:00Z",
      sourceOffsets: ["1:10-20"],
    }, NOW);
    const context = { topic: "orders", partitions: 3, redriven: false };
    const R = REDRIVE_REASONS;
    const cases: Array<[string, DeadLetterSource | undefined, Partial<typeof context>, string]> = [
      ["in every range", source(), {}, R.selected],
      ["no headers of ours", undefined, {}, R.unreadable],
      ["another topic", source({ topic: "payments" }), {}, R.otherTopic],
      ["a partition the topic no longer has", source({ partition: 5 }), {}, R.partitionGone],
      ["in the redrive record", source(), { redriven: true }, R.alreadyRedriven],
      ["another class", source({ errorClass: "schema" }), {}, R.otherClass],
      ["before --since", source({ failedAt: "2026-11-26T09:59:59.999Z" }), {}, R.outsideTime],
      ["at --until", source({ failedAt: "2026-11-26T11:30:00.000Z" }), {}, R.outsideTime],
      ["another partition's offsets", source({ partition: 2 }), {}, R.outsideOffsets],
      ["past the offsets", source({ offset: 21 }), {}, R.outsideOffsets],
      ["a copy redriven once already", source({ redriveCount: 1 }), {}, R.limit],
    ];
    for (const [name, letter, extra, reason] of cases) {
      assertEquals(
        decideRedrive({ source: letter, timestamp: null }, selection, { ...context, ...extra }),
        reason,
        name,
      );
    }
    // No failure time in the headers: the record's own time decides.
    assertEquals(
      decideRedrive(
        { source: source({ failedAt: "" }), timestamp: Date.parse("2026-11-26T10:30:00Z") },
        selection,
        context,
      ),
      R.selected,
    );
    const raised = parseSelection({ classes: [], sourceOffsets: [], maxRedrives: "3" }, NOW);
    assertEquals(
      decideRedrive({ source: source({ redriveCount: 2 }), timestamp: null }, raised, context),
      R.selected,
    );
  },
});

Deno.test({
  name: "a dry run's summary counts letters by reason and the selected ones by class",
  permissions: "none",
  fn() {
    const summary = newRedriveSummary({ dlqTopic: "orders-dlq", topic: "orders", dryRun: true });
    countDecision(summary, REDRIVE_REASONS.selected, "validation");
    countDecision(summary, REDRIVE_REASONS.selected, "validation");
    countDecision(summary, REDRIVE_REASONS.selected, "oversize");
    countDecision(summary, REDRIVE_REASONS.alreadyRedriven, "validation");
    countDecision(summary, REDRIVE_REASONS.otherClass, "schema");
    assertEquals(summary.read, 5);
    assertEquals(summary.selectedByClass, { validation: 2, oversize: 1 });
    assertEquals(
      formatRedriveSummary(summary),
      [
        "orders-dlq → orders: 5 dead letters read (dry run: nothing sent, nothing recorded)",
        "  would send                   3  (validation 2, oversize 1)",
        "  already redriven             1",
        "  other error class            1",
      ].join("\n"),
    );
  },
});

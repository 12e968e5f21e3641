/** Unit: the redrive record — its lines, the ledger, and batches left in doubt by a crash. */
import { assert, assertEquals, assertMatch } from "./assert.ts";
import {
  encodeRedriveLine,
  parseRanges,
  parseRedriveLine,
  rangesText,
  recoveredLine,
  RedriveLedger,
  type SendingLine,
  type SentLine,
} from "../lib/redrive_record.ts";

const base = { cluster_id: "c-1", dlq_topic: "orders-dlq" };

function sending(batch: string, offsets: string): SendingLine {
  return {
    kind: "sending",
    at: "2026-11-26T12:00:00.000Z",
    batch,
    ...base,
    dlq_offsets: { "0": offsets },
    target_topic: "orders",
    target_ends: { "0": 10, "1": 20 },
  };
}

function sent(batch: string, offsets: string, overrides: Partial<SentLine> = {}): SentLine {
  return {
    kind: "sent",
    at: "2026-11-26T12:00:01.000Z",
    batch,
    ...base,
    dlq_offsets: { "0": offsets },
    recovered: false,
    ...overrides,
  };
}

Deno.test({
  name: "offsets are kept as ranges and read back as written",
  permissions: "none",
  fn() {
    const set = parseRanges("0-4,7,9-10");
    assertEquals([set.size, rangesText(set)], [8, "0-4,7,9-10"]);
    assertEquals(parseRanges("").size, 0);
    for (const line of [sending("b-1", "0-4,7"), sent("b-1", "0-4,7")]) {
      const text = encodeRedriveLine(line);
      assert(text.endsWith("\n") && !text.slice(0, -1).includes("\n"));
      assertEquals(parseRedriveLine(text.trim(), 1), { ok: true, line });
    }
  },
});

Deno.test({
  name: "a line that is not a record line is refused with its number and field",
  permissions: "none",
  fn() {
    const cases: Array<[string, RegExp]> = [
      ["{torn", /line 3: not JSON/],
      [JSON.stringify({ ...sent("b", "1"), kind: "done" }), /line 3: field "kind" is "done"/],
      [
        JSON.stringify({ ...sent("b", "1"), dlq_offsets: { "0": "a-b" } }),
        /field "dlq_offsets": "a-b" is not/,
      ],
      [JSON.stringify({ ...sending("b", "1"), target_ends: { "0": -1 } }), /field "target_ends"/],
      [JSON.stringify({ ...sent("b", "1"), batch: 7 }), /field "batch" is not a string/],
    ];
    for (const [text, error] of cases) {
      const parsed = parseRedriveLine(text, 3);
      assert(!parsed.ok, text);
      assertMatch(parsed.error, error);
    }
  },
});

Deno.test({
  name: "the ledger counts what was sent, leaves out other clusters, and finds batches in doubt",
  permissions: "none",
  fn() {
    const ledger = new RedriveLedger({ clusterId: "c-1", dlqTopic: "orders-dlq" });
    for (
      const line of [
        sending("b-1", "0-4"),
        sent("b-1", "0-4"),
        sending("b-2", "5-9"),
        sent("b-x", "20-29", { cluster_id: "c-2" }),
        sent("b-y", "30", { dlq_topic: "other-dlq" }),
      ]
    ) ledger.apply(line);
    assertEquals(ledger.redriven, 5);
    assert(ledger.isRedriven(0, 4));
    assert(!ledger.isRedriven(0, 5), "sent but not recorded: in doubt, not redriven");
    assert(!ledger.isRedriven(0, 20), "another cluster's offsets never count");
    assert(!ledger.isRedriven(1, 0), "another DLQ partition");
    assertEquals(ledger.inDoubt().map((s) => s.batch), ["b-2"]);
  },
});

Deno.test({
  name: "a batch in doubt is closed with the copies found; the rest go again, none twice",
  permissions: "none",
  fn() {
    const ledger = new RedriveLedger({ clusterId: "c-1", dlqTopic: "orders-dlq" });
    const inDoubt = sending("b-2", "5-9");
    ledger.apply(inDoubt);
    // Copies of 5, 6 and 8 landed before the crash; 42 is of another batch.
    const line = recoveredLine(
      inDoubt,
      [{ partition: 0, offset: 5 }, { partition: 0, offset: 6 }, { partition: 0, offset: 8 }, {
        partition: 0,
        offset: 42,
      }],
      { at: "2026-11-26T12:05:00.000Z" },
    );
    assertEquals(line, {
      ...sent("b-2", "5-6,8"),
      at: "2026-11-26T12:05:00.000Z",
      recovered: true,
    });
    ledger.apply(line);
    assertEquals(ledger.inDoubt(), []);
    assertEquals([5, 6, 7, 8, 9].map((n) => ledger.isRedriven(0, n)), [
      true,
      true,
      false,
      true,
      false,
    ]);
    // Nothing of the batch landed: closed empty, every letter goes again.
    const none = recoveredLine(sending("b-3", "10-11"), [], { at: "x" });
    assertEquals(none.dlq_offsets, {});
  },
});

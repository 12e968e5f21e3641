/** Unit: the producer's outcomes format — encoder and parser, with rejected lines. */
import { assert, assertEquals, assertMatch } from "./assert.ts";
import { type AckRecord, encodeAckLines, parseAckLine } from "../lib/ack_record.ts";

const acknowledged: AckRecord = {
  outcome: "acknowledged",
  order_id: "0b7c9a52-3f5e-4e0c-9a57-0d5f5d6c1e11",
  sequence: 1,
  status: "created",
  topic: "orders",
  partition: 2,
  offset: 41,
};

Deno.test({
  name: "outcome lines round-trip through the encoder and the parser",
  permissions: "none",
  fn() {
    const failed: AckRecord = { ...acknowledged, outcome: "failed", error: "too large" };
    delete failed.offset;
    const lines = encodeAckLines([acknowledged, failed]).split("\n");
    assertEquals(lines.length, 3);
    assertEquals(lines[2], "");
    assertEquals(
      lines.slice(0, 2).map((l, i) => {
        const parsed = parseAckLine(l, i + 1);
        return parsed.ok ? parsed.record : parsed.error;
      }),
      [acknowledged, failed],
    );
  },
});

Deno.test({
  name: "the parser rejects outcome lines a checker could not rely on",
  permissions: "none",
  async fn(t) {
    const cases: Array<[string, unknown, RegExp]> = [
      ["unknown outcome", { ...acknowledged, outcome: "maybe" }, /outcome/],
      ["acknowledged without offset", { ...acknowledged, offset: undefined }, /no offset/],
      ["negative partition", { ...acknowledged, partition: -1 }, /partition/],
      ["order id as number", { ...acknowledged, order_id: 7 }, /order_id/],
      ["offset as text", { ...acknowledged, offset: "41" }, /offset/],
    ];
    for (const [name, value, message] of cases) {
      await t.step(name, () => {
        const parsed = parseAckLine(JSON.stringify(value), 3);
        assert(!parsed.ok);
        assertMatch(parsed.error, /^Cannot parse outcome line 3: /);
        assertMatch(parsed.error, message);
      });
    }
    await t.step("not JSON", () => {
      const parsed = parseAckLine("{", 1);
      assert(!parsed.ok && /not valid JSON/.test(parsed.error));
    });
  },
});

/** Unit: dlq:inspect's report — grouping, its bounds, and masked samples. */
import { assert, assertEquals, assertMatch } from "./assert.ts";
import {
  DeadLetterGroups,
  formatDeadLetterReport,
  maskedValue,
  MAX_GROUPS,
  MAX_SAMPLES,
  messagePattern,
  OVERFLOW_GROUP,
} from "../lib/dead_letter_report.ts";
import { DLQ_HEADERS, REDRIVE_HEADERS } from "../lib/dead_letter.ts";
import { MASK, maskPersonalData } from "../lib/order.ts";
import { originalOrder } from "./original_orders.ts";

const encoder = new TextEncoder();

function letter(
  offset: number,
  { errorClass = "validation", error = "Cannot accept order: bad", at = "2026-11-26T10:00:00Z" }: {
    errorClass?: string;
    error?: string;
    at?: string;
  } = {},
  { partition = 1, value = "{}", redriven = 0 } = {},
) {
  return {
    partition: 0,
    offset,
    key: encoder.encode(`k-${offset}`),
    value: encoder.encode(value),
    headers: {
      [DLQ_HEADERS.sourceTopic]: "orders",
      [DLQ_HEADERS.sourcePartition]: String(partition),
      [DLQ_HEADERS.sourceOffset]: String(100 + offset),
      [DLQ_HEADERS.errorClass]: errorClass,
      [DLQ_HEADERS.errorMessage]: error,
      [DLQ_HEADERS.failedAt]: at,
      ...(redriven > 0 ? { [REDRIVE_HEADERS.count]: String(redriven) } : {}),
    },
  };
}

Deno.test({
  name: "messages that differ only in numbers fall in one group; numbers inside words stay",
  permissions: "none",
  fn() {
    const cases: Array<[string, string]> = [
      [
        "Cannot parse order: message is 70012 bytes, limit is 65536",
        "Cannot parse order: message is # bytes, limit is #",
      ],
      [
        'Cannot accept order: field "items[2].quantity" must be > 0, got -1',
        'Cannot accept order: field "items[#].quantity" must be > #, got #',
      ],
      [
        'field "total" is 12.5, expected 14.02 (sub_total + tax)',
        'field "total" is #, expected # (sub_total + tax)',
      ],
      [
        "Cannot parse order: not UTF-8 JSON (SyntaxError)",
        "Cannot parse order: not UTF-8 JSON (SyntaxError)",
      ],
    ];
    for (const [message, pattern] of cases) assertEquals(messagePattern(message), pattern);
  },
});

Deno.test({
  name: "dead letters are grouped by class and message with counts, times and source offsets",
  permissions: "none",
  fn() {
    const groups = new DeadLetterGroups("orders-dlq");
    groups.add(
      letter(5, {
        error: "message is 70000 bytes",
        errorClass: "oversize",
        at: "2026-11-26T10:00:05Z",
      }),
    );
    groups.add(
      letter(1, {
        error: "message is 80000 bytes",
        errorClass: "oversize",
        at: "2026-11-26T10:00:01Z",
      }, { partition: 2 }),
    );
    groups.add(
      letter(9, {
        error: "message is 90000 bytes",
        errorClass: "oversize",
        at: "2026-11-26T10:00:09Z",
      }, { redriven: 1 }),
    );
    groups.add(letter(2, { error: "message is 1 bytes", errorClass: "validation" }));
    groups.add({ partition: 0, offset: 3, key: null, value: null, headers: { foreign: "x" } });
    const report = groups.report();
    assertEquals([report.total, report.unreadable, report.groups.length], [5, 1, 2]);
    const [oversize, validation] = report.groups;
    assertEquals(oversize!.errorClass, "oversize", "the largest group first");
    assertEquals(oversize!.message, "message is # bytes");
    assertEquals(oversize!.count, 3);
    assertEquals([oversize!.firstSeen, oversize!.lastSeen], [
      "2026-11-26T10:00:01Z",
      "2026-11-26T10:00:09Z",
    ]);
    assertEquals(oversize!.redriven, 1);
    assertEquals(oversize!.sources, [
      { topic: "orders", partition: 1, firstOffset: 105, lastOffset: 109 },
      { topic: "orders", partition: 2, firstOffset: 101, lastOffset: 101 },
    ]);
    assertEquals(oversize!.samples.map((s) => [s.dlq, s.source, s.key]), [
      ["0/5", "orders/1/105", "k-5"],
      ["0/1", "orders/2/101", "k-1"],
      ["0/9", "orders/1/109", "k-9"],
    ]);
    assertEquals(validation!.count, 1);
    const text = formatDeadLetterReport(report);
    assertMatch(
      text,
      /^orders-dlq: 5 dead letters in 2 groups \(1 without source headers, not grouped\)/,
    );
    assertMatch(
      text,
      /\noversize ×3 {2}message is # bytes\n {2}first 2026-11-26T10:00:01Z {2}last 2026-11-26T10:00:09Z {2}redriven copies 1\n {2}from orders\/1 offsets 105\.\.109, orders\/2 offsets 101\.\.101/,
    );
  },
});

Deno.test({
  name: "memory is bounded: groups past the cap are counted together, samples are capped",
  permissions: "none",
  fn() {
    const groups = new DeadLetterGroups("orders-dlq");
    for (let i = 0; i < MAX_GROUPS + 30; i++) {
      for (let j = 0; j < MAX_SAMPLES + 2; j++) {
        groups.add(
          letter(i * 10 + j, {
            error: `reason ${String.fromCharCode(65 + (i % 26))}${"x".repeat(i)}`,
          }),
        );
      }
    }
    const report = groups.report();
    assertEquals(report.groups.length, MAX_GROUPS + 1);
    const overflow = report.groups.find((g) => g.errorClass === OVERFLOW_GROUP.errorClass);
    assert(overflow);
    assertEquals(overflow.count, 30 * (MAX_SAMPLES + 2));
    assertEquals(report.groups.reduce((n, g) => n + g.count, 0), report.total);
    assert(report.groups.every((g) => g.samples.length <= MAX_SAMPLES));
  },
});

Deno.test({
  name: "samples mask the customer's name, email, phone and address and keep the order's structure",
  permissions: "none",
  async fn(t) {
    const order = originalOrder(1);
    await t.step("an order", () => {
      const masked = JSON.parse(maskedValue(encoder.encode(JSON.stringify(order))));
      assertEquals(masked.customer_info, {
        ...order.customer_info,
        name: MASK,
        email: MASK,
        phone: MASK,
        address: MASK,
      });
      assertEquals(masked.shipping_address, MASK);
      assertEquals(masked.items, order.items, "the rest is kept");
      assertEquals(Object.keys(masked), Object.keys(order), "no field dropped");
      for (
        const secret of [
          order.customer_info.email,
          order.customer_info.name,
          order.shipping_address,
        ]
      ) {
        assert(!maskedValue(encoder.encode(JSON.stringify(order))).includes(secret), secret);
      }
    });
    await t.step("a malformed order: a customer sent as text is masked whole", () => {
      assertEquals(maskPersonalData({ customer_info: "Jane Roe, jane@example.com", total: 1 }), {
        customer_info: MASK,
        total: 1,
      });
      assertEquals(maskPersonalData({ customer_info: { email: 42 } }), {
        customer_info: { email: MASK },
      });
      assertEquals(maskPersonalData({ customer_info: null }), { customer_info: null });
      assertEquals(maskPersonalData([1, 2]), [1, 2]);
    });
    await t.step("what is not JSON is not shown at all", () => {
      assertEquals(
        maskedValue(encoder.encode("Jane Roe, jane@example.com")),
        "(26 bytes, not JSON: not shown)",
      );
      assertEquals(maskedValue(null), "(null value: a tombstone)");
      assertEquals(maskedValue(new Uint8Array([0xff, 0x7b])), "(2 bytes, not JSON: not shown)");
    });
    await t.step("a long value is cut", () => {
      const text = maskedValue(encoder.encode(JSON.stringify({ padding: "x".repeat(5_000) })), {
        maxChars: 100,
      });
      assertMatch(text, /^\{"padding":"x+… \(5014 characters\)$/);
    });
  },
});

Deno.test({
  name: "a dead letter that is JSON but not an object (a double-encoded order) is never shown",
  permissions: "none",
  fn() {
    const order = JSON.stringify({
      customer_info: { name: "Jane Roe", email: "jane@example.com" },
    });
    for (const text of [JSON.stringify(order), `[${order}]`]) {
      const shown = maskedValue(new TextEncoder().encode(text));
      assertEquals(shown.includes("jane"), false, shown);
      assertMatch(shown, /not an object: not shown/);
    }
  },
});

/**
 * Unit: the one-pass Produce request encoder writes the very bytes KafkaJS's
 * own encoder writes, for every kind of key, value and header a message may
 * carry; it leaves to KafkaJS what it does not write the same way; and the
 * patch routes KafkaJS's requests through it.
 */
import FakeTimers from "@sinonjs/fake-timers";
import { Buffer } from "node:buffer";
import { assert, assertEquals, assertMatch } from "./assert.ts";
import { crc32c } from "../lib/crc32c.ts";
import { KafkaEncoder } from "../lib/kafka_codec_patch.ts";
import {
  encodeProduceRequest,
  type ProduceMessage,
  type ProduceRequestData,
} from "../lib/kafka_produce_encoder.ts";
import {
  frameRequest,
  groupMessagesPerPartition,
  KafkaProduceRequests,
  ORIGINAL_FRAMING,
  ORIGINAL_PRODUCE_PROTOCOL,
  produceEncoding,
  produceShapeProblem,
} from "../lib/kafka_codec_patch.ts";

const NOW = 1_764_190_000_123;

type Args = Omit<ProduceRequestData, "producerId"> & { producerId?: unknown; compression?: number };

/** KafkaJS's own bytes for a request, at a frozen clock. */
async function kafkajsBytes(args: Args, version = 7): Promise<number[]> {
  const clock = FakeTimers.install({ now: NOW, toFake: ["Date"] });
  try {
    const { request } = ORIGINAL_PRODUCE_PROTOCOL({ version })(args as never);
    const encoder = (await request.encode()) as { buffer: Uint8Array };
    return [...encoder.buffer];
  } finally {
    clock.uninstall();
  }
}

function oursBytes(args: Args): number[] | undefined {
  const producerId = args.producerId === undefined ? -1n : BigInt(String(args.producerId));
  const bytes = encodeProduceRequest({ ...args, producerId }, { now: () => NOW });
  return bytes && [...bytes];
}

function request(messages: ProduceMessage[], extra: Partial<Args> = {}): Args {
  return {
    transactionalId: undefined,
    acks: -1,
    timeout: 30_000,
    producerId: "4711",
    producerEpoch: 3,
    topicData: [{ topic: "orders", partitions: [{ partition: 2, firstSequence: 17, messages }] }],
    ...extra,
  };
}

const bytesOf = (length: number, seed = 1) =>
  Buffer.from(Array.from({ length }, (_, i) => (i * 31 + seed) & 0xff));

Deno.test({
  name: "CRC-32C matches the standard check value and KafkaJS's byte-at-a-time result",
  permissions: "none",
  fn() {
    assertEquals(crc32c(new TextEncoder().encode("123456789")), 0xe3069283);
    assertEquals(crc32c(new Uint8Array(0)), 0);
    const data = bytesOf(1_000, 7);
    // Every start and end alignment against a plain bitwise CRC.
    const bitwise = (bytes: Uint8Array) => {
      let crc = -1;
      for (const byte of bytes) {
        crc ^= byte;
        for (let bit = 0; bit < 8; bit++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
      }
      return (crc ^ -1) >>> 0;
    };
    for (let start = 0; start < 9; start++) {
      for (const end of [start, start + 1, start + 7, start + 8, start + 9, 1_000 - start]) {
        assertEquals(
          crc32c(data, start, end),
          bitwise(data.subarray(start, end)),
          `${start}..${end}`,
        );
      }
    }
  },
});

Deno.test({
  name: "a Produce request is encoded to the bytes KafkaJS writes",
  permissions: "none",
  async fn(t) {
    const cases: Array<[string, Args]> = [
      [
        "an order as the producer sends it",
        request([{
          key: "3f1c2a9e-0b7d-4c55-9a51-5a0d0c7f2e11",
          value: bytesOf(1_500),
          headers: { event_type: "order_created" },
        }]),
      ],
      [
        "null, missing and Buffer keys; string, null and empty values",
        request([
          { key: null, value: bytesOf(10) },
          { value: "text value" },
          { key: bytesOf(5, 3), value: null },
          { key: "k", value: Buffer.alloc(0) },
          { key: "", value: "" },
        ]),
      ],
      [
        "text beyond ASCII: two-, three- and four-byte characters, a lone surrogate",
        request([
          { key: "café", value: "naïve ☕ 𝄞 end" },
          { key: "\ud800x", value: "tail \udc00" },
        ], { transactionalId: "tx-ü" }),
      ],
      [
        "headers: several, arrays, Buffers, names beyond ASCII, none",
        request([
          {
            key: "a",
            value: "1",
            headers: { one: "x", many: ["p", bytesOf(3)], "ключ": bytesOf(200) },
          },
          { key: "b", value: "2", headers: {} },
          { key: "c", value: "3", headers: { empty: [] } },
        ]),
      ],
      [
        "varints of every width: large values, 300 offsets",
        request(
          Array.from({ length: 300 }, (_, i) => ({
            key: `order-${i}`,
            value: bytesOf([0, 1, 63, 64, 127, 128, 8_191, 8_192, 20_000][i % 9]!, i),
            headers: { event_type: "order_paid" },
          })),
        ),
      ],
      ["several topics and partitions, a transactional 64-bit producer id", {
        transactionalId: "tx",
        acks: 1,
        timeout: 5_000,
        producerId: "8589934597",
        producerEpoch: 0,
        topicData: [
          {
            topic: "orders",
            partitions: [
              { partition: 0, firstSequence: 0, messages: [{ key: "a", value: "1" }] },
              { partition: 5, firstSequence: 2 ** 31 - 1, messages: [{ key: "b", value: "2" }] },
            ],
          },
          {
            topic: "orders-dlq",
            partitions: [{ partition: 0, messages: [{ key: "c", value: "3" }] }],
          },
        ],
      }],
      ["no producer id (a producer that is not idempotent)", {
        ...request([{ key: "k", value: "v" }]),
        producerId: undefined,
      }],
    ];
    for (const [name, args] of cases) {
      await t.step(name, async () => {
        const ours = oursBytes(args);
        assert(ours !== undefined, "encoded in one pass");
        assertEquals(ours, await kafkajsBytes(args));
      });
    }
  },
});

Deno.test({
  name: "what the one-pass encoder does not write as KafkaJS does is left to KafkaJS",
  permissions: "none",
  async fn(t) {
    const cases: Array<[string, Args]> = [
      ["a message with its own timestamp", request([{ key: "k", value: "v", timestamp: NOW }])],
      ["a number key", request([{ key: 42, value: "v" }])],
      ["a plain Uint8Array value", request([{ key: "k", value: new Uint8Array([1, 2]) }])],
      ["a null header value", request([{ key: "k", value: "v", headers: { h: null } }])],
      ["a partition without messages", request([])],
    ];
    for (const [name, args] of cases) {
      await t.step(name, () => assertEquals(oursBytes(args), undefined));
    }
  },
});

Deno.test({
  name:
    "KafkaJS's Produce requests go through the one-pass encoder, compressed ones through its own",
  permissions: "none",
  async fn() {
    const patched = (KafkaProduceRequests as { protocol: typeof ORIGINAL_PRODUCE_PROTOCOL })
      .protocol;
    const args = request([{ key: "k", value: bytesOf(100), headers: { event_type: "x" } }]);
    for (const version of [3, 4, 5, 6, 7]) {
      const before = { ...produceEncoding };
      const clock = FakeTimers.install({ now: NOW, toFake: ["Date"] });
      let encoded: { buffer: Uint8Array };
      try {
        const { request } = patched({ version })(args as never);
        assertEquals(request.apiVersion, version);
        encoded = (await request.encode()) as { buffer: Uint8Array };
      } finally {
        clock.uninstall();
      }
      assertEquals(produceEncoding.onePass, before.onePass + 1, `version ${version}`);
      assertEquals([...encoded.buffer], await kafkajsBytes(args, version));
    }
    const before = { ...produceEncoding };
    await patched({ version: 7 })({ ...args, compression: 1 } as never).request.encode();
    assertEquals(produceEncoding, { onePass: before.onePass, kafkajs: before.kafkajs + 1 });
  },
});

Deno.test({
  name: "a Produce request module of another shape is refused, naming what differs",
  permissions: "none",
  fn() {
    assertEquals(produceShapeProblem(KafkaProduceRequests), undefined);
    assertMatch(produceShapeProblem({}) ?? "", /no protocol function/);
    assertMatch(
      produceShapeProblem({ versions: ["0", "1", "2"], protocol: () => () => ({}) }) ?? "",
      /no version 3/,
    );
  },
});

Deno.test({
  name: "messages are grouped by partition in order, the partitioner asked once each in turn",
  permissions: "none",
  fn() {
    const messages = [5, 1, 5, 0, 1, 5].map((partition, i) => ({ partition, i }));
    const asked: number[] = [];
    const grouped = groupMessagesPerPartition({
      topic: "t",
      partitionMetadata: [{}, {}, {}],
      messages,
      partitioner: ({ message }) => {
        asked.push((message as { i: number }).i);
        return (message as { partition: number }).partition;
      },
    });
    assertEquals(asked, [0, 1, 2, 3, 4, 5]);
    assertEquals(grouped, {
      0: [messages[3]],
      1: [messages[1], messages[4]],
      5: [messages[0], messages[2], messages[5]],
    });
    assertEquals(
      groupMessagesPerPartition({
        topic: "t",
        partitionMetadata: [],
        messages,
        partitioner: () => 0,
      }),
      {},
    );
  },
});

Deno.test({
  name: "a request is framed to the bytes KafkaJS frames it to",
  permissions: "none",
  async fn(t) {
    const payloads: Array<[string, Uint8Array]> = [
      ["an empty request", new Uint8Array(0)],
      ["a small one", bytesOf(13)],
      ["one past a power of two", bytesOf(1_025)],
      ["a large one", bytesOf(300_000)],
    ];
    const clientIds: Array<string | null> = ["order-producer", "ü-client-☕", "", null];
    for (const [name, payload] of payloads) {
      await t.step(name, async () => {
        for (const clientId of clientIds) {
          const request = {
            apiKey: 0,
            apiVersion: 7,
            encode: () => {
              const encoder = new (KafkaEncoder as new (size: number) => {
                buf: Uint8Array;
                offset: number;
              })(1);
              encoder.buf = Buffer.from(payload);
              encoder.offset = payload.length;
              return Promise.resolve(encoder);
            },
          };
          const options = { correlationId: 123_456, clientId, request };
          const ours = (await frameRequest(options)) as unknown as { buffer: Uint8Array };
          const theirs = (await ORIGINAL_FRAMING(options)) as unknown as { buffer: Uint8Array };
          assertEquals([...ours.buffer], [...theirs.buffer], `client id ${clientId}`);
        }
      });
    }
  },
});

Deno.test("the patches install in a process that may not read files, as the tasks and entries run", async () => {
  // A resolution from lib/ would stat lib/node_modules first: refused without --allow-read.
  const kafkaModule = new URL("../lib/kafka.ts", import.meta.url).pathname;
  const { code, stderr } = await new Deno.Command(Deno.execPath(), {
    // KafkaJS reads the environment; nothing else is allowed.
    args: ["run", "--no-prompt", "--allow-env", kafkaModule],
    env: { NO_COLOR: "1" },
    stdout: "null",
    stderr: "piped",
  }).output();
  assertEquals(code, 0, new TextDecoder().decode(stderr));
});

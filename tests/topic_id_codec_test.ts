/** Unit: the Metadata v10 bytes the tracker sends and reads to learn a topic's id. */
import { assertEquals, assertThrows } from "./assert.ts";
import {
  decodeTopicIdResponse,
  encodeTopicIdRequest,
  formatTopicId,
} from "../lib/topic_id_codec.ts";

/** Bytes of a topic id as Kafka's tools print it (base64url). */
function idBytes(printed: string): number[] {
  const binary = atob(printed.replaceAll("-", "+").replaceAll("_", "/") + "==");
  return [...binary].map((c) => c.charCodeAt(0));
}

const int16 = (v: number) => [(v >> 8) & 0xff, v & 0xff];
const int32 = (v: number) => [(v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff];
const text = (s: string | null) =>
  s === null ? [0] : [s.length + 1, ...new TextEncoder().encode(s)];
const array = (items: number[][]) => [items.length + 1, ...items.flat()];

/** A Metadata v10 response as a broker writes it (after the correlation id). */
function response(
  topics: Array<{ error: number; name: string; id: number[]; partitions: number }>,
): Uint8Array {
  const partition = (index: number) => [
    ...int16(0),
    ...int32(index),
    ...int32(1), // leader
    ...int32(7), // leader epoch
    ...array([int32(1), int32(2)]), // replicas
    ...array([int32(1)]), // in sync
    ...array([]), // offline
    0,
  ];
  return Uint8Array.from([
    1, // header tagged fields: one, tag 0 of 2 bytes
    0,
    2,
    0xab,
    0xcd,
    ...int32(0), // throttle
    ...array([
      [...int32(1), ...text("broker-1"), ...int32(9092), ...text(null), 0],
      [...int32(2), ...text("broker-2"), ...int32(9093), ...text("rack-b"), 0],
    ]),
    ...text("cluster-A"),
    ...int32(1),
    ...array(topics.map((t) => [
      ...int16(t.error),
      ...text(t.name),
      ...t.id,
      0, // not internal
      ...array(Array.from({ length: t.partitions }, (_, i) => partition(i))),
      ...int32(-2147483648),
      0,
    ])),
    ...int32(-2147483648),
    0,
  ]);
}

Deno.test({
  name: "a topic's id is printed as Kafka's tools print it, and all zeros as none",
  permissions: "none",
  fn() {
    const printed = "iuqqLOvxQ0i5cUF4IlXwfA";
    assertEquals(formatTopicId(Uint8Array.from(idBytes(printed))), printed);
    assertEquals(formatTopicId(new Uint8Array(16)), null);
  },
});

Deno.test({
  name: "the request asks for the topics by name, without creating them",
  permissions: "none",
  fn() {
    assertEquals(
      [...encodeTopicIdRequest(["orders"])],
      [0, 2, ...new Array(16).fill(0), 7, ...new TextEncoder().encode("orders"), 0, 0, 0, 0, 0],
    );
  },
});

Deno.test({
  name: "the response gives each topic's id, error and partitions, past brokers and tagged fields",
  permissions: "none",
  fn() {
    const id = idBytes("u6D9Yw76QNGsOzy7pmOqjA");
    const decoded = decodeTopicIdResponse(response([
      { error: 0, name: "orders", id, partitions: 3 },
      { error: 3, name: "gone", id: new Array(16).fill(0), partitions: 0 },
    ]));
    assertEquals(decoded.get("orders"), {
      errorCode: 0,
      topicId: "u6D9Yw76QNGsOzy7pmOqjA",
      partitions: 3,
    });
    assertEquals(decoded.get("gone"), { errorCode: 3, topicId: null, partitions: 0 });
  },
});

Deno.test({
  name: "a response cut short is an error, not a wrong id",
  permissions: "none",
  fn() {
    const whole = response([{
      error: 0,
      name: "orders",
      id: idBytes("u6D9Yw76QNGsOzy7pmOqjA"),
      partitions: 2,
    }]);
    for (const cut of [3, 20, whole.length - 30, whole.length - 1]) {
      assertThrows(() => decodeTopicIdResponse(whole.subarray(0, cut)), RangeError);
    }
  },
});

/**
 * The tracker's parsing thread: JSON.parse and validation take a third of the
 * tracker's CPU, and here they overlap the main thread's planning, writing
 * and Kafka work. Answers each request (packed message values) with what the
 * main thread needs of their parse (parsed_order.ts). Started by
 * order_parser.ts.
 */
/// <reference lib="deno.worker" />
import { parseWire } from "./parsed_order.ts";
import type { ParseReply, ParseRequest } from "./order_parser.ts";

self.onmessage = (event: MessageEvent<ParseRequest>) => {
  const { id, values, maxBytes } = event.data;
  let reply: ParseReply;
  try {
    reply = { id, kind: "parsed", results: parseWire(values, { maxBytes }) };
  } catch (error) {
    reply = { id, kind: "error", message: (error as Error).message };
  }
  self.postMessage(reply);
};

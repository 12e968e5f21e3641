/**
 * The order event: its type, its JSON wire format (snake_case, compatible with
 * the original Go system) and the one function that turns untrusted bytes into
 * an `OrderEvent` or an error saying which field is wrong and why. Pure.
 * Long (about 450 lines) because it is the whole wire format in one place:
 * the types, the enumerations and the field-by-field validator.
 */

export const ORDER_STATUSES = [
  "created",
  "paid",
  "shipped",
  "delivered",
  "cancelled",
] as const;
export type OrderStatus = typeof ORDER_STATUSES[number];

/** `metadata.event_type` for each status, as this project's producer writes it. */
export const EVENT_TYPES = {
  created: "order_created",
  paid: "order_paid",
  shipped: "order_shipped",
  delivered: "order_delivered",
  cancelled: "order_cancelled",
} as const satisfies Record<OrderStatus, string>;
export type EventType = typeof EVENT_TYPES[OrderStatus];

/**
 * The statuses accepted on the wire and the lifecycle state each one is: ours,
 * and the original Go system's `pending` (its first state: an order created).
 */
export const RECEIVED_STATUSES: Readonly<Record<string, OrderStatus>> = {
  created: "created",
  paid: "paid",
  shipped: "shipped",
  delivered: "delivered",
  cancelled: "cancelled",
  pending: "created",
};
const RECEIVED_STATUS_NAMES = Object.keys(RECEIVED_STATUSES);

/**
 * The event types accepted on the wire: ours (`order_created`), the original
 * system's dotted ones (`order.created`, … for each lifecycle state) and its
 * `order.updated`, which fits any status.
 */
export const ACCEPTED_EVENT_TYPES: readonly string[] = [
  ...Object.values(EVENT_TYPES),
  ...ORDER_STATUSES.map((s) => `order.${s}`),
  "order.updated",
];

/** Whether an event type fits a lifecycle state (`order.updated` fits them all). */
export function eventTypeFits(eventType: string, status: OrderStatus): boolean {
  return eventType === EVENT_TYPES[status] || eventType === `order.${status}` ||
    eventType === "order.updated";
}

export const CURRENCIES = ["USD", "EUR", "GBP", "CAD", "AUD"] as const;
export type Currency = typeof CURRENCIES[number];

export const PAYMENT_METHODS = [
  "credit_card",
  "debit_card",
  "paypal",
  "bank_transfer",
  "apple_pay",
  "google_pay",
] as const;
export type PaymentMethod = typeof PAYMENT_METHODS[number];

export const LOYALTY_LEVELS = ["bronze", "silver", "gold", "platinum"] as const;
export type LoyaltyLevel = typeof LOYALTY_LEVELS[number];

/** Version written into `metadata.version`. */
export const ORDER_SCHEMA_VERSION = "1.0";

export interface OrderItem {
  item_id: string;
  item_name: string;
  quantity: number;
  unit_price: number;
  total_price: number;
}

export interface InventoryStatus {
  item_id: string;
  item_name: string;
  available_qty: number;
  reserved_qty: number;
  unit_price: number;
  in_stock: boolean;
  warehouse: string;
}

export interface CustomerInfo {
  customer_id: string;
  name: string;
  email: string;
  phone: string;
  address: string;
  loyalty_level: LoyaltyLevel;
}

export interface OrderMetadata {
  /** RFC 3339 UTC. */
  timestamp: string;
  version: string;
  /** As received: one of ACCEPTED_EVENT_TYPES, fitting the status. */
  event_type: string;
  source: string;
  correlation_id: string;
}

/** One event in an order's lifecycle; each event carries the whole order. */
export interface OrderEvent {
  order_id: string;
  sequence: number;
  /** The lifecycle state (a received `pending` is `created`). */
  status: OrderStatus;
  items: OrderItem[];
  sub_total: number;
  tax: number;
  shipping_fee: number;
  total: number;
  currency: Currency;
  payment_method: PaymentMethod;
  shipping_address: string;
  metadata: OrderMetadata;
  customer_info: CustomerInfo;
  inventory_status: InventoryStatus[];
  /**
   * Extra field of this project's producer: epoch milliseconds when it created
   * the event, for end-to-end latency. Absent from other producers' orders
   * (the original system's): their latency comes from the Kafka record time.
   */
  produced_at?: number;
}

/**
 * The fields of an order the tracker decides on and records (an `OrderEvent`
 * is one): what a parse on another thread sends back (parsed_order.ts).
 */
export type OrderSummary =
  & Pick<OrderEvent, "order_id" | "status" | "produced_at">
  & { metadata: Pick<OrderMetadata, "event_type"> };

/** The message as received, kept beside the validated order. */
export interface ReceivedOrder {
  /** The status field as sent (`pending` where the order says so). */
  status: string;
  /**
   * The value parsed from the message's bytes; absent when it was parsed on
   * another thread (its text or bytes are then parsed again if asked for).
   */
  json?: Record<string, unknown>;
  /** The message's text exactly, when it is one line (it can then be embedded verbatim). */
  text: string | null;
  /**
   * The message's bytes, when `text` is set and they are exactly its UTF-8
   * (no byte-order mark): the audit line then embeds them without encoding
   * the text again.
   */
  bytes?: Uint8Array | null;
}

/** Why a message was rejected. `class` goes into the DLQ headers. */
export const REJECTION_CLASSES = ["oversize", "deserialization", "schema", "validation"] as const;
export type RejectionClass = typeof REJECTION_CLASSES[number];

export interface Rejection {
  class: RejectionClass;
  message: string;
}

export type ParseResult<Order = OrderEvent> =
  | { ok: true; order: Order; received: ReceivedOrder }
  | { ok: false; rejection: Rejection };

/** Converts an amount to integer cents; money is compared in cents only. */
export function toCents(amount: number): number {
  return Math.round(amount * 100);
}

/** Converts integer cents back to the wire's decimal amount. */
export function fromCents(cents: number): number {
  return Math.round(cents) / 100;
}

/** Serialises an order event to its wire bytes. */
export function encodeOrder(order: OrderEvent): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(order));
}

const decoder = new TextDecoder("utf-8", { fatal: true });
const lenientDecoder = new TextDecoder("utf-8");
/** A UUID of any version (the original system's ids are v4, others may not be). */
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
// Deliberately simple: one @, no spaces, a dot in the domain (the original's rule).
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;
/**
 * The last `metadata.timestamp` found valid, not checked again: orders made
 * in the same millisecond share it, and its check (a pattern and Date.parse)
 * was a sixth of validation.
 */
let validTimestamp = "";

/** A field is wrong: `schema` for a missing field or a wrong type, `validation` for a broken rule. */
class FieldError extends Error {
  constructor(message: string, readonly kind: "schema" | "validation" = "validation") {
    super(message);
  }
}

function schemaError(message: string): FieldError {
  return new FieldError(message, "schema");
}

type Json = Record<string, unknown>;

function object(value: unknown, field: string): Json {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw schemaError(`field "${field}" must be an object`);
  }
  return value as Json;
}

/**
 * The path of `key` in `where` ("" for the root), for an error message: built
 * only when a field is wrong, as the valid path of every field is the hot one.
 */
function fieldPath(where: string, key: string): string {
  return where === "" ? key : `${where}.${key}`;
}

function text(value: unknown, key: string, where: string): string {
  if (typeof value !== "string") {
    if (value === undefined || value === null) {
      throw schemaError(`field "${fieldPath(where, key)}" is missing`);
    }
    throw schemaError(`field "${fieldPath(where, key)}" must be a string`);
  }
  // A first character that is printable ASCII (as nearly always) is no white
  // space, so the value is not blank: trim() is needed only otherwise.
  const first = value.charCodeAt(0);
  if (!(first > 0x20 && first < 0x7f) && value.trim() === "") {
    throw new FieldError(`field "${fieldPath(where, key)}" is empty`);
  }
  return value;
}

function finite(value: unknown, key: string, where: string): number {
  if (typeof value !== "number" || !Number.isFinite(value)) {
    if (value === undefined || value === null) {
      throw schemaError(`field "${fieldPath(where, key)}" is missing`);
    }
    throw schemaError(`field "${fieldPath(where, key)}" must be a finite number`);
  }
  return value;
}

function integer(field: unknown, key: string, where: string): number {
  const value = finite(field, key, where);
  if (!Number.isSafeInteger(value)) {
    throw schemaError(`field "${fieldPath(where, key)}" must be an integer`);
  }
  return value;
}

function money(field: unknown, key: string, where: string): number {
  const value = finite(field, key, where);
  if (value < 0) {
    throw new FieldError(`field "${fieldPath(where, key)}" must be >= 0, got ${value}`);
  }
  return value;
}

function member<T extends string>(
  field: unknown,
  key: string,
  where: string,
  allowed: readonly T[],
): T {
  const value = text(field, key, where);
  if (!(allowed as readonly string[]).includes(value)) {
    throw new FieldError(
      `field "${fieldPath(where, key)}" is ${quoted(value)}, expected one of ${allowed.join(", ")}`,
    );
  }
  return value as T;
}

function array(value: unknown, key: string, where: string): unknown[] {
  if (!Array.isArray(value)) {
    if (value === undefined || value === null) {
      throw schemaError(`field "${fieldPath(where, key)}" is missing`);
    }
    throw schemaError(`field "${fieldPath(where, key)}" must be an array`);
  }
  return value;
}

/** Longest piece of a bad value quoted in a rejection: enough to recognise it, never a flood. */
const QUOTE_CHARS = 40;

/** A value quoted for a rejection message, cut to QUOTE_CHARS. Never used for personal data. */
function quoted(value: string): string {
  const chars = Array.from(value);
  return chars.length <= QUOTE_CHARS
    ? JSON.stringify(value)
    : `${JSON.stringify(chars.slice(0, QUOTE_CHARS).join(""))}… (${chars.length} characters)`;
}

function sameCents(a: number, b: number): boolean {
  return Math.abs(toCents(a) - toCents(b)) <= 1;
}

/** The paths of a list's first rows, made once: every order has a few rows. */
function rowPaths(list: string): readonly string[] {
  return Array.from({ length: 32 }, (_, i) => `${list}[${i}]`);
}
const ITEM_PATHS = rowPaths("items");
const INVENTORY_PATHS = rowPaths("inventory_status");

function parseItem(value: unknown, index: number): OrderItem {
  const path = ITEM_PATHS[index] ?? `items[${index}]`;
  const item = object(value, path);
  const parsed: OrderItem = {
    item_id: text(item.item_id, "item_id", path),
    item_name: text(item.item_name, "item_name", path),
    quantity: integer(item.quantity, "quantity", path),
    unit_price: money(item.unit_price, "unit_price", path),
    total_price: money(item.total_price, "total_price", path),
  };
  if (parsed.quantity <= 0) {
    throw new FieldError(`field "${path}.quantity" must be > 0, got ${parsed.quantity}`);
  }
  if (!sameCents(parsed.unit_price * parsed.quantity, parsed.total_price)) {
    throw new FieldError(
      `field "${path}.total_price" is ${parsed.total_price}, expected ${
        fromCents(toCents(parsed.unit_price) * parsed.quantity)
      } (quantity × unit_price)`,
    );
  }
  return parsed;
}

function parseInventory(value: unknown, index: number): InventoryStatus {
  const path = INVENTORY_PATHS[index] ?? `inventory_status[${index}]`;
  const row = object(value, path);
  const inStock = row["in_stock"];
  if (typeof inStock !== "boolean") {
    throw schemaError(`field "${path}.in_stock" must be a boolean`);
  }
  const parsed: InventoryStatus = {
    item_id: text(row.item_id, "item_id", path),
    item_name: text(row.item_name, "item_name", path),
    available_qty: integer(row.available_qty, "available_qty", path),
    reserved_qty: integer(row.reserved_qty, "reserved_qty", path),
    unit_price: money(row.unit_price, "unit_price", path),
    in_stock: inStock,
    warehouse: text(row.warehouse, "warehouse", path),
  };
  if (parsed.available_qty < 0 || parsed.reserved_qty < 0) {
    throw new FieldError(`field "${path}" has a negative quantity`);
  }
  return parsed;
}

function parseMetadata(
  metadataJson: Json,
  { status, receivedStatus }: { status: OrderStatus; receivedStatus: string },
): OrderMetadata {
  const metadata: OrderMetadata = {
    timestamp: text(metadataJson.timestamp, "timestamp", "metadata"),
    version: text(metadataJson.version, "version", "metadata"),
    event_type: member(metadataJson.event_type, "event_type", "metadata", ACCEPTED_EVENT_TYPES),
    source: text(metadataJson.source, "source", "metadata"),
    correlation_id: text(metadataJson.correlation_id, "correlation_id", "metadata"),
  };
  if (metadata.timestamp !== validTimestamp) {
    if (!RFC3339.test(metadata.timestamp) || Number.isNaN(Date.parse(metadata.timestamp))) {
      throw new FieldError(`field "metadata.timestamp" must be an RFC 3339 date-time`);
    }
    validTimestamp = metadata.timestamp;
  }
  if (!eventTypeFits(metadata.event_type, status)) {
    throw new FieldError(
      `field "metadata.event_type" is ${quoted(metadata.event_type)}, expected "${
        EVENT_TYPES[status]
      }" or "order.${status}" for status "${receivedStatus}"`,
    );
  }
  return metadata;
}

function parseCustomer(customerJson: Json): CustomerInfo {
  const customer: CustomerInfo = {
    customer_id: text(customerJson.customer_id, "customer_id", "customer_info"),
    name: text(customerJson.name, "name", "customer_info"),
    email: text(customerJson.email, "email", "customer_info"),
    phone: text(customerJson.phone, "phone", "customer_info"),
    address: text(customerJson.address, "address", "customer_info"),
    loyalty_level: member(
      customerJson.loyalty_level,
      "loyalty_level",
      "customer_info",
      LOYALTY_LEVELS,
    ),
  };
  // The message never quotes the address itself: health logs must not carry personal data.
  if (!EMAIL.test(customer.email)) {
    throw new FieldError(`field "customer_info.email" is not a valid email address`);
  }
  return customer;
}

function parseFields(root: Json): { order: OrderEvent; receivedStatus: string } {
  const orderId = text(root.order_id, "order_id", "");
  if (!UUID.test(orderId)) throw new FieldError(`field "order_id" must be a UUID`);
  const sequence = integer(root.sequence, "sequence", "");
  if (sequence < 0) throw new FieldError(`field "sequence" must be >= 0`);

  const rawItems = array(root.items, "items", "");
  if (rawItems.length === 0) throw new FieldError(`field "items" is empty`);
  const items = rawItems.map(parseItem);
  const metadataJson = object(root["metadata"], "metadata");
  const customerJson = object(root["customer_info"], "customer_info");

  const receivedStatus = member(root.status, "status", "", RECEIVED_STATUS_NAMES);
  const status = RECEIVED_STATUSES[receivedStatus]!;
  const metadata = parseMetadata(metadataJson, { status, receivedStatus });
  const customer = parseCustomer(customerJson);

  const order: OrderEvent = {
    order_id: orderId,
    sequence,
    status,
    items,
    sub_total: money(root.sub_total, "sub_total", ""),
    tax: money(root.tax, "tax", ""),
    shipping_fee: money(root.shipping_fee, "shipping_fee", ""),
    total: money(root.total, "total", ""),
    currency: member(root.currency, "currency", "", CURRENCIES),
    payment_method: member(root.payment_method, "payment_method", "", PAYMENT_METHODS),
    shipping_address: text(root.shipping_address, "shipping_address", ""),
    metadata,
    customer_info: customer,
    inventory_status: array(root.inventory_status, "inventory_status", "").map(parseInventory),
  };
  if (root["produced_at"] !== undefined && root["produced_at"] !== null) {
    order.produced_at = integer(root.produced_at, "produced_at", "");
  }

  const itemsCents = items.reduce((sum, item) => sum + toCents(item.total_price), 0);
  if (Math.abs(itemsCents - toCents(order.sub_total)) > 1) {
    throw new FieldError(
      `field "sub_total" is ${order.sub_total}, expected ${fromCents(itemsCents)} (sum of items)`,
    );
  }
  const expectedTotal = toCents(order.sub_total) + toCents(order.tax) +
    toCents(order.shipping_fee);
  if (Math.abs(expectedTotal - toCents(order.total)) > 1) {
    throw new FieldError(
      `field "total" is ${order.total}, expected ${
        fromCents(expectedTotal)
      } (sub_total + tax + shipping_fee)`,
    );
  }
  return { order, receivedStatus };
}

/**
 * Parses and validates one message value.
 *
 * @param bytes the raw Kafka message value (null for a tombstone)
 * @param options.maxBytes messages larger than this are rejected unread
 */
export function parseOrder(
  bytes: Uint8Array | null,
  { maxBytes, asciiText }: {
    maxBytes: number;
    /** The bytes as text, when they are ASCII alone (a character each) and were decoded already. */
    asciiText?: string | undefined;
  },
): ParseResult {
  if (bytes === null) {
    return {
      ok: false,
      rejection: { class: "deserialization", message: "Cannot parse order: message value is null" },
    };
  }
  if (bytes.byteLength > maxBytes) {
    return {
      ok: false,
      rejection: {
        class: "oversize",
        message: `Cannot parse order: message is ${bytes.byteLength} bytes, limit is ${maxBytes}`,
      },
    };
  }
  let text: string;
  let json: unknown;
  try {
    // The lenient decoder is three times faster; only a text with U+FFFD in it
    // (a bad byte, or the character itself) is decoded again strictly.
    text = asciiText ?? lenientDecoder.decode(bytes);
    if (asciiText === undefined && text.includes("\uFFFD")) text = decoder.decode(bytes);
    json = JSON.parse(text);
  } catch (error) {
    return {
      ok: false,
      rejection: {
        class: "deserialization",
        message: `Cannot parse order: not UTF-8 JSON (${(error as Error).name})`,
      },
    };
  }
  // A line break inside the value (pretty-printed JSON) would break a JSON Lines file.
  if (/[\n\r]/.test(text)) return parseOrderValue(json);
  // A leading byte-order mark is dropped from the text, not from the bytes.
  const bom = bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf;
  return parseOrderValue(json, { text, bytes: bom ? null : bytes });
}

/**
 * Validates an already parsed JSON value as an order (e.g. the copy inside an audit line).
 *
 * @param options.text the exact text it was parsed from, when it is one line
 */
export function parseOrderValue(
  json: unknown,
  { text = null, bytes = null }: { text?: string | null; bytes?: Uint8Array | null } = {},
): ParseResult {
  try {
    const root = object(json, "(root)");
    const { order, receivedStatus } = parseFields(root);
    return {
      ok: true,
      order,
      received: { status: receivedStatus, json: root, text, bytes: text === null ? null : bytes },
    };
  } catch (error) {
    if (!(error instanceof FieldError)) throw error;
    return {
      ok: false,
      rejection: {
        class: error.kind,
        message: `Cannot accept order: ${error.message}`,
      },
    };
  }
}

/** Statuses after which an order receives no more events. */
export const FINAL_STATUSES: ReadonlySet<OrderStatus> = new Set(["delivered", "cancelled"]);

const NEXT_STATUSES: Readonly<Record<OrderStatus, readonly OrderStatus[]>> = {
  created: ["paid", "cancelled"],
  paid: ["shipped", "cancelled"],
  shipped: ["delivered"],
  delivered: [],
  cancelled: [],
};

/**
 * Whether `next` may follow `previous` in an order's lifecycle. An order this
 * instance has not seen before (`previous` undefined) may start anywhere: its
 * earlier events may have gone to another consumer before a rebalance.
 */
export function isValidTransition(
  previous: OrderStatus | undefined,
  next: OrderStatus,
): boolean {
  return previous === undefined || NEXT_STATUSES[previous].includes(next);
}

/**
 * Where an order carries personal data: the customer's name, email, phone and
 * address, and the shipping address. Reports mask these (`maskPersonalData`).
 */
export const PERSONAL_DATA_FIELDS: ReadonlyArray<readonly [string, ...string[]]> = [
  ["customer_info", "name"],
  ["customer_info", "email"],
  ["customer_info", "phone"],
  ["customer_info", "address"],
  ["shipping_address"],
];

/** What a masked personal value reads as. */
export const MASK = "***";

/**
 * A copy of a parsed order JSON (valid or not) with every personal data field
 * replaced by MASK, whatever its type; the rest of the structure is kept. A
 * field on the way that is not an object (a `customer_info` sent as a string)
 * is masked whole, since it may hold the same data. Anything that is not an
 * object is returned as it is.
 */
export function maskPersonalData(json: unknown): unknown {
  if (!isPlainObject(json)) return json;
  const copy = structuredClone(json);
  for (const path of PERSONAL_DATA_FIELDS) {
    let parent: Json = copy;
    for (const [i, key] of path.entries()) {
      if (!(key in parent)) break;
      const value = parent[key];
      if (value === null) break;
      if (i === path.length - 1 || !isPlainObject(value)) {
        parent[key] = MASK;
        break;
      }
      parent = value;
    }
  }
  return copy;
}

function isPlainObject(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

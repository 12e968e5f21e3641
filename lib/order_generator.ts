/**
 * Generates realistic order events with faker: a seeded product catalogue,
 * 1-5 items per order, tax and shipping rules per currency, money computed in
 * integer cents so every total is exact, and a lifecycle per order
 * (created → paid → shipped → delivered, with some cancellations) emitted in a
 * valid order per order id. Pure apart from the injected clock; `seed` makes a
 * run reproducible.
 */
import { faker as localeFaker } from "@faker-js/faker/locale/en_US";
import type { Faker } from "@faker-js/faker";
import {
  type Currency,
  type CustomerInfo,
  EVENT_TYPES,
  fromCents,
  type InventoryStatus,
  type LoyaltyLevel,
  ORDER_SCHEMA_VERSION,
  type OrderEvent,
  type OrderItem,
  type OrderStatus,
  PAYMENT_METHODS,
} from "./order.ts";

/** Sales tax (or VAT) rate per currency. */
export const TAX_RATES: Readonly<Record<Currency, number>> = {
  USD: 0.0825,
  EUR: 0.2,
  GBP: 0.2,
  CAD: 0.13,
  AUD: 0.1,
};
/** Orders at or above this sub-total (in cents) ship free. */
export const FREE_SHIPPING_FROM_CENTS = 10_000;
export const SHIPPING_FEE_CENTS = 599;
/** Loyalty levels whose orders always ship free. */
const FREE_SHIPPING_LEVELS: ReadonlySet<LoyaltyLevel> = new Set(["gold", "platinum"]);

const WAREHOUSES = ["AMS-1", "FRA-2", "IAD-1", "LHR-3", "SYD-1"] as const;
const CATALOGUE_SIZE = 200;
/** Street addresses and cities made before they are drawn again (see `address`). */
const STREETS = 5_000;
const CITIES = 1_000;

/**
 * The default lifecycle mix: probability of each next status. About 8% of
 * orders are cancelled before payment, 4% after; the rest are delivered.
 */
export const LIFECYCLE_MIX: Readonly<
  Record<"created" | "paid" | "shipped", ReadonlyArray<readonly [OrderStatus, number]>>
> = {
  created: [["paid", 0.92], ["cancelled", 0.08]],
  paid: [["shipped", 0.96], ["cancelled", 0.04]],
  shipped: [["delivered", 1]],
};

const HEX = "0123456789abcdef";

/**
 * `faker.string.uuid()` (version 4) of `faker`: the same draws, in the same
 * order, to the same text, without faker's option handling for each of the
 * 31 digits (two uuids were 13% of an order's generation). Faker 10 draws the
 * 30 "x" digits left to right as `int({ min: 0, max: 15 })`, then the variant
 * digit as `int({ min: 8, max: 11 })`, each `Math.floor(next() * span + min)`
 * of its randomizer; a test compares both for thousands of draws. Falls back
 * to faker's own when its randomizer is not where faker 10 keeps it.
 */
export function uuidDrawer(faker: Faker): () => string {
  const next = (faker as unknown as { fakerCore?: { randomizer?: { next?: unknown } } })
    .fakerCore?.randomizer?.next;
  if (typeof next !== "function") return () => faker.string.uuid();
  const draw = next as () => number;
  return () => {
    let x = "";
    for (let i = 0; i < 30; i++) x += HEX[Math.floor(draw() * 16)];
    const y = HEX[Math.floor(draw() * 4 + 8)];
    return `${x.slice(0, 8)}-${x.slice(8, 12)}-4${x.slice(12, 15)}-${y}${x.slice(15, 18)}-${
      x.slice(18)
    }`;
  };
}

export interface GeneratorOptions {
  /** Makes the sequence of events reproducible. Default: random. */
  seed?: number | undefined;
  /** Clock for `metadata.timestamp` and `produced_at`. Default: Date.now. */
  now?: () => number;
  /** Orders in progress at once; more means more interleaving. Default 50. */
  activeOrders?: number;
  /** Written into `metadata.source`. Default "order-producer". */
  source?: string;
}

export interface OrderGenerator {
  /**
   * The next event: a new order, or the next step of one in progress. Events
   * of one order share their `items`, `customer_info` and `inventory_status`:
   * read them, copy before changing them.
   */
  next(): OrderEvent;
  /** Orders started but not yet delivered or cancelled. */
  readonly inProgress: number;
}

interface Product {
  id: string;
  name: string;
  priceCents: number;
}

type Draft = Omit<OrderEvent, "sequence" | "status" | "metadata" | "produced_at"> & {
  correlationId: string;
  status: OrderStatus;
};

/**
 * Creates a generator; see `GeneratorOptions` for the defaults. Long (about
 * 150 lines) as a factory holding the seeded faker and the catalogue; its
 * inner functions (customer, newDraft, advance, snapshot) are each short.
 */
export function createOrderGenerator(options: GeneratorOptions = {}): OrderGenerator {
  const { now = Date.now, activeOrders = 50, source = "order-producer" } = options;
  const FakerClass = localeFaker.constructor as new (
    options: { locale: Faker["rawDefinitions"] },
  ) => Faker;
  const faker = new FakerClass({ locale: localeFaker.rawDefinitions });
  faker.seed(options.seed ?? Math.floor(Math.random() * 2 ** 32));
  const uuid = uuidDrawer(faker);

  const catalogue: Product[] = Array.from({ length: CATALOGUE_SIZE }, (_, i) => ({
    id: `SKU-${String(10_000 + i * 37).padStart(5, "0")}`,
    name: faker.commerce.productName(),
    // Shop prices: whole units minus a cent (19.99), from 1.99 to 499.99.
    priceCents: faker.helpers.weightedArrayElement([
          { weight: 6, value: faker.number.int({ min: 2, max: 40 }) },
          { weight: 3, value: faker.number.int({ min: 41, max: 150 }) },
          { weight: 1, value: faker.number.int({ min: 151, max: 500 }) },
        ]) * 100 - 1,
  }));
  const active: Draft[] = [];
  /** Starts at 1, as the original system's producer counts. */
  let sequence = 1;

  // Faker builds a street or a city from templates, about 24 and 11 µs each:
  // half the cost of an order. The first STREETS and CITIES made are kept
  // and drawn from after that, as a shop's customers share streets and towns.
  const streets: string[] = [];
  const cities: string[] = [];
  function pooled(pool: string[], size: number, make: () => string): string {
    if (pool.length < size) {
      const value = make();
      pool.push(value);
      return value;
    }
    return pool[faker.number.int({ min: 0, max: size - 1 })]!;
  }

  function address(): string {
    const street = pooled(streets, STREETS, () => faker.location.streetAddress());
    const city = pooled(cities, CITIES, () => faker.location.city());
    return `${street}, ${city}, ${
      faker.location.state({ abbreviated: true })
    } ${faker.location.zipCode()}`;
  }

  function customer(): CustomerInfo {
    const firstName = faker.person.firstName();
    const lastName = faker.person.lastName();
    return {
      customer_id: `CUST-${faker.number.int({ min: 100_000, max: 999_999 })}`,
      name: `${firstName} ${lastName}`,
      email: faker.internet.email({ firstName, lastName }).toLowerCase(),
      phone: faker.phone.number({ style: "international" }),
      address: address(),
      loyalty_level: faker.helpers.weightedArrayElement([
        { weight: 50, value: "bronze" as const },
        { weight: 30, value: "silver" as const },
        { weight: 15, value: "gold" as const },
        { weight: 5, value: "platinum" as const },
      ]),
    };
  }

  function newDraft(): Draft {
    const products = faker.helpers.arrayElements(catalogue, { min: 1, max: 5 });
    const items: OrderItem[] = [];
    const inventory: InventoryStatus[] = [];
    let subTotalCents = 0;
    for (const product of products) {
      const quantity = faker.helpers.weightedArrayElement([
        { weight: 70, value: 1 },
        { weight: 20, value: 2 },
        { weight: 7, value: 3 },
        { weight: 3, value: faker.number.int({ min: 4, max: 10 }) },
      ]);
      const totalCents = product.priceCents * quantity;
      subTotalCents += totalCents;
      items.push({
        item_id: product.id,
        item_name: product.name,
        quantity,
        unit_price: fromCents(product.priceCents),
        total_price: fromCents(totalCents),
      });
      const available = faker.number.int({ min: 0, max: 500 });
      inventory.push({
        item_id: product.id,
        item_name: product.name,
        available_qty: available,
        reserved_qty: quantity,
        unit_price: fromCents(product.priceCents),
        in_stock: available >= quantity,
        warehouse: faker.helpers.arrayElement(WAREHOUSES),
      });
    }
    const buyer = customer();
    const currency = faker.helpers.weightedArrayElement([
      { weight: 50, value: "USD" as const },
      { weight: 20, value: "EUR" as const },
      { weight: 15, value: "GBP" as const },
      { weight: 10, value: "CAD" as const },
      { weight: 5, value: "AUD" as const },
    ]);
    const taxCents = Math.round(subTotalCents * TAX_RATES[currency]);
    const shippingCents =
      subTotalCents >= FREE_SHIPPING_FROM_CENTS || FREE_SHIPPING_LEVELS.has(buyer.loyalty_level)
        ? 0
        : SHIPPING_FEE_CENTS;
    return {
      order_id: uuid(),
      correlationId: uuid(),
      status: "created",
      items,
      sub_total: fromCents(subTotalCents),
      tax: fromCents(taxCents),
      shipping_fee: fromCents(shippingCents),
      total: fromCents(subTotalCents + taxCents + shippingCents),
      currency,
      payment_method: faker.helpers.arrayElement(PAYMENT_METHODS),
      // Most people ship to their own address; some send a gift.
      shipping_address: faker.datatype.boolean({ probability: 0.85 }) ? buyer.address : address(),
      customer_info: buyer,
      inventory_status: inventory,
    };
  }

  function advance(draft: Draft): OrderStatus {
    const mix = LIFECYCLE_MIX[draft.status as keyof typeof LIFECYCLE_MIX];
    return faker.helpers.weightedArrayElement(
      mix.map(([value, weight]) => ({ value, weight })),
    );
  }

  // An event shares its draft's items, customer and inventory, which nothing
  // changes after the draft is made (only the status moves on): a deep copy
  // per event was a sixth of the producer's CPU. Freezing them would guard
  // that, but halves JSON.stringify's speed on them. Built field by field:
  // a spread of the draft was a tenth of the generator's time.
  function snapshot(draft: Draft): OrderEvent {
    const at = now();
    return {
      order_id: draft.order_id,
      status: draft.status,
      items: draft.items,
      sub_total: draft.sub_total,
      tax: draft.tax,
      shipping_fee: draft.shipping_fee,
      total: draft.total,
      currency: draft.currency,
      payment_method: draft.payment_method,
      shipping_address: draft.shipping_address,
      customer_info: draft.customer_info,
      inventory_status: draft.inventory_status,
      sequence: sequence++,
      metadata: {
        timestamp: new Date(at).toISOString(),
        version: ORDER_SCHEMA_VERSION,
        event_type: EVENT_TYPES[draft.status],
        source,
        correlation_id: draft.correlationId,
      },
      produced_at: at,
    };
  }

  return {
    get inProgress() {
      return active.length;
    },
    next(): OrderEvent {
      // Start a new order while few are in progress, sometimes even when many are.
      const startNew = active.length === 0 ||
        faker.number.float() < (active.length < activeOrders ? 0.4 : 0.05);
      if (startNew) {
        const draft = newDraft();
        active.push(draft);
        return snapshot(draft);
      }
      const index = faker.number.int({ min: 0, max: active.length - 1 });
      const draft = active[index]!;
      draft.status = advance(draft);
      if (draft.status === "delivered" || draft.status === "cancelled") {
        active[index] = active[active.length - 1]!;
        active.pop();
      }
      return snapshot(draft);
    },
  };
}

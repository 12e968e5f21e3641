/**
 * Orders written the way the original Go system's producer writes them
 * (agbruneau/Kafka, schema "1.1"): status "pending", event type
 * "order.created", no key, no produced_at, raw floats. A test vector of our
 * own, beside the stream captured in ../shared/fixtures.
 */

/** An order as the original system's producer writes one (its field order, its floats). */
export function originalOrder(sequence: number, overrides: Record<string, unknown> = {}) {
  const id = `73f39e5c-621f-4a7f-8214-${String(8292_0000_0000 + sequence).padStart(12, "0")}`;
  return {
    order_id: id,
    sequence,
    status: "pending",
    items: [{
      item_id: "item-cappuccino",
      item_name: "cappuccino",
      quantity: 3,
      unit_price: 3.2,
      total_price: 9.600000000000001,
    }],
    sub_total: 9.600000000000001,
    tax: 1.9200000000000004,
    shipping_fee: 2.5,
    total: 14.020000000000001,
    currency: "EUR",
    payment_method: "credit_card",
    shipping_address: "1 Rue de la Paix, 75000 Paris",
    metadata: {
      timestamp: "2026-11-26T12:10:25Z",
      version: "1.1",
      event_type: "order.created",
      source: "producer-service",
      correlation_id: "121a175e-26ba-4cf8-a488-d9095847d63b",
    },
    customer_info: {
      customer_id: "client02",
      name: "Client client02",
      email: "client02@example.com",
      phone: "+33 6 00 00 00 00",
      address: "1 Rue de la Paix, 75000 Paris",
      loyalty_level: "silver",
    },
    inventory_status: [{
      item_id: "item-cappuccino",
      item_name: "cappuccino",
      available_qty: 97,
      reserved_qty: 3,
      unit_price: 3.2,
      in_stock: true,
      warehouse: "PARIS-01",
    }],
    ...overrides,
  };
}

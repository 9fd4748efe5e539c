// Compiled by `npm run check` (tsc, strict, no environment types): the public types read
// as the README uses them.

import {
  InvalidEventError,
  SignetEventsClient,
  UnavailableError,
  verify,
  type BulkResult,
  type EventAccepted,
  type EventBody,
  type WebhookEvent,
  type WebhookHeaders,
} from "@signet/events";

const signet = new SignetEventsClient("pk_test_x", {
  baseUrl: "http://127.0.0.1:8080",
  timeoutMs: 5_000,
  retry: { maxAttempts: 3 },
});

const order: EventBody = {
  event: "order.completed",
  resource: "order",
  resource_id: "ord_lannister_77",
  payload: { order_id: "ord_lannister_77", total_cents: 12900 },
};

export async function emitting(): Promise<string> {
  const accepted: EventAccepted = await signet.emit({ ...order, id: "order-ord_lannister_77-completed" });
  const bulk: BulkResult = await signet.emitBulk([order, order]);
  const ids: string[] = bulk.results.flatMap((entry) => (entry.status === "accepted" ? [entry.id] : []));
  const fields: string[] = bulk.results.flatMap((entry) =>
    entry.status === "rejected" ? (entry.error.errors ?? []).map((error) => error.field) : [],
  );
  const counts: number = bulk.accepted + bulk.rejected + bulk.failed;
  return `${accepted.id} ${ids.join()} ${fields.join()} ${counts}`;
}

export async function failing(): Promise<string[]> {
  try {
    await signet.emit(order);
    return [];
  } catch (error) {
    if (error instanceof InvalidEventError) return error.errors.map((e) => `${e.field} ${e.code}`);
    if (error instanceof UnavailableError && error.retriable) return [String(error.status)];
    throw error;
  }
}

export function receiving(body: Uint8Array, headers: Record<string, string | string[] | undefined>): string {
  const event: WebhookEvent = verify(body, headers, ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whpk_x"]);
  const created: string = event.created_at;
  const data: Record<string, unknown> = event.data;
  return `${event.id} ${event.type} ${event.resource}/${event.resource_id} ${event.workspace_id} ${created} ${Object.keys(data)}`;
}

export const deliveredHeaders: WebhookHeaders = { "webhook-id": "evt_1", "webhook-timestamp": "1", "webhook-signature": "v1,x" };

// @ts-expect-error: an event needs its resource_id
export const incomplete: EventBody = { event: "order.completed", resource: "order", payload: {} };

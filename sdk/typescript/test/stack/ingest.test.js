// Against a real ingest: run by tests/e2e/test_sdk_typescript.py with SIGNET_URL and
// SIGNET_PUBLISHABLE_KEY of a workspace it created (the same variables as the README).

import assert from "node:assert/strict";
import { test } from "node:test";

import { AuthenticationError, InvalidEventError, SignetEventsClient } from "@signet/events";

const { SIGNET_URL: baseUrl, SIGNET_PUBLISHABLE_KEY: key } = process.env;
assert.ok(baseUrl && key, "set SIGNET_URL and SIGNET_PUBLISHABLE_KEY (an ingest and a workspace's key)");

const signet = new SignetEventsClient(key, { baseUrl });
const order = (resourceId) => ({
  event: "order.completed",
  resource: "order",
  resource_id: resourceId,
  payload: { order_id: resourceId, total_cents: 12900 },
});
const EVENT_ID = /^evt_[0-9A-Z]{26}$/;

test("emit resolves to { id }, and the same id again for the same key", async () => {
  const accepted = await signet.emit(order("ord_sdk_1"));
  assert.deepEqual(Object.keys(accepted), ["id"]);
  assert.match(accepted.id, EVENT_ID);
  const id = `sdk-test-${Date.now()}`;
  const first = await signet.emit({ ...order("ord_sdk_2"), id });
  assert.deepEqual(await signet.emit({ ...order("ord_sdk_2"), id }), first);
});

test("a bad event rejects with InvalidEventError naming the field", async () => {
  const error = await signet.emit({ ...order("ord_sdk_3"), event: "order completed" }).then(
    () => assert.fail("resolved"),
    (e) => e,
  );
  assert.ok(error instanceof InvalidEventError, String(error));
  assert.equal(error.status, 400);
  assert.deepEqual(error.errors.map((e) => e.field), ["event"]);
  assert.equal(error.problem.status, 400);
});

test("a missing field is named too", async () => {
  const { resource_id, ...event } = order("ord_sdk_4");
  const error = await signet.emit(event).then(() => assert.fail("resolved"), (e) => e);
  assert.ok(error instanceof InvalidEventError);
  assert.deepEqual(error.errors.map((e) => [e.field, e.code]), [["resource_id", "required"]]);
});

test("an unknown publishable key rejects with AuthenticationError", async () => {
  const stranger = new SignetEventsClient("pk_test_nobodyknowsthiskey0000000", { baseUrl });
  const error = await stranger.emit(order("ord_sdk_5")).then(() => assert.fail("resolved"), (e) => e);
  assert.ok(error instanceof AuthenticationError, String(error));
  assert.equal(error.status, 401);
  assert.equal(error.problem.status, 401);
});

test("emitBulk with one bad event: accepted and rejected counts, the bad field named", async () => {
  const result = await signet.emitBulk([order("ord_sdk_6"), { ...order("ord_sdk_7"), payload: [1] }, order("ord_sdk_8")]);
  assert.deepEqual([result.accepted, result.rejected, result.failed], [2, 1, 0]);
  assert.deepEqual(result.results.map((entry) => entry.status), ["accepted", "rejected", "accepted"]);
  assert.match(result.results[0].id, EVENT_ID);
  assert.deepEqual(result.results[1].error.errors.map((e) => e.field), ["payload"]);
});

test("emitBulk where no event is valid resolves with every one rejected", async () => {
  const result = await signet.emitBulk([{ ...order("ord_sdk_9"), event: "" }]);
  assert.deepEqual([result.accepted, result.rejected, result.failed], [0, 1, 0]);
  assert.deepEqual(result.results[0].error.errors.map((e) => e.field), ["event"]);
});

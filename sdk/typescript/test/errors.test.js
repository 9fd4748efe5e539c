import assert from "node:assert/strict";
import { describe, test } from "node:test";

import {
  AuthenticationError,
  ClientError,
  IdempotencyConflictError,
  InvalidEventError,
  SignetError,
  SignetEventsClient,
  UnavailableError,
} from "@signet/events";

const ORDER = { event: "order.completed", resource: "order", resource_id: "ord_1", payload: {} };

/** A client whose every request gets this one answer (no retry is involved). */
function answering(status, body, type = "application/problem+json") {
  const fetch = async () =>
    new Response(typeof body === "string" ? body : JSON.stringify(body), { status, headers: { "content-type": type } });
  return new SignetEventsClient("pk_test_x", { fetch, retry: { maxAttempts: 1 } });
}

const problem = (status, title, extra = {}) => ({
  type: `https://signet.dev/problems/${title.toLowerCase().replaceAll(" ", "-")}`,
  title,
  status,
  ...extra,
});

async function refusal(promise) {
  return promise.then(() => assert.fail("resolved"), (error) => error);
}

describe("what a refusal becomes", () => {
  test("401 and 403: AuthenticationError with the problem", async () => {
    for (const status of [401, 403]) {
      const error = await refusal(answering(status, problem(status, "Unauthorized", { detail: "unknown key" })).emit(ORDER));
      assert.ok(error instanceof AuthenticationError);
      assert.ok(error instanceof ClientError && error instanceof SignetError);
      assert.equal(error.status, status);
      assert.equal(error.problem.detail, "unknown key");
      assert.equal(error.message, `HTTP ${status}: unknown key`);
      assert.equal(error.retriable, false);
    }
  });

  test("400, 413 and 415: InvalidEventError whose errors name the fields", async () => {
    const errors = [{ field: "event", code: "format", message: "must be dot-separated segments" }];
    for (const status of [400, 413, 415]) {
      const error = await refusal(answering(status, problem(status, "Invalid request", { errors })).emit(ORDER));
      assert.ok(error instanceof InvalidEventError);
      assert.deepEqual(error.errors, errors);
    }
  });

  test("422: IdempotencyConflictError", async () => {
    const error = await refusal(answering(422, problem(422, "Idempotency conflict")).emit(ORDER));
    assert.ok(error instanceof IdempotencyConflictError);
    assert.deepEqual(error.errors, []);
  });

  test("anything else is a ClientError; a body that is no JSON leaves problem empty", async () => {
    const error = await refusal(answering(500, "<h1>oops</h1>", "text/html").emit(ORDER));
    assert.equal(error.constructor, ClientError);
    assert.equal(error.status, 500);
    assert.deepEqual(error.problem, {});
    assert.equal(error.message, "HTTP 500: <h1>oops</h1>");
  });

  test("a 202 without an id is not an acknowledgement", async () => {
    const error = await refusal(answering(202, { ok: true }, "application/json").emit(ORDER));
    assert.equal(error.constructor, ClientError);
  });

  test("only UnavailableError is retriable", () => {
    assert.equal(new UnavailableError("x").retriable, true);
    assert.equal(new ClientError("x").retriable, false);
    assert.equal(new UnavailableError("x").name, "UnavailableError");
  });

  test("a bulk request refused as a whole is an InvalidEventError", async () => {
    const errors = [{ field: "events", code: "length", message: "must hold at most 500 items" }];
    const error = await refusal(answering(400, problem(400, "Invalid request", { errors })).emitBulk([ORDER]));
    assert.ok(error instanceof InvalidEventError);
    assert.deepEqual(error.errors, errors);
  });

  test("a bulk 400 naming events[i] resolves: each event rejected with its own fields", async () => {
    const errors = [
      { field: "events[0].event", code: "format", message: "bad" },
      { field: "events[1]", code: "type", message: "must be a JSON object" },
    ];
    const result = await answering(400, problem(400, "Invalid request", { errors })).emitBulk([{ ...ORDER, event: "a b" }, 7]);
    assert.deepEqual([result.accepted, result.rejected, result.failed], [0, 2, 0]);
    assert.deepEqual(result.results[0].error.errors, [{ field: "event", code: "format", message: "bad" }]);
    assert.deepEqual(result.results[1].error.errors, [{ field: "", code: "type", message: "must be a JSON object" }]);
    assert.equal(result.results[1].idempotency_key, undefined);
  });
});

describe("what the constructor refuses", () => {
  test("a key that is no publishable key, and a base URL that is not http(s)", () => {
    assert.throws(() => new SignetEventsClient("sk_live_x"), AuthenticationError);
    assert.throws(() => new SignetEventsClient("pk_live_x\n"), AuthenticationError);
    assert.throws(() => new SignetEventsClient("pk_test_x", { baseUrl: "ftp://example.com" }), TypeError);
    assert.throws(() => new SignetEventsClient("pk_test_x", { baseUrl: "nowhere" }), TypeError);
    assert.throws(() => new SignetEventsClient("pk_test_x", { maxBulkEvents: 0 }), RangeError);
  });
});

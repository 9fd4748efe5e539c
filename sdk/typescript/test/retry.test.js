import assert from "node:assert/strict";
import { after, describe, test } from "node:test";

import { RetryPolicy, SignetEventsClient, UnavailableError, parseRetryAfter } from "@signet/events";

import { accepted, scriptedIngest, unavailable } from "./server.js";

const ORDER = { event: "order.completed", resource: "order", resource_id: "ord_1", payload: { n: 1 } };
const FAST = { maxAttempts: 3, initialBackoffMs: 1, maxBackoffMs: 2 };

/** A policy that remembers every pause it chose, and keeps the real ones short. */
class RecordingPolicy extends RetryPolicy {
  pauses = [];

  delay(attempt, retryAfter) {
    const ms = super.delay(attempt, retryAfter);
    this.pauses.push(ms);
    return Math.min(ms, 5);
  }
}

describe("retries against an ingest on 127.0.0.1", () => {
  const servers = [];
  after(() => Promise.all(servers.map((server) => server.close())));
  const ingest = async (...replies) => {
    const server = await scriptedIngest(...replies);
    servers.push(server);
    return server;
  };

  test("503 then 202: the same Idempotency-Key and body on both attempts", async () => {
    const server = await ingest(unavailable(), accepted());
    const client = new SignetEventsClient("pk_test_x", { baseUrl: server.url, retry: FAST });
    assert.deepEqual(await client.emit(ORDER), { id: "evt_01JS3G8Q2W5RZ4Y7K9M2N6P0TV" });
    const [first, second] = server.requests;
    assert.equal(server.requests.length, 2);
    assert.match(first.headers["idempotency-key"], /^sdk_[A-Za-z0-9_-]{24}$/);
    assert.equal(second.headers["idempotency-key"], first.headers["idempotency-key"]);
    assert.deepEqual(second.body, first.body);
    assert.equal(first.body.id, first.headers["idempotency-key"]);
    assert.equal(first.headers.authorization, "Bearer pk_test_x");
    assert.match(first.headers["user-agent"], /^signet-node\//);
  });

  test("the caller's id is the key on every attempt; 429, 502, 504 and a reset are retried", async () => {
    const server = await ingest(
      { ...unavailable(), status: 429 },
      { ...unavailable(), status: 502 },
      { reset: true },
      { ...unavailable(), status: 504 },
      accepted(),
    );
    const client = new SignetEventsClient("pk_test_x", { baseUrl: server.url, retry: { ...FAST, maxAttempts: 5 } });
    await client.emit({ ...ORDER, id: "order-1-completed" });
    const keys = server.requests.map((request) => request.headers["idempotency-key"]);
    assert.deepEqual(keys, Array(5).fill("order-1-completed"));
  });

  test("Retry-After is honoured, and clamped to maxRetryAfterMs", async () => {
    const server = await ingest(unavailable({ "retry-after": "7" }), unavailable({ "retry-after": "120" }), accepted());
    const policy = new RecordingPolicy({ ...FAST, maxRetryAfterMs: 30_000 });
    await new SignetEventsClient("pk_test_x", { baseUrl: server.url, retry: policy }).emit(ORDER);
    assert.deepEqual(policy.pauses, [7_000, 30_000]);
  });

  test("retries exhausted: UnavailableError, retriable, with the last answer", async () => {
    const server = await ingest(unavailable(), unavailable(), unavailable());
    const client = new SignetEventsClient("pk_test_x", { baseUrl: server.url, retry: FAST });
    const error = await client.emit(ORDER).then(() => assert.fail("resolved"), (e) => e);
    assert.ok(error instanceof UnavailableError);
    assert.equal(error.retriable, true);
    assert.equal(error.status, 503);
    assert.equal(error.problem.title, "Service unavailable");
    assert.match(error.message, /no acknowledgement after 3 attempts \(last: HTTP 503\)/);
    assert.equal(server.requests.length, 3);
  });

  test("a refused connection is a network failure: retried, then UnavailableError", async () => {
    const server = await ingest();
    await server.close();
    const client = new SignetEventsClient("pk_test_x", { baseUrl: server.url, retry: FAST });
    const error = await client.emit(ORDER).then(() => assert.fail("resolved"), (e) => e);
    assert.ok(error instanceof UnavailableError);
    assert.equal(error.status, undefined);
    assert.match(error.message, /ECONNREFUSED/);
  });

  test("an attempt that outlives timeoutMs is abandoned and retried", async () => {
    let calls = 0;
    const fetch = async (url, init) => {
      calls += 1;
      if (calls === 1) {
        // Hang until the client's own AbortSignal fires, as a slow ingest would.
        await new Promise((_, reject) => init.signal.addEventListener("abort", () => reject(init.signal.reason)));
      }
      return new Response(JSON.stringify({ id: "evt_1" }), { status: 202 });
    };
    const client = new SignetEventsClient("pk_test_x", { timeoutMs: 20, retry: FAST, fetch });
    assert.deepEqual(await client.emit(ORDER), { id: "evt_1" });
    assert.equal(calls, 2);
  });

  test("emitBulk sends the failed events again with the same keys, and merges the answers", async () => {
    const server = await ingest(
      {
        status: 202,
        body: {
          results: [
            { index: 0, status: "accepted", id: "evt_A" },
            { index: 1, status: "failed", error: unavailable().body },
            { index: 2, status: "rejected", error: { type: "t", title: "Invalid request", status: 400, errors: [{ field: "payload", code: "type", message: "must be an object" }] } },
          ],
          accepted: 1,
          rejected: 1,
          failed: 1,
        },
      },
      { status: 202, body: { results: [{ index: 0, status: "accepted", id: "evt_B" }], accepted: 1, rejected: 0, failed: 0 } },
    );
    const client = new SignetEventsClient("pk_test_x", { baseUrl: server.url, retry: FAST });
    const result = await client.emitBulk([ORDER, { ...ORDER, id: "mine" }, { ...ORDER, payload: [] }]);
    assert.deepEqual(
      result.results.map(({ index, status }) => [index, status]),
      [[0, "accepted"], [1, "accepted"], [2, "rejected"]],
    );
    assert.deepEqual([result.accepted, result.rejected, result.failed], [2, 1, 0]);
    assert.equal(result.results[1].id, "evt_B");
    assert.equal(result.results[1].idempotency_key, "mine");
    assert.deepEqual(server.requests[1].body.events, [server.requests[0].body.events[1]]);
    const [first] = server.requests[0].body.events;
    assert.equal(result.results[0].idempotency_key, first.id);
    assert.match(first.id, /^sdk_[A-Za-z0-9_-]{24}:0$/);
  });
});

describe("RetryPolicy", () => {
  test("backoff is full jitter under a doubling ceiling, capped", () => {
    const policy = new RetryPolicy({ initialBackoffMs: 100, maxBackoffMs: 350 });
    for (let i = 0; i < 200; i++) {
      assert.ok(policy.delay(1) < 100);
      assert.ok(policy.delay(2) < 200);
      assert.ok(policy.delay(5) < 350);
    }
  });

  test("Retry-After: seconds or an HTTP date; unreadable means the backoff applies", () => {
    const now = Date.parse("2026-04-17T18:22:00Z");
    assert.equal(parseRetryAfter("3", now), 3000);
    assert.equal(parseRetryAfter("Fri, 17 Apr 2026 18:22:05 GMT", now), 5000);
    assert.equal(parseRetryAfter("Fri, 17 Apr 2026 18:21:00 GMT", now), 0);
    assert.equal(parseRetryAfter("soon", now), undefined);
    assert.equal(parseRetryAfter(null, now), undefined);
    assert.ok(new RetryPolicy({ initialBackoffMs: 10 }).delay(1, "soon") < 10);
  });

  test("bad options are refused", () => {
    assert.throws(() => new RetryPolicy({ maxAttempts: 0 }), RangeError);
    assert.throws(() => new RetryPolicy({ maxBackoffMs: -1 }), RangeError);
  });
});

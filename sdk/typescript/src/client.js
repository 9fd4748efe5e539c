// SignetEventsClient: emit events to Signet's HTTP ingest, one at a time or in bulk.
//
// Retries never duplicate an event. Every event carries an idempotency key, the caller's
// `id` or one generated before the first attempt, and the same key goes out on every
// retry, so the ingest answers a retry of an acknowledged event with the same id and
// no second delivery. What is retried and how long to wait is src/retry.js.

import {
  DEFAULT_BASE_URL,
  DEFAULT_TIMEOUT_MS,
  EVENTS_PATH,
  IDEMPOTENCY_KEY,
  MAX_BULK_EVENTS,
  PUBLISHABLE_KEY_PREFIX,
  RETRY_AFTER,
  USER_AGENT,
} from "./constants.js";
import { sendBulk } from "./bulk.js";
import { AuthenticationError, errorFor, isObject, parseJson } from "./errors.js";
import { eventBody, isHeaderSafe, newIdempotencyKey } from "./keys.js";
import { RetryPolicy, exchange } from "./retry.js";

export class SignetEventsClient {
  #fetch;
  #headers;
  #timeoutMs;
  #retry;
  #chunkSize;

  constructor(
    publishableKey,
    {
      baseUrl = DEFAULT_BASE_URL,
      timeoutMs = DEFAULT_TIMEOUT_MS,
      retry,
      maxBulkEvents = MAX_BULK_EVENTS,
      fetch = globalThis.fetch,
    } = {},
  ) {
    if (typeof publishableKey !== "string" || !publishableKey.startsWith(PUBLISHABLE_KEY_PREFIX)) {
      throw new AuthenticationError("a publishable key starts with pk_test_ or pk_live_");
    }
    if (!isHeaderSafe(publishableKey)) {
      // fetch would refuse the header on every attempt, which would read as a network failure.
      throw new AuthenticationError("a publishable key is printable ASCII without spaces");
    }
    if (!URL.canParse(baseUrl) || !["http:", "https:"].includes(new URL(baseUrl).protocol)) {
      throw new TypeError(`baseUrl must be an http(s) URL, got ${JSON.stringify(baseUrl)}`);
    }
    if (!(timeoutMs > 0)) throw new RangeError("timeoutMs must be a positive number");
    if (!Number.isInteger(maxBulkEvents) || maxBulkEvents < 1) {
      throw new RangeError("maxBulkEvents must be an integer of at least 1");
    }
    this.baseUrl = baseUrl.replace(/\/+$/, "");
    this.#fetch = fetch;
    this.#timeoutMs = timeoutMs;
    this.#retry = retry instanceof RetryPolicy ? retry : new RetryPolicy(retry);
    this.#chunkSize = Math.min(maxBulkEvents, MAX_BULK_EVENTS);
    this.#headers = {
      authorization: `Bearer ${publishableKey}`,
      "content-type": "application/json",
      "user-agent": USER_AGENT,
    };
  }

  /** Emit one event; resolves to `{ id }` (`evt_…`) once the broker acknowledged it. */
  async emit(event) {
    if (!isObject(event)) throw new TypeError("emit takes one event object");
    const key = event.id ?? newIdempotencyKey();
    const body = JSON.stringify(eventBody(event, key));
    // A key the header cannot carry still goes in the body, where the ingest names what
    // is wrong with it (field `id`).
    const headers = isHeaderSafe(key) ? { [IDEMPOTENCY_KEY]: key } : {};
    const answer = await exchange(() => this.#post(EVENTS_PATH, body, headers), this.#retry);
    const document = parseJson(answer.text);
    if (answer.status !== 202 || !isObject(document) || typeof document.id !== "string") {
      throw errorFor(answer.status, answer.text);
    }
    return { id: document.id };
  }

  /** Emit many events; resolves to the ingest's BulkResult, one entry per event, in order. */
  async emitBulk(events) {
    return sendBulk(events, {
      post: (path, body, headers) => this.#post(path, body, headers),
      policy: this.#retry,
      chunkSize: this.#chunkSize,
    });
  }

  async #post(path, body, headers) {
    const response = await this.#fetch(this.baseUrl + path, {
      method: "POST",
      body,
      headers: { ...this.#headers, ...headers },
      signal: AbortSignal.timeout(this.#timeoutMs),
    });
    // Read inside the attempt: a body cut off is a network failure like any other.
    const text = await response.text();
    return { status: response.status, retryAfter: response.headers.get(RETRY_AFTER), text };
  }
}

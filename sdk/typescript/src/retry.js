// When to send a request again and how long to wait first: 429, 502, 503, 504 and network
// failures are retried with exponential backoff and full jitter, `Retry-After` honoured
// (clamped); any other answer is returned to the caller as it is.

import { setTimeout as sleep } from "node:timers/promises";

import { RETRY_STATUSES } from "./constants.js";
import { UnavailableError, parseJson } from "./errors.js";

// However long a server asks for, Retry-After is read as at most this (then clamped again
// by the policy's own maxRetryAfterMs).
const MAX_RETRY_AFTER_MS = 12 * 3600 * 1000;

/** Attempts per request and the pause between them: exponential, full jitter. */
export class RetryPolicy {
  constructor({
    maxAttempts = 5,
    initialBackoffMs = 200,
    maxBackoffMs = 5_000,
    maxRetryAfterMs = 30_000,
  } = {}) {
    if (!Number.isInteger(maxAttempts) || maxAttempts < 1) {
      throw new RangeError("maxAttempts must be an integer of at least 1");
    }
    for (const [name, value] of Object.entries({ initialBackoffMs, maxBackoffMs, maxRetryAfterMs })) {
      if (!(value >= 0)) throw new RangeError(`${name} must be a number of at least 0`);
    }
    Object.assign(this, { maxAttempts, initialBackoffMs, maxBackoffMs, maxRetryAfterMs });
  }

  /** Milliseconds to wait after failed attempt `attempt` (1-based). */
  delay(attempt, retryAfter) {
    const asked = parseRetryAfter(retryAfter);
    if (asked !== undefined) return Math.min(asked, this.maxRetryAfterMs);
    const ceiling = Math.min(this.maxBackoffMs, this.initialBackoffMs * 2 ** (attempt - 1));
    return Math.random() * ceiling;
  }
}

/** Milliseconds from a Retry-After header (delta-seconds or an HTTP date), clamped. */
export function parseRetryAfter(value, now = Date.now()) {
  const text = (value ?? "").trim();
  if (!text) return undefined;
  let ms;
  if (/^\d+$/.test(text)) {
    ms = Number(text) * 1000;
  } else {
    const when = Date.parse(text);
    if (Number.isNaN(when)) return undefined;
    ms = when - now;
  }
  return Math.min(Math.max(ms, 0), MAX_RETRY_AFTER_MS);
}

/**
 * Call `send` until it gets an answer not worth retrying, and return that answer.
 *
 * `send()` resolves to `{status, retryAfter, text}` or rejects with a network failure.
 * Throws UnavailableError when every attempt failed.
 */
export async function exchange(send, policy) {
  let reason = "no attempt was made";
  let last = {};
  for (let attempt = 1; attempt <= policy.maxAttempts; attempt++) {
    let retryAfter;
    try {
      const answer = await send();
      if (!RETRY_STATUSES.has(answer.status)) return answer;
      retryAfter = answer.retryAfter;
      reason = `HTTP ${answer.status}`;
      last = { status: answer.status, problem: parseJson(answer.text) };
    } catch (error) {
      if (!isNetworkFailure(error)) throw error;
      reason = describe(error);
      last = { cause: error };
    }
    if (attempt < policy.maxAttempts) await sleep(policy.delay(attempt, retryAfter));
  }
  throw new UnavailableError(
    `no acknowledgement after ${policy.maxAttempts} attempts (last: ${reason}); ` +
      "retrying later with the same idempotency key is safe",
    last,
  );
}

// What fetch rejects with when no answer came: TypeError ("fetch failed": refused, reset,
// DNS) and the AbortSignal timeout. Anything else is a bug and is not retried.
function isNetworkFailure(error) {
  return error instanceof TypeError || error?.name === "TimeoutError" || error?.name === "AbortError";
}

function describe(error) {
  const cause = error?.cause?.code ?? error?.cause?.message;
  return `${error?.name ?? "Error"}: ${error?.message ?? error}${cause ? ` (${cause})` : ""}`;
}

// emitBulk: events go 500 to a request, each with its idempotency key fixed before the first
// attempt (the caller's `id`, else `<batch key>:<index>`), and the events the broker did
// not acknowledge (`failed`) go again with the same keys. The answers of every request are
// put together as one BulkResult, indexed as the caller's array.

import { setTimeout as sleep } from "node:timers/promises";

import { BULK_PATH } from "./constants.js";
import { errorFor, isObject, parseJson } from "./errors.js";
import { eventBody, newIdempotencyKey } from "./keys.js";
import { exchange } from "./retry.js";

const EVENT_FIELD = /^events\[(\d+)\]\.?(.*)$/;

export async function sendBulk(events, { post, policy, chunkSize }) {
  if (!Array.isArray(events)) throw new TypeError("emitBulk takes an array of events");
  const batchKey = newIdempotencyKey();
  // Not an object: sent as it is, for the ingest to reject by its index.
  const keyed = events.map((event, index) =>
    isObject(event) ? eventBody(event, event.id ?? `${batchKey}:${index}`) : event,
  );
  const results = new Array(keyed.length);
  for (let start = 0; start < keyed.length; start += chunkSize) {
    let pending = range(start, Math.min(start + chunkSize, keyed.length));
    for (let attempt = 1; attempt <= policy.maxAttempts; attempt++) {
      const body = JSON.stringify({ events: pending.map((index) => keyed[index]) });
      const answer = await exchange(() => post(BULK_PATH, body, {}), policy);
      for (const entry of entriesOf(answer, pending, keyed)) results[entry.index] = entry;
      pending = pending.filter((index) => results[index].status === "failed");
      if (pending.length === 0) break;
      if (attempt < policy.maxAttempts) await sleep(policy.delay(attempt));
    }
  }
  const count = (status) => results.filter((entry) => entry.status === status).length;
  return { results, accepted: count("accepted"), rejected: count("rejected"), failed: count("failed") };
}

/** One entry per event sent, from a 202's results or a 400's `events[i]…` errors. */
function entriesOf(answer, sent, keyed) {
  const document = parseJson(answer.text);
  const keyOf = (index) => (isObject(keyed[index]) ? keyed[index].id : undefined);
  if (answer.status === 202 && isObject(document) && Array.isArray(document.results)) {
    return document.results.map((entry) => {
      const index = sent[entry.index];
      return { ...entry, index, idempotency_key: keyOf(index) };
    });
  }
  if (answer.status === 400 && isObject(document) && Array.isArray(document.errors)) {
    // No event was valid: the ingest names each one's errors `events[i].field`.
    const errors = new Map(sent.map((index) => [index, []]));
    for (const error of document.errors) {
      const match = EVENT_FIELD.exec(String(error?.field ?? ""));
      if (!match || sent[Number(match[1])] === undefined) {
        throw errorFor(answer.status, answer.text); // the request itself is wrong
      }
      errors.get(sent[Number(match[1])]).push({ ...error, field: match[2] });
    }
    return sent.map((index) => ({
      index,
      status: "rejected",
      error: entryProblem(document, errors.get(index)),
      idempotency_key: keyOf(index),
    }));
  }
  throw errorFor(answer.status, answer.text);
}

function entryProblem(batchProblem, errors) {
  const { type, title, status } = batchProblem;
  const detail = errors.map((error) => `${error.field}: ${error.message}`).join("; ");
  return { type, title, status, detail, errors };
}

function range(start, end) {
  return Array.from({ length: end - start }, (_, offset) => start + offset);
}

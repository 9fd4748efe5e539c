// Idempotency keys: the caller's, or one made here before the first attempt, so that every
// retry of an event carries the same key and the ingest answers it with the same event id.

import { randomBytes } from "node:crypto";

/** A fresh key (what the client uses when the caller gives none), like `sdk_3q2+…`. */
export function newIdempotencyKey() {
  return `sdk_${randomBytes(18).toString("base64url")}`;
}

/** True when `key` can travel in the Idempotency-Key header (the ingest's own rule). */
export function isHeaderSafe(key) {
  return typeof key === "string" && /^[\x21-\x7e]{1,255}$/.test(key);
}

/** The request body of one event: its four fields and its idempotency key as `id`. */
export function eventBody({ event, resource, resource_id, payload }, id) {
  return { event, resource, resource_id, payload, id };
}

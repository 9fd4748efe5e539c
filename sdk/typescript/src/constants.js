// Paths, header names, key prefixes and defaults of Signet's HTTP contract, in one place
// (docs/openapi/ingest.json, docs/openapi/portal.json, docs/receiving-webhooks.md).

export const VERSION = "0.1.0";
export const USER_AGENT = `signet-node/${VERSION}`;

export const DEFAULT_BASE_URL = "http://127.0.0.1:8080";
export const EVENTS_PATH = "/v1/events";
export const BULK_PATH = "/v1/events/bulk";
export const MAX_BULK_EVENTS = 500; // the ingest's default per request
export const DEFAULT_TIMEOUT_MS = 10_000;

// Answers worth sending again, with the same idempotency key.
export const RETRY_STATUSES = new Set([429, 502, 503, 504]);

export const IDEMPOTENCY_KEY = "idempotency-key";
export const RETRY_AFTER = "retry-after";
export const PUBLISHABLE_KEY_PREFIX = "pk_";

// Standard Webhooks headers (HMAC and Ed25519) and the text forms of their keys.
export const WEBHOOK_ID = "webhook-id";
export const WEBHOOK_TIMESTAMP = "webhook-timestamp";
export const WEBHOOK_SIGNATURE = "webhook-signature";
export const SECRET_PREFIX = "whsec_";
export const PUBLIC_KEY_PREFIX = "whpk_";
export const DEFAULT_TOLERANCE_SECONDS = 5 * 60;

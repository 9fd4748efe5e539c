// @signet/events: emit events to Signet's HTTP ingest, and verify the webhooks it delivers.

export { SignetEventsClient } from "./src/client.js";
export { RetryPolicy, parseRetryAfter } from "./src/retry.js";
export { newIdempotencyKey } from "./src/keys.js";
export { verify } from "./src/verify.js";
export {
  AuthenticationError,
  ClientError,
  IdempotencyConflictError,
  InvalidEventError,
  InvalidSecretError,
  SignatureError,
  SignetError,
  TimestampError,
  UnavailableError,
} from "./src/errors.js";

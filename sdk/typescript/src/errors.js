// Every error this package throws. One root, one branch per area:
//
//   SignetError
//   ├── ClientError                  the ingest refused: `status`, `problem` (problem+json)
//   │   ├── AuthenticationError      401/403: a wrong, revoked or malformed publishable key
//   │   ├── InvalidEventError        400/413/415: `errors` names every bad field
//   │   ├── IdempotencyConflictError 422: the key was used before for a different event
//   │   └── UnavailableError         retries exhausted (429, 5xx, network)   retriable
//   ├── SignatureError               a webhook did not verify (headers, signature)
//   │   └── TimestampError           signed more than the tolerance ago, or in the future
//   └── InvalidSecretError           a whsec_/whpk_ key that cannot be one

import { RETRY_STATUSES } from "./constants.js";

export class SignetError extends Error {
  constructor(message, options) {
    super(message, options);
    this.name = new.target.name;
  }

  /** True when the same call may succeed later (with the same idempotency key). */
  get retriable() {
    return false;
  }
}

export class ClientError extends SignetError {
  constructor(message, { status, problem, cause } = {}) {
    super(message, cause === undefined ? undefined : { cause });
    this.status = status;
    this.problem = isObject(problem) ? problem : {};
  }

  /** `[{field, code, message}, …]` from the problem body. */
  get errors() {
    return Array.isArray(this.problem.errors) ? this.problem.errors : [];
  }
}

export class AuthenticationError extends ClientError {}

export class InvalidEventError extends ClientError {}

export class IdempotencyConflictError extends ClientError {}

export class UnavailableError extends ClientError {
  get retriable() {
    return true;
  }
}

export class SignatureError extends SignetError {}

export class TimestampError extends SignatureError {}

export class InvalidSecretError extends SignetError {}

/** The ClientError for an answer that is not the 202 asked for. */
export function errorFor(status, text) {
  const problem = parseJson(text);
  const detail = isObject(problem) ? problem.detail || problem.title : undefined;
  const message = `HTTP ${status}: ${detail || text.slice(0, 200)}`;
  return new (errorClassFor(status))(message, { status, problem });
}

function errorClassFor(status) {
  if (status === 401 || status === 403) return AuthenticationError;
  if (status === 400 || status === 413 || status === 415) return InvalidEventError;
  if (status === 422) return IdempotencyConflictError;
  if (RETRY_STATUSES.has(status)) return UnavailableError;
  return ClientError;
}

export function parseJson(text) {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

export function isObject(value) {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

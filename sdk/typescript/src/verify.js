// verify: a receiver checks that a webhook came from Signet, before it parses the body.
//
// Each key names its scheme by its prefix: `whsec_…` is a `standard-webhooks` secret
// (HMAC-SHA256, checked by the official `standardwebhooks` package), `whpk_…` is the public
// key of a `standard-webhooks-ed25519` destination (checked with node:crypto). Both sign
// "<webhook-id>.<webhook-timestamp>.<body>" and both refuse a timestamp more than five
// minutes from this clock. Give several keys during a rotation: any one may match.

import { createPublicKey, verify as verifySignature } from "node:crypto";

import { Webhook, WebhookVerificationError } from "standardwebhooks";

import {
  DEFAULT_TOLERANCE_SECONDS,
  PUBLIC_KEY_PREFIX,
  SECRET_PREFIX,
  WEBHOOK_ID,
  WEBHOOK_SIGNATURE,
  WEBHOOK_TIMESTAMP,
} from "./constants.js";
import { InvalidSecretError, SignatureError, TimestampError } from "./errors.js";

const ED25519_VERSION = "v1a";
const SECRET_BYTES = [24, 64];
const PUBLIC_KEY_BYTES = 32;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * The parsed webhook body if one of `keys` verifies `body` (the raw bytes, as received)
 * with `headers`; throws SignatureError (TimestampError for a stale one) otherwise.
 */
export function verify(body, headers, keys) {
  const checks = (Array.isArray(keys) ? keys : [keys]).map(checkFor);
  if (checks.length === 0) throw new InvalidSecretError("give at least one key to verify with");
  const bytes = typeof body === "string" ? Buffer.from(body, "utf8") : body;
  if (!(bytes instanceof Uint8Array)) {
    throw new TypeError("body must be the raw request body: a Buffer, Uint8Array or string");
  }
  const signed = {
    id: required(headers, WEBHOOK_ID),
    timestamp: required(headers, WEBHOOK_TIMESTAMP),
    signature: required(headers, WEBHOOK_SIGNATURE),
  };
  checkTimestamp(signed.timestamp);
  if (!checks.some((check) => check(signed, bytes))) {
    throw new SignatureError("no signature matches the keys given");
  }
  return JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("utf8"));
}

function checkFor(key) {
  if (typeof key === "string" && key.startsWith(SECRET_PREFIX)) return hmacCheck(key);
  if (typeof key === "string" && key.startsWith(PUBLIC_KEY_PREFIX)) return ed25519Check(key);
  throw new InvalidSecretError(
    `a key starts with ${SECRET_PREFIX} (standard-webhooks) or ${PUBLIC_KEY_PREFIX} ` +
      "(standard-webhooks-ed25519)",
  );
}

function hmacCheck(secret) {
  decodeKey(secret, SECRET_PREFIX, SECRET_BYTES, "a standard-webhooks secret");
  const webhook = new Webhook(secret);
  return ({ id, timestamp, signature }, bytes) => {
    const headers = {
      [WEBHOOK_ID]: id,
      [WEBHOOK_TIMESTAMP]: timestamp,
      [WEBHOOK_SIGNATURE]: signature,
    };
    try {
      webhook.verify(bytes, headers, { jsonParse: false });
      return true;
    } catch (error) {
      if (error instanceof WebhookVerificationError) return false;
      throw error;
    }
  };
}

function ed25519Check(publicKey) {
  const raw = decodeKey(publicKey, PUBLIC_KEY_PREFIX, [PUBLIC_KEY_BYTES, PUBLIC_KEY_BYTES], "an Ed25519 public key");
  let key;
  try {
    key = createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x: raw.toString("base64url") }, format: "jwk" });
  } catch (error) {
    throw new InvalidSecretError("not a valid Ed25519 public key", { cause: error });
  }
  return ({ id, timestamp, signature }, bytes) => {
    const content = Buffer.concat([Buffer.from(`${id}.${timestamp}.`), bytes]);
    return signature.split(" ").some((entry) => {
      const [version, encoded] = entry.split(",", 2);
      if (version !== ED25519_VERSION || !encoded || !BASE64.test(encoded)) return false;
      try {
        return verifySignature(null, content, key, Buffer.from(encoded, "base64"));
      } catch {
        return false; // not even shaped like a signature
      }
    });
  };
}

function decodeKey(text, prefix, [low, high], what) {
  const encoded = text.slice(prefix.length).trim();
  if (!BASE64.test(encoded)) throw new InvalidSecretError(`${what} is not valid base64 after ${prefix}`);
  const raw = Buffer.from(encoded, "base64");
  if (raw.length < low || raw.length > high) {
    const span = low === high ? `${low}` : `${low}-${high}`;
    throw new InvalidSecretError(`${what} must decode to ${span} bytes, got ${raw.length}`);
  }
  return raw;
}

// Node's req.headers (lower-case names, a string or an array), a fetch Headers, or any
// record with names in any case.
function required(headers, name) {
  let value;
  if (typeof headers?.get === "function") {
    value = headers.get(name);
  } else if (headers && typeof headers === "object") {
    const found = Object.keys(headers).find((key) => key.toLowerCase() === name);
    value = found === undefined ? undefined : headers[found];
  }
  if (Array.isArray(value)) value = value[0];
  if (typeof value !== "string" || !value) throw new SignatureError(`missing ${name} header`);
  return value;
}

function checkTimestamp(value) {
  if (!/^\d+$/.test(value)) throw new SignatureError("the timestamp is not an integer number of seconds");
  const age = Date.now() / 1000 - Number(value);
  if (age > DEFAULT_TOLERANCE_SECONDS) throw new TimestampError("the message timestamp is too old");
  if (-age > DEFAULT_TOLERANCE_SECONDS) {
    throw new TimestampError("the message timestamp is too far in the future");
  }
}

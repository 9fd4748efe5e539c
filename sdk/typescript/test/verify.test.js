import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { InvalidSecretError, SignatureError, TimestampError, verify } from "@signet/events";

import { ed25519Signature, headers, hmacSignature, newKeyPair, newSecret, now } from "./signing.js";

const ID = "evt_01JS3Z8V6Q4W7K2M9N5P0R1T3X";
const EVENT = {
  id: ID,
  type: "order.completed",
  resource: "order",
  resource_id: "ord_lannister_77",
  workspace_id: "ws_01JS3Z8M2V4K6QF0YB7W9T1NXB",
  created_at: "2026-04-17T18:22:00.123Z",
  data: { order_id: "ord_lannister_77", total_cents: 12900 },
};
const BODY = Buffer.from(JSON.stringify(EVENT));

describe("standard-webhooks (HMAC, whsec_)", () => {
  const secret = newSecret();
  const signed = (body = BODY, at = now(), key = secret) =>
    headers(ID, at, hmacSignature(key, ID, at, body));

  test("a signed body verifies and comes back parsed", () => {
    assert.deepEqual(verify(BODY, signed(), secret), EVENT);
  });

  test("the body may be a string, the headers a fetch Headers or in any case", () => {
    const h = signed();
    assert.deepEqual(verify(BODY.toString(), new Headers(h), secret), EVENT);
    const upper = Object.fromEntries(Object.entries(h).map(([k, v]) => [k.toUpperCase(), v]));
    assert.deepEqual(verify(BODY, upper, secret), EVENT);
  });

  test("a wrong secret is refused", () => {
    assert.throws(() => verify(BODY, signed(), newSecret()), SignatureError);
  });

  test("a tampered body is refused", () => {
    const tampered = Buffer.from(BODY.toString().replace("12900", "1"));
    assert.throws(() => verify(tampered, signed(), secret), SignatureError);
  });

  test("a stale or future timestamp is refused as such", () => {
    assert.throws(() => verify(BODY, signed(BODY, now() - 301), secret), TimestampError);
    assert.throws(() => verify(BODY, signed(BODY, now() + 301), secret), TimestampError);
  });

  test("during a rotation any key of several may match, in any signature entry", () => {
    const older = newSecret();
    const at = now();
    const both = `${hmacSignature(secret, ID, at, BODY)} ${hmacSignature(older, ID, at, BODY)}`;
    assert.deepEqual(verify(BODY, headers(ID, at, both), [newSecret(), older]), EVENT);
  });

  test("missing headers are refused", () => {
    const { "webhook-signature": _, ...unsigned } = signed();
    assert.throws(() => verify(BODY, unsigned, secret), /missing webhook-signature header/);
  });
});

describe("standard-webhooks-ed25519 (whpk_)", () => {
  const { privateKey, publicKey } = newKeyPair();
  const signed = (body = BODY, at = now(), key = privateKey) =>
    headers(ID, at, ed25519Signature(key, ID, at, body));

  test("a signed body verifies with the public key", () => {
    assert.deepEqual(verify(BODY, signed(), publicKey), EVENT);
  });

  test("another key pair's signature is refused", () => {
    assert.throws(() => verify(BODY, signed(BODY, now(), newKeyPair().privateKey), publicKey), SignatureError);
  });

  test("a tampered body is refused", () => {
    const tampered = Buffer.from(BODY.toString().replace("ord_lannister_77", "ord_stark_1"));
    assert.throws(() => verify(tampered, signed(), publicKey), SignatureError);
  });

  test("a stale timestamp is refused", () => {
    assert.throws(() => verify(BODY, signed(BODY, now() - 600), publicKey), TimestampError);
  });

  test("an HMAC entry does not pass for Ed25519, nor the other way round", () => {
    const secret = newSecret();
    const at = now();
    assert.throws(() => verify(BODY, headers(ID, at, hmacSignature(secret, ID, at, BODY)), publicKey), SignatureError);
    assert.throws(() => verify(BODY, signed(), secret), SignatureError);
  });

  test("one receiver may hold a secret and a public key: each entry is checked by its scheme", () => {
    assert.deepEqual(verify(BODY, signed(), [newSecret(), publicKey]), EVENT);
  });
});

describe("keys", () => {
  test("a key of no known form is refused before any signature is read", () => {
    for (const key of ["secret", "whsec_not base64", "whsec_" + Buffer.alloc(8).toString("base64"), "whpk_" + Buffer.alloc(31).toString("base64"), "whsk_x"]) {
      assert.throws(() => verify(BODY, {}, key), InvalidSecretError, key);
    }
    assert.throws(() => verify(BODY, {}, []), InvalidSecretError);
  });
});

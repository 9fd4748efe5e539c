// Signatures made here, independently of src/verify.js: node:crypto, per
// docs/receiving-webhooks.md, so verify is checked against the scheme and not itself.

import { createHmac, generateKeyPairSync, randomBytes, sign } from "node:crypto";

export function newSecret() {
  return `whsec_${randomBytes(32).toString("base64")}`;
}

export function newKeyPair() {
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  const raw = Buffer.from(publicKey.export({ format: "jwk" }).x, "base64url");
  return { privateKey, publicKey: `whpk_${raw.toString("base64")}` };
}

export function now() {
  return Math.floor(Date.now() / 1000);
}

function content(id, timestamp, body) {
  return Buffer.concat([Buffer.from(`${id}.${timestamp}.`), Buffer.from(body)]);
}

export function hmacSignature(secret, id, timestamp, body) {
  const key = Buffer.from(secret.slice("whsec_".length), "base64");
  return `v1,${createHmac("sha256", key).update(content(id, timestamp, body)).digest("base64")}`;
}

export function ed25519Signature(privateKey, id, timestamp, body) {
  return `v1a,${sign(null, content(id, timestamp, body), privateKey).toString("base64")}`;
}

export function headers(id, timestamp, signature) {
  return { "webhook-id": id, "webhook-timestamp": String(timestamp), "webhook-signature": signature };
}

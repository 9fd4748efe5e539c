"""Header names and secret prefixes of every signature scheme, in one place."""

from __future__ import annotations

# Standard Webhooks (HMAC and Ed25519). `webhook-id` is also the deduplication id every
# scheme sends: the event id, the same across retries and replays
# (docs/architecture.md#what-a-receiver-gets).
WEBHOOK_ID = "webhook-id"
WEBHOOK_TIMESTAMP = "webhook-timestamp"
WEBHOOK_SIGNATURE = "webhook-signature"

# Stripe-style scheme for customer-chosen plain-text secrets.
SIGNET_SIGNATURE = "signet-signature"

# GitHub-compatible scheme.
HUB_SIGNATURE_256 = "x-hub-signature-256"

# Text forms of keys: symmetric secret, Ed25519 private key (stored sealed), public key.
SECRET_PREFIX = "whsec_"  # noqa: S105 - a prefix, not a secret
PRIVATE_KEY_PREFIX = "whsk_"
PUBLIC_KEY_PREFIX = "whpk_"

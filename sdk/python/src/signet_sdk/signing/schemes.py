"""The signature schemes a destination may choose (its ``signature_scheme`` field)."""

from __future__ import annotations

from signet_sdk._compat import StrEnum


class SignatureScheme(StrEnum):
    STANDARD_WEBHOOKS = "standard-webhooks"
    STANDARD_WEBHOOKS_ED25519 = "standard-webhooks-ed25519"
    HMAC_SHA256 = "hmac-sha256"
    HMAC_SHA512 = "hmac-sha512"
    GITHUB = "github"

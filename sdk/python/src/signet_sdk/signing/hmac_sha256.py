"""The `hmac-sha256` scheme: Stripe-style signatures for customer-chosen plain-text secrets.

Header ``signet-signature: t=<timestamp>,v1=<hex HMAC(secret, "<timestamp>.<body>")>``,
with one ``v1=`` entry per secret while an older secret overlaps a rotation. The HMAC key
is the secret's UTF-8 bytes, used whole. SHA-256 by default; SHA-512 is selectable with
``digest`` (the receiver must use the same one: the entry label stays ``v1``).
"""

from __future__ import annotations

import hmac
import secrets as random_secrets
from collections.abc import Mapping, Sequence

from signet_sdk._compat import StrEnum
from signet_sdk.signing.base import (
    DEFAULT_TOLERANCE_SECONDS,
    SecretMaterial,
    SecretText,
    check_timestamp,
    lower_headers,
    parse_timestamp,
    require_secrets,
    required_header,
    secret_text,
)
from signet_sdk.signing.errors import InvalidSecretError, SignatureError
from signet_sdk.signing.headers import SIGNET_SIGNATURE

VERSION = "v1"
MIN_SECRET_CHARS = 16
MAX_SECRET_CHARS = 512


class Digest(StrEnum):
    SHA256 = "sha256"
    SHA512 = "sha512"


def generate_secret() -> SecretMaterial:
    return SecretMaterial(random_secrets.token_urlsafe(32))


def validate_secret(text: str) -> SecretMaterial:
    """Any printable string of 16-512 characters, used exactly as given."""
    if not MIN_SECRET_CHARS <= len(text) <= MAX_SECRET_CHARS:
        raise InvalidSecretError(
            f"the secret must be {MIN_SECRET_CHARS}-{MAX_SECRET_CHARS} characters long"
        )
    if text != text.strip() or not text.isprintable():
        raise InvalidSecretError(
            "the secret may not contain control characters or start or end with whitespace"
        )
    return SecretMaterial(text)


def _key(secret: SecretText) -> bytes:
    text = secret_text(secret)
    if not text:
        raise InvalidSecretError("the secret is empty")
    return text.encode("utf-8")


def _hex(key: bytes, timestamp: int, body: bytes, digest: Digest) -> str:
    return hmac.new(key, f"{timestamp}.".encode() + body, digest.value).hexdigest()


def sign(
    secrets: Sequence[SecretText],
    msg_id: str,
    timestamp: int,
    body: bytes,
    *,
    digest: Digest = Digest.SHA256,
) -> dict[str, str]:
    """``msg_id`` is not part of this scheme's signed content; it travels as webhook-id."""
    require_secrets(secrets)
    entries = [f"t={timestamp}"]
    entries += [f"{VERSION}={_hex(_key(s), timestamp, body, digest)}" for s in secrets]
    return {SIGNET_SIGNATURE: ",".join(entries)}


def verify(
    secret: SecretText,
    headers: Mapping[str, str],
    body: bytes,
    *,
    tolerance_seconds: float = DEFAULT_TOLERANCE_SECONDS,
    now: float | None = None,
    digest: Digest = Digest.SHA256,
) -> None:
    """Receiver side: raise SignatureError unless one ``v1=`` entry matches ``secret``."""
    header = required_header(lower_headers(headers), SIGNET_SIGNATURE)
    timestamps: list[str] = []
    candidates: list[str] = []
    for item in header.split(","):
        label, _, value = item.strip().partition("=")
        if label == "t":
            timestamps.append(value)
        elif label == VERSION:
            candidates.append(value)
    if len(timestamps) != 1:
        raise SignatureError(f"{SIGNET_SIGNATURE} must carry exactly one t= entry")
    timestamp = parse_timestamp(timestamps[0])
    check_timestamp(timestamp, tolerance_seconds=tolerance_seconds, now=now)
    expected = _hex(_key(secret), timestamp, body, digest)
    if any(hmac.compare_digest(expected, c) for c in candidates):
        return
    raise SignatureError(f"no matching {VERSION} signature")

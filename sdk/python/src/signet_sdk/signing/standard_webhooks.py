"""The `standard-webhooks` scheme (the default): HMAC-SHA256 per the Standard Webhooks spec.

Headers: ``webhook-id``, ``webhook-timestamp`` (epoch seconds) and ``webhook-signature``:
``v1,<base64 HMAC-SHA256(key, "<id>.<timestamp>.<body>")>``, one space-separated entry per
secret while an older secret overlaps a rotation. The secret is ``whsec_<base64 key>``
with a 24-64 byte key; the HMAC key is the decoded bytes. Verifies with the official
``standardwebhooks`` library.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Mapping, Sequence

from signet_sdk.signing.base import (
    DEFAULT_TOLERANCE_SECONDS,
    SecretMaterial,
    SecretText,
    b64,
    b64decode_or_none,
    check_timestamp,
    decode_prefixed,
    lower_headers,
    parse_timestamp,
    require_secrets,
    required_header,
    secret_text,
)
from signet_sdk.signing.errors import SignatureError
from signet_sdk.signing.headers import (
    SECRET_PREFIX,
    WEBHOOK_ID,
    WEBHOOK_SIGNATURE,
    WEBHOOK_TIMESTAMP,
)

VERSION = "v1"
KEY_SIZES = (24, 64)
GENERATED_KEY_BYTES = 32


def generate_secret() -> SecretMaterial:
    return SecretMaterial(SECRET_PREFIX + b64(os.urandom(GENERATED_KEY_BYTES)))


def validate_secret(text: str) -> SecretMaterial:
    """Accept a customer's ``whsec_`` secret, or raise InvalidSecretError saying why not."""
    text = text.strip()
    decode_prefixed(text, SECRET_PREFIX, "a standard-webhooks secret", KEY_SIZES)
    return SecretMaterial(text)


def _key(secret: SecretText) -> bytes:
    return decode_prefixed(
        secret_text(secret), SECRET_PREFIX, "a standard-webhooks secret", KEY_SIZES
    )


def signed_content(msg_id: str, timestamp: int, body: bytes) -> bytes:
    return f"{msg_id}.{timestamp}.".encode() + body


def _digest(key: bytes, content: bytes) -> bytes:
    return hmac.new(key, content, hashlib.sha256).digest()


def sign(secrets: Sequence[SecretText], msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    require_secrets(secrets)
    content = signed_content(msg_id, timestamp, body)
    signature = " ".join(f"{VERSION},{b64(_digest(_key(s), content))}" for s in secrets)
    return {
        WEBHOOK_ID: msg_id,
        WEBHOOK_TIMESTAMP: str(timestamp),
        WEBHOOK_SIGNATURE: signature,
    }


def verify(
    secret: SecretText,
    headers: Mapping[str, str],
    body: bytes,
    *,
    tolerance_seconds: float = DEFAULT_TOLERANCE_SECONDS,
    now: float | None = None,
) -> None:
    """Receiver side: raise SignatureError unless one ``v1`` entry matches ``secret``."""
    lowered = lower_headers(headers)
    msg_id = required_header(lowered, WEBHOOK_ID)
    timestamp = parse_timestamp(required_header(lowered, WEBHOOK_TIMESTAMP))
    signatures = required_header(lowered, WEBHOOK_SIGNATURE)
    check_timestamp(timestamp, tolerance_seconds=tolerance_seconds, now=now)
    expected = _digest(_key(secret), signed_content(msg_id, timestamp, body))
    for entry in signatures.split():
        version, _, encoded = entry.partition(",")
        candidate = b64decode_or_none(encoded)
        if (
            version == VERSION
            and candidate is not None
            and hmac.compare_digest(expected, candidate)
        ):
            return
    raise SignatureError("no matching v1 signature")

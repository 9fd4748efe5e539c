"""The `github` scheme: ``x-hub-signature-256: sha256=<hex HMAC-SHA256(secret, body)>``.

For receivers written against GitHub's webhooks. There is no timestamp, so nothing
protects against replays beyond deduplicating by ``webhook-id``. GitHub's header carries
exactly one signature, so only the primary (newest) secret signs: a rotation is a
cut-over for this scheme, because a second value would break GitHub-compatible checkers.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence

from signet_sdk.signing import hmac_sha256
from signet_sdk.signing.base import (
    SecretMaterial,
    SecretText,
    lower_headers,
    require_secrets,
    required_header,
    secret_text,
)
from signet_sdk.signing.errors import InvalidSecretError, SignatureError
from signet_sdk.signing.headers import HUB_SIGNATURE_256

PREFIX = "sha256="


def generate_secret() -> SecretMaterial:
    return hmac_sha256.generate_secret()


def validate_secret(text: str) -> SecretMaterial:
    """Same rules as `hmac-sha256`: a printable string of 16-512 characters."""
    return hmac_sha256.validate_secret(text)


def _hex(secret: SecretText, body: bytes) -> str:
    text = secret_text(secret)
    if not text:
        raise InvalidSecretError("the secret is empty")
    return hmac.new(text.encode("utf-8"), body, hashlib.sha256).hexdigest()


def sign(secrets: Sequence[SecretText], msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """Signs with ``secrets[0]``, the primary; the id and timestamp are not signed here."""
    require_secrets(secrets)
    return {HUB_SIGNATURE_256: PREFIX + _hex(secrets[0], body)}


def verify(secret: SecretText, headers: Mapping[str, str], body: bytes) -> None:
    """Receiver side: raise SignatureError unless the header matches ``secret``."""
    header = required_header(lower_headers(headers), HUB_SIGNATURE_256)
    if not header.startswith(PREFIX):
        raise SignatureError(f"{HUB_SIGNATURE_256} must start with {PREFIX}")
    if not hmac.compare_digest(PREFIX + _hex(secret, body), header.strip()):
        raise SignatureError("the signature does not match")

"""The `standard-webhooks-ed25519` scheme: Standard Webhooks headers, Ed25519 signatures.

Same headers and signed content as `standard-webhooks` (``"<id>.<timestamp>.<body>"``),
with ``v1a,<base64 Ed25519 signature>`` entries. Signet generates the key pair: it stores
the private key sealed, as ``whsk_<base64 32-byte seed>``, and the customer gets only the
public key ``whpk_<base64 32-byte raw key>``, so a receiver can verify but never sign.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

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
from signet_sdk.signing.errors import InvalidSecretError, SignatureError
from signet_sdk.signing.headers import (
    PRIVATE_KEY_PREFIX,
    PUBLIC_KEY_PREFIX,
    WEBHOOK_ID,
    WEBHOOK_SIGNATURE,
    WEBHOOK_TIMESTAMP,
)
from signet_sdk.signing.standard_webhooks import signed_content

VERSION = "v1a"
KEY_BYTES = 32


def _private_key(secret: SecretText) -> Ed25519PrivateKey:
    seed = decode_prefixed(
        secret_text(secret), PRIVATE_KEY_PREFIX, "an Ed25519 private key", (KEY_BYTES, KEY_BYTES)
    )
    return Ed25519PrivateKey.from_private_bytes(seed)


def _public_key(text: str) -> Ed25519PublicKey:
    raw = decode_prefixed(
        text.strip(), PUBLIC_KEY_PREFIX, "an Ed25519 public key", (KEY_BYTES, KEY_BYTES)
    )
    try:
        return Ed25519PublicKey.from_public_bytes(raw)
    except ValueError as exc:
        raise InvalidSecretError("not a valid Ed25519 public key") from exc


def public_key_text(private: Ed25519PrivateKey) -> str:
    raw = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return PUBLIC_KEY_PREFIX + b64(raw)


def _material(private: Ed25519PrivateKey, text: str) -> SecretMaterial:
    return SecretMaterial(text, public_key=public_key_text(private))


def generate_secret() -> SecretMaterial:
    private = Ed25519PrivateKey.generate()
    seed = private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    return _material(private, PRIVATE_KEY_PREFIX + b64(seed))


def validate_secret(text: str) -> SecretMaterial:
    """Accept an existing ``whsk_`` private key (migrating from another sender).

    A public key is refused with a hint: Signet signs, so it needs the private half, and
    normally generates the pair itself.
    """
    text = text.strip()
    if text.startswith(PUBLIC_KEY_PREFIX):
        raise InvalidSecretError(
            "that is a public key; omit the secret and Signet generates the key pair"
        )
    return _material(_private_key(text), text)


def sign(secrets: Sequence[SecretText], msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    require_secrets(secrets)
    content = signed_content(msg_id, timestamp, body)
    signature = " ".join(f"{VERSION},{b64(_private_key(s).sign(content))}" for s in secrets)
    return {
        WEBHOOK_ID: msg_id,
        WEBHOOK_TIMESTAMP: str(timestamp),
        WEBHOOK_SIGNATURE: signature,
    }


def verify(
    public_key: SecretText,
    headers: Mapping[str, str],
    body: bytes,
    *,
    tolerance_seconds: float = DEFAULT_TOLERANCE_SECONDS,
    now: float | None = None,
) -> None:
    """Receiver side, with the ``whpk_`` public key: raise SignatureError unless one matches."""
    key = _public_key(secret_text(public_key))
    lowered = lower_headers(headers)
    msg_id = required_header(lowered, WEBHOOK_ID)
    timestamp = parse_timestamp(required_header(lowered, WEBHOOK_TIMESTAMP))
    signatures = required_header(lowered, WEBHOOK_SIGNATURE)
    check_timestamp(timestamp, tolerance_seconds=tolerance_seconds, now=now)
    content = signed_content(msg_id, timestamp, body)
    for entry in signatures.split():
        version, _, encoded = entry.partition(",")
        candidate = b64decode_or_none(encoded)
        if version != VERSION or candidate is None:
            continue
        try:
            key.verify(candidate, content)
        except InvalidSignature:
            continue
        return
    raise SignatureError("no matching v1a signature")

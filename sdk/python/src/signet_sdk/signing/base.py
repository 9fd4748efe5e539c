"""What every scheme module shares: the secret value type and header/timestamp checks."""

from __future__ import annotations

import base64
import binascii
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from signet_sdk.signing.errors import InvalidSecretError, SignatureError, TimestampError

# A secret as the dispatcher holds it: the text form, or its UTF-8 bytes as they come out
# of `MasterKeyRing.open`.
SecretText = bytes | str

DEFAULT_TOLERANCE_SECONDS = 5 * 60


@dataclass(slots=True, frozen=True)
class SecretMaterial:
    """A secret ready to be stored: the portal seals ``secret`` and keeps ``public_key``.

    ``shown`` is what the customer sees once at creation: the Ed25519 public key, or the
    shared secret itself for symmetric schemes.
    """

    secret: str = field(repr=False)
    public_key: str | None = None

    @property
    def shown(self) -> str:
        return self.public_key if self.public_key is not None else self.secret


def secret_text(secret: SecretText) -> str:
    if isinstance(secret, str):
        return secret
    try:
        return secret.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidSecretError("the secret is not UTF-8 text") from exc


def require_secrets(secrets: Sequence[SecretText]) -> None:
    if not secrets:
        raise InvalidSecretError("there is no signing secret to sign with")


def decode_prefixed(text: str, prefix: str, what: str, sizes: tuple[int, int]) -> bytes:
    """``<prefix><base64>`` → bytes, checking the prefix, the encoding and the length."""
    if not text.startswith(prefix):
        raise InvalidSecretError(f"{what} must start with {prefix}")
    try:
        raw = base64.b64decode(text[len(prefix) :], validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidSecretError(f"{what} is not valid base64 after {prefix}") from exc
    low, high = sizes
    if not low <= len(raw) <= high:
        span = f"{low}" if low == high else f"{low}-{high}"
        raise InvalidSecretError(f"{what} must decode to {span} bytes, got {len(raw)}")
    return raw


def lower_headers(headers: Mapping[str, str]) -> dict[str, str]:
    return {name.lower(): value for name, value in headers.items()}


def required_header(headers: Mapping[str, str], name: str) -> str:
    value = headers.get(name)
    if not value:
        raise SignatureError(f"missing {name} header")
    return value


def parse_timestamp(value: str) -> int:
    try:
        return int(value)
    except ValueError as exc:
        raise SignatureError("the timestamp is not an integer number of seconds") from exc


def check_timestamp(timestamp: int, *, tolerance_seconds: float, now: float | None) -> None:
    """Refuse a signature older or newer than ``tolerance_seconds`` (replay protection)."""
    current = time.time() if now is None else now
    if timestamp < current - tolerance_seconds:
        raise TimestampError("the message timestamp is too old")
    if timestamp > current + tolerance_seconds:
        raise TimestampError("the message timestamp is too far in the future")


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def b64decode_or_none(text: str) -> bytes | None:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None

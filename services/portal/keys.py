"""Publishable keys: minted here, shown once, stored only as their SHA-256 hash.

A key is ``pk_live_`` (production workspaces) or ``pk_test_`` (development, staging)
followed by 32 base62 characters (~190 bits). Ingest authenticates a request by hashing
the presented key the same way (:func:`key_sha256`) and looking the hash up in the
config view, so the plain key exists only in the one response that hands it out.
"""

from __future__ import annotations

import hashlib
import secrets
import string
from dataclasses import dataclass

from signet_sdk.ids import new_id

from signet.records.model import Environment, PublishableKey

_ALPHABET = string.ascii_letters + string.digits
_RANDOM_CHARS = 32
LIVE_PREFIX = "pk_live_"
TEST_PREFIX = "pk_test_"


@dataclass(slots=True, frozen=True)
class MintedKey:
    """The plain key (shown once) and the record that goes into the config."""

    plain: str
    record: PublishableKey


def key_prefix(environment: Environment) -> str:
    return LIVE_PREFIX if environment is Environment.PRODUCTION else TEST_PREFIX


def key_sha256(plain: str) -> str:
    return hashlib.sha256(plain.encode()).hexdigest()


def key_hint(plain: str) -> str:
    """Enough to recognise a key in a list, far too little to use it."""
    prefix = LIVE_PREFIX if plain.startswith(LIVE_PREFIX) else TEST_PREFIX
    return f"{prefix}…{plain[-4:]}"


def mint_key(environment: Environment, now_ms: int) -> MintedKey:
    body = "".join(secrets.choice(_ALPHABET) for _ in range(_RANDOM_CHARS))
    plain = key_prefix(environment) + body
    record = PublishableKey(
        id=new_id("key", now_ms=now_ms),
        sha256=key_sha256(plain),
        hint=key_hint(plain),
        created_at=now_ms,
    )
    return MintedKey(plain, record)

"""Prefixed, time-ordered identifiers (``evt_01J…``): sortable, URL-safe, unguessable."""

from __future__ import annotations

import secrets
import time

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def _base32(value: int, length: int) -> str:
    chars = []
    for _ in range(length):
        chars.append(_CROCKFORD[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def new_id(prefix: str, *, now_ms: int | None = None) -> str:
    """``<prefix>_`` + 26 chars: 48-bit millisecond time then 80 random bits (ULID layout)."""
    ms = int(time.time() * 1000) if now_ms is None else now_ms
    return f"{prefix}_{_base32(ms, 10)}{_base32(secrets.randbits(80), 16)}"


def now_ms() -> int:
    """Wall-clock time in epoch milliseconds, the unit of every ``*_at`` field."""
    return int(time.time() * 1000)

"""Embed session tokens: short-lived, signed, scoped to one workspace, one role and origins.

    sess_<base64url(compact JSON claims)>.<base64url(HMAC-SHA256)>

The MAC covers ``sess_`` and the encoded claims. The key is ``SIGNET_SESSION_KEY`` when
set; otherwise it is derived with HKDF-SHA256 from each master key of the ring, so every
portal replica derives the same keys without one more secret to distribute. Tokens are
minted with the first key and verified against all of them (no key id in the token,
nothing to learn about the ring), in constant time.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

import orjson
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from signet_sdk.ids import new_id

from services.portal.errors import SessionError
from signet.errors import ConfigurationError
from signet.security.secrets import MasterKeyRing

TOKEN_PREFIX = "sess_"  # noqa: S105 - a label, not a secret
_VERSION = 1
_HKDF_INFO = b"signet/session-tokens/v1"
_MAX_TOKEN_CHARS = 4096
_B64URL = re.compile(r"^[A-Za-z0-9_-]+$")
MIN_SESSION_KEY_CHARS = 32
DEFAULT_PORTS = {"http": 80, "https": 443}


class Role(StrEnum):
    ADMIN = "admin"
    VIEWER = "viewer"


@dataclass(slots=True, frozen=True)
class SessionClaims:
    """What a verified token grants."""

    session_id: str
    workspace_id: str
    role: Role
    allowed_origins: tuple[str, ...]
    issued_at: int
    expires_at: int

    @property
    def can_write(self) -> bool:
        return self.role is Role.ADMIN


def normalize_origin(value: str) -> str | None:
    """``https://App.Example.com:443/`` → ``https://app.example.com``; None if not an origin."""
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        return None
    if parts.username or parts.password or parts.query or parts.fragment:
        return None
    if parts.path not in ("", "/"):
        return None
    host = parts.hostname.lower()
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    suffix = f":{port}" if port is not None and port != DEFAULT_PORTS[parts.scheme] else ""
    return f"{parts.scheme}://{host}{suffix}"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    if not _B64URL.match(text):
        raise SessionError("session token is garbled")
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise SessionError("session token is garbled") from exc
    # Only the canonical spelling: unused trailing bits must not make a second valid token.
    if _b64(data) != text:
        raise SessionError("session token is garbled")
    return data


class SessionSigner:
    """Mints and verifies session tokens. Pure: the caller passes the clock."""

    def __init__(self, keys: list[bytes]) -> None:
        if not keys:
            raise ConfigurationError("a session signer needs at least one key")
        self._keys = keys

    @classmethod
    def from_keys(cls, session_key: str | None, ring: MasterKeyRing) -> SessionSigner:
        if session_key:
            if len(session_key) < MIN_SESSION_KEY_CHARS:
                raise ConfigurationError(
                    f"SIGNET_SESSION_KEY must be at least {MIN_SESSION_KEY_CHARS} characters"
                )
            return cls([session_key.encode()])
        ordered = [ring.primary_id, *(k for k in ring.keys if k != ring.primary_id)]
        return cls([_derive(ring.keys[kid]) for kid in ordered])

    def mint(
        self,
        workspace_id: str,
        role: Role,
        *,
        ttl_seconds: int,
        allowed_origins: tuple[str, ...],
        now_ms: int,
    ) -> tuple[str, SessionClaims]:
        claims = SessionClaims(
            session_id=new_id("ses", now_ms=now_ms),
            workspace_id=workspace_id,
            role=role,
            allowed_origins=allowed_origins,
            issued_at=now_ms,
            expires_at=now_ms + ttl_seconds * 1000,
        )
        payload = orjson.dumps(
            {
                "v": _VERSION,
                "sid": claims.session_id,
                "ws": claims.workspace_id,
                "r": claims.role.value,
                "o": list(claims.allowed_origins),
                "iat": claims.issued_at,
                "exp": claims.expires_at,
            }
        )
        signed = TOKEN_PREFIX + _b64(payload)
        return f"{signed}.{_b64(self._mac(self._keys[0], signed))}", claims

    def verify(self, token: str, *, now_ms: int) -> SessionClaims:
        """The token's claims, or :class:`SessionError` if garbled, forged or expired."""
        if not token.startswith(TOKEN_PREFIX) or len(token) > _MAX_TOKEN_CHARS:
            raise SessionError("not a session token")
        signed, dot, mac_text = token.rpartition(".")
        if not dot or not signed[len(TOKEN_PREFIX) :]:
            raise SessionError("session token is garbled")
        mac = _unb64(mac_text)
        # Check every key without stopping early: the time taken says nothing about which.
        valid = False
        for key in self._keys:
            valid |= hmac.compare_digest(self._mac(key, signed), mac)
        if not valid:
            raise SessionError("session token signature does not verify")
        claims = _parse_claims(_unb64(signed[len(TOKEN_PREFIX) :]))
        if claims.expires_at <= now_ms:
            raise SessionError("session token expired")
        return claims

    @staticmethod
    def _mac(key: bytes, signed: str) -> bytes:
        return hmac.new(key, signed.encode(), hashlib.sha256).digest()


def _derive(master_key: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_HKDF_INFO).derive(master_key)


def _parse_claims(payload: bytes) -> SessionClaims:
    """Claims of a token whose MAC verified; a shape error means a key was misused."""
    try:
        raw: Any = orjson.loads(payload)
        if not isinstance(raw, dict) or raw.get("v") != _VERSION:
            raise SessionError("session token version is not supported")
        origins = raw["o"]
        if not isinstance(origins, list) or not all(isinstance(o, str) for o in origins):
            raise SessionError("session token is garbled")
        return SessionClaims(
            session_id=str(raw["sid"]),
            workspace_id=str(raw["ws"]),
            role=Role(raw["r"]),
            allowed_origins=tuple(origins),
            issued_at=int(raw["iat"]),
            expires_at=int(raw["exp"]),
        )
    except (orjson.JSONDecodeError, KeyError, ValueError, TypeError) as exc:
        raise SessionError("session token is garbled") from exc

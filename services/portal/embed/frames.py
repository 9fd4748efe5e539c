"""Frame tickets: which origins may frame ``/embed``, known before any token arrives.

The CSP header of ``/embed`` is sent before the page can receive a session token, so the
origins allowed to frame it cannot come from the token. The host's server exchanges the
session token for an embed URL carrying a *frame ticket*:

    /embed?frame=fr1.<base64url(compact JSON {"o": [origins], "exp": ms, "sid": id})>.<mac>

The ticket grants nothing: it holds no credential and cannot call the API. It only says,
signed by the portal, "these origins may frame the embed until ``exp``" — copied from the
session the token belongs to — and becomes ``Content-Security-Policy: frame-ancestors``.
A forged, expired or missing ticket yields ``frame-ancestors 'none'``: the page then only
renders at the top level (the URL-fragment fallback), never inside someone else's frame.

The MAC key is derived with HKDF-SHA256 from ``SIGNET_SESSION_KEY`` or, without one, from
each master key (minted with the first, verified against all), under its own label, so a
ticket can never be mistaken for a session token or the other way round.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from dataclasses import dataclass
from typing import Any

import orjson
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from services.portal.errors import PortalError
from services.portal.sessions import SessionClaims, normalize_origin
from signet.errors import ConfigurationError
from signet.security.secrets import MasterKeyRing

TICKET_PREFIX = "fr1."
_HKDF_INFO = b"signet/embed-frame-tickets/v1"
_MAX_TICKET_CHARS = 4096
_MAX_ORIGINS = 10
_B64URL = re.compile(r"^[A-Za-z0-9_-]+$")
# What may stand in a CSP source list: an origin normalize_origin produced, nothing else.
_CSP_ORIGIN = re.compile(r"^https?://[a-z0-9.\-\[\]:]+$")


class InvalidTicketError(PortalError):
    """A ticket that is garbled, forged or expired (the page then refuses every frame)."""


@dataclass(slots=True, frozen=True)
class FrameTicket:
    origins: tuple[str, ...]
    expires_at: int
    session_id: str


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    if not _B64URL.match(text):
        raise InvalidTicketError("frame ticket is garbled")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise InvalidTicketError("frame ticket is garbled") from exc


def _derive(secret: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_HKDF_INFO).derive(secret)


def csp_origin(origin: str) -> str | None:
    """``origin`` if it is safe to place in a CSP source list as it is, else None."""
    normalized = normalize_origin(origin)
    if normalized is None or normalized != origin or not _CSP_ORIGIN.match(origin):
        return None
    return origin


class FrameTickets:
    """Mints and verifies frame tickets. Pure: the caller passes the clock."""

    def __init__(self, keys: list[bytes]) -> None:
        if not keys:
            raise ConfigurationError("frame tickets need at least one key")
        self._keys = keys

    @classmethod
    def from_keys(cls, session_key: str | None, ring: MasterKeyRing) -> FrameTickets:
        if session_key:
            return cls([_derive(session_key.encode())])
        ordered = [ring.primary_id, *(k for k in ring.keys if k != ring.primary_id)]
        return cls([_derive(ring.keys[kid]) for kid in ordered])

    def mint(self, claims: SessionClaims) -> str:
        """The ticket for the session ``claims`` describe: its origins, until it expires."""
        origins = [o for o in claims.allowed_origins if csp_origin(o) is not None]
        payload = orjson.dumps(
            {"o": origins[:_MAX_ORIGINS], "exp": claims.expires_at, "sid": claims.session_id}
        )
        signed = TICKET_PREFIX + _b64(payload)
        return f"{signed}.{_b64(self._mac(self._keys[0], signed))}"

    def verify(self, ticket: str, *, now_ms: int) -> FrameTicket:
        if not ticket.startswith(TICKET_PREFIX) or len(ticket) > _MAX_TICKET_CHARS:
            raise InvalidTicketError("not a frame ticket")
        signed, dot, mac_text = ticket.rpartition(".")
        if not dot or signed == TICKET_PREFIX.rstrip("."):
            raise InvalidTicketError("frame ticket is garbled")
        mac = _unb64(mac_text)
        valid = False
        for key in self._keys:  # every key, without stopping early
            valid |= hmac.compare_digest(self._mac(key, signed), mac)
        if not valid:
            raise InvalidTicketError("frame ticket signature does not verify")
        parsed = _parse(_unb64(signed[len(TICKET_PREFIX) :]))
        if parsed.expires_at <= now_ms:
            raise InvalidTicketError("frame ticket expired")
        return parsed

    @staticmethod
    def _mac(key: bytes, signed: str) -> bytes:
        return hmac.new(key, signed.encode(), hashlib.sha256).digest()


def _parse(payload: bytes) -> FrameTicket:
    try:
        raw: Any = orjson.loads(payload)
        origins = raw["o"]
        if not isinstance(origins, list) or len(origins) > _MAX_ORIGINS:
            raise InvalidTicketError("frame ticket is garbled")
        # Checked again on the way out: whatever verified still goes into a header.
        checked = tuple(o for o in origins if isinstance(o, str) and csp_origin(o) is not None)
        if len(checked) != len(origins):
            raise InvalidTicketError("frame ticket names an origin that is not one")
        return FrameTicket(checked, int(raw["exp"]), str(raw["sid"]))
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise InvalidTicketError("frame ticket is garbled") from exc


def frame_ancestors(ticket: FrameTicket | None) -> str:
    """The CSP ``frame-ancestors`` sources for a verified ticket (or none at all)."""
    if ticket is None or not ticket.origins:
        return "'none'"
    return " ".join(ticket.origins)

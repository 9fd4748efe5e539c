"""Who may call what: the operator key for the operator API, session tokens for the
workspace API (scoped to one workspace, read-only for viewers, bound to origins).

Handlers are wrapped at registration (``guard.protect(handler, write=True)``), so a route
cannot be added without saying who may call it. Secrets are compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Awaitable, Callable

from aiohttp import web
from signet_sdk.ids import now_ms

from services.portal.errors import SessionError
from services.portal.problems import forbidden
from services.portal.sessions import SessionClaims, SessionSigner, normalize_origin
from signet.api.operations import SecurityScheme
from signet.web import Handler, unauthorized

SessionHandler = Callable[[web.Request, SessionClaims], Awaitable[web.StreamResponse]]

# What an operation guarded by OperatorGuard declares (``security=[OPERATOR_KEY]``).
OPERATOR_KEY = SecurityScheme(
    "operatorKey", "the platform's operator key (SIGNET_OPERATOR_KEY), for the SaaS's backend"
)
# What an operation guarded by SessionGuard declares (``security=[SESSION_TOKEN]``).
SESSION_TOKEN = SecurityScheme(
    "sessionToken",
    "a workspace session token (`POST /v1/sessions`), for one workspace",
    bearer_format="sess_…",
)


def bearer_token(request: web.Request) -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise unauthorized("send Authorization: Bearer <token>")
    return token.strip()


class OperatorGuard:
    """Admits requests bearing ``SIGNET_OPERATOR_KEY``."""

    def __init__(self, operator_key: str) -> None:
        # Comparing digests keeps the comparison constant-time whatever the lengths.
        self._digest = hashlib.sha256(operator_key.encode()).digest()

    def check(self, request: web.Request) -> None:
        presented = hashlib.sha256(bearer_token(request).encode()).digest()
        if not hmac.compare_digest(presented, self._digest):
            raise unauthorized("the operator key is not valid")

    def protect(self, handler: Handler) -> Handler:
        async def guarded(request: web.Request) -> web.StreamResponse:
            self.check(request)
            return await handler(request)

        return guarded


class SessionGuard:
    """Admits requests bearing a valid session token; hands the claims to the handler."""

    def __init__(
        self,
        signer: SessionSigner,
        own_origin: str | None,
        clock: Callable[[], int] = now_ms,
    ) -> None:
        self._signer = signer
        self._own_origin = own_origin
        self._clock = clock

    def claims(self, request: web.Request, *, write: bool) -> SessionClaims:
        try:
            claims = self._signer.verify(bearer_token(request), now_ms=self._clock())
        except SessionError as exc:
            raise unauthorized(str(exc)) from exc
        origin = request.headers.get("Origin")
        if origin is not None and not self._origin_allowed(claims, origin):
            raise forbidden("this session may not be used from this origin")
        if write and not claims.can_write:
            raise forbidden("a viewer session can read but not change the workspace")
        return claims

    def _origin_allowed(self, claims: SessionClaims, origin: str) -> bool:
        normalized = normalize_origin(origin)
        if normalized is None:
            return False
        return normalized == self._own_origin or normalized in claims.allowed_origins

    def protect(self, handler: SessionHandler, *, write: bool) -> Handler:
        async def guarded(request: web.Request) -> web.StreamResponse:
            return await handler(request, self.claims(request, write=write))

        return guarded

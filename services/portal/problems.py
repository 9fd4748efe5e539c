"""The portal's problem+json answers, and the middleware translating domain errors to them.

Domain modules raise :class:`InvalidInput`, :class:`BrokerError` or
:class:`CommandTimeoutError`; only here do they become HTTP statuses.
"""

from __future__ import annotations

from aiohttp import web
from aiohttp.typedefs import Middleware

from services.portal.commands import ConfigReader
from services.portal.errors import InvalidInput
from signet.errors import BrokerError, CommandTimeoutError
from signet.web import Handler, Problem, bad_request


def forbidden(detail: str) -> Problem:
    return Problem(403, "Forbidden", detail, kind="forbidden")


def conflict(detail: str) -> Problem:
    return Problem(409, "Conflict", detail, kind="conflict")


@web.middleware
async def translate_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except InvalidInput as exc:
        raise bad_request(str(exc), [e.as_dict() for e in exc.errors]) from exc
    except BrokerError as exc:
        raise Problem(
            503,
            "Broker unavailable",
            "Kafka did not acknowledge the change, so nothing was written; retry",
            kind="broker-unavailable",
            headers={"Retry-After": "1"},
        ) from exc
    except CommandTimeoutError as exc:
        raise Problem(
            504,
            "Change not applied in time",
            "the change was written but not yet applied; it may still apply, "
            "so read the resource before retrying",
            kind="command-timeout",
            headers={"Retry-After": "2"},
        ) from exc


def require_caught_up(view: ConfigReader) -> Middleware:
    """API answers wait until the config view has read the whole config topic once."""

    @web.middleware
    async def caught_up(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith("/v1/") and not view.ready:
            raise Problem(
                503,
                "Not ready",
                "the portal is still reading the workspace configuration",
                kind="not-ready",
                headers={"Retry-After": "1"},
            )
        return await handler(request)

    return caught_up

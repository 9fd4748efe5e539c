"""The portal's problem+json answers, the middleware translating domain errors to them,
and how its operations document them.

Domain modules raise :class:`~signet_sdk.contract.fields.FieldErrors`, :class:`BrokerError` or
:class:`CommandTimeoutError`; only here do they become HTTP statuses.
"""

from __future__ import annotations

from aiohttp import web
from aiohttp.typedefs import Middleware
from signet_sdk.contract.fields import FieldErrors

from services.portal.commands import ConfigReader
from signet.api.operations import Reply, problem
from signet.errors import BrokerError, CommandTimeoutError
from signet.web import Handler, Problem, invalid_request

# The error answers of the operations, as the document describes them.
_BEARER = {"WWW-Authenticate": "Bearer"}
_RETRY = {"Retry-After": "seconds"}
INVALID_BODY = problem("invalid body; `errors` names each field")
TOO_LARGE = problem("the body is larger than the route takes")
NOT_JSON = problem("the body is not application/json")
NO_CREDENTIALS = problem("missing or invalid credentials", **_BEARER)
NO_OPERATOR_KEY = problem("missing or invalid operator key", **_BEARER)
NO_SESSION = problem("missing, forged or expired session token", **_BEARER)
FORBIDDEN_ORIGIN = problem("an origin the session does not allow")
FORBIDDEN_WRITE = problem("viewer session, or an origin the session does not allow")
NOT_IN_WORKSPACE = problem("not found in this workspace")
NOT_CAUGHT_UP = problem("the portal is still reading the workspace configuration", **_RETRY)
UNAVAILABLE = problem("Kafka unavailable or the portal not caught up; nothing written", **_RETRY)
NOT_APPLIED = problem("written but not applied in time; read before retrying", **_RETRY)

Replies = dict[int | str, Reply]
# What a route reading a JSON body answers besides a 400 naming the fields.
BODY_ERRORS: Replies = {413: TOO_LARGE, 415: NOT_JSON}
# A write's answers beside its own: a refused request, credentials, Kafka, the deadline.
WRITE_ERRORS: Replies = {400: INVALID_BODY, 401: NO_CREDENTIALS, 503: UNAVAILABLE, 504: NOT_APPLIED}
OPERATOR_READ_ERRORS: Replies = {401: NO_OPERATOR_KEY, 503: NOT_CAUGHT_UP}
SESSION_READ_ERRORS: Replies = {
    401: NO_SESSION,
    403: FORBIDDEN_ORIGIN,
    404: NOT_IN_WORKSPACE,
    503: NOT_CAUGHT_UP,
}
SESSION_WRITE_ERRORS: Replies = {
    **WRITE_ERRORS,
    403: FORBIDDEN_WRITE,
    404: problem("no such destination in this workspace"),
}
# The actions' answers beside their own (they wait on Kafka, not on the config view).
ACTION_ERRORS: Replies = {
    400: INVALID_BODY,
    401: NO_SESSION,
    403: FORBIDDEN_WRITE,
    404: NOT_IN_WORKSPACE,
    503: UNAVAILABLE,
}


def log_unavailable() -> Problem:
    """The delivery log's database did not answer: a 503 to retry, not a 500."""
    return Problem(
        503,
        "Delivery log unavailable",
        "the delivery log database did not answer; retry",
        kind="log-unavailable",
        headers={"Retry-After": "2"},
    )


def forbidden(detail: str) -> Problem:
    return Problem(403, "Forbidden", detail, kind="forbidden")


def conflict(detail: str) -> Problem:
    return Problem(409, "Conflict", detail, kind="conflict")


@web.middleware
async def translate_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except FieldErrors as exc:
        names = ", ".join(dict.fromkeys(e.field for e in exc.errors))
        raise invalid_request(exc.errors, f"invalid field(s): {names}") from exc
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

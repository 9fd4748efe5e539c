"""The ingest's problem+json answers (RFC 9457), each naming what is wrong and where.

Every ``errors`` entry is ``{"field", "code", "message"}``; ``field`` is ``body`` for the
request as a whole, an event field (``payload``), a header (``Idempotency-Key``) or, in
a bulk request, a path inside it (``events[3].payload``). In a bulk result entry, fields
are relative to that event, and ``""`` is the event itself (not an object, say).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from aiohttp import web

from services.ingest.errors import IdempotencyConflictError
from signet.errors import BrokerError
from signet.records.event_input import FieldError, FieldErrorCode, check_idempotency_key
from signet.web import PROBLEM_TYPE_BASE, Problem, read_json

IDEMPOTENCY_KEY_HEADER = "Idempotency-Key"


def invalid(
    errors: Iterable[FieldError], detail: str | None = None, *, status: int | None = None
) -> Problem:
    """400, or 413 when the only trouble is size (unless ``status`` says otherwise)."""
    errors = list(errors)
    too_large = all(e.code is FieldErrorCode.TOO_LARGE for e in errors)
    if status is None:
        status = 413 if errors and too_large else 400
    title, kind = (
        ("Payload too large", "payload-too-large")
        if status == 413
        else ("Invalid request", "invalid-request")
    )
    summary = detail or "; ".join(f"{e.field}: {e.message}" for e in errors)
    return Problem(status, title, summary, kind=kind, errors=[e.as_dict() for e in errors])


def conflict(exc: IdempotencyConflictError) -> Problem:
    return Problem(
        422,
        "Idempotency key reused",
        f"{exc}; send a new key for a new event",
        kind="idempotency-conflict",
        errors=[
            {
                "field": "id",
                "code": FieldErrorCode.CONFLICT.value,
                "message": "reused for a different event",
            }
        ],
    )


def unavailable(exc: BrokerError) -> Problem:
    return Problem(
        503,
        "Broker unavailable",
        f"the event was not acknowledged ({exc}); retry with the same idempotency key",
        kind="broker-unavailable",
        headers={"Retry-After": "1"},
    )


def body_dict(problem: Problem) -> dict[str, Any]:
    """The problem as a JSON value, for a bulk result entry."""
    return dict(problem.problem)


async def read_body(request: web.Request, max_bytes: int) -> Any:
    """The body as JSON; a bad body is a 400/413/415 problem naming ``body``."""
    try:
        return await read_json(request, max_bytes)
    except Problem as exc:
        body = exc.problem
        code = {413: FieldErrorCode.TOO_LARGE, 415: FieldErrorCode.TYPE}.get(
            exc.status, FieldErrorCode.FORMAT
        )
        detail = str(body.get("detail") or body["title"])
        raise Problem(
            exc.status,
            str(body["title"]),
            detail,
            kind=str(body["type"]).removeprefix(PROBLEM_TYPE_BASE),
            errors=[FieldError("body", code, detail).as_dict()],
        ) from exc


def header_key(request: web.Request) -> str | None:
    """The ``Idempotency-Key`` header, validated; None when absent."""
    value = request.headers.get(IDEMPOTENCY_KEY_HEADER)
    if value is None:
        return None
    problem = check_idempotency_key(value, IDEMPOTENCY_KEY_HEADER)
    if problem is not None:
        raise invalid([problem])
    return value

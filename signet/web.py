"""What both HTTP services share: problem+json errors, orjson responses, health routes.

Errors follow RFC 9457: ``application/problem+json`` with ``type``, ``title``, ``status``,
``detail`` and, for validation failures, ``errors`` naming each bad field.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import orjson
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from pydantic import Field
from signet_sdk.contract.fields import FieldError, FieldErrorCode, FieldErrors
from signet_sdk.contract.models import Answer

import signet
from signet.api.operations import Api, Operation, Reply, problem
from signet.kafka.health import KafkaHealth

logger = logging.getLogger(__name__)

PROBLEM_TYPE_BASE = "https://signet.dev/problems/"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Problem(web.HTTPException):
    """An HTTP error answered as problem+json. Raise it from any handler."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str | None = None,
        *,
        kind: str | None = None,
        errors: list[dict[str, str]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.status_code = status
        body: dict[str, Any] = {
            "type": PROBLEM_TYPE_BASE + (kind or title.lower().replace(" ", "-")),
            "title": title,
            "status": status,
        }
        if detail:
            body["detail"] = detail
        if errors:
            body["errors"] = errors
        # text=, not body=: aiohttp deprecates body= on HTTP exceptions (a warning is an
        # error under the test suite's filterwarnings).
        super().__init__(
            headers=headers,
            text=orjson.dumps(body).decode(),
            content_type="application/problem+json",
        )
        self.problem = body


def bad_request(detail: str, errors: list[dict[str, str]] | None = None) -> Problem:
    return Problem(400, "Invalid request", detail, kind="invalid-request", errors=errors)


def unauthorized(detail: str) -> Problem:
    return Problem(
        401, "Unauthorized", detail, kind="unauthorized", headers={"WWW-Authenticate": "Bearer"}
    )


def not_found(detail: str = "no such resource") -> Problem:
    return Problem(404, "Not found", detail, kind="not-found")


def json_response(
    data: Any, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    return web.Response(
        body=orjson.dumps(data), status=status, content_type="application/json", headers=headers
    )


async def read_bytes(request: web.Request, max_bytes: int) -> bytes:
    """The request body, or a 413/415 problem saying why not."""
    if request.content_length is not None and request.content_length > max_bytes:
        raise too_large(max_bytes)
    ctype = request.content_type
    if ctype not in ("application/json", "application/octet-stream", "") and not ctype.endswith(
        "+json"
    ):
        raise Problem(
            415,
            "Unsupported media type",
            "send application/json",
            errors=[FieldError("body", FieldErrorCode.TYPE, "send application/json").as_dict()],
        )
    # StreamReader.read(n) returns what has arrived so far, not n bytes: read until EOF
    # (or one byte past the limit) so a body in many TCP segments is read whole.
    chunks: list[bytes] = []
    size = 0
    while size <= max_bytes:
        chunk = await request.content.read(max_bytes + 1 - size)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    body = b"".join(chunks)
    if len(body) > max_bytes:
        raise too_large(max_bytes)
    return body


def too_large(max_bytes: int) -> Problem:
    detail = f"the body may not exceed {max_bytes} bytes"
    return invalid_request([FieldError("body", FieldErrorCode.TOO_LARGE, detail)], detail)


async def read_json(request: web.Request, max_bytes: int) -> Any:
    """The request body as JSON, or a 400/413/415 problem saying why not."""
    body = await read_bytes(request, max_bytes)
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        detail = f"the body is not valid JSON: {exc}"
        raise invalid_request([FieldError("body", FieldErrorCode.FORMAT, detail)], detail) from exc


def invalid_request(
    errors: Iterable[FieldError], detail: str | None = None, *, status: int | None = None
) -> Problem:
    """400 naming every bad field; 413 when the only trouble is size."""
    errors = list(errors)
    if status is None:
        status = 413 if FieldErrors(errors).too_large else 400
    title, kind = (
        ("Payload too large", "payload-too-large")
        if status == 413
        else ("Invalid request", "invalid-request")
    )
    summary = detail or "; ".join(f"{e.field}: {e.message}" for e in errors)
    return Problem(status, title, summary, kind=kind, errors=[e.as_dict() for e in errors])


async def answered(
    request: web.Request, handler: Handler, then: Callable[[int], None]
) -> web.StreamResponse:
    """``handler``'s response to ``request``, calling ``then`` with the status it answered
    (an HTTP exception's, or 500 for any other) however it ends: for middlewares that
    count, time or trace requests."""
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        then(status)


@web.middleware
async def problem_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every error leaves as problem+json; nothing a client sends crashes the service."""
    try:
        return await handler(request)
    except Problem:
        raise
    except FieldErrors as exc:
        raise invalid_request(exc.errors) from exc
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        # Keep headers such as Allow (405); the body and its type are ours now.
        kept = {
            k: v
            for k, v in exc.headers.items()
            if k.lower() not in ("content-type", "content-length")
        }
        raise Problem(exc.status, exc.reason, exc.text or None, headers=kept) from exc
    except Exception as exc:
        logger.exception("unhandled error on %s %s", request.method, request.path)
        raise Problem(500, "Internal error", "the server failed; it has been logged") from exc


class StatusBody(Answer):
    status: str = Field(examples=["ok"])


def _health_operations(ready_means: str) -> dict[str, Operation]:
    not_ready = problem("not ready: the reason is in `detail`", **{"Retry-After": "seconds"})
    return {
        "healthz": Operation(
            "GET",
            "/healthz",
            "The process is alive (fails only for a dead Kafka client left unreplaced)",
            {200: Reply("alive", StatusBody), 503: problem("a dead client past its grace")},
            tags=["operations"],
            operation_id="healthz",
        ),
        "readyz": Operation(
            "GET",
            "/readyz",
            ready_means,
            {200: Reply("ready", StatusBody), 503: not_ready},
            tags=["operations"],
            operation_id="readyz",
        ),
        "metrics": Operation(
            "GET",
            "/metrics",
            "Prometheus metrics",
            {200: Reply("the text exposition format", media_type=CONTENT_TYPE_LATEST)},
            tags=["operations"],
            operation_id="metrics",
        ),
        "openapi": Operation(
            "GET",
            "/openapi.json",
            "This document",
            {200: Reply("OpenAPI 3.1", media_type="application/json")},
            tags=["operations"],
            operation_id="openapi",
        ),
    }


def add_health_routes(
    app: web.Application,
    *,
    api: Api,
    ready: Callable[[], bool],
    ready_means: str = "The service can do its job (503 until then)",
    registry: CollectorRegistry = REGISTRY,
    kafka: KafkaHealth | None = None,
) -> None:
    """``/healthz`` (the process is alive), ``/readyz`` (it can do its job), ``/metrics``
    and ``/openapi.json`` (``api``'s document), declared in ``api`` like any route.

    With ``kafka``, readiness also needs the broker reachable and no dead client, and
    liveness fails only once a dead Kafka client stayed unreplaced past its grace
    (``signet/kafka/health.py``); an unreachable broker alone never fails liveness.
    """

    async def healthz(_: web.Request) -> web.Response:
        if kafka is not None and not kafka.live:
            raise Problem(503, "Not alive", kafka.why_not_ready(), kind="not-alive")
        return json_response({"status": "ok"})

    async def readyz(_: web.Request) -> web.Response:
        retry = {"Retry-After": "1"}
        if kafka is not None and not kafka.ready:
            raise Problem(503, "Not ready", kafka.why_not_ready(), kind="not-ready", headers=retry)
        if not ready():
            raise Problem(
                503, "Not ready", "still connecting to Kafka or catching up", headers=retry
            )
        return json_response({"status": "ready"})

    async def metrics(_: web.Request) -> web.Response:
        return web.Response(
            body=generate_latest(registry), headers={"Content-Type": CONTENT_TYPE_LATEST}
        )

    async def openapi_document(_: web.Request) -> web.Response:
        return json_response(document())

    cached: list[dict[str, Any]] = []

    def document() -> dict[str, Any]:
        if not cached:  # built once: every route is declared before the first request
            cached.append(api.document())
        return cached[0]

    operations = _health_operations(ready_means)
    handlers = {
        "healthz": healthz,
        "readyz": readyz,
        "metrics": metrics,
        "openapi": openapi_document,
    }
    for name, op in operations.items():
        app.router.add_route(op.method, op.path, handlers[name])
        api.declare(op)


class HealthServer:
    """A small HTTP server of ``/healthz``, ``/readyz``, ``/metrics`` and ``/openapi.json``
    alone: what the services without an API of their own (router, dispatcher, alerter)
    serve to their probes and Prometheus, on a port of their own."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        title: str,
        ready: Callable[[], bool],
        ready_means: str,
        registry: CollectorRegistry,
        kafka: KafkaHealth | None = None,
    ) -> None:
        self._host, self._port = host, port
        self._title = title
        self._ready = ready
        self._ready_means = ready_means
        self._registry = registry
        self._kafka = kafka
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        if self._runner is not None:
            return
        app = web.Application(middlewares=[problem_middleware])
        add_health_routes(
            app,
            api=Api(self._title, signet.__version__),
            ready=self._ready,
            ready_means=self._ready_means,
            registry=self._registry,
            kafka=self._kafka,
        )
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        try:
            await web.TCPSite(runner, self._host, self._port).start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def __aenter__(self) -> HealthServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

"""What both HTTP services share: problem+json errors, orjson responses, health routes.

Errors follow RFC 9457: ``application/problem+json`` with ``type``, ``title``, ``status``,
``detail`` and, for validation failures, ``errors`` naming each bad field.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest

from signet.kafka_health import KafkaHealth

log = logging.getLogger(__name__)

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


async def read_json(request: web.Request, max_bytes: int) -> Any:
    """The request body as JSON, or a 400/413/415 problem saying why not."""
    if request.content_length is not None and request.content_length > max_bytes:
        raise Problem(413, "Payload too large", f"the body may not exceed {max_bytes} bytes")
    ctype = request.content_type
    if ctype not in ("application/json", "application/octet-stream", "") and not ctype.endswith(
        "+json"
    ):
        raise Problem(415, "Unsupported media type", "send application/json")
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
        raise Problem(413, "Payload too large", f"the body may not exceed {max_bytes} bytes")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise bad_request(f"the body is not valid JSON: {exc}") from exc


@web.middleware
async def problem_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every error leaves as problem+json; nothing a client sends crashes the service."""
    try:
        return await handler(request)
    except Problem:
        raise
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
        log.exception("unhandled error on %s %s", request.method, request.path)
        raise Problem(500, "Internal error", "the server failed; it has been logged") from exc


def add_health_routes(
    app: web.Application,
    *,
    ready: Callable[[], bool],
    openapi: Callable[[], dict[str, Any]],
    registry: CollectorRegistry = REGISTRY,
    kafka: KafkaHealth | None = None,
) -> None:
    """``/healthz`` (the process is alive), ``/readyz`` (it can do its job), ``/metrics``.

    With ``kafka``, readiness also needs the broker reachable and no dead client, and
    liveness fails only once a dead Kafka client stayed unreplaced past its grace
    (``signet/kafka_health.py``); an unreachable broker alone never fails liveness.
    """

    async def healthz(_: web.Request) -> web.Response:
        if kafka is not None and not kafka.live:
            raise Problem(503, "Not alive", kafka.why_not_ready(), kind="not-alive")
        return json_response({"status": "ok"})

    async def readyz(_: web.Request) -> web.Response:
        if kafka is not None and not kafka.ready:
            raise Problem(503, "Not ready", kafka.why_not_ready(), kind="not-ready")
        if not ready():
            raise Problem(503, "Not ready", "still connecting to Kafka or catching up")
        return json_response({"status": "ready"})

    async def metrics(_: web.Request) -> web.Response:
        return web.Response(
            body=generate_latest(registry), headers={"Content-Type": CONTENT_TYPE_LATEST}
        )

    async def openapi_document(_: web.Request) -> web.Response:
        return json_response(openapi())

    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/openapi.json", openapi_document)


class HealthServer:
    """A small HTTP server of ``/healthz``, ``/readyz``, ``/metrics`` and ``/openapi.json``
    alone: what the services without an API of their own (router, dispatcher, alerter)
    serve to their probes and Prometheus, on a port of their own."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        ready: Callable[[], bool],
        openapi: Callable[[], dict[str, Any]],
        registry: CollectorRegistry,
        kafka: KafkaHealth | None = None,
    ) -> None:
        self._host, self._port = host, port
        self._ready = ready
        self._openapi = openapi
        self._registry = registry
        self._kafka = kafka
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        if self._runner is not None:
            return
        app = web.Application(middlewares=[problem_middleware])
        add_health_routes(
            app,
            ready=self._ready,
            openapi=self._openapi,
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

"""The event-type catalog's routes: the operator stores types, any workspace session reads.

``PUT/GET/DELETE /v1/event-types[/{name}]`` (operator key) and ``GET
/v1/workspace/event-types`` (a session token, viewer or admin). A write is one record on
the compacted ``event-types`` topic (keyed by name; a DELETE is a tombstone) and is
answered once the portal's own catalog view has read it (read-your-writes), with the same
503/504 as every other write. An unchanged PUT writes nothing and keeps the version.
``POST /v1/event-types/import/openapi`` writes the types an OpenAPI document's webhooks
describe, each as a PUT would. The bodies, answers and their checks are
``event_type_bodies.py``'s.
"""

from __future__ import annotations

import time
from typing import Any

import orjson
from aiohttp import web
from signet_sdk.ids import now_ms

from services.portal.auth import OPERATOR_KEY, SESSION_TOKEN, OperatorGuard, SessionGuard
from services.portal.event_type_bodies import (
    MAX_BODY_BYTES,
    MAX_IMPORT_BYTES,
    CatalogedType,
    CatalogPage,
    EventTypeBody,
    ImportedTypes,
    OpenApiImport,
    body_problems,
    cataloged_type,
    imported_types,
    openapi_document,
    type_name,
)
from services.portal.problems import (
    BODY_ERRORS,
    OPERATOR_READ_ERRORS,
    SESSION_READ_ERRORS,
    WRITE_ERRORS,
)
from services.portal.sessions import SessionClaims
from services.portal.views import answer
from signet.api.operations import Api, Reply, operation, problem
from signet.api.reading import read_model
from signet.catalog.view import CatalogEntry, EventTypeView
from signet.errors import CommandTimeoutError
from signet.kafka.clients import AsyncProducer
from signet.records import codec
from signet.records.model import EventTypeDefinition
from signet.web import Problem, invalid_request, not_found

TAG = "event types"
EVENT_TYPES = "/v1/event-types"
EVENT_TYPE = EVENT_TYPES + "/{name}"
WORKSPACE_EVENT_TYPES = "/v1/workspace/event-types"


def _json(value: dict[str, Any] | None) -> str | None:
    return None if value is None else orjson.dumps(value).decode()


class CatalogWriter:
    """Writes to ``event-types`` and returns once ``view`` has read the write."""

    def __init__(self, producer: AsyncProducer, view: EventTypeView, timeout: float) -> None:
        self._producer = producer
        self._view = view
        self._timeout = timeout

    async def write(self, name: str, value: bytes | None) -> None:
        """:class:`BrokerError` (503) when not acknowledged, :class:`CommandTimeoutError`
        (504) when written but not read back in time."""
        deadline = time.monotonic() + self._timeout
        message = await self._producer.send(
            self._view.topic, value, key=name, timeout=self._timeout
        )
        seen = await self._view.wait_for_offset(
            message.partition() or 0,
            message.offset() or 0,
            max(0.0, deadline - time.monotonic()),
        )
        if not seen:
            raise CommandTimeoutError(
                f"the change to {name} was written but not read back within {self._timeout:g}s"
            )


class EventTypesApi:
    def __init__(
        self,
        *,
        catalog: EventTypeView,
        writer: CatalogWriter,
        operator: OperatorGuard,
        session: SessionGuard,
    ) -> None:
        self._catalog = catalog
        self._writer = writer
        self._operator = operator
        self._session = session

    def register(self, app: web.Application, api: Api) -> None:
        for handler in (
            self.list_types,
            self.get_type,
            self.put_type,
            self.delete_type,
            self.import_openapi,
        ):
            api.route(app, handler, serve=self._operator.protect(handler))
        api.route(
            app,
            self.workspace_types,
            serve=self._session.protect(self.workspace_types, write=False),
        )

    def _caught_up(self) -> EventTypeView:
        """The catalog, once it has read the whole topic (503 until then)."""
        if not self._catalog.ready:
            raise Problem(
                503,
                "Not ready",
                "the portal is still reading the event-type catalog",
                kind="not-ready",
                headers={"Retry-After": "1"},
            )
        return self._catalog

    def _page(self) -> web.Response:
        self._caught_up()
        return answer(CatalogPage(data=[cataloged_type(e) for e in self._catalog.entries()]))

    @operation(
        "GET",
        EVENT_TYPES,
        summary="The event-type catalog, by name",
        responses={200: Reply("every type", CatalogPage), **OPERATOR_READ_ERRORS},
        security=[OPERATOR_KEY],
        tags=[TAG],
    )
    async def list_types(self, request: web.Request) -> web.Response:
        return self._page()

    @operation(
        "GET",
        WORKSPACE_EVENT_TYPES,
        summary="The event-type catalog, for a workspace session (viewer or admin)",
        responses={200: Reply("every type", CatalogPage), **SESSION_READ_ERRORS},
        security=[SESSION_TOKEN],
        tags=[TAG],
    )
    async def workspace_types(self, request: web.Request, claims: SessionClaims) -> web.Response:
        return self._page()

    @operation(
        "GET",
        EVENT_TYPE,
        summary="One event type",
        responses={
            200: Reply("the type", CatalogedType),
            400: problem("not an event-type name"),
            404: problem("no such type"),
            **OPERATOR_READ_ERRORS,
        },
        security=[OPERATOR_KEY],
        tags=[TAG],
    )
    async def get_type(self, request: web.Request) -> web.Response:
        name = type_name(request.match_info["name"])
        entry = self._caught_up().get(name)
        if entry is None:
            raise not_found(f"no event type {name}")
        return answer(cataloged_type(entry))

    @operation(
        "PUT",
        EVENT_TYPE,
        summary="Create or replace an event type",
        description="The name follows the ingest's event-name rule. An invalid schema, a "
        "`$ref` outside the schema, a schema over the limit or an example that fails its "
        "schema is a 400 naming the field. The answer's `version` is one more than before "
        "on each change; a PUT that changes nothing keeps it.",
        body=EventTypeBody,
        responses={
            200: Reply("replaced", CatalogedType),
            201: Reply("created", CatalogedType),
            **WRITE_ERRORS,
            **BODY_ERRORS,
        },
        security=[OPERATOR_KEY],
        tags=[TAG],
    )
    async def put_type(self, request: web.Request) -> web.Response:
        name = type_name(request.match_info["name"])
        body = await read_model(request, EventTypeBody, MAX_BODY_BYTES)
        problems = body_problems(body)
        if problems:
            # 400 even when the only trouble is a size: the body itself was not too large.
            raise invalid_request(problems, status=400)
        current = self._caught_up().get(name)
        if current is not None and _unchanged(current.definition, body):
            return answer(cataloged_type(current))
        definition = self._next_definition(name, body, current)
        await self._writer.write(name, codec.encode(definition))
        stored = self._catalog.get(name) or CatalogEntry(definition)
        return answer(cataloged_type(stored), 201 if current is None else 200)

    def _next_definition(
        self, name: str, body: EventTypeBody, current: CatalogEntry | None
    ) -> EventTypeDefinition:
        """What ``body`` stores under ``name``: the next version of the type."""
        version = max(current.version if current else 0, self._catalog.last_version(name)) + 1
        return EventTypeDefinition(
            name=name,
            description=body.description,
            version=version,
            updated_at=now_ms(),
            schema_json=_json(body.json_schema),
            example_json=_json(body.example),
            deprecated=body.deprecated,
        )

    @operation(
        "POST",
        EVENT_TYPES + "/import/openapi",
        summary="Create or replace the event types an OpenAPI document's webhooks describe",
        description="Each webhook (`webhooks` in OpenAPI 3.1, `x-webhooks` in 3.0) becomes "
        "the type of its name: description, the JSON request body's schema (its "
        "`#/components/schemas` references copied under `$defs`) and example, `deprecated` "
        "(docs/event-types.md). Every type is checked as a PUT checks it before any is "
        "written; a 400 names each problem under `spec`. Types the document does not name "
        "are left as they are.",
        body=OpenApiImport,
        responses={200: Reply("imported", ImportedTypes), **WRITE_ERRORS, **BODY_ERRORS},
        security=[OPERATOR_KEY],
        tags=[TAG],
    )
    async def import_openapi(self, request: web.Request) -> web.Response:
        body = await read_model(request, OpenApiImport, MAX_IMPORT_BYTES)
        types = imported_types(openapi_document(body))
        catalog = self._caught_up()
        changes: list[tuple[str, bool, EventTypeDefinition | None]] = []
        for name, type_body in types:
            current = catalog.get(name)
            if current is not None and _unchanged(current.definition, type_body):
                changes.append((name, True, None))
            else:
                changes.append(
                    (name, current is not None, self._next_definition(name, type_body, current))
                )
        if not body.dry_run:
            for name, _, written in changes:
                if written is not None:
                    await self._writer.write(name, codec.encode(written))
        return answer(
            ImportedTypes(
                created=[n for n, existed, d in changes if d is not None and not existed],
                replaced=[n for n, existed, d in changes if d is not None and existed],
                unchanged=[n for n, _, d in changes if d is None],
                dry_run=body.dry_run,
            )
        )

    @operation(
        "DELETE",
        EVENT_TYPE,
        summary="Delete an event type (destinations subscribed to it keep receiving it)",
        responses={204: Reply("deleted"), 404: problem("no such type"), **WRITE_ERRORS},
        security=[OPERATOR_KEY],
        tags=[TAG],
    )
    async def delete_type(self, request: web.Request) -> web.Response:
        name = type_name(request.match_info["name"])
        if self._caught_up().get(name) is None:
            raise not_found(f"no event type {name}")
        await self._writer.write(name, None)
        return web.Response(status=204)


def _unchanged(current: EventTypeDefinition, body: EventTypeBody) -> bool:
    return (
        current.description == body.description
        and current.schema_json == _json(body.json_schema)
        and current.example_json == _json(body.example)
        and current.deprecated == body.deprecated
    )

"""The event-type catalog's routes: the operator stores types, any workspace session reads.

``PUT/GET/DELETE /v1/event-types[/{name}]`` (operator key) and ``GET
/v1/workspace/event-types`` (a session token, viewer or admin). A write is one record on
the compacted ``event-types`` topic (keyed by name; a DELETE is a tombstone) and is
answered once the portal's own catalog view has read it (read-your-writes), with the same
503/504 as every other write. An unchanged PUT writes nothing and keeps the version.
"""

from __future__ import annotations

import time
from typing import Annotated, Any

import orjson
import yaml
from aiohttp import web
from pydantic import ConfigDict, Field, StringConstraints, TypeAdapter, ValidationError
from signet_sdk.contract.events import EventType
from signet_sdk.contract.fields import FieldError, FieldErrorCode, FieldErrors, field_errors
from signet_sdk.contract.models import Answer, Body
from signet_sdk.ids import now_ms

from services.portal.auth import OPERATOR_KEY, SESSION_TOKEN, OperatorGuard, SessionGuard
from services.portal.problems import (
    BODY_ERRORS,
    OPERATOR_READ_ERRORS,
    SESSION_READ_ERRORS,
    WRITE_ERRORS,
)
from services.portal.sessions import SessionClaims
from services.portal.views import Time, answer, at
from signet.api.operations import Api, Reply, operation, problem
from signet.api.reading import read_model
from signet.catalog.json_schema import MAX_SCHEMA_BYTES, PayloadSchema, schema_problems
from signet.catalog.openapi_import import webhook_types
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
DESCRIPTION_MAX = 2000
MAX_EXAMPLE_BYTES = 64 * 1024
# A schema and an example at their limits, and the rest of the body.
MAX_BODY_BYTES = MAX_SCHEMA_BYTES + MAX_EXAMPLE_BYTES + 8 * 1024
# An OpenAPI document to import: many types' schemas and examples.
MAX_IMPORT_BYTES = 1024 * 1024

_NAME = TypeAdapter(EventType)


class EventTypeBody(Body):
    """One event type: what it means, and optionally its payload's schema and an example."""

    description: Annotated[str, StringConstraints(max_length=DESCRIPTION_MAX)]
    json_schema: dict[str, Any] | None = Field(
        default=None,
        alias="schema",
        description=f"a JSON Schema (draft 2020-12) of the payload, at most "
        f"{MAX_SCHEMA_BYTES} bytes as compact JSON; `$ref` only inside it (`#…`)",
    )
    example: dict[str, Any] | None = Field(
        default=None,
        description=f"a payload of this type (it must pass the schema), at most "
        f"{MAX_EXAMPLE_BYTES} bytes; what a test event of this type sends",
    )
    deprecated: bool = False


class OpenApiImport(Body):
    """An OpenAPI document whose webhooks become event types (``webhooks`` in 3.1,
    ``x-webhooks`` in 3.0): give it as ``spec`` (JSON) or ``spec_raw`` (YAML or JSON text)."""

    spec: dict[str, Any] | None = Field(default=None, description="the document, as JSON")
    spec_raw: str | None = Field(default=None, description="the document as YAML or JSON text")
    dry_run: bool = Field(
        default=False, description="true: answer what the import would change, write nothing"
    )


class ImportedTypes(Answer):
    """What an import changed (or, with ``dry_run``, would change), by type name."""

    created: list[str]
    replaced: list[str]
    unchanged: list[str]
    dry_run: bool


class CatalogedType(Answer):
    """An event type of the catalog."""

    model_config = ConfigDict(extra="forbid", frozen=True, serialize_by_alias=True)

    name: str = Field(examples=["order.completed"])
    description: str
    json_schema: dict[str, Any] | None = Field(alias="schema")
    example: dict[str, Any] | None
    deprecated: bool
    version: int = Field(description="1 when created, one more on each change")
    updated_at: Time


class CatalogPage(Answer):
    """Every event type of the catalog, by name."""

    data: list[CatalogedType]


def cataloged_type(entry: CatalogEntry) -> CatalogedType:
    d = entry.definition
    return CatalogedType.model_validate(
        {
            "name": d.name,
            "description": d.description,
            "schema": entry.schema,
            "example": entry.example,
            "deprecated": d.deprecated,
            "version": d.version,
            "updated_at": at(d.updated_at),
        }
    )


def type_name(raw: str) -> str:
    """A path's type name by ingest's event-name rule, or a 400 naming ``name``."""
    try:
        return _NAME.validate_python(raw)
    except ValidationError as exc:
        raise FieldErrors(field_errors(exc, "name")) from exc


def body_problems(body: EventTypeBody) -> list[FieldError]:
    """What the schema and the example break (JSON-level checks are the model's)."""
    problems: list[FieldError] = []
    if body.json_schema is not None:
        problems += schema_problems(body.json_schema)
    if body.example is not None:
        size = len(orjson.dumps(body.example))
        if size > MAX_EXAMPLE_BYTES:
            problems.append(
                FieldError(
                    "example",
                    FieldErrorCode.TOO_LARGE,
                    f"is {size} bytes as compact JSON; the limit is {MAX_EXAMPLE_BYTES}",
                )
            )
        elif body.json_schema is not None and not problems:
            problems += PayloadSchema(body.json_schema).problems(body.example, "example")
    return problems


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


def openapi_document(body: OpenApiImport) -> dict[str, Any]:
    """The document an import gives, as an object; FieldErrors when there is not one."""
    if (body.spec is None) == (body.spec_raw is None):
        message = "give the document as either spec or spec_raw"
        raise FieldErrors([FieldError("body", FieldErrorCode.INVALID, message)])
    if body.spec is not None:
        return body.spec
    text = body.spec_raw or ""
    try:
        # An alias repeats what it names wherever it is used: a few of them nested make a
        # small text an enormous document, so an import takes none.
        if any(isinstance(event, yaml.AliasEvent) for event in yaml.parse(text)):
            message = "uses YAML aliases (*name); write the document out in full"
            raise FieldErrors([FieldError("spec_raw", FieldErrorCode.INVALID, message)])
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        message = f"is neither YAML nor JSON: {exc}".splitlines()[0]
        raise FieldErrors([FieldError("spec_raw", FieldErrorCode.FORMAT, message)]) from exc
    if not isinstance(document, dict):
        message = "must be an OpenAPI document (an object)"
        raise FieldErrors([FieldError("spec_raw", FieldErrorCode.TYPE, message)])
    return document


def imported_types(spec: dict[str, Any]) -> list[tuple[str, EventTypeBody]]:
    """Each webhook of ``spec`` as a PUT body under its name, every problem a field error
    under ``spec`` (FieldErrors with all of them when there is any)."""
    found, errors = webhook_types(spec)
    bodies: list[tuple[str, EventTypeBody]] = []
    for imported in found:
        try:
            name = _NAME.validate_python(imported.name)
            body = EventTypeBody.model_validate(
                {
                    "description": imported.description,
                    "schema": imported.schema,
                    "example": imported.example,
                    "deprecated": imported.deprecated,
                }
            )
        except ValidationError as exc:
            errors += field_errors(exc, imported.where)
            continue
        problems = body_problems(body)
        errors += [problem.under(imported.where) for problem in problems]
        if not problems:
            bodies.append((name, body))
    if errors:
        raise FieldErrors(errors)
    return bodies

"""Each route declared once, next to its handler; the OpenAPI 3.1 document derived from them.

A handler carries its :class:`Operation` (``@operation(...)``): method, path, the models
of its body, query and headers, its answers. :meth:`Api.route` serves the handler at
that path and keeps the operation; :meth:`Api.document` builds the service's OpenAPI
document from every operation it kept, the component schemas from the models'
own JSON Schema (pydantic's, draft 2020-12, which OpenAPI 3.1 speaks natively). A
range, pattern or field therefore exists once, in the model; the validation, the
field errors and the document all read it there.

Why our own registry and not ``aiohttp-pydantic``: docs/architecture.md#the-http-contract.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, TypeAdapter
from pydantic.json_schema import JsonSchemaMode, models_json_schema
from signet_sdk.contract.models import Problem as ProblemBody

PROBLEM_MEDIA_TYPE = "application/problem+json"
JSON_MEDIA_TYPE = "application/json"
REF_TEMPLATE = "#/components/schemas/{model}"
_PATH_PARAMETER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)(?::[^}]*)?\}")

Handler = Callable[[web.Request], Any]
H = TypeVar("H", bound=Callable[..., Any])
Schema = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Reply:
    """One answer of an operation.

    ``body`` is the model of a JSON (or ``media_type``) body; with no model, a
    ``media_type`` means a text body (HTML, NDJSON, Prometheus text) and none means no
    body at all (204).
    """

    description: str
    body: type[BaseModel] | None = None
    media_type: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)  # name → description


def problem(description: str, **headers: str) -> Reply:
    """A problem+json answer (RFC 9457)."""
    return Reply(description, ProblemBody, PROBLEM_MEDIA_TYPE, headers)


@dataclass(frozen=True, slots=True)
class SecurityScheme:
    name: str
    description: str
    scheme: str = "bearer"
    bearer_format: str | None = None

    def as_openapi(self) -> Schema:
        out: Schema = {"type": "http", "scheme": self.scheme, "description": self.description}
        if self.bearer_format:
            out["bearerFormat"] = self.bearer_format
        return out


@dataclass(frozen=True, slots=True)
class Operation:
    method: str
    path: str  # aiohttp's form: ``{name}`` or ``{name:regex}``
    summary: str
    responses: Mapping[int | str, Reply]
    body: type[BaseModel] | None = None
    body_required: bool = True
    query: type[BaseModel] | None = None
    headers: type[BaseModel] | None = None  # request headers: fields with header aliases
    security: Sequence[SecurityScheme] = ()
    tags: Sequence[str] = ()
    description: str | None = None
    operation_id: str | None = None

    @property
    def openapi_path(self) -> str:
        return _PATH_PARAMETER.sub(r"{\1}", self.path)

    @property
    def path_parameters(self) -> list[str]:
        return _PATH_PARAMETER.findall(self.path)


def operation(method: str, path: str, *, summary: str, **details: Any) -> Callable[[H], H]:
    """Declare the operation a handler serves (see :class:`Operation` for ``details``)."""

    def declare(handler: H) -> H:
        details.setdefault("operation_id", handler.__name__)
        handler.__signet_operation__ = Operation(  # type: ignore[attr-defined]
            method.upper(), path, summary, **details
        )
        return handler

    return declare


def operation_of(handler: Callable[..., Any]) -> Operation:
    """The operation a handler declared (a bound method reads its function's)."""
    op = getattr(handler, "__signet_operation__", None)
    if not isinstance(op, Operation):
        raise TypeError(f"{handler!r} declares no @operation")
    return op


@dataclass(frozen=True, slots=True)
class Webhook:
    """A request Signet sends (OpenAPI 3.1 ``webhooks``): what a receiver is given."""

    name: str
    summary: str
    body: type[BaseModel]
    responses: Mapping[int | str, Reply]
    description: str | None = None
    headers: type[BaseModel] | None = None


class Api:
    """The operations one service serves, and the OpenAPI document they make."""

    def __init__(
        self,
        title: str,
        version: str,
        *,
        description: str = "",
        tags: Mapping[str, str] | None = None,
        servers: Sequence[str] = (),
    ) -> None:
        self.title = title
        self.version = version
        self.description = description
        self._tags = dict(tags or {})
        self._servers = tuple(servers)
        self._operations: list[Operation] = []
        self._webhooks: list[Webhook] = []

    @property
    def operations(self) -> tuple[Operation, ...]:
        return tuple(self._operations)

    def route(
        self,
        app: web.Application,
        handler: Callable[..., Any],
        *,
        serve: Handler | None = None,
    ) -> None:
        """Serve ``handler`` (or ``serve``, a wrapped form of it) where it declared.

        A GET also answers HEAD, as aiohttp's ``add_get`` does (the routes answered it
        before they were declared here); the document leaves HEAD implicit."""
        op = operation_of(handler)
        if op.method == "GET":
            app.router.add_get(op.path, serve or handler)
        else:
            app.router.add_route(op.method, op.path, serve or handler)
        self.declare(op)

    def declare(self, op: Operation) -> None:
        """Keep an operation served some other way (a catch-all, a static route)."""
        if any(o.method == op.method and o.path == op.path for o in self._operations):
            raise ValueError(f"{op.method} {op.path} is declared twice")
        self._operations.append(op)

    def webhook(self, hook: Webhook) -> None:
        self._webhooks.append(hook)

    # -- the document -------------------------------------------------------------------

    def document(self) -> Schema:
        schemas = _Schemas()
        paths: dict[str, Schema] = {}
        for op in self._operations:
            paths.setdefault(op.openapi_path, {})[op.method.lower()] = _operation(op, schemas)
        doc: Schema = {
            "openapi": "3.1.0",
            "info": {"title": self.title, "version": self.version},
            "paths": paths,
        }
        if self.description:
            doc["info"]["description"] = self.description
        if self._servers:
            doc["servers"] = [{"url": url} for url in self._servers]
        if self._tags:
            doc["tags"] = [{"name": n, "description": d} for n, d in self._tags.items()]
        if self._webhooks:
            doc["webhooks"] = {hook.name: _webhook(hook, schemas) for hook in self._webhooks}
        components: Schema = {}
        if schemas.models:
            components["schemas"] = schemas.resolve()
        security = {s.name: s for op in self._operations for s in op.security}
        if security:
            components["securitySchemes"] = {
                name: s.as_openapi() for name, s in sorted(security.items())
            }
        if components:
            doc["components"] = components
        return doc


class _Schemas:
    """The models a document refers to; their schemas are made in one pass at the end,
    so models shared between operations (and their nested models) appear once."""

    def __init__(self) -> None:
        self.models: dict[tuple[type[BaseModel], JsonSchemaMode], Schema] = {}

    def ref(self, model: type[BaseModel], mode: JsonSchemaMode) -> Schema:
        # A placeholder, filled in by resolve() once every model is known.
        return self.models.setdefault((model, mode), {})

    def resolve(self) -> Schema:
        keys = list(self.models)
        refs, top = models_json_schema(keys, ref_template=REF_TEMPLATE)
        for key, placeholder in self.models.items():
            placeholder.update(refs[key])
        defs: Schema = top.get("$defs", {})
        return dict(sorted(defs.items()))


def _operation(op: Operation, schemas: _Schemas) -> Schema:
    out: Schema = {"summary": op.summary}
    if op.operation_id:
        out["operationId"] = op.operation_id
    if op.description:
        out["description"] = op.description
    if op.tags:
        out["tags"] = list(op.tags)
    parameters = [
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": TypeAdapter(str).json_schema(),
        }
        for name in op.path_parameters
    ]
    parameters += _parameters(op.query, "query")
    parameters += _parameters(op.headers, "header")
    if parameters:
        out["parameters"] = parameters
    if op.body is not None:
        out["requestBody"] = {
            "required": op.body_required,
            "content": {JSON_MEDIA_TYPE: {"schema": schemas.ref(op.body, "validation")}},
        }
    out["responses"] = _responses(op.responses, schemas)
    out["security"] = [{s.name: []} for s in op.security]
    return out


def _webhook(hook: Webhook, schemas: _Schemas) -> Schema:
    post: Schema = {"summary": hook.summary, "operationId": hook.name}
    if hook.description:
        post["description"] = hook.description
    if hook.headers is not None:
        post["parameters"] = _parameters(hook.headers, "header")
    post["requestBody"] = {
        "required": True,
        "content": {JSON_MEDIA_TYPE: {"schema": schemas.ref(hook.body, "serialization")}},
    }
    post["responses"] = _responses(hook.responses, schemas)
    return {"post": post}


def _responses(replies: Mapping[int | str, Reply], schemas: _Schemas) -> Schema:
    out: Schema = {}
    for status, reply in replies.items():
        entry: Schema = {"description": reply.description}
        if reply.body is not None:
            media = reply.media_type or JSON_MEDIA_TYPE
            entry["content"] = {media: {"schema": schemas.ref(reply.body, "serialization")}}
        elif reply.media_type == JSON_MEDIA_TYPE:  # a JSON object no model describes
            entry["content"] = {
                reply.media_type: {"schema": TypeAdapter(dict[str, Any]).json_schema()}
            }
        elif reply.media_type is not None:
            entry["content"] = {reply.media_type: {"schema": TypeAdapter(str).json_schema()}}
        if reply.headers:
            entry["headers"] = {
                name: {"description": text, "schema": TypeAdapter(str).json_schema()}
                for name, text in reply.headers.items()
            }
        out[str(status)] = entry
    return out


def _parameters(model: type[BaseModel] | None, where: str) -> list[Schema]:
    """A query or header model's fields as parameters (inline: they are scalars)."""
    if model is None:
        return []
    schema = model.model_json_schema(ref_template=REF_TEMPLATE)
    if "$defs" in schema:
        raise TypeError(f"{model.__name__}: {where} parameters must be scalars")
    required = set(schema.get("required", ()))
    out: list[Schema] = []
    for name, prop in schema.get("properties", {}).items():
        prop = dict(prop)
        prop.pop("title", None)
        entry: Schema = {"name": name, "in": where, "required": name in required}
        if "description" in prop:
            entry["description"] = prop.pop("description")
        entry["schema"] = prop
        out.append(entry)
    return out

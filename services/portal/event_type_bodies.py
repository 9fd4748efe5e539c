"""The event-type catalog's bodies and answers: what a PUT and an OpenAPI import send, what
the routes answer, and the checks a type must pass before it is written.

``event_types_api.py`` serves them. A type's own checks (a valid draft 2020-12 schema, an
example that passes it, the sizes) are :func:`body_problems`; an import reads its
document's webhooks (``signet/catalog/openapi_import.py``) into the same bodies and holds
each to the same checks (:func:`imported_types`).
"""

from __future__ import annotations

from typing import Annotated, Any

import orjson
import yaml
from pydantic import ConfigDict, Field, StringConstraints, TypeAdapter, ValidationError
from signet_sdk.contract.events import EventType
from signet_sdk.contract.fields import FieldError, FieldErrorCode, FieldErrors, field_errors
from signet_sdk.contract.models import Answer, Body

from services.portal.views import Time, at
from signet.catalog.json_schema import MAX_SCHEMA_BYTES, PayloadSchema, schema_problems
from signet.catalog.openapi_import import webhook_types
from signet.catalog.view import CatalogEntry

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

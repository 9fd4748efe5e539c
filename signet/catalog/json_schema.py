"""JSON Schema (draft 2020-12) for the event-type catalog: checking a schema an operator
stores, and validating a payload against it.

A stored schema must be a valid 2020-12 schema, at most ``MAX_SCHEMA_BYTES`` as compact
JSON, and self-contained: every ``$ref`` points inside the document (``#…``). Signet never
fetches a schema from the network, so a remote reference could only fail later.

A payload's violations become field errors in the one shape (``payload.total_cents``,
code ``schema``), at most ``MAX_REPORTED_ERRORS`` of them, in the order of their paths.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError, ValidationError
from signet_sdk.contract.fields import FieldError, FieldErrorCode, field_name

MAX_SCHEMA_BYTES = 64 * 1024
MAX_REPORTED_ERRORS = 20
_REFERENCE_KEYWORDS = ("$ref", "$dynamicRef")


def schema_problems(schema: dict[str, Any], field: str = "schema") -> list[FieldError]:
    """Why ``schema`` cannot be stored (empty when it can)."""
    size = len(orjson.dumps(schema))
    if size > MAX_SCHEMA_BYTES:
        return [
            FieldError(
                field,
                FieldErrorCode.TOO_LARGE,
                f"is {size} bytes as compact JSON; the limit is {MAX_SCHEMA_BYTES}",
            )
        ]
    problems = [
        FieldError(
            field_name(path, field),
            FieldErrorCode.INVALID,
            f"refers to {target!r}: only references inside the schema (#…) are allowed",
        )
        for path, target in _references(schema, ())
        if not target.startswith("#")
    ]
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        where = field_name(list(exc.absolute_path), field)
        problems.append(
            FieldError(where, FieldErrorCode.INVALID, f"is not a valid JSON Schema: {exc.message}")
        )
    return problems


def _references(node: object, path: tuple[int | str, ...]) -> Iterator[tuple[list[int | str], str]]:
    """Every ``$ref``/``$dynamicRef`` in ``node`` with where it is."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in _REFERENCE_KEYWORDS and isinstance(value, str):
                yield [*path, key], value
            else:
                yield from _references(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _references(value, (*path, index))


class PayloadSchema:
    """A stored schema, compiled once; :meth:`problems` validates payloads with it."""

    __slots__ = ("_validator",)

    def __init__(self, schema: dict[str, Any]) -> None:
        self._validator = Draft202012Validator(schema)

    def problems(self, payload: object, field: str = "payload") -> list[FieldError]:
        """Every violation of the schema by ``payload`` (empty when it conforms)."""
        found: dict[tuple[str, str], FieldError] = {}
        for error in self._validator.iter_errors(payload):
            for problem in _as_field_errors(error, field):
                found.setdefault((problem.field, problem.message), problem)
            if len(found) >= MAX_REPORTED_ERRORS:
                break
        return [found[k] for k in sorted(found)][:MAX_REPORTED_ERRORS]


def _as_field_errors(error: ValidationError, field: str) -> list[FieldError]:
    path = list(error.absolute_path)
    if error.validator == "required" and isinstance(error.instance, dict):
        # The error sits on the object; name the missing member instead.
        missing = [p for p in error.validator_value if p not in error.instance]  # type: ignore[union-attr]
        return [
            FieldError(field_name([*path, name], field), FieldErrorCode.SCHEMA, "is required")
            for name in missing
        ]
    return [FieldError(field_name(path, field), FieldErrorCode.SCHEMA, error.message)]

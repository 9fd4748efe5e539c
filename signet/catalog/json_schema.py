"""JSON Schema (draft 2020-12) for the event-type catalog: checking a schema an operator
stores, and validating a payload against it.

A stored schema must be a valid 2020-12 schema, at most ``MAX_SCHEMA_BYTES`` as compact
JSON, and self-contained: every ``$ref`` points inside the document (``#…``). Signet never
fetches a schema from the network, so a remote reference could only fail later.

A payload's violations become field errors in the one shape (``payload.total_cents``,
code ``schema``), at most ``MAX_REPORTED_ERRORS`` of them, in the order of their paths.

Validating is on every event's way, so :class:`PayloadSchema` does what it can once, when
it is compiled: local ``$ref``s are replaced by what they point at (jsonschema resolves a
reference on every use, a third of the time of a small schema), and a payload is first
asked ``is_valid`` (no error objects); only one that fails is walked for its errors.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote

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
        self._validator = Draft202012Validator(inline_local_references(schema))

    def problems(self, payload: object, field: str = "payload") -> list[FieldError]:
        """Every violation of the schema by ``payload`` (empty when it conforms)."""
        if self._validator.is_valid(payload):
            return []
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


# Keywords that change what a reference means (a new base URI, named or dynamic targets):
# a schema using any of them below its root keeps its references as they are.
_SCOPE_KEYWORDS = frozenset({"$id", "$anchor", "$dynamicAnchor", "$dynamicRef"})


class _NotInlinable(Exception):
    pass


def inline_local_references(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` with each ``{"$ref": "#/…"}`` replaced by its target (beside the ref's
    own other keywords, through ``allOf``); ``schema`` itself when a reference is
    recursive, cannot be followed, or scope keywords make inlining unsafe."""
    try:
        if any(_uses_scope(value) for key, value in schema.items() if key != "$id"):
            raise _NotInlinable
        inlined = _inline(schema, schema, ())
    except _NotInlinable:
        return schema
    return inlined if isinstance(inlined, dict) else schema


def _uses_scope(node: object) -> bool:
    if isinstance(node, dict):
        return any(k in _SCOPE_KEYWORDS or _uses_scope(v) for k, v in node.items())
    if isinstance(node, list):
        return any(_uses_scope(v) for v in node)
    return False


def _inline(node: object, root: dict[str, Any], following: tuple[str, ...]) -> object:
    if isinstance(node, list):
        return [_inline(v, root, following) for v in node]
    if not isinstance(node, dict):
        return node
    reference = node.get("$ref")
    rest = {k: _inline(v, root, following) for k, v in node.items() if k != "$ref"}
    if reference is None:
        return rest
    if not isinstance(reference, str) or not reference.startswith("#") or reference in following:
        raise _NotInlinable  # remote (refused on storing anyway), or recursive
    target = _inline(_pointer(root, reference), root, (*following, reference))
    if not rest:
        return target
    siblings = rest.get("allOf", [])
    if not isinstance(siblings, list):
        raise _NotInlinable  # not a schema (refused on storing anyway)
    return {**rest, "allOf": [*siblings, target]}


def _pointer(root: dict[str, Any], reference: str) -> object:
    """What a ``#/a/b`` JSON pointer points at in ``root``."""
    node: object = root
    path = unquote(reference[1:])
    if path and not path.startswith("/"):
        raise _NotInlinable  # a plain-name fragment: an anchor
    for raw in path.split("/")[1:] if path else []:
        part = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            raise _NotInlinable
    return node

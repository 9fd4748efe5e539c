"""Event types from an OpenAPI document's webhooks, for the catalog.

A product that already describes its webhooks in OpenAPI (3.1's top-level ``webhooks``, or
3.0's ``x-webhooks``) imports them instead of typing each one again, as Svix's importer
does. Each webhook becomes one event type:

- its name is the webhook's key (``order.completed``);
- its description the ``post`` operation's ``description``, else its ``summary``, else
  the request body's ``description``;
- its schema the ``application/json`` request body's schema, made self-contained: every
  ``#/components/schemas/X`` it reaches is copied into ``$defs`` and the references
  rewritten to ``#/$defs/X``, and OpenAPI 3.0's ``nullable`` and boolean
  ``exclusiveMinimum``/``exclusiveMaximum`` become their JSON Schema 2020-12 forms;
- its example the media type's ``example``, else the first of its ``examples``, else the
  schema's own ``example`` or first of ``examples``;
- ``deprecated`` the operation's.

What cannot be read is a field error under ``spec`` naming the place
(``spec.webhooks.order.completed.post``); the catalog's own checks (a valid 2020-12
schema, an example that passes it, the sizes) run afterwards, per type.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from signet_sdk.contract.fields import FieldError, FieldErrorCode

COMPONENT_PREFIX = "#/components/schemas/"
DEFS_PREFIX = "#/$defs/"


@dataclass(frozen=True, slots=True)
class ImportedType:
    where: str  # its place in the document, for field errors: spec.webhooks.<name>
    name: str
    description: str
    schema: dict[str, Any] | None
    example: dict[str, Any] | None
    deprecated: bool


class _Refused(Exception):
    def __init__(self, where: str, message: str) -> None:
        super().__init__(message)
        self.error = FieldError(where, FieldErrorCode.INVALID, message)


def webhook_types(spec: Mapping[str, Any]) -> tuple[list[ImportedType], list[FieldError]]:
    """The event types of ``spec``'s webhooks, and what could not be read (field errors)."""
    key = "webhooks" if "webhooks" in spec else "x-webhooks"
    webhooks = spec.get(key)
    if not isinstance(webhooks, Mapping) or not webhooks:
        message = "has no webhooks: give them in `webhooks` (3.1) or `x-webhooks` (3.0)"
        return [], [FieldError("spec", FieldErrorCode.INVALID, message)]
    nullable_dialect = str(spec.get("openapi", "")).startswith("3.0")
    found: list[ImportedType] = []
    errors: list[FieldError] = []
    for name, item in webhooks.items():
        where = f"spec.{key}.{name}"
        try:
            found.append(_one(spec, str(name), item, where, nullable_dialect))
        except _Refused as refused:
            errors.append(refused.error)
    return found, errors


def _one(
    spec: Mapping[str, Any], name: str, item: Any, where: str, nullable_dialect: bool
) -> ImportedType:
    item = _resolved(spec, item, where)
    operation = item.get("post") if isinstance(item, Mapping) else None
    if not isinstance(operation, Mapping):
        raise _Refused(where, "has no post operation: a webhook is a POST to the receiver")
    where += ".post"
    body = _resolved(spec, operation.get("requestBody") or {}, f"{where}.requestBody")
    if not isinstance(body, Mapping):
        raise _Refused(f"{where}.requestBody", "is not a request body object")
    media = _json_media(body.get("content"))
    texts = (operation.get("description"), operation.get("summary"), body.get("description"))
    description = next((t.strip() for t in texts if isinstance(t, str) and t.strip()), name)
    schema = None
    example = None
    if media is not None:
        raw = media.get("schema")
        if raw is not None:
            schema = _self_contained(spec, raw, f"{where}.requestBody.schema", nullable_dialect)
        example = _example(media) or (_example(raw) if isinstance(raw, Mapping) else None)
    return ImportedType(
        where=where.removesuffix(".post"),
        name=name,
        description=description,
        schema=schema,
        example=example,
        deprecated=operation.get("deprecated") is True,
    )


def _json_media(content: Any) -> Mapping[str, Any] | None:
    if not isinstance(content, Mapping):
        return None
    for media_type, media in content.items():
        base = str(media_type).split(";")[0].strip().lower()
        if (base == "application/json" or base.endswith("+json")) and isinstance(media, Mapping):
            return media
    return None


def _example(holder: Mapping[str, Any]) -> dict[str, Any] | None:
    """``example``, else the first of ``examples`` (a media type's map of Example objects,
    or a schema's list); only a JSON object is a payload example."""
    candidate = holder.get("example")
    if candidate is None:
        examples = holder.get("examples")
        if isinstance(examples, Mapping) and examples:
            first = next(iter(examples.values()))
            candidate = first.get("value") if isinstance(first, Mapping) else None
        elif isinstance(examples, list) and examples:
            candidate = examples[0]
    return candidate if isinstance(candidate, dict) else None


def _resolved(spec: Mapping[str, Any], node: Any, where: str) -> Any:
    """``node``, or what its local ``$ref`` points at (a path item, a request body)."""
    seen: set[str] = set()
    while isinstance(node, Mapping) and isinstance(node.get("$ref"), str):
        ref = node["$ref"]
        if ref in seen:
            raise _Refused(where, f"refers to {ref!r} in a loop")
        seen.add(ref)
        node = _pointer(spec, ref, where)
    return node


def _pointer(spec: Mapping[str, Any], ref: str, where: str) -> Any:
    if not ref.startswith("#/"):
        raise _Refused(where, f"refers to {ref!r}: only references inside the document (#/…)")
    node: Any = spec
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        if not isinstance(node, Mapping) or part not in node:
            raise _Refused(where, f"refers to {ref!r}, which the document does not have")
        node = node[part]
    return node


def _self_contained(
    spec: Mapping[str, Any], schema: Any, where: str, nullable_dialect: bool
) -> dict[str, Any]:
    """``schema`` with every component it reaches under ``$defs`` (see the module doc)."""
    if not isinstance(schema, Mapping):
        raise _Refused(where, "is not a JSON Schema object")
    defs: dict[str, Any] = {}
    pending = [schema]
    while pending:
        for ref in _component_refs(pending.pop()):
            name = ref[len(COMPONENT_PREFIX) :].split("/")[0]  # …/X or …/X/properties/y
            if name not in defs:
                defs[name] = _pointer(spec, COMPONENT_PREFIX + name, where)
                pending.append(defs[name])
            _pointer(spec, ref, where)  # a reference into a component must exist too
    root: dict[str, Any] = _converted(schema, nullable_dialect)
    if defs:
        own: dict[str, Any] = root["$defs"] if isinstance(root.get("$defs"), dict) else {}
        root["$defs"] = {**{n: _converted(d, nullable_dialect) for n, d in defs.items()}, **own}
    return root


def _component_refs(node: Any) -> list[str]:
    if isinstance(node, Mapping):
        refs = [node["$ref"]] if str(node.get("$ref", "")).startswith(COMPONENT_PREFIX) else []
        return refs + [r for value in node.values() for r in _component_refs(value)]
    if isinstance(node, list):
        return [r for value in node for r in _component_refs(value)]
    return []


def _converted(node: Any, nullable_dialect: bool) -> Any:
    """A deep copy with component references pointing into ``$defs``, and OpenAPI 3.0's
    schema keywords in their 2020-12 forms when the document is 3.0."""
    if isinstance(node, list):
        return [_converted(value, nullable_dialect) for value in node]
    if not isinstance(node, Mapping):
        return copy.deepcopy(node)
    out = {key: _converted(value, nullable_dialect) for key, value in node.items()}
    ref = out.get("$ref")
    if isinstance(ref, str) and ref.startswith(COMPONENT_PREFIX):
        out["$ref"] = DEFS_PREFIX + ref[len(COMPONENT_PREFIX) :]
    if nullable_dialect:
        if out.pop("nullable", False) is True and isinstance(out.get("type"), str):
            out["type"] = [out["type"], "null"]
        for exclusive, bound in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
            flag = out.pop(exclusive) if isinstance(out.get(exclusive), bool) else None
            if flag and bound in out:  # 3.0's `true` means the bound itself is excluded
                out[exclusive] = out.pop(bound)
    return out

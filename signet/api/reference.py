"""The field reference of the docs, rendered from OpenAPI documents.

docs/workspace-api.md ends with a section made here (``make docs``): one table per
component schema — field, type, required, limits, default, description — and which
operations send or answer it. tests/docs/test_field_reference.py renders it again and
fails when the committed page differs, so a field, range or default changed in a model
shows in the docs or fails the build.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import orjson

BEGIN = "<!-- BEGIN GENERATED FIELD REFERENCE: `make docs` writes this section; do not edit -->"
END = "<!-- END GENERATED FIELD REFERENCE -->"
REF_PREFIX = "#/components/schemas/"

Schema = Mapping[str, Any]


def render(documents: Iterable[Schema]) -> str:
    """The reference section for these documents (in order), between its markers."""
    parts = [
        BEGIN,
        "## Field reference",
        "",
        "Every request and response body, generated from the services' OpenAPI documents "
        "(`GET /openapi.json`). *Limits* are enforced: a value outside them is refused with "
        'a field error (`{"field", "code", "message"}`).',
    ]
    for doc in documents:
        parts += _document(doc)
    parts.append(END)
    return "\n".join(parts) + "\n"


def replace_section(page: str, section: str) -> str:
    """``page`` with its generated section replaced (appended when it has none)."""
    if BEGIN in page:
        head, _, rest = page.partition(BEGIN)
        _, _, tail = rest.partition(END)
        return head + section.rstrip("\n") + tail
    return page.rstrip("\n") + "\n\n" + section


def _document(doc: Schema) -> list[str]:
    title = doc["info"]["title"]
    schemas: Mapping[str, Schema] = doc.get("components", {}).get("schemas", {})
    users = _users(doc)
    sent = _request_schemas(doc, schemas)
    out = ["", f"### {title}"]
    for name in sorted(schemas):
        schema = schemas[name]
        props: Mapping[str, Schema] = schema.get("properties", {})
        if not props:
            continue
        out += ["", f"#### `{name}`", ""]
        if schema.get("description"):
            out += [_one_line(schema["description"]), ""]
        if users.get(name):
            out += ["Used by: " + ", ".join(sorted(users[name])) + ".", ""]
        required = set(schema.get("required", ()))
        out += [
            "| field | type | required | limits | default | description |",
            "|---|---|---|---|---|---|",
        ]
        for field, prop in props.items():
            out.append(
                "| "
                + " | ".join(
                    (
                        f"`{field}`",
                        _type(prop),
                        "yes" if field in required else "",
                        _limits(prop),
                        _default(prop),
                        _one_line(prop.get("description", "")),
                    )
                )
                + " |"
            )
        if name in sent and schema.get("additionalProperties") is False:
            out += ["", "Other fields are refused (`unknown`)."]
    return out


def _users(doc: Schema) -> dict[str, set[str]]:
    """Schema name → the operations (``POST /v1/…``) whose body or answer refers to it."""
    users: dict[str, set[str]] = {}
    for path, item in doc.get("paths", {}).items():
        for method, op in item.items():
            for name in _refs(op):
                users.setdefault(name, set()).add(f"`{method.upper()} {path}`")
    for hook, item in doc.get("webhooks", {}).items():
        for name in _refs(item):
            users.setdefault(name, set()).add(f"webhook `{hook}`")
    return users


def _request_schemas(doc: Schema, schemas: Mapping[str, Schema]) -> set[str]:
    """The schemas a client sends: request bodies and what they refer to, transitively."""
    todo = [
        name
        for item in doc.get("paths", {}).values()
        for op in item.values()
        for name in _refs(op.get("requestBody", {}))
    ]
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo += _refs(schemas.get(name, {}))
    return seen


def _refs(value: Any) -> Iterable[str]:
    if isinstance(value, dict):
        ref = value.get("$ref")
        if isinstance(ref, str) and ref.startswith(REF_PREFIX):
            yield ref.removeprefix(REF_PREFIX)
        for child in value.values():
            yield from _refs(child)
    elif isinstance(value, list):
        for child in value:
            yield from _refs(child)


def _type(prop: Schema) -> str:
    if "$ref" in prop:
        return f"`{prop['$ref'].removeprefix(REF_PREFIX)}`"
    for combo in ("anyOf", "oneOf"):
        if combo in prop:
            return " or ".join(dict.fromkeys(_type(p) for p in prop[combo]))
    if "const" in prop:
        return f"`{_json(prop['const'])}`"
    if "enum" in prop:
        return "one of " + ", ".join(f"`{_json(v)}`" for v in prop["enum"])
    kind = prop.get("type", "any")
    if isinstance(kind, list):
        return " or ".join(kind)
    if kind == "array":
        return f"array of {_type(prop.get('items', {}))}"
    if kind == "string" and "format" in prop:
        return f"string ({prop['format']})"
    if kind == "object" and isinstance(prop.get("additionalProperties"), dict):
        return f"object of {_type(prop['additionalProperties'])}"
    return str(kind)


_LIMITS = (
    ("minLength", "≥ {} chars"),
    ("maxLength", "≤ {} chars"),
    ("minimum", "≥ {}"),
    ("exclusiveMinimum", "> {}"),
    ("maximum", "≤ {}"),
    ("exclusiveMaximum", "< {}"),
    ("minItems", "≥ {} items"),
    ("maxItems", "≤ {} items"),
    ("pattern", "matches `{}`"),
)


def _limits(prop: Schema) -> str:
    found: list[str] = []
    for schema in _alternatives(prop):
        for key, words in _LIMITS:
            if key in schema:
                found.append(words.format(_json(schema[key]).strip('"').replace("|", "\\|")))
        if schema.get("type") == "array" and isinstance(schema.get("items"), dict):
            inner = _limits(schema["items"])
            if inner:
                found.append(f"each {inner}")
    return ", ".join(dict.fromkeys(found))


def _alternatives(prop: Schema) -> list[Schema]:
    return [prop, *prop.get("anyOf", ()), *prop.get("oneOf", ())]


def _default(prop: Schema) -> str:
    return f"`{_json(prop['default'])}`" if "default" in prop else ""


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


def _one_line(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")

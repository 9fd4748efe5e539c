"""docs/workspace-api.md shows every route the portal serves, as it promises: each operation
of the portal's OpenAPI document (docs/openapi/portal.json, itself checked against the
code) is named as `METHOD /path` in the page's own text, so a route added without its
documentation fails here."""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.docs.doc_text import document

ROOT = Path(__file__).resolve().parents[2]
METHODS = ("get", "put", "post", "patch", "delete")
NAMED = re.compile(r"`([A-Z]+) (/[^`\s]*)`")
OPTIONAL = re.compile(r"\[(/[^\]]+)\]")  # `GET /v1/event-types[/{name}]`: both
GENERATED = "<!-- BEGIN GENERATED FIELD REFERENCE"


def documented(text: str) -> set[tuple[str, str]]:
    """Every `METHOD /path` the page's own text names (its generated field reference, which
    lists every route under "Used by", does not count)."""
    written = text[: text.index(GENERATED)]
    named: set[tuple[str, str]] = set()
    for method, path in NAMED.findall(written):
        path = path.split("?")[0]
        optional = OPTIONAL.search(path)
        variants = [path]
        if optional:
            variants = [path.replace(optional[0], ""), path.replace(optional[0], optional[1])]
        named |= {(method, variant) for variant in variants}
    return named


def test_every_portal_route_is_on_the_page() -> None:
    spec = json.loads((ROOT / "docs" / "openapi" / "portal.json").read_text())
    served = {
        (method.upper(), path)
        for path, operations in spec["paths"].items()
        for method in operations
        if method in METHODS
    }
    missing = served - documented(document("docs/workspace-api.md").text)
    assert not missing, f"routes docs/workspace-api.md does not show: {sorted(missing)}"

"""What ``make docs`` writes is committed as written: the OpenAPI documents under
docs/openapi/ and the field reference of docs/workspace-api.md (services/docs.py)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from openapi_spec_validator import validate

from services.docs import ROOT, generated, ingest_document, portal_document

FILES = generated()


@pytest.mark.parametrize("path", sorted(FILES), ids=lambda p: str(p.relative_to(ROOT)))
def test_the_committed_file_is_what_make_docs_writes(path: Path) -> None:
    want = FILES[path]
    have = path.read_text() if path.exists() else ""
    assert have == want, f"{path} differs from the code: run `make docs` and commit it"


@pytest.mark.parametrize("build", [ingest_document, portal_document])
def test_each_document_is_valid_openapi_31(build: Callable[[], dict[str, Any]]) -> None:
    document = build()
    validate(document)
    assert document["openapi"] == "3.1.0"


def test_the_portal_document_describes_the_delivered_webhook() -> None:
    hooks = portal_document().get("webhooks", {})
    assert hooks, "the portal's document has no webhooks entry"
    (hook,) = hooks.values()
    body = hook["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body["$ref"].startswith("#/components/schemas/")

"""``make docs``: the parts of the docs that are made from the code, written again.

- ``docs/openapi/ingest.json`` and ``docs/openapi/portal.json``: the OpenAPI 3.1 documents
  the services serve at ``/openapi.json`` on their default settings, for readers and for
  generating clients without running anything.
- The field reference at the end of docs/workspace-api.md (:mod:`signet.api.reference`).

Each document comes from the service's own ``build()``, the very call that serves it, so
what is committed is what runs. tests/docs/test_generated.py fails when a committed file
differs from what this writes: change a model, run ``make docs``, commit both.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import orjson
from pydantic import SecretStr

from services.ingest.app import IngestApp
from services.portal.app import PortalService
from signet.api.reference import render, replace_section
from signet.security.secrets import generate_master_key
from signet.settings import IngestSettings, PortalSettings

ROOT = Path(__file__).resolve().parent.parent
OPENAPI_DIR = ROOT / "docs" / "openapi"
FIELD_REFERENCE_PAGE = ROOT / "docs" / "workspace-api.md"
# Nothing is started, so nothing connects: build() only declares the routes.
_UNUSED_BROKER = "127.0.0.1:1"


def ingest_document() -> dict[str, Any]:
    app = IngestApp(IngestSettings(kafka_bootstrap=_UNUSED_BROKER))
    return app.build_api()[1].document()


def portal_document() -> dict[str, Any]:
    settings = PortalSettings(
        kafka_bootstrap=_UNUSED_BROKER,
        # Placeholders: the document names no key, but the service wants them to exist.
        operator_key=SecretStr("docs"),
        master_keys=SecretStr(generate_master_key()),
        database_url="sqlite:///:memory:",
    )
    return PortalService(settings).build()[1].document()


def generated() -> dict[Path, str]:
    """Every generated file's path and the text it should hold."""
    ingest, portal = ingest_document(), portal_document()
    files = {
        OPENAPI_DIR / "ingest.json": _json(ingest),
        OPENAPI_DIR / "portal.json": _json(portal),
    }
    page = FIELD_REFERENCE_PAGE.read_text()
    files[FIELD_REFERENCE_PAGE] = replace_section(page, render([portal, ingest]))
    return files


def _json(document: dict[str, Any]) -> str:
    return orjson.dumps(document, option=orjson.OPT_INDENT_2).decode() + "\n"


def main() -> int:
    for path, text in generated().items():
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
            print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

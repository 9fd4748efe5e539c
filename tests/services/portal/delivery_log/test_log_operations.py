"""The delivery log's declared operations: a valid OpenAPI 3.1 fragment whose parameters
are today's, and whose answers are exactly what the routes send (the routes on a bare app
over a real store, SQLite and PostgreSQL, seeded with the records the projection logs)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from openapi_schema_validator import OAS31Validator
from openapi_spec_validator import validate
from pydantic import BaseModel
from signet_sdk.ids import new_id, now_ms

from services.portal.auth import SessionGuard
from services.portal.delivery_log.query import DEFAULT_LIMIT, MAX_LIMIT
from services.portal.delivery_log.signing import LogKeys
from services.portal.delivery_log.sql_store import SqlLogStore
from services.portal.delivery_log.sqlite_store import sqlite_store
from services.portal.delivery_log.store import DeliveryStatus, ProjectionBatch
from services.portal.delivery_log_api import EXPORT_MEDIA_TYPE, LogApi
from services.portal.delivery_log_models import (
    DeliveryWithAttempts,
    LoggedAttempt,
    LoggedDelivery,
    LoggedEvent,
    LogKey,
    LogSigningKeys,
)
from services.portal.sessions import Role, SessionSigner
from signet.api.operations import Api
from signet.records.model import OutcomeStatus
from signet.security.chain_key import LogSigner
from signet.security.hash_chain import load_public_key, verify_export
from signet.security.secrets import MasterKeyRing, generate_master_key
from signet.web import problem_middleware
from tests.services.portal.delivery_log.records import delivery, outcome

pytestmark = pytest.mark.timeout(60)

NOW = 1_760_500_000_000
SIGNER = LogSigner.derive(b"\x07" * 32)
OLDER = LogSigner.derive(b"\x08" * 32)  # a key of an older master key, still published
DELIVERIES = "/v1/workspace/deliveries"
PATHS = {
    DELIVERIES,
    DELIVERIES + "/{delivery_id}",
    "/v1/workspace/events/{event_id}",
    "/v1/workspace/log/export",
    "/v1/log-signing-key",
}

Client = TestClient[web.Request, web.Application]


def log_app(store: SqlLogStore) -> tuple[web.Application, Api, SessionSigner]:
    """The log's routes on a bare app, registered as the portal registers them."""
    signer = SessionSigner.from_keys(None, MasterKeyRing.parse(generate_master_key()))
    app = web.Application(middlewares=[problem_middleware])
    api = Api("portal", "test")
    LogApi(store, LogKeys(SIGNER, (SIGNER, OLDER)), SessionGuard(signer, None)).register(app, api)
    return app, api, signer


def answer_schema(doc: dict[str, Any], path: str, status: int = 200) -> OAS31Validator:
    """A validator of one documented answer of ``GET path``, refs resolved in ``doc``."""
    content = doc["paths"][path]["get"]["responses"][str(status)]["content"]
    [schema] = content.values()
    return OAS31Validator(
        {**schema["schema"], "components": doc["components"]},
        format_checker=OAS31Validator.FORMAT_CHECKER,
    )


def fields(model: type[BaseModel]) -> set[str]:
    return set(model.model_fields)


# -- the document ---------------------------------------------------------------------------


def test_the_document_is_valid_and_keeps_todays_parameters(tmp_path: Path) -> None:
    _, api, _ = log_app(sqlite_store(f"sqlite:///{tmp_path / 'log.db'}"))
    doc = api.document()
    validate(doc)
    assert set(doc["paths"]) == PATHS
    listing = doc["paths"][DELIVERIES]["get"]
    query = {p["name"]: p for p in listing["parameters"]}
    assert set(query) == {
        "destination_id",
        "status",
        "event_type",
        "since",
        "until",
        "cursor",
        "limit",
    }
    assert not any(p["required"] for p in query.values())
    limit = query["limit"]["schema"]
    assert (limit["type"], limit["minimum"], limit["maximum"], limit["default"]) == (
        "integer",
        1,
        MAX_LIMIT,
        DEFAULT_LIMIT,
    )
    assert query["status"]["schema"]["enum"] == [s.value for s in DeliveryStatus]
    assert query["since"]["schema"]["format"] == "date-time"
    assert query["cursor"]["schema"]["maxLength"] == 600
    assert set(listing["responses"]) == {"200", "400", "401", "403", "503"}

    export = doc["paths"]["/v1/workspace/log/export"]["get"]
    assert set(export["responses"]["200"]["content"]) == {EXPORT_MEDIA_TYPE}
    assert "signet verify-log" in export["description"]
    assert "Content-Disposition" in export["responses"]["200"]["headers"]
    for path in PATHS - {"/v1/log-signing-key"}:
        assert doc["paths"][path]["get"]["security"] == [{"sessionToken": []}], path
    assert doc["paths"]["/v1/log-signing-key"]["get"]["security"] == []
    for path in (DELIVERIES + "/{delivery_id}", "/v1/workspace/events/{event_id}"):
        assert set(doc["paths"][path]["get"]["responses"]) == {"200", "401", "403", "404", "503"}


# -- what is sent ---------------------------------------------------------------------------


@dataclass(slots=True)
class Seeded:
    client: Client
    doc: dict[str, Any]
    token: str
    retried_id: str  # failed, then delivered
    pending_id: str  # no attempt yet: every nullable field is null
    event_id: str


@pytest.fixture
async def seeded(store: SqlLogStore) -> AsyncIterator[Seeded]:
    app, api, signer = log_app(store)
    workspace_id = new_id("ws")
    retried = delivery(workspace_id, "dst_a", event_type="order.refunded")
    pending = delivery(workspace_id, "dst_b", event_type="order.created")
    attempts = [
        outcome(retried, OutcomeStatus.FAILED, attempt=1, next_attempt_at=NOW + 5_000),
        outcome(retried, OutcomeStatus.DELIVERED, attempt=2),
    ]
    await store.apply(ProjectionBatch([retried, pending], attempts), now_ms=NOW)
    token, _ = signer.mint(
        workspace_id, Role.VIEWER, ttl_seconds=600, allowed_origins=(), now_ms=now_ms()
    )
    async with TestClient(TestServer(app)) as client:
        yield Seeded(client, api.document(), token, retried.id, pending.id, retried.event_id)


async def get(seeded: Seeded, path: str) -> Any:
    response = await seeded.client.get(path, headers={"Authorization": f"Bearer {seeded.token}"})
    assert response.status == 200, await response.text()
    return await response.json()


async def test_the_list_sends_the_documented_page(seeded: Seeded) -> None:
    page = await get(seeded, DELIVERIES)
    answer_schema(seeded.doc, DELIVERIES).validate(page)
    assert set(page) == {"data", "next_cursor", "has_more"}
    by_id = {d["id"]: d for d in page["data"]}
    assert set(by_id) == {seeded.retried_id, seeded.pending_id}
    for listed in by_id.values():
        assert set(listed) == fields(LoggedDelivery)
    assert by_id[seeded.retried_id]["attempts"] == 2
    assert by_id[seeded.pending_id]["last_attempt_at"] is None
    assert by_id[seeded.retried_id]["event_created_at"].endswith("Z")


async def test_a_delivery_and_an_event_send_the_documented_shapes(seeded: Seeded) -> None:
    detail = await get(seeded, f"{DELIVERIES}/{seeded.retried_id}")
    answer_schema(seeded.doc, DELIVERIES + "/{delivery_id}").validate(detail)
    assert set(detail) == fields(DeliveryWithAttempts)
    failed, delivered = detail["attempts"]
    assert set(failed) == set(delivered) == fields(LoggedAttempt)
    assert (failed["status"], failed["http_status"], delivered["status"]) == (
        "failed",
        503,
        "delivered",
    )
    assert failed["next_attempt_at"] is not None and delivered["next_attempt_at"] is None

    pending = await get(seeded, f"{DELIVERIES}/{seeded.pending_id}")
    answer_schema(seeded.doc, DELIVERIES + "/{delivery_id}").validate(pending)
    assert pending["attempts"] == [] and pending["status"] == "pending"

    event = await get(seeded, f"/v1/workspace/events/{seeded.event_id}")
    answer_schema(seeded.doc, "/v1/workspace/events/{event_id}").validate(event)
    assert set(event) == fields(LoggedEvent)
    [only] = event["deliveries"]
    assert set(only) == fields(DeliveryWithAttempts)
    assert event["resource"] == "order" and event["data"]["total_cents"] == 12900


async def test_the_key_and_the_export_are_what_the_document_says(seeded: Seeded) -> None:
    keys = await get(seeded, "/v1/log-signing-key")
    answer_schema(seeded.doc, "/v1/log-signing-key").validate(keys)
    assert set(keys) == fields(LogSigningKeys)
    assert [set(k) for k in keys["keys"]] == [fields(LogKey)] * 2
    assert [k["key_id"] for k in keys["keys"]] == [SIGNER.key_id, OLDER.key_id]

    response = await seeded.client.get(
        "/v1/workspace/log/export", headers={"Authorization": f"Bearer {seeded.token}"}
    )
    assert response.status == 200
    assert response.content_type == EXPORT_MEDIA_TYPE
    assert response.headers["Cache-Control"] == "no-store"
    verified = verify_export(await response.read(), load_public_key(keys["public_key"]))
    assert verified.ok and verified.entries == 2, verified.describe()


# -- what is refused ------------------------------------------------------------------------


async def test_bad_queries_answer_the_one_field_error_shape(seeded: Seeded) -> None:
    problem = answer_schema(seeded.doc, DELIVERIES, 400)
    for query, expected in (
        ("?limit=0&status=lost", {("limit", "range"), ("status", "choice")}),
        ("?limit=5&limit=6", {("limit", "type")}),
        ("?since=2026-04-17T18:22:00", {("since", "format")}),
        ("?cursor=not-a-cursor", {("cursor", "format")}),  # the store's own refusal
    ):
        response = await seeded.client.get(
            DELIVERIES + query, headers={"Authorization": f"Bearer {seeded.token}"}
        )
        assert response.status == 400, query
        assert response.content_type == "application/problem+json"
        body = await response.json()
        problem.validate(body)
        assert {(e["field"], e["code"]) for e in body["errors"]} == expected, query
        assert all(set(e) == {"field", "code", "message"} for e in body["errors"])


async def test_refusals_are_documented_problems(seeded: Seeded) -> None:
    unknown = await seeded.client.get(
        f"{DELIVERIES}/dlv_nope", headers={"Authorization": f"Bearer {seeded.token}"}
    )
    assert unknown.status == 404
    answer_schema(seeded.doc, DELIVERIES + "/{delivery_id}", 404).validate(await unknown.json())
    anonymous = await seeded.client.get("/v1/workspace/log/export")
    assert anonymous.status == 401
    answer_schema(seeded.doc, "/v1/workspace/log/export", 401).validate(await anonymous.json())

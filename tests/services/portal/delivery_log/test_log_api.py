"""The delivery log's routes with the portal running (real broker, real router, SQLite and
PostgreSQL): filters, pagination, event detail, export + verify (and a tampered export),
cross-workspace 404s, and bad query parameters."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import orjson
import pytest

from services.portal.app import PortalService
from signet.cli import main as signet
from signet.kafka.clients import AsyncProducer
from signet.kafka.topics import Topics
from signet.records import codec
from signet.records.model import Delivery, Outcome, OutcomeStatus
from signet.security.hash_chain import load_public_key, rfc3339, verify_export
from signet.settings import CommonSettings
from tests.eventually import eventually
from tests.processes import ServiceProcess
from tests.services.portal.conftest import Answer, PortalClient, portal_settings
from tests.services.portal.delivery_log.conftest import BACKENDS, database_url, drop
from tests.services.portal.delivery_log.records import delivery, outcome, tick

pytestmark = pytest.mark.timeout(180)

DELIVERIES = "/v1/workspace/deliveries"


@dataclass(slots=True)
class LogPortal:
    client: PortalClient
    producer: AsyncProducer
    topics: Topics
    service: PortalService

    async def send(self, *records: Delivery | Outcome) -> None:
        for record in records:
            topic, key = (
                (self.topics.deliveries, record.destination_id)
                if isinstance(record, Delivery)
                else (self.topics.outcomes, record.workspace_id)
            )
            await self.producer.send(topic, codec.encode(record), key=key, timeout=10)

    async def list(self, token: str, query: str = "") -> Answer:
        return await self.client.workspace(token, "GET", DELIVERIES + query)

    async def wait_listed(self, token: str, count: int, timeout: float = 30) -> None:
        """Until the projection has logged ``count`` deliveries, each with every attempt."""

        async def listed() -> bool:
            answer = await self.list(token, "?limit=100")
            return answer.status == 200 and len(answer.json["data"]) >= count

        await eventually(listed, f"{count} deliveries listed", timeout)


@pytest.fixture(scope="module", params=BACKENDS)
async def log_portal(
    request: pytest.FixtureRequest,
    kafka_settings: CommonSettings,
    router: ServiceProcess,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[LogPortal]:
    tmp: Path = tmp_path_factory.mktemp("log-api")
    settings = portal_settings(
        kafka_settings,
        command_timeout_seconds=20,
        database_url=database_url(request.param, tmp),
        log_consumer_group=f"portal-log-{uuid.uuid4().hex[:8]}",
        log_consumer_session_timeout_seconds=3,
    )
    service = PortalService(settings)
    async with (
        service,
        aiohttp.ClientSession() as http,
        AsyncProducer(kafka_settings) as producer,
    ):
        await service.wait_caught_up(30)
        client = PortalClient(
            f"http://127.0.0.1:{service.port}", settings.operator_key.get_secret_value(), http
        )
        yield LogPortal(client, producer, Topics.from_settings(kafka_settings), service)
        await drop(service.delivery_log.store)


@dataclass(slots=True, frozen=True)
class Seeded:
    workspace_id: str
    token: str
    deliveries: dict[str, Delivery]
    outcomes: dict[str, list[Outcome]]


async def seeded_workspace(portal: LogPortal, role: str = "admin") -> Seeded:
    """A workspace with four deliveries in known states, as the router and dispatcher log them."""
    created = await portal.client.new_workspace()
    workspace_id = created["id"]
    token = await portal.client.session(workspace_id, role=role)
    base = tick()
    made = {
        "ok": delivery(workspace_id, "dst_a", event_type="order.completed", created_at=base + 1),
        "retried": delivery(
            workspace_id, "dst_a", event_type="order.refunded", created_at=base + 2
        ),
        "dead": delivery(workspace_id, "dst_b", event_type="invoice.paid", created_at=base + 3),
        "waiting": delivery(workspace_id, "dst_b", event_type="order.created", created_at=base + 4),
    }
    outcomes = {
        "ok": [outcome(made["ok"])],
        "retried": [
            outcome(made["retried"], OutcomeStatus.FAILED, attempt=1),
            outcome(made["retried"], OutcomeStatus.DELIVERED, attempt=2),
        ],
        "dead": [outcome(made["dead"], OutcomeStatus.EXHAUSTED)],
        "waiting": [],
    }
    await portal.send(*made.values(), *(o for group in outcomes.values() for o in group))
    await portal.wait_listed(token, 4)

    async def logged() -> bool:
        # The pending one shows at once; every attempt must be logged too (the exhausted
        # one was sent last), and every body: deliveries and outcomes are two topics, so
        # an attempt may be logged before the delivery record that brings the body.
        delivered = await portal.list(token, "?status=delivered")
        exhausted = await portal.list(token, "?status=exhausted")
        if len(delivered.json["data"]) < 2 or len(exhausted.json["data"]) < 1:
            return False
        for sent in made.values():
            path = f"/v1/workspace/events/{sent.event_id}"
            event = await portal.client.workspace(token, "GET", path)
            if event.status != 200 or event.json["data"] is None:
                return False
        return True

    await eventually(logged, "every delivery, attempt and body logged", timeout=30)
    return Seeded(workspace_id, token, made, outcomes)


def ids(answer: Answer) -> list[str]:
    assert answer.status == 200, answer.text
    return [d["id"] for d in answer.json["data"]]


async def test_filters_and_pages(log_portal: LogPortal) -> None:
    seeded = await seeded_workspace(log_portal)
    d, token = seeded.deliveries, seeded.token
    newest_first = [d["waiting"].id, d["dead"].id, d["retried"].id, d["ok"].id]
    assert ids(await log_portal.list(token)) == newest_first
    assert ids(await log_portal.list(token, "?destination_id=dst_a")) == [
        d["retried"].id,
        d["ok"].id,
    ]
    assert ids(await log_portal.list(token, "?status=exhausted")) == [d["dead"].id]
    assert ids(await log_portal.list(token, "?status=pending")) == [d["waiting"].id]
    assert ids(await log_portal.list(token, "?event_type=order.*")) == [
        d["waiting"].id,
        d["retried"].id,
        d["ok"].id,
    ]
    since = _rfc3339(d["retried"].event_created_at)
    until = _rfc3339(d["waiting"].event_created_at)
    assert ids(await log_portal.list(token, f"?since={since}&until={until}")) == [
        d["dead"].id,
        d["retried"].id,
    ]

    seen: list[str] = []
    query = "?limit=3"
    while True:
        page = await log_portal.list(token, query)
        seen += ids(page)
        if not page.json["has_more"]:
            assert page.json["next_cursor"] is None
            break
        query = f"?limit=3&cursor={page.json['next_cursor']}"
    assert seen == newest_first

    retried = next(
        x for x in (await log_portal.list(token)).json["data"] if x["id"] == d["retried"].id
    )
    assert retried["status"] == "delivered" and retried["attempts"] == 2
    assert retried["last_http_status"] == 200 and retried["event_created_at"].endswith("Z")


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("?limit=0", "limit"),
        ("?limit=101", "limit"),
        ("?limit=ten", "limit"),
        ("?status=lost", "status"),
        ("?since=yesterday", "since"),
        ("?until=2026-04-17T18:22:00", "until"),  # no zone
        ("?since=2026-04-18T00:00:00Z&until=2026-04-17T00:00:00Z", "until"),
        ("?cursor=not-a-cursor", "cursor"),
        ("?cursor=WzEsMl0", "cursor"),
        ("?limit=5&limit=6", "limit"),
        ("?event_type=" + "x" * 300, "event_type"),
        ("?destination_id=dst%00a", "destination_id"),
        ("?cursor=WzEsImRsdl9cdTAwMDAiXQ", "cursor"),  # an id no record can have
        ("?cursor=Wzk5OTk5OTk5OTk5OTk5OTk5OTk5LCJkbHZfYSJd", "cursor"),  # a time past 64 bits
    ],
)
async def test_bad_query_parameters_are_named(
    log_portal: LogPortal, query: str, field: str
) -> None:
    workspace = await log_portal.client.new_workspace()
    token = await log_portal.client.session(workspace["id"], role="viewer")
    answer = await log_portal.list(token, query)
    assert answer.status == 400, answer.text
    assert answer.headers["Content-Type"].startswith("application/problem+json")
    assert field in answer.field_errors()


async def test_the_event_with_every_attempt(log_portal: LogPortal) -> None:
    seeded = await seeded_workspace(log_portal, role="viewer")
    retried = seeded.deliveries["retried"]
    answer = await log_portal.client.workspace(
        seeded.token, "GET", f"/v1/workspace/events/{retried.event_id}"
    )
    assert answer.status == 200, answer.text
    event = answer.json
    assert (event["id"], event["type"]) == (retried.event_id, "order.refunded")
    assert event["data"] == orjson.loads(retried.body)["data"]
    assert event["resource"] == "order"
    [only] = event["deliveries"]
    assert only["id"] == retried.id and only["status"] == "delivered"
    sent = seeded.outcomes["retried"]
    assert [a["id"] for a in only["attempts"]] == [o.id for o in sent]
    first = only["attempts"][0]
    assert first["status"] == "failed" and first["http_status"] == 503
    assert first["error"] == "HTTP 503" and first["response_excerpt"] == "try later"
    assert first["latency_ms"] == sent[0].latency_ms
    assert first["request_headers"]["webhook-signature"] == "v1,c2lnbmF0dXJl"
    assert first["attempted_at"].endswith("Z")

    detail = await log_portal.client.workspace(seeded.token, "GET", f"{DELIVERIES}/{retried.id}")
    assert detail.status == 200
    assert [a["attempt"] for a in detail.json["attempts"]] == [1, 2]


async def test_another_workspace_sees_nothing(log_portal: LogPortal) -> None:
    seeded = await seeded_workspace(log_portal)
    other = await log_portal.client.new_workspace()
    stranger = await log_portal.client.session(other["id"])
    some = seeded.deliveries["retried"]
    for path in (
        f"{DELIVERIES}/{some.id}",
        f"/v1/workspace/events/{some.event_id}",
        f"{DELIVERIES}/dlv_does_not_exist",
        f"{DELIVERIES}/dlv%00nul",  # PostgreSQL cannot even compare it: still a 404
        "/v1/workspace/events/" + "e" * 5000,
    ):
        answer = await log_portal.client.workspace(stranger, "GET", path)
        assert answer.status == 404, answer.text
        assert answer.headers["Content-Type"].startswith("application/problem+json")
    assert ids(await log_portal.list(stranger)) == []
    export = await log_portal.client.workspace(stranger, "GET", "/v1/workspace/log/export")
    assert export.status == 200 and seeded.workspace_id not in export.text
    assert some.event_id not in export.text


async def test_reads_need_a_session(log_portal: LogPortal) -> None:
    for path in (DELIVERIES, "/v1/workspace/log/export", "/v1/workspace/events/evt_x"):
        assert (await log_portal.client.call("GET", path)).status == 401
        forged = await log_portal.client.call("GET", path, bearer="sess_forged.token")
        assert forged.status == 401


async def test_export_verifies_and_a_tampered_one_names_its_entry(
    log_portal: LogPortal, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seeded = await seeded_workspace(log_portal, role="viewer")
    key = await log_portal.client.call("GET", "/v1/log-signing-key")
    assert key.status == 200 and key.json["algorithm"] == "ed25519"
    public_key = load_public_key(key.json["public_key"])

    export = await log_portal.client.workspace(seeded.token, "GET", "/v1/workspace/log/export")
    assert export.status == 200, export.text
    assert export.headers["Content-Type"].startswith("application/x-ndjson")
    result = verify_export(export.text, public_key)
    assert result.ok, result.describe()
    assert (result.entries, result.head_seq, result.workspace_id) == (4, 4, seeded.workspace_id)
    assert result.key_id == key.json["key_id"]
    lines = export.text.splitlines(keepends=True)
    entries = [orjson.loads(line) for line in lines[:-1]]
    assert [e["seq"] for e in entries] == [1, 2, 3, 4]
    assert {e["workspace_id"] for e in entries} == {seeded.workspace_id}

    good = tmp_path / "export.jsonl"
    good.write_text(export.text)
    # The command is synchronous and this portal serves from this loop: run it in a thread.
    assert (
        await asyncio.to_thread(
            signet, ["verify-log", str(good), "--portal-url", log_portal.client.base_url]
        )
        == 0
    )
    assert "OK: 4 entries" in capsys.readouterr().out

    failed = next(i for i, e in enumerate(entries) if e["status"] == "failed")
    lines[failed] = lines[failed].replace('"status":"failed"', '"status":"delivered"')
    bad = tmp_path / "tampered.jsonl"
    bad.write_text("".join(lines))
    tampered = verify_export(bad.read_bytes(), public_key)
    assert not tampered.ok and tampered.line == failed + 1 and tampered.seq == failed + 1
    assert signet(["verify-log", str(bad), "--public-key", key.json["public_key"]]) == 1
    assert f"line {failed + 1} (seq {failed + 1}" in capsys.readouterr().out


async def test_the_log_is_part_of_readiness_and_the_document(log_portal: LogPortal) -> None:
    assert log_portal.service.delivery_log.ready
    assert (await log_portal.client.call("GET", "/readyz")).status == 200
    document = (await log_portal.client.call("GET", "/openapi.json")).json
    for path in (
        DELIVERIES,
        DELIVERIES + "/{delivery_id}",
        "/v1/workspace/events/{event_id}",
        "/v1/workspace/log/export",
        "/v1/log-signing-key",
    ):
        assert "get" in document["paths"][path]


def _rfc3339(ms: int) -> str:
    text = rfc3339(ms)
    assert text is not None
    return text

"""An idempotent create while the portal's database is out of reach (its path to the
machine's PostgreSQL cut): a ``503`` that wrote nothing, a create without a key still
works (it needs only Kafka), and the same request again once the database is back creates
once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from signet.settings import CommonSettings
from tests.processes import ServiceProcess
from tests.services.portal.conftest import (
    RunningPortal,
    portal_settings,
    running_portal,
)
from tests.services.portal.delivery_log.conftest import POSTGRES_URL, drop, postgres_url_through
from tests.tcp_forwarder import TcpForwarder

pytestmark = pytest.mark.timeout(180)

WORKSPACES = "/v1/workspaces"


@pytest.fixture(scope="module")
async def forwarder() -> AsyncIterator[TcpForwarder]:
    async with TcpForwarder(urlsplit(POSTGRES_URL).port or 5432) as running:
        yield running


@pytest.fixture(scope="module")
async def portal(
    kafka_settings: CommonSettings, router: ServiceProcess, forwarder: TcpForwarder
) -> AsyncIterator[RunningPortal]:
    settings = portal_settings(
        kafka_settings,
        command_timeout_seconds=20,
        database_url=postgres_url_through(forwarder.port),
        log_projection_enabled=False,  # the log itself: delivery_log/test_database_outage.py
    )
    async with running_portal(settings) as up:
        yield up
        await forwarder.mend()
        await drop(up.service.delivery_log.store)


async def create(
    portal: RunningPortal, name: str, key: str | None
) -> tuple[int, Any, dict[str, str]]:
    headers = {} if key is None else {"Idempotency-Key": key}
    answer = await portal.client.call(
        "POST",
        WORKSPACES,
        bearer=portal.client.operator_key,
        body={"name": name, "environment": "staging"},
        headers=headers,
    )
    return answer.status, answer.json, answer.headers


async def test_an_idempotent_create_waits_for_the_database(
    portal: RunningPortal, forwarder: TcpForwarder
) -> None:
    await forwarder.cut()
    status, refused, headers = await create(portal, "Highgarden", "highgarden-1")
    assert status == 503, refused
    assert refused["type"].endswith("/database-unavailable") and headers["Retry-After"]
    status, unkeyed, _ = await create(portal, "Horn Hill", None)
    assert status == 201, unkeyed  # only the keyed create needs the database

    await forwarder.mend()
    status, created, headers = await create(portal, "Highgarden", "highgarden-1")
    assert status == 201, created
    assert "Idempotent-Replayed" not in headers  # the 503 claimed nothing
    status, again, headers = await create(portal, "Highgarden", "highgarden-1")
    assert (status, again["id"], headers["Idempotent-Replayed"]) == (201, created["id"], "true")
    listed = await portal.client.operator("GET", f"{WORKSPACES}?limit=100")
    assert [w["id"] for w in listed.json["data"] if w["name"] == "Highgarden"] == [created["id"]]

"""The case ``Idempotency-Key`` exists for: a create answered ``504`` (written, not applied in
time, here because no router runs yet) and sent again once the router is back. With its
key the retry makes nothing twice; without one, the client ends up with two."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from signet.settings import CommonSettings
from tests.eventually import eventually
from tests.services.portal.conftest import (
    Answer,
    RunningPortal,
    portal_settings,
    router_process,
    running_portal,
)

pytestmark = pytest.mark.timeout(240)

WORKSPACES = "/v1/workspaces"


@pytest.fixture
async def portal(kafka_settings: CommonSettings) -> AsyncIterator[RunningPortal]:
    """A portal whose writes time out after 2 s, and no router (yet)."""
    async with running_portal(portal_settings(kafka_settings, command_timeout_seconds=2)) as up:
        yield up


async def create(portal: RunningPortal, name: str, key: str | None) -> Answer:
    headers = {} if key is None else {"Idempotency-Key": key}
    return await portal.client.call(
        "POST",
        WORKSPACES,
        bearer=portal.client.operator_key,
        body={"name": name, "environment": "production"},
        headers=headers,
    )


async def test_a_create_retried_after_a_504_makes_one_workspace_with_its_key(
    portal: RunningPortal, kafka_settings: CommonSettings, tmp_path: Path
) -> None:
    timed_out = await create(portal, "Winterfell", "winterfell-1")
    unkeyed = await create(portal, "Dreadfort", None)
    assert (timed_out.status, unkeyed.status) == (504, 504), timed_out.text

    async with router_process(kafka_settings, tmp_path / "router"):
        retried = await create(portal, "Winterfell", "winterfell-1")
        assert retried.status == 201, retried.text
        assert retried.headers["Idempotent-Replayed"] == "true"
        assert retried.json["publishable_key"].startswith("pk_live_")
        unkeyed_retry = await create(portal, "Dreadfort", None)
        assert unkeyed_retry.status == 201, unkeyed_retry.text

        async def both_dreadforts() -> list[dict[str, Any]] | None:
            listed = await portal.client.operator("GET", f"{WORKSPACES}?limit=100")
            workspaces: list[dict[str, Any]] = listed.json["data"]
            dreadforts = [w for w in workspaces if w["name"] == "Dreadfort"]
            return workspaces if len(dreadforts) == 2 else None

        # The unkeyed create's first command applies too once the router is back (maybe
        # after its retry's: they are on different partitions), so its retry made a
        # second workspace: what the key is for. The keyed create applied once, though
        # its command was sent twice.
        workspaces = await eventually(both_dreadforts, "the first unkeyed create applied", 30)
        winterfells = [w["id"] for w in workspaces if w["name"] == "Winterfell"]
        assert winterfells == [retried.json["id"]]

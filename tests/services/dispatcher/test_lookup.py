"""DestinationLookup's rules, over an in-memory directory (pure logic; the waits against
the real config view are in test_config_catch_up.py and test_dispatcher.py)."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable

import pytest

from services.dispatcher.errors import DestinationUnavailable
from services.dispatcher.lookup import DestinationLookup
from signet.errors import InvalidRecordError
from signet.records.model import Delivery, Destination, WorkspaceConfig
from tests.changes import Changes
from tests.eventually import eventually

NOW = 1_800_000_000_000


def webhook(**fields: object) -> Destination:
    base = Destination(
        id="dst_1", type="webhook", name="d", created_at=NOW, updated_at=NOW, url="https://h.x/in"
    )
    return dataclasses.replace(base, **fields)  # type: ignore[arg-type]


def config(*destinations: Destination, version: int = 1, updated_at: int = NOW) -> WorkspaceConfig:
    return WorkspaceConfig(
        workspace_id="ws_1",
        version=version,
        name="w",
        environment="production",
        created_at=NOW,
        updated_at=updated_at,
        destinations=list(destinations),
    )


def delivery(**fields: object) -> Delivery:
    base = Delivery(
        id="dlv_1",
        event_id="evt_1",
        workspace_id="ws_1",
        destination_id="dst_1",
        event_type="order.completed",
        body=b"{}",
        attempt=1,
        event_created_at=NOW,
        due_at=NOW,
    )
    return dataclasses.replace(base, **fields)  # type: ignore[arg-type]


class Directory(Changes):
    """One workspace's snapshot; ``publish`` replaces it, as a config update does."""

    def __init__(self, snapshot: WorkspaceConfig | None) -> None:
        self.snapshot = snapshot
        self.waits = 0
        super().__init__()

    async def wait_for(self, predicate: Callable[[], bool], timeout: float) -> bool:
        self.waits += 1
        return await super().wait_for(predicate, timeout)

    def publish(self, snapshot: WorkspaceConfig) -> None:
        self.snapshot = snapshot
        self.notify()

    def workspace(self, workspace_id: str) -> WorkspaceConfig | None:
        snapshot = self.snapshot
        return snapshot if snapshot is not None and snapshot.workspace_id == workspace_id else None

    def destination(self, destination_id: str) -> tuple[WorkspaceConfig, Destination] | None:
        snapshot = self.snapshot
        found = snapshot.destination(destination_id) if snapshot is not None else None
        return None if snapshot is None or found is None else (snapshot, found)


async def test_the_destination_as_configured_now_is_found() -> None:
    lookup = DestinationLookup(Directory(config(webhook())), config_wait_seconds=1)
    found_config, found = await lookup.find(delivery())
    assert (found_config.workspace_id, found.id) == ("ws_1", "dst_1")


@pytest.mark.parametrize(
    ("destination", "why"),
    [
        (webhook(enabled=False, disabled_reason="gone (410)"), "destination disabled: gone"),
        (webhook(type="slack"), "is a slack, not a webhook"),
        (webhook(url=None), "has no URL"),
    ],
)
async def test_a_destination_that_cannot_take_it_is_unavailable(
    destination: Destination, why: str
) -> None:
    lookup = DestinationLookup(Directory(config(destination)), config_wait_seconds=1)
    with pytest.raises(DestinationUnavailable, match=why):
        await lookup.find(delivery())


async def test_a_snapshot_newer_than_the_event_without_it_means_deleted_at_once() -> None:
    # The snapshot was written after the event: it knows every destination routed to.
    directory = Directory(config(updated_at=NOW + 1))
    lookup = DestinationLookup(directory, config_wait_seconds=30)
    with pytest.raises(DestinationUnavailable, match="deleted"):
        await lookup.find(delivery())
    assert directory.waits == 0


async def test_an_older_snapshot_is_waited_for_until_it_names_the_destination() -> None:
    directory = Directory(config(updated_at=NOW - 1))
    lookup = DestinationLookup(directory, config_wait_seconds=5)
    finding = asyncio.create_task(lookup.find(delivery()))
    await eventually(lambda: directory.waits == 1, "the lookup waiting", 5)
    directory.publish(config(webhook(), version=2, updated_at=NOW + 1))
    _, found = await finding
    assert found.id == "dst_1"


async def test_the_config_version_routed_with_is_waited_for() -> None:
    old_url, new_url = webhook(url="https://old.x/in"), webhook(url="https://new.x/in")
    directory = Directory(config(old_url, version=1))
    lookup = DestinationLookup(directory, config_wait_seconds=5)
    finding = asyncio.create_task(lookup.find(delivery(config_version=2)))
    await eventually(lambda: directory.waits == 1, "the lookup waiting", 5)
    directory.publish(config(new_url, version=2))
    _, found = await finding
    assert found.url == "https://new.x/in"


async def test_a_delivery_naming_another_workspace_is_an_invalid_record() -> None:
    lookup = DestinationLookup(Directory(config(webhook())), config_wait_seconds=0)
    with pytest.raises(InvalidRecordError, match="belongs to ws_1"):
        await lookup.find(delivery(workspace_id="ws_other"))

from __future__ import annotations

import asyncio

from signet.kafka.clients import AsyncProducer
from signet.kafka.config_view import ConfigView
from signet.kafka.topics import Topics
from signet.records import codec
from signet.records.model import Destination, PublishableKey, WorkspaceConfig
from signet.settings import CommonSettings


def snapshot(version: int, *, key_hash: str, destination_id: str) -> WorkspaceConfig:
    return WorkspaceConfig(
        workspace_id="ws_view",
        version=version,
        name="Casterly",
        environment="production",
        created_at=1,
        updated_at=version,
        publishable_keys=[PublishableKey("pk_1", key_hash, "pk_live_…abcd", 1)],
        destinations=[Destination(destination_id, "webhook", "primary", 1, 1, url="https://x")],
        applied_commands=[f"cmd_{version}"],
    )


async def test_view_follows_snapshots_and_indexes(
    kafka_settings: CommonSettings, topics: Topics
) -> None:
    async with AsyncProducer(kafka_settings) as producer:
        await producer.send(
            topics.workspace_config,
            codec.encode(snapshot(1, key_hash="h1", destination_id="dst_a")),
            key="ws_view",
        )
        await producer.send(topics.workspace_config, b"not avro", key="ws_view")
        view = ConfigView(kafka_settings)
        async with view:
            await view.wait_ready(20)
            config = view.workspace("ws_view")
            assert config is not None and config.version == 1
            assert view.undecodable == 1
            match = view.key_by_hash("h1")
            assert match is not None and match.workspace_id == "ws_view"

            # a newer snapshot replaces the indexes; read-your-writes by command id
            waiter = asyncio.create_task(view.wait_for_command("ws_view", "cmd_2", 10))
            await producer.send(
                topics.workspace_config,
                codec.encode(snapshot(2, key_hash="h2", destination_id="dst_b")),
                key="ws_view",
            )
            assert await waiter
            assert view.key_by_hash("h1") is None
            assert view.destination("dst_a") is None
            found = view.destination("dst_b")
            assert found is not None and found[1].name == "primary"

            # an older snapshot replayed from the log does not win
            await producer.send(
                topics.workspace_config,
                codec.encode(snapshot(1, key_hash="h1", destination_id="dst_a")),
                key="ws_view",
            )
            assert not await view.wait_for(lambda: view.key_by_hash("h1") is not None, 1.0)

            # a tombstone deletes the workspace
            await producer.send(topics.workspace_config, None, key="ws_view")
            assert await view.wait_for(lambda: view.workspace("ws_view") is None, 10)
        assert await view.wait_for_command("ws_view", "cmd_x", 0.01) is False

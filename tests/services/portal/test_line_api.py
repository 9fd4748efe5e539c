"""``GET /v1/workspace/destinations/{id}/line``: the ordering a destination has and, for
a FIFO one, how many deliveries wait behind its head, read from the line records the
dispatcher writes on ``signet.fifo-lines`` (written here as the dispatcher would)."""

from __future__ import annotations

from typing import Any

from signet_sdk.ids import now_ms

from signet.kafka.clients import AsyncProducer
from signet.kafka.topics import Topics
from signet.records import codec
from signet.records.model import FifoLine
from signet.settings import CommonSettings
from tests.eventually import eventually
from tests.services.portal.conftest import RunningPortal

HOOK = {"name": "Orders", "url": "https://hooks.example.com/in"}


async def _destination(portal: RunningPortal, token: str, **fields: Any) -> str:
    created = await portal.client.workspace(
        token, "POST", "/v1/workspace/destinations", {**HOOK, **fields}
    )
    assert created.status == 201, created.text
    return str(created.json["id"])


async def test_a_fifo_destination_s_line_shows_how_many_wait_behind_its_head(
    portal: RunningPortal, kafka_settings: CommonSettings
) -> None:
    workspace = await portal.client.new_workspace()
    token = await portal.client.session(workspace["id"])
    fifo = await _destination(portal, token, ordering="fifo")
    unordered = await _destination(portal, token)
    path = f"/v1/workspace/destinations/{fifo}/line"

    idle = await portal.client.workspace(token, "GET", path)
    assert idle.status == 200 and idle.json == {"ordering": "fifo", "waiting": 0}

    since = now_ms() - 60_000
    stalled = FifoLine(
        fifo, workspace["id"], "dispatcher-test", now_ms(), head=10, head_since=since, waiting=3
    )
    async with AsyncProducer(kafka_settings) as producer:
        topic = Topics.from_settings(kafka_settings).fifo_lines
        await producer.send(topic, codec.encode(stalled), key=fifo, timeout=10)

    async def shown() -> dict[str, Any] | None:
        answer = await portal.client.workspace(token, "GET", path)
        return answer.json if answer.json["waiting"] == 3 else None

    line = await eventually(shown, "the line record never showed", timeout=20)
    assert line["ordering"] == "fifo" and line["head_since"] is not None

    plain = await portal.client.workspace(
        token, "GET", f"/v1/workspace/destinations/{unordered}/line"
    )
    assert plain.json == {"ordering": "none", "waiting": 0}

    other = await portal.client.session((await portal.client.new_workspace())["id"])
    assert (await portal.client.workspace(other, "GET", path)).status == 404

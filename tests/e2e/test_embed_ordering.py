"""Ordered delivery in the embed: the destination form sets it, the page shows it and, for
a FIFO destination whose head is being retried, how many deliveries wait behind it (from
``GET …/line``, which reads the dispatcher's line records on ``signet.fifo-lines``)."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import Browser, expect
from signet_sdk.ids import now_ms

from signet.kafka.clients import AsyncProducer
from signet.kafka.topics import Topics
from signet.records import codec
from signet.records.model import FifoLine
from signet.settings import CommonSettings
from tests.e2e.conftest import Stack
from tests.eventually import eventually
from tests.services.portal.embed.harness import StartHost, open_embedded

pytest_plugins = ["tests.services.portal.embed.fixtures"]
pytestmark = pytest.mark.timeout(180)


async def test_the_form_sets_fifo_and_the_page_shows_how_many_wait(
    embed_stack: Stack, browser: Browser, host_pages: StartHost
) -> None:
    status, workspace = await embed_stack.operator(
        "POST", "/v1/workspaces", {"name": "Tully", "environment": "staging"}
    )
    assert status == 201, workspace
    host = await host_pages(workspace)
    embed = await open_embedded(browser, host)
    frame = embed.frame

    await frame.get_by_role("link", name="New destination").click()
    await frame.get_by_label("Name").fill("Ledger")
    await frame.get_by_label("Endpoint URL").fill("https://ledger.example.com/hook")
    await frame.get_by_text("Delivery options").click()
    await frame.get_by_label("Ordering").select_option("fifo")
    await frame.get_by_role("button", name="Create destination").click()
    await expect(frame.get_by_role("heading", name="Ledger", exact=True)).to_be_visible()
    facts = frame.locator(".facts")
    await expect(facts).to_contain_text("In order (FIFO)")
    await expect(frame.get_by_label("Ordering")).to_have_value("fifo")
    await expect(facts).not_to_contain_text("waiting")

    # The dispatcher's record of a stalled line: its head retried, three behind it.
    destinations = await _destinations(embed_stack, workspace)
    destination_id = next(d["id"] for d in destinations if d["name"] == "Ledger")
    env = embed_stack.processes["portal"]._env
    settings = CommonSettings(
        kafka_bootstrap=env["SIGNET_KAFKA_BOOTSTRAP"], topic_prefix=env["SIGNET_TOPIC_PREFIX"]
    )
    stalled = FifoLine(
        destination_id,
        workspace["id"],
        "dispatcher-e2e",
        now_ms(),
        head=7,
        head_since=now_ms() - 120_000,
        waiting=3,
    )
    async with AsyncProducer(settings) as producer:
        await producer.send(
            Topics.from_settings(settings).fifo_lines,
            codec.encode(stalled),
            key=destination_id,
            timeout=10,
        )

    async def shown() -> bool | None:
        # The page asks when it is drawn: open it again until the record has been read.
        await frame.get_by_role("link", name="Destinations", exact=True).first.click()
        await frame.get_by_role("link", name="Ledger").click()
        try:
            await expect(facts).to_contain_text("3 waiting", timeout=3_000)
        except AssertionError:
            return None
        return True

    await eventually(shown, "the line's waiting count never showed", timeout=30)
    await expect(facts).to_contain_text("behind a delivery being retried")

    # Back to concurrent delivery from the settings form.
    await frame.get_by_label("Ordering").select_option("none")
    await frame.get_by_role("button", name="Save changes").click()
    await expect(facts).to_contain_text("Concurrent")
    await embed.close()


async def _session(stack: Stack, workspace: dict[str, Any]) -> str:
    status, session = await stack.operator(
        "POST", "/v1/sessions", {"workspace_id": workspace["id"], "role": "viewer"}
    )
    assert status == 201, session
    token: str = session["token"]
    return token


async def _destinations(stack: Stack, workspace: dict[str, Any]) -> list[dict[str, Any]]:
    token = await _session(stack, workspace)
    status, listed = await stack.workspace(token, "GET", "/v1/workspace/destinations")
    assert status == 200, listed
    found: list[dict[str, Any]] = listed["data"]
    return found

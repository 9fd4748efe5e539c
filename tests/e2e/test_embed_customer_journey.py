"""A customer's whole journey in the embed, in Chromium against the real pipeline: register a
webhook with their own secret, send a test event, see signed deliveries in the log, rotate
the secret, watch a failing endpoint's retries, replay and recover, export the signed log.

The receiver verifies every request with the official ``standardwebhooks`` library and
answers "verified", so the answer the log shows is the receiver's own verdict. Screenshots
of each screen land in docs/images/.
"""

from __future__ import annotations

import asyncio
import base64
import os
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest
import standardwebhooks
from playwright.async_api import Browser, expect

from tests.e2e.conftest import Stack
from tests.services.portal.embed.harness import (
    EmbeddedPage,
    StartHost,
    VerifyingReceiver,
    open_embedded,
)

pytest_plugins = ["tests.services.portal.embed.fixtures"]
pytestmark = pytest.mark.timeout(240)


def own_secret() -> str:
    return "whsec_" + base64.b64encode(os.urandom(32)).decode()


async def new_workspace(stack: Stack) -> dict[str, Any]:
    status, workspace = await stack.operator(
        "POST", "/v1/workspaces", {"name": "Casterly", "environment": "production"}
    )
    assert status == 201, workspace
    created: dict[str, Any] = workspace
    return created


async def create_webhook(
    embed: EmbeddedPage,
    name: str,
    url: str,
    *,
    secret: str | None = None,
    max_attempts: int | None = None,
    delays: str | None = None,
    screenshot: str | None = None,
) -> None:
    frame = embed.frame
    await frame.get_by_role("link", name="New destination").click()
    await expect(frame.get_by_role("heading", name="New destination")).to_be_visible()
    await frame.get_by_label("Name").fill(name)
    await frame.get_by_label("Endpoint URL").fill(url)
    await frame.get_by_label("Event types").fill("order.*")
    if secret is not None:
        await frame.get_by_label("Use my own secret").check()
        await frame.get_by_label("Your secret").fill(secret)
    if max_attempts is not None or delays is not None:
        await frame.get_by_text("Delivery options").click()
        if max_attempts is not None:
            await frame.get_by_label("Maximum attempts").fill(str(max_attempts))
        if delays is not None:
            await frame.get_by_label("Retry delays (seconds)").fill(delays)
    if screenshot:
        await embed.shot(screenshot)
    await frame.get_by_role("button", name="Create destination").click()
    await expect(frame.get_by_role("heading", name=name, exact=True)).to_be_visible()


async def place_order(embed: EmbeddedPage) -> str:
    """The host product emits order.completed (its own button, its publishable key)."""
    await embed.page.get_by_role("button", name="Place a test order").click()
    result = embed.page.locator("#order-result")
    await expect(result).to_contain_text("Emitted order.completed evt_")
    text = await result.inner_text()
    return text.rsplit(" ", 1)[1]


async def test_own_secret_test_event_and_a_verified_delivery_in_the_log(
    embed_stack: Stack,
    browser: Browser,
    host_pages: StartHost,
    verifying_receivers: Any,
) -> None:
    receiver: VerifyingReceiver = await verifying_receivers()
    secret = own_secret()
    receiver.secrets = [secret]
    host = await host_pages(await new_workspace(embed_stack))
    embed = await open_embedded(browser, host)
    frame = embed.frame

    await create_webhook(
        embed, "Order events", receiver.url, secret=secret, screenshot="embed-new-destination"
    )
    # An own secret is never shown back, not even once: only its last characters.
    await expect(frame.locator(".reveal")).to_have_count(0)
    await expect(frame.get_by_role("cell", name=f"…{secret[-4:]}")).to_be_visible()
    await embed.shot("embed-destination")

    await frame.get_by_role("button", name="Send test event").click()
    verdict = frame.locator(".test-result")
    await expect(verdict).to_contain_text("Your endpoint accepted it")
    await expect(verdict).to_contain_text("200")
    await expect(verdict).to_contain_text("signature verified")
    await embed.shot("embed-test-event")
    [ping] = receiver.requests
    assert ping.verified and orjson.loads(ping.body)["type"] == "signet.test"

    event_id = await place_order(embed)
    await frame.get_by_role("link", name="Delivery log").click()
    row = frame.locator("tr", has=frame.get_by_role("link", name=f"Event {event_id}"))
    await expect(row.locator(".badge")).to_have_text("Delivered")  # auto-refresh brings it
    await expect(frame.get_by_role("row").filter(has_text="signet.test")).to_have_count(1)
    await embed.shot("embed-delivery-log")

    # Filters: only failed deliveries → nothing yet.
    await frame.get_by_label("Status").select_option("failed")
    await frame.get_by_role("button", name="Apply filters").click()
    await expect(frame.get_by_text("No deliveries match.")).to_be_visible()
    await frame.get_by_label("Status").select_option("")
    await frame.get_by_label("Event type").fill("order.*")
    await frame.get_by_role("button", name="Apply filters").click()
    await expect(frame.get_by_role("row").filter(has_text="signet.test")).to_have_count(0)

    await frame.get_by_role("link", name=f"Event {event_id}").click()
    await expect(frame.get_by_role("heading", name="order.completed")).to_be_visible()
    attempt = frame.locator("li.attempt").first
    await expect(attempt).to_contain_text("Attempt 1")
    await expect(attempt).to_contain_text("Delivered")
    await expect(attempt).to_contain_text("HTTP 200")
    await attempt.get_by_text("Response and headers sent").click()
    await expect(attempt.locator("pre.excerpt")).to_contain_text("signature verified")
    await expect(attempt.get_by_role("cell", name="webhook-signature")).to_be_visible()
    await expect(attempt.get_by_role("cell", name="webhook-id")).to_be_visible()
    await embed.shot("embed-event-detail")

    delivered = await receiver.wait_for(2)
    assert delivered[1].verified
    standardwebhooks.Webhook(secret).verify(delivered[1].body, delivered[1].headers)
    assert delivered[1].headers["webhook-id"] == event_id
    await embed.close()


async def test_rotation_shows_the_new_secret_once_and_both_sign_during_the_overlap(
    embed_stack: Stack,
    browser: Browser,
    host_pages: StartHost,
    verifying_receivers: Any,
) -> None:
    receiver: VerifyingReceiver = await verifying_receivers()
    first = own_secret()
    receiver.secrets = [first]
    host = await host_pages(await new_workspace(embed_stack))
    embed = await open_embedded(browser, host)
    frame = embed.frame
    await create_webhook(embed, "Orders", receiver.url, secret=first)

    await frame.get_by_label("Generate one for me").last.check()
    await frame.get_by_label("Keep signing with the current secret").select_option("86400")
    await frame.get_by_role("button", name="Rotate secret").click()
    reveal = frame.locator(".reveal")
    await expect(reveal).to_contain_text("shown this once")
    second = (await reveal.locator("output").inner_text()).strip()
    assert second.startswith("whsec_") and second != first
    await expect(frame.get_by_text("Primary")).to_be_visible()
    await expect(frame.get_by_text("Signs until")).to_be_visible()
    await embed.shot("embed-rotate-secret")

    # Shown once: after a reload of the screen, only hints remain.
    await frame.get_by_role("link", name="Destinations", exact=True).click()
    await frame.get_by_role("link", name="Orders").click()
    await expect(frame.get_by_role("heading", name="Orders", exact=True)).to_be_visible()
    await expect(frame.locator(".reveal")).to_have_count(0)
    await expect(frame.get_by_role("cell", name=f"…{second[-4:]}")).to_be_visible()

    # The receiver switched to the new secret; the delivery still verifies, and during
    # the overlap the old secret verifies it too (two signatures in the header).
    receiver.secrets = [second]
    event_id = await place_order(embed)
    [delivered] = await receiver.wait_for(1)
    assert delivered.verified
    assert delivered.headers["webhook-id"] == event_id
    standardwebhooks.Webhook(first).verify(delivered.body, delivered.headers)
    assert len(delivered.headers["webhook-signature"].split(" ")) == 2
    await embed.close()


async def test_a_failing_endpoint_shows_its_retries_then_a_replay_succeeds(
    embed_stack: Stack,
    browser: Browser,
    host_pages: StartHost,
    verifying_receivers: Any,
) -> None:
    receiver: VerifyingReceiver = await verifying_receivers()
    secret = own_secret()
    receiver.secrets = [secret]
    host = await host_pages(await new_workspace(embed_stack))
    embed = await open_embedded(browser, host)
    frame = embed.frame
    await create_webhook(
        embed, "Flaky endpoint", receiver.url, secret=secret, max_attempts=3, delays="1"
    )

    receiver.failures = [503, 503, 503]  # every attempt the dispatcher may make fails
    event_id = await place_order(embed)
    await frame.get_by_role("link", name="Delivery log").click()
    row = frame.locator("tr", has=frame.get_by_role("link", name=f"Event {event_id}"))
    await expect(row.locator(".badge")).to_have_text("Gave up", timeout=60_000)
    await expect(row.locator("td.num").first).to_have_text("3")
    await embed.shot("embed-delivery-log-failed")

    await frame.get_by_role("link", name=f"Event {event_id}").click()
    attempts = frame.locator("li.attempt")
    await expect(attempts).to_have_count(3)
    for index, (label, status) in enumerate(
        (("Attempt 1", "Failed"), ("Attempt 2", "Failed"), ("Attempt 3", "Gave up"))
    ):
        await expect(attempts.nth(index)).to_contain_text(label)
        await expect(attempts.nth(index).locator(".badge")).to_have_text(status)
        await expect(attempts.nth(index)).to_contain_text("HTTP 503")
    await attempts.nth(2).get_by_text("Response and headers sent").click()
    await expect(attempts.nth(2).locator("pre.excerpt")).to_have_text("temporarily unavailable")
    await embed.shot("embed-event-retries")
    assert len(await receiver.wait_for(3)) == 3
    assert all(r.verified for r in receiver.requests)  # signed on every attempt

    # The endpoint is fixed; replaying the delivery from the event screen succeeds.
    await frame.get_by_role("button", name="Replay").first.click()
    replayed = frame.locator("section.delivery", has_text="replay of")
    await expect(replayed.locator("h3 .badge")).to_have_text("Delivered")
    await expect(replayed.locator("li.attempt")).to_contain_text("HTTP 200")
    await embed.shot("embed-event-replayed")
    requests = await receiver.wait_for(4)
    assert requests[3].verified
    assert requests[3].headers["webhook-id"] == event_id  # a replay keeps the event's id
    assert requests[3].body == requests[0].body
    await embed.close()


async def test_recover_replays_what_failed_since_a_time(
    embed_stack: Stack,
    browser: Browser,
    host_pages: StartHost,
    verifying_receivers: Any,
) -> None:
    receiver: VerifyingReceiver = await verifying_receivers()
    secret = own_secret()
    receiver.secrets = [secret]
    host = await host_pages(await new_workspace(embed_stack))
    embed = await open_embedded(browser, host)
    frame = embed.frame
    await create_webhook(embed, "Billing", receiver.url, secret=secret, max_attempts=1, delays="1")
    receiver.failures = [500]
    event_id = await place_order(embed)
    await receiver.wait_for(1)

    await frame.get_by_role("link", name="Delivery log").click()
    row = frame.locator("tr", has=frame.get_by_role("link", name=f"Event {event_id}"))
    await expect(row.locator(".badge")).to_have_text("Gave up")

    await frame.get_by_role("link", name="Destinations", exact=True).click()
    await frame.get_by_role("link", name="Billing").click()
    await frame.get_by_role("button", name="Replay failed deliveries").click()
    await expect(frame.get_by_text("1 failed delivery queued for replay.")).to_be_visible()
    await embed.shot("embed-recover")
    [_, recovered] = await receiver.wait_for(2)
    assert recovered.verified and recovered.headers["webhook-id"] == event_id

    await frame.get_by_role("link", name="See this destination's deliveries").click()
    replays = frame.locator("tr", has=frame.locator(".tag", has_text="replay"))
    await expect(replays.locator(".badge")).to_have_text("Delivered")
    await embed.close()


async def test_the_signed_log_exports_and_verifies(
    embed_stack: Stack,
    browser: Browser,
    host_pages: StartHost,
    verifying_receivers: Any,
    tmp_path: Path,
) -> None:
    receiver: VerifyingReceiver = await verifying_receivers()
    secret = own_secret()
    receiver.secrets = [secret]
    host = await host_pages(await new_workspace(embed_stack))
    embed = await open_embedded(browser, host)
    frame = embed.frame
    await create_webhook(embed, "Audit", receiver.url, secret=secret)
    event_id = await place_order(embed)
    await receiver.wait_for(1)
    await frame.get_by_role("link", name="Delivery log").click()
    row = frame.locator("tr", has=frame.get_by_role("link", name=f"Event {event_id}"))
    await expect(row.locator(".badge")).to_have_text("Delivered")

    await frame.get_by_role("link", name="Export").click()
    await frame.get_by_role("button", name="Export signed log").click()
    save = frame.get_by_role("link", name="Save signet-log-")
    await expect(save).to_be_visible()
    await expect(frame.get_by_text("ending with the signed head")).to_be_visible()
    await embed.shot("embed-export")
    async with embed.page.expect_download() as download_info:
        await save.click()
    download = await download_info.value
    assert download.suggested_filename.endswith(".jsonl")
    saved = tmp_path / download.suggested_filename
    await download.save_as(saved)
    lines = saved.read_bytes().splitlines()
    assert event_id.encode() in saved.read_bytes() and len(lines) >= 2

    # The customer's own check, with the CLI the export screen names.
    verify = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "signet.security.hash_chain",
        str(saved),
        "--portal-url",
        embed_stack.portal_url,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await verify.communicate()
    assert verify.returncode == 0, output.decode()
    await embed.close()


async def test_the_log_pages_through_many_deliveries(
    embed_stack: Stack,
    browser: Browser,
    host_pages: StartHost,
    verifying_receivers: Any,
) -> None:
    receiver: VerifyingReceiver = await verifying_receivers()
    workspace = await new_workspace(embed_stack)
    status, session = await embed_stack.operator(
        "POST", "/v1/sessions", {"workspace_id": workspace["id"], "role": "admin"}
    )
    assert status == 201, session
    status, destination = await embed_stack.workspace(
        session["token"],
        "POST",
        "/v1/workspace/destinations",
        {"type": "webhook", "name": "Bulk", "url": receiver.url, "event_types": ["*"]},
    )
    assert status == 201, destination
    receiver.secrets = [destination["secret"]]
    events = [
        {"event": "order.completed", "resource": "order", "resource_id": f"o{i}", "payload": {}}
        for i in range(30)
    ]
    status, accepted = await embed_stack.emit(
        workspace["publishable_key"], {"events": events}, path="/v1/events/bulk"
    )
    assert status == 202, accepted
    await receiver.wait_for(30)

    host = await host_pages(workspace)
    embed = await open_embedded(browser, host, "#/deliveries")
    frame = embed.frame
    rows = frame.locator("table.data tbody tr")
    await expect(rows).to_have_count(25)  # a page
    await expect(frame.locator("tr[data-status=delivered]")).to_have_count(25)
    newer = frame.get_by_role("button", name="← Newer")
    older = frame.get_by_role("button", name="Older →")
    await expect(newer).to_be_disabled()
    await older.click()
    await expect(frame.get_by_text("Page 2")).to_be_visible()
    await expect(rows).to_have_count(5)
    await expect(older).to_be_disabled()
    await newer.click()
    await expect(rows).to_have_count(25)
    await embed.close()

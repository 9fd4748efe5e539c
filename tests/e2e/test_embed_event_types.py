"""The event-type catalog in the embed: the catalog screen (grouped by prefix, schema and
example shown), and a destination subscribed by ticking cataloged types beside a
wildcard pattern, deprecated types marked."""

from __future__ import annotations

import base64
import os
from typing import Any

import orjson
import pytest
from playwright.async_api import Browser, expect

from tests.e2e.conftest import Stack
from tests.services.portal.embed.harness import StartHost, VerifyingReceiver, open_embedded

pytest_plugins = ["tests.services.portal.embed.fixtures"]
pytestmark = pytest.mark.timeout(180)

ORDER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["order_id", "total_cents", "currency"],
    "properties": {
        "order_id": {"type": "string", "description": "our order id"},
        "total_cents": {"$ref": "#/$defs/cents"},
        "currency": {"enum": ["usd", "eur"]},
        "items": {
            "type": "array",
            "items": {"type": "object", "properties": {"sku": {"type": "string"}}},
        },
    },
    "$defs": {"cents": {"type": "integer", "minimum": 0}},
}
TYPES: dict[str, dict[str, Any]] = {
    "order.completed": {
        "description": "An order was paid for.",
        "schema": ORDER_SCHEMA,
        "example": {"order_id": "ord_77", "total_cents": 12900, "currency": "usd"},
    },
    "order.refunded": {"description": "Money went back to the customer."},
    "order.created": {"description": "Replaced by order.completed.", "deprecated": True},
    "invoice.paid": {"description": "An invoice was settled."},
}


async def catalog(stack: Stack) -> None:
    for name, body in TYPES.items():
        status, answer = await stack.operator("PUT", f"/v1/event-types/{name}", body)
        assert status in (200, 201), answer


async def new_workspace(stack: Stack) -> dict[str, Any]:
    status, workspace = await stack.operator(
        "POST", "/v1/workspaces", {"name": "Casterly", "environment": "production"}
    )
    assert status == 201, workspace
    created: dict[str, Any] = workspace
    return created


async def test_the_catalog_screen_groups_types_and_shows_their_payload(
    embed_stack: Stack, browser: Browser, host_pages: StartHost
) -> None:
    await catalog(embed_stack)
    host = await host_pages(await new_workspace(embed_stack))
    embed = await open_embedded(browser, host)
    frame = embed.frame
    await frame.get_by_role("link", name="Event types").click()
    await expect(frame.get_by_role("heading", name="Event types", exact=True)).to_be_visible()
    groups = frame.locator("section.catalog-group > h2")
    await expect(groups).to_have_text(["invoice.*", "order.*"])
    completed = frame.locator("article[data-event-type='order.completed']")
    await expect(completed).to_contain_text("An order was paid for.")
    # The schema, readable: each field with its type, whether required, and its rules.
    row = completed.locator("table.schema tr", has_text="total_cents")
    await expect(row).to_contain_text("integer")
    await expect(row).to_contain_text("required")
    await expect(row).to_contain_text("≥ 0")  # through the $ref
    await expect(completed.locator("table.schema tr", has_text="items[].sku")).to_contain_text(
        "optional"
    )
    await expect(completed.locator("pre").last).to_contain_text('"total_cents": 12900')
    await expect(frame.locator("article[data-event-type='order.created'] .badge")).to_have_text(
        "Deprecated"
    )
    await expect(frame.locator("article[data-event-type='invoice.paid']")).to_contain_text(
        "No schema"
    )
    await embed.shot("embed-event-types")
    await embed.close()


async def test_a_destination_subscribes_from_the_catalog(
    embed_stack: Stack, browser: Browser, host_pages: StartHost
) -> None:
    await catalog(embed_stack)
    workspace = await new_workspace(embed_stack)
    host = await host_pages(workspace)
    embed = await open_embedded(browser, host)
    frame = embed.frame
    await frame.get_by_role("link", name="New destination").click()
    await frame.get_by_label("Name").fill("Orders")
    await frame.get_by_label("Endpoint URL").fill("https://orders.example.com/hook")
    picker = frame.locator("fieldset.picker")
    await expect(picker.locator("fieldset.picker-group > legend")).to_have_text(
        ["invoice.*", "order.*"]
    )
    deprecated = picker.locator("label", has_text="order.created")
    await expect(deprecated.locator(".badge")).to_have_text("Deprecated")
    await picker.get_by_label("order.completed").check()
    await picker.get_by_label("order.refunded").check()
    await frame.get_by_label("Other patterns").fill("invoice.*")
    await embed.shot("embed-event-type-picker")
    await frame.get_by_role("button", name="Create destination").click()
    await expect(frame.get_by_role("heading", name="Orders", exact=True)).to_be_visible()

    status, session = await embed_stack.operator(
        "POST", "/v1/sessions", {"workspace_id": workspace["id"], "role": "viewer"}
    )
    assert status == 201
    status, listed = await embed_stack.workspace(
        session["token"], "GET", "/v1/workspace/destinations"
    )
    assert status == 200
    [destination] = listed["data"]
    assert destination["event_types"] == ["order.completed", "order.refunded", "invoice.*"]

    # The edit form shows the same choice: the ticked types, and the pattern beside them.
    settings = frame.locator("form", has=frame.get_by_role("button", name="Save changes"))
    await expect(settings.get_by_label("order.completed")).to_be_checked()
    await expect(settings.get_by_label("order.refunded")).to_be_checked()
    await expect(settings.get_by_label("invoice.paid")).not_to_be_checked()
    await expect(settings.get_by_label("Other patterns")).to_have_value("invoice.*")
    await settings.get_by_label("order.refunded").uncheck()
    await settings.get_by_role("button", name="Save changes").click()
    await expect(frame.locator(".toasts, #toasts")).to_contain_text("Changes saved")
    status, saved = await embed_stack.workspace(
        session["token"], "GET", f"/v1/workspace/destinations/{destination['id']}"
    )
    assert saved["event_types"] == ["order.completed", "invoice.*"]
    await embed.close()


async def test_a_types_example_is_sent_as_a_test_event(
    embed_stack: Stack, browser: Browser, host_pages: StartHost, verifying_receivers: Any
) -> None:
    await catalog(embed_stack)
    receiver: VerifyingReceiver = await verifying_receivers()
    host = await host_pages(await new_workspace(embed_stack))
    embed = await open_embedded(browser, host)
    frame = embed.frame
    await frame.get_by_role("link", name="New destination").click()
    await frame.get_by_label("Name").fill("Orders")
    await frame.get_by_label("Endpoint URL").fill(receiver.url)
    secret = "whsec_" + base64.b64encode(os.urandom(32)).decode()
    receiver.secrets.append(secret)
    await frame.get_by_label("Use my own secret").check()
    await frame.get_by_label("Your secret").fill(secret)
    await frame.get_by_role("button", name="Create destination").click()
    await expect(frame.get_by_role("heading", name="Orders", exact=True)).to_be_visible()
    # Only types with an example are offered.
    event = frame.get_by_label("Event", exact=True)
    await expect(event.locator("option")).to_have_text(
        ["signet.test", "order.completed (its example)"]
    )
    await event.select_option("order.completed")
    await frame.get_by_role("button", name="Send test event").click()
    await expect(frame.locator(".test-result")).to_contain_text("Your endpoint accepted it")
    [verified] = await receiver.wait_for(1)
    assert verified.verified  # signed with the destination's secret, like any delivery
    sent = orjson.loads(verified.body)
    assert sent["type"] == "order.completed" and sent["resource"] == "signet.test"
    assert sent["data"] == TYPES["order.completed"]["example"]
    await embed.close()

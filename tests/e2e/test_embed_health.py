"""Endpoint health in the embed, in Chromium against the real pipeline: events delivered,
retried and exhausted by a real receiver show up as the destination list's success rate
and sparkline, and as the destination page's charts and figures per window."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import Browser, expect

from tests.e2e.conftest import Stack
from tests.e2e.test_embed_embedding import new_workspace
from tests.eventually import eventually
from tests.services.portal.embed.harness import (
    StartHost,
    VerifyingReceiver,
    open_embedded,
    screenshot_path,
)

pytest_plugins = ["tests.services.portal.embed.fixtures"]
pytestmark = pytest.mark.timeout(240)

DELIVERED_IN_ROWS = "rows => rows.reduce((n, r) => n + Number(r.cells[1].textContent), 0)"
ORDER = {"event": "order.completed", "resource": "order", "resource_id": "o1", "payload": {}}


async def admin_token(stack: Stack, workspace_id: str) -> str:
    status, session = await stack.operator(
        "POST", "/v1/sessions", {"workspace_id": workspace_id, "role": "admin"}
    )
    assert status == 201, session
    token: str = session["token"]
    return token


async def emit_and_wait(
    stack: Stack, workspace: dict[str, Any], receiver: VerifyingReceiver, requests: int
) -> None:
    """One event, and every request it takes to end (retries included)."""
    status, accepted = await stack.emit(workspace["publishable_key"], ORDER)
    assert status == 202, accepted
    await receiver.wait_for(len(receiver.requests) + requests)


async def test_the_list_and_the_page_show_a_destinations_health(
    embed_stack: Stack,
    browser: Browser,
    host_pages: StartHost,
    verifying_receivers: Any,
) -> None:
    stack = embed_stack
    workspace = await new_workspace(stack, "Lannister")
    token = await admin_token(stack, workspace["id"])
    receiver: VerifyingReceiver = await verifying_receivers()
    status, destination = await stack.workspace(
        token,
        "POST",
        "/v1/workspace/destinations",
        {
            "name": "Orders",
            "url": receiver.url,
            "retry_policy": {"max_attempts": 2, "delays_seconds": [1]},
        },
    )
    assert status == 201, destination
    receiver.secrets = [destination["secret"]]

    # One event exhausted (503 twice: its two attempts), six delivered at once, one
    # delivered on its retry: 7 + 1 delivered, 3 failed attempts, 1 exhausted.
    receiver.failures = [503, 503]
    await emit_and_wait(stack, workspace, receiver, 2)
    for _ in range(6):
        await emit_and_wait(stack, workspace, receiver, 1)
    receiver.failures = [503]
    await emit_and_wait(stack, workspace, receiver, 2)

    stats_path = f"/v1/workspace/destinations/{destination['id']}/stats"

    async def logged() -> dict[str, Any] | None:
        status, stats = await stack.workspace(token, "GET", stats_path)
        assert status == 200, stats
        counts = (stats["delivered"], stats["failed"], stats["exhausted"])
        return stats if counts == (7, 3, 1) else None

    stats = await eventually(logged, "every outcome in the delivery log")
    assert stats["success_rate"] == pytest.approx(7 / 8) and stats["latency_ms"] is not None

    host = await host_pages(workspace)
    embed = await open_embedded(browser, host)
    frame = embed.frame
    row = frame.locator(f"tr[data-destination='{destination['id']}']")
    await expect(row.locator("td.health .rate")).to_have_text("87.5 %")
    sparkline = row.locator("svg.sparkline")
    await expect(sparkline).to_have_attribute(
        "aria-label", "Last 24 hours: 7 delivered, 3 failed attempts, 1 exhausted"
    )
    assert await sparkline.locator("rect.bar-delivered").count() >= 1
    assert await sparkline.locator("rect.bar-failed").count() >= 1
    await embed.shot("embed-health-list")

    await row.get_by_role("link", name="Orders").click()
    health = frame.locator("section.health")
    await expect(health.locator("[data-stat=success_rate]")).to_have_text("87.5 %")
    await expect(health.locator("[data-stat=delivered]")).to_have_text("7")
    await expect(health.locator("[data-stat=failed]")).to_have_text("3")
    await expect(health.locator("[data-stat=exhausted]")).to_have_text("1")
    await expect(health.locator("[data-stat=latency]")).to_contain_text("ms")
    charts = health.locator("svg.chart")
    await expect(charts).to_have_count(2)
    for key in ("delivered", "failed", "exhausted"):
        assert await charts.nth(0).locator(f"rect.bar-{key}").count() >= 1, key
    assert await charts.nth(1).locator(".line-p50, .dot-p50").count() >= 1
    # 24 hourly buckets in the figures, together holding every delivery.
    rows = health.locator("details.figures tbody tr")
    await expect(rows).to_have_count(24)
    assert await rows.evaluate_all(DELIVERED_IN_ROWS) == 7

    # The last hour: 5-minute buckets, the same outcomes.
    await health.get_by_role("button", name="Last hour").click()
    await expect(health.get_by_role("button", name="Last hour")).to_have_attribute(
        "aria-pressed", "true"
    )
    await expect(rows).to_have_count(12)
    await expect(health.locator("[data-stat=delivered]")).to_have_text("7")
    assert await rows.evaluate_all(DELIVERED_IN_ROWS) == 7
    await health.screenshot(path=screenshot_path("embed-health-destination"))
    await embed.close()

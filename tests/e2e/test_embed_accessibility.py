"""Every embed screen, in the light and the dark theme, audited with axe-core in Chromium:
no serious or critical violation. The screens and themes are the lists of
``tests/services/portal/embed/accessibility.py``; a new screen is one line there.

The workspace has real data (a destination, a delivered event, so the health charts are
drawn), created through the API and delivered through the running pipeline.
"""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import Browser, expect

from tests.e2e.conftest import Stack
from tests.e2e.test_embed_embedding import new_workspace, seed_delivery
from tests.services.portal.embed.accessibility import (
    AXE,
    CLIENT,
    SCREENS,
    THEMES,
    Theme,
    axe_violations,
    embed_frame,
    failing,
)
from tests.services.portal.embed.harness import EmbeddedPage, StartHost, open_embedded

pytest_plugins = ["tests.services.portal.embed.fixtures"]
pytestmark = pytest.mark.timeout(240)
# Types the seeded delivery (order.completed) is not held to.
CATALOG: dict[str, dict[str, Any]] = {
    "invoice.paid": {
        "description": "An invoice was settled.",
        "schema": {
            "type": "object",
            "required": ["invoice_id"],
            "properties": {"invoice_id": {"type": "string"}, "total_cents": {"minimum": 0}},
        },
        "example": {"invoice_id": "inv_77", "total_cents": 12900},
    },
    "invoice.created": {"description": "Replaced by invoice.paid.", "deprecated": True},
}


@pytest.fixture(autouse=True)
def _axe_installed() -> None:
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: npm ci --prefix tests/services/portal/embed")


async def seeded(stack: Stack, receivers: Any) -> tuple[dict[str, Any], dict[str, str]]:
    """A workspace with one destination and one delivered event; the screens' route values."""
    workspace = await new_workspace(stack, "Audit")
    # The event-type catalog, so its screen and the destination forms' picker are drawn
    # with a schema, an example and a deprecated type.
    for name, body in CATALOG.items():
        status, stored = await stack.operator("PUT", f"/v1/event-types/{name}", body)
        assert status in (200, 201), stored
    event_id = await seed_delivery(stack, workspace, await receivers())
    status, session = await stack.operator(
        "POST", "/v1/sessions", {"workspace_id": workspace["id"], "role": "admin"}
    )
    assert status == 201, session
    status, listed = await stack.workspace(session["token"], "GET", "/v1/workspace/destinations")
    assert status == 200, listed
    destination = listed["data"][0]
    # Headers (one sealed) and a client certificate, so the settings form shows its
    # header rows and the current certificate with its actions.
    extras = {
        "headers": {"X-Tenant": "acme", "Authorization": "Bearer sk_live_0123456789abcd"},
        "tls": {"client_certificate": CLIENT.certificate, "client_key": CLIENT.key},
    }
    status, changed = await stack.workspace(
        session["token"], "PATCH", f"/v1/workspace/destinations/{destination['id']}", extras
    )
    assert status == 200, changed
    values = {
        "destination_id": destination["id"],
        "destination_name": destination["name"],
        "event_id": event_id,
        "event_type": "order.completed",
    }
    return workspace, values


async def open_in(browser: Browser, host: Any, theme: Theme) -> EmbeddedPage:
    embed = await open_embedded(browser, host, theme.query)
    await embed.page.emulate_media(color_scheme=theme.color_scheme)  # type: ignore[arg-type]
    return embed


async def show(embed: EmbeddedPage, route: str, heading: str) -> None:
    """Open ``route`` in the embed and wait until it is drawn afresh, data and all (also when
    the screen before showed the same route: what that one's clicks opened is gone)."""
    await embed_frame(embed.page).evaluate(
        """route => {
            for (const old of document.querySelectorAll("main > *")) old.dataset.audited = "";
            if (location.hash === route) dispatchEvent(new HashChangeEvent("hashchange"));
            else location.hash = route;
        }""",
        "#" + route,
    )
    await expect(embed.frame.locator("main > [data-audited]")).to_have_count(0)
    await expect(embed.frame.get_by_role("heading", name=heading, exact=True)).to_be_visible()
    # Nothing still loading: the view's own data, and the health figures it fetches after.
    await expect(embed.frame.locator(".loading, td.health .metric")).to_have_count(0)


@pytest.mark.parametrize("theme", THEMES, ids=[t.name for t in THEMES])
async def test_every_screen_has_no_serious_violation(
    embed_stack: Stack,
    browser: Browser,
    host_pages: StartHost,
    verifying_receivers: Any,
    theme: Theme,
) -> None:
    workspace, values = await seeded(embed_stack, verifying_receivers)
    embed = await open_in(browser, await host_pages(workspace), theme)
    expected_theme = "dark" if "dark" in theme.name else "light"
    scheme = await embed_frame(embed.page).evaluate(
        "() => getComputedStyle(document.documentElement).colorScheme"
    )
    assert scheme == expected_theme  # the audit really runs in the theme it names

    found: list[str] = []
    for screen in SCREENS:
        await show(embed, screen.route.format(**values), screen.heading.format(**values))
        if screen.then is not None:
            await screen.then(embed.frame)
        violations = await axe_violations(embed_frame(embed.page))
        found += [f"{screen.name} [{theme.name}]: {line}" for line in failing(violations)]
        if screen.then is not None:  # leave the state it opened (a modal dialog) behind
            await embed.page.keyboard.press("Escape")
            await expect(embed.frame.locator("dialog[open]")).to_have_count(0)
    await embed.close()
    assert found == [], "\n".join(found)


async def test_the_audit_fails_on_unreadable_text(
    embed_stack: Stack, browser: Browser, host_pages: StartHost
) -> None:
    """The audit can fail: grey text on the dark theme's surface is a contrast violation."""
    embed = await open_in(browser, await host_pages(await new_workspace(embed_stack)), THEMES[1])
    await show(embed, "/destinations", "Destinations")
    frame = embed_frame(embed.page)
    await frame.evaluate(
        "() => { const p = document.createElement('p'); p.textContent = 'barely there';"
        " p.style.color = '#3a3f45'; document.querySelector('main').append(p); }"
    )
    lines = failing(await axe_violations(frame))
    assert len(lines) == 1 and lines[0].startswith("color-contrast (serious)"), lines
    await embed.close()

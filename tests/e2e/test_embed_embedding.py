"""The embed inside a host page, in Chromium: who may frame it, how the token arrives and is
renewed, what a viewer sees, and theming from the host."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from playwright.async_api import Browser, ConsoleMessage, Page, Request, expect

from signet.dev.broker import free_port
from tests.e2e.conftest import Stack
from tests.services.portal.embed.harness import (
    VIEWPORT,
    StartHost,
    open_embedded,
    screenshot_path,
)

pytest_plugins = ["tests.services.portal.embed.fixtures"]
pytestmark = pytest.mark.timeout(180)


async def new_workspace(stack: Stack, name: str = "Casterly") -> dict[str, Any]:
    status, workspace = await stack.operator(
        "POST", "/v1/workspaces", {"name": name, "environment": "production"}
    )
    assert status == 201, workspace
    created: dict[str, Any] = workspace
    return created


async def open_host(browser: Browser, url: str) -> Page:
    context = await browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
    page = await context.new_page()
    await page.goto(url)
    return page


async def test_allowed_origin_embeds_and_receives_the_token(
    embed_stack: Stack, browser: Browser, host_pages: StartHost
) -> None:
    workspace = await new_workspace(embed_stack, "Casterly Rock")
    host = await host_pages(workspace)
    context = await browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
    page = await context.new_page()
    async with page.expect_response(lambda r: "/embed?frame=" in r.url) as embed_response:
        await page.goto(host.url)
    response = await embed_response.value
    csp = response.headers["content-security-policy"]
    assert f"frame-ancestors {host.origin}" in csp
    assert "token" not in response.url and "sess_" not in response.url  # never in a query

    frame = page.frame_locator("#signet-frame")
    await expect(frame.get_by_role("heading", name="Destinations")).to_be_visible()
    await expect(frame.locator("#ws-name")).to_have_text("Casterly Rock")
    await expect(frame.get_by_role("link", name="New destination")).to_be_visible()
    await page.screenshot(path=screenshot_path("embed-host-page"))
    await context.close()


@pytest.fixture
async def other_origin() -> AsyncIterator[tuple[str, dict[str, str]]]:
    """A page on an origin no session allows; ``pages[path] = html`` sets what it serves."""
    pages: dict[str, str] = {}

    async def serve(request: web.Request) -> web.Response:
        if request.path not in pages:
            raise web.HTTPNotFound()
        return web.Response(text=pages[request.path], content_type="text/html")

    app = web.Application()
    app.router.add_get("/{name}", serve)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield f"http://127.0.0.1:{port}", pages
    await runner.cleanup()


def framing_page(embed_url: str, token: str) -> str:
    # It even holds a valid token and tries to hand it over: the frame must not render.
    return f"""<!doctype html><title>elsewhere</title>
<iframe id="stolen" src="{embed_url}"></iframe>
<script>
  const frame = document.getElementById("stolen");
  frame.addEventListener("load", () => frame.contentWindow.postMessage(
    {{type: "signet:token", token: "{token}"}}, "*"));
</script>"""


async def expect_frame_refused(page: Page, url: str) -> None:
    """Chromium blocks the frame's response (CSP frame-ancestors) and says why."""
    async with (
        page.expect_console_message(lambda m: "frame-ancestors" in m.text) as reason,
        page.expect_event(
            "requestfailed", lambda r: "/embed" in r.url and r.frame != page.main_frame
        ) as blocked,
    ):
        await page.goto(url)
    request: Request = await blocked.value
    assert request.failure == "net::ERR_BLOCKED_BY_RESPONSE"
    message: ConsoleMessage = await reason.value
    assert "has been blocked" in message.text or "Refused to frame" in message.text
    # What is left in the frame is Chromium's error page: no embed, no workspace.
    await expect(page.frame_locator("#stolen").locator("#ws-name")).to_have_count(0)
    assert [f.url for f in page.frames[1:]] == ["chrome-error://chromewebdata/"]


async def test_another_origin_is_refused(
    embed_stack: Stack, browser: Browser, other_origin: tuple[str, dict[str, str]]
) -> None:
    stack = embed_stack
    origin, pages = other_origin
    workspace = await new_workspace(stack)
    status, session = await stack.operator(
        "POST",
        "/v1/sessions",
        {
            "workspace_id": workspace["id"],
            "role": "admin",
            "ttl_seconds": 600,
            "allowed_origins": ["https://app.example.com"],
        },
    )
    assert status == 201, session
    status, minted = await stack.workspace(session["token"], "POST", "/v1/workspace/embed-url", {})
    assert status == 201, minted
    pages["/ticket"] = framing_page(minted["embed_url"], session["token"])
    pages["/bare"] = framing_page(f"{stack.portal_url}/embed", session["token"])

    context = await browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
    page = await context.new_page()
    # A ticket for https://app.example.com does not let this origin frame the embed…
    await expect_frame_refused(page, f"{origin}/ticket")
    # …and without a ticket nobody may frame it.
    await expect_frame_refused(page, f"{origin}/bare")
    await context.close()


async def seed_delivery(stack: Stack, workspace: dict[str, Any], receiver: Any) -> str:
    """One destination (created by an admin session) and one delivered event; its id."""
    status, session = await stack.operator(
        "POST",
        "/v1/sessions",
        {"workspace_id": workspace["id"], "role": "admin", "ttl_seconds": 300},
    )
    assert status == 201, session
    status, destination = await stack.workspace(
        session["token"],
        "POST",
        "/v1/workspace/destinations",
        {"type": "webhook", "name": "Orders", "url": receiver.url, "event_types": ["*"]},
    )
    assert status == 201, destination
    receiver.secrets = [destination["secret"]]
    status, accepted = await stack.emit(
        workspace["publishable_key"],
        {"event": "order.completed", "resource": "order", "resource_id": "o1", "payload": {}},
    )
    assert status == 202, accepted
    await receiver.wait_for(1)
    event_id: str = accepted["id"]
    return event_id


async def test_a_viewer_sees_everything_and_can_change_nothing(
    embed_stack: Stack, browser: Browser, host_pages: StartHost, verifying_receivers: Any
) -> None:
    workspace = await new_workspace(embed_stack)
    event_id = await seed_delivery(embed_stack, workspace, await verifying_receivers())
    host = await host_pages(workspace)
    embed = await open_embedded(browser, host, "?role=viewer")
    frame = embed.frame
    await expect(frame.locator("#ws-role")).to_have_text("Read-only")
    await expect(frame.get_by_role("link", name="Orders")).to_be_visible()
    await expect(frame.get_by_role("link", name="New destination")).to_have_count(0)
    await embed.shot("embed-viewer-destinations")

    await frame.get_by_role("link", name="Orders").click()
    await expect(frame.get_by_role("heading", name="Signing secret")).to_be_visible()
    await expect(frame.get_by_text("Endpoint URL")).to_be_visible()  # the facts, read-only
    for name in (
        "Disable",
        "Delete",
        "Save changes",
        "Rotate secret",
        "Send test event",
        "Replay failed deliveries",
    ):
        await expect(frame.get_by_role("button", name=name)).to_have_count(0)
    await expect(frame.locator("main input, main select, main textarea")).to_have_count(0)
    await embed.shot("embed-viewer-destination")

    # The log and the event are there to read; replay is not.
    await frame.get_by_role("link", name="Delivery log").click()
    await frame.get_by_role("link", name=f"Event {event_id}").click()
    await expect(frame.locator("li.attempt")).to_contain_text("Delivered")
    await expect(frame.get_by_role("button", name="Replay")).to_have_count(0)

    # A deep link to the create screen says why not, instead of a form that would fail.
    await embed.page.evaluate(
        "document.getElementById('signet-frame').contentWindow.postMessage("
        "{type: 'signet:navigate', route: '/destinations/new'}, '*')"
    )
    await expect(frame.get_by_text("can view the workspace but not change it")).to_be_visible()
    await embed.close()


async def test_the_embed_asks_the_host_for_a_fresh_token_before_expiry(
    embed_stack: Stack, browser: Browser, host_pages: StartHost
) -> None:
    host = await host_pages(await new_workspace(embed_stack), session_ttl_seconds=6)
    context = await browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
    page = await context.new_page()
    minted: list[str] = []
    page.on(
        "request",
        lambda r: minted.append(r.url) if r.url.endswith("/api/signet-session") else None,
    )
    await page.goto(host.url)
    frame = page.frame_locator("#signet-frame")
    await expect(frame.locator("body.ready")).to_have_count(1)
    # Each token lives 6 s and is renewed ahead of time; by the third mint the first
    # token has expired, and the embed still works on the renewed one.
    for _ in range(2):
        async with page.expect_request(lambda r: r.url.endswith("/api/signet-session")):
            pass
    assert len(minted) >= 3
    await frame.get_by_role("link", name="Delivery log").click()
    await expect(frame.get_by_role("heading", name="Delivery log")).to_be_visible()
    await expect(frame.get_by_text("No deliveries match.")).to_be_visible()
    await expect(frame.locator("#banner")).to_be_hidden()
    await context.close()


CONTRAST = """() => {
  const channel = (c) => {
    c /= 255;
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  };
  const luminance = (css) => {
    const [r, g, b] = css.match(/[\\d.]+/g).map(Number);
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b);
  };
  const ratio = (a, b) => {
    const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
    return (hi + 0.05) / (lo + 0.05);
  };
  const background = (el) => {
    for (let node = el; node; node = node.parentElement) {
      const bg = getComputedStyle(node).backgroundColor;
      if (bg && !bg.endsWith(", 0)") && bg !== "transparent") return bg;
    }
    return getComputedStyle(document.documentElement).backgroundColor;
  };
  const worst = [];
  for (const el of document.querySelectorAll("h1, p, a, button, label, th, td, .badge, code")) {
    if (!el.offsetParent || !el.textContent.trim()) continue;
    const value = ratio(getComputedStyle(el).color, background(el));
    const text = el.textContent.trim().slice(0, 30);
    if (value < 4.5) worst.push(`${el.tagName}.${el.className} "${text}" ${value.toFixed(2)}`);
  }
  return worst;
}"""


async def test_theming_keyboard_and_contrast(
    embed_stack: Stack, browser: Browser, host_pages: StartHost, verifying_receivers: Any
) -> None:
    workspace = await new_workspace(embed_stack)
    await seed_delivery(embed_stack, workspace, await verifying_receivers())
    host = await host_pages(workspace)
    embed = await open_embedded(browser, host)
    frame, page = embed.frame, embed.page
    html = frame.locator("html")

    # Every control has a label; text is readable in the light theme.
    await frame.get_by_role("link", name="Orders").click()
    await expect(frame.get_by_role("heading", name="Orders", exact=True)).to_be_visible()
    unlabelled = await frame.locator("body").evaluate(
        "() => [...document.querySelectorAll('input, select, textarea')]"
        ".filter(el => !(el.labels?.length || el.getAttribute('aria-label')))"
        ".map(el => el.name)"
    )
    assert unlabelled == []
    assert await frame.locator("body").evaluate(CONTRAST) == []

    # Keyboard only: Tab reaches the navigation, Enter follows it, the heading takes focus.
    await frame.get_by_role("link", name="Delivery log").focus()
    await page.keyboard.press("Enter")
    # The screen is drawn (its filters are there), and its heading has the focus.
    await expect(frame.get_by_label("Destination")).to_be_visible()
    await expect(frame.get_by_role("heading", name="Delivery log")).to_be_focused()
    await page.keyboard.press("Tab")
    focused = frame.locator(":focus")
    await expect(focused).to_have_attribute("name", "destination_id")
    outline = await focused.evaluate("el => getComputedStyle(el).outlineStyle")
    assert outline == "solid"  # a visible focus ring

    # The host's theme: dark mode and its brand colour, through postMessage.
    await page.get_by_label("Theme").select_option("dark")
    await expect(html).to_have_attribute("data-theme", "dark")
    await page.get_by_label("Brand").fill("#0f766e")
    await expect(html).to_have_attribute("style", re.compile("--signet-brand: ?#0f766e"))
    assert await frame.locator("body").evaluate(CONTRAST) == []
    await embed.shot("embed-dark-theme")

    # What the host cannot do: inject CSS through a theme value.
    await page.evaluate(
        "document.getElementById('signet-frame').contentWindow.postMessage({type: 'signet:theme',"
        " theme: {brand: 'red; background: url(https://evil.example)'}}, '*')"
    )
    await page.get_by_label("Brand").fill("#7c3aed")  # a later, valid message still applies
    await expect(html).to_have_attribute("style", re.compile("--signet-brand: ?#7c3aed"))
    assert "evil" not in (await html.get_attribute("style") or "")
    await embed.close()


async def test_the_fragment_fallback_opens_the_embed_and_forgets_the_token(
    embed_stack: Stack, browser: Browser
) -> None:
    workspace = await new_workspace(embed_stack, "Fragment")
    status, session = await embed_stack.operator(
        "POST",
        "/v1/sessions",
        {"workspace_id": workspace["id"], "role": "viewer", "ttl_seconds": 300},
    )
    assert status == 201, session
    token = session["token"]
    context = await browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
    page = await context.new_page()
    # Opened at the top level (no frame ticket needed): the token rides in the fragment,
    # which no server sees, and leaves the address bar and the history at once.
    await page.goto(f"{embed_stack.portal_url}/embed#token={token}&route=/deliveries")
    await expect(page.get_by_role("heading", name="Delivery log")).to_be_visible()
    await expect(page.locator("#ws-name")).to_have_text("Fragment")
    await expect(page.locator("#ws-role")).to_have_text("Read-only")
    assert token not in page.url and page.url.endswith("/embed#/deliveries")
    # The entry was replaced, not added: going back leaves the embed, no token on the way.
    assert await page.evaluate("history.length") == 2  # about:blank, then the embed
    await page.go_back()
    assert token not in page.url
    await context.close()

"""The embed's accessibility audit: axe-core run inside the embed's frame in Chromium.

:data:`SCREENS` is every screen the audit visits, in every theme of :data:`THEMES`. A new
screen is one more :class:`Screen` in that list: its hash route (``{destination_id}`` and
``{event_id}`` are filled in from the seeded workspace), the heading it shows once drawn,
and, for a state reached by clicks (a dialog, a folded section, the errors a submit
brings back), what to do after opening the route.

axe-core comes from ``tests/services/portal/embed/package.json`` (``npm ci`` there, see
the Makefile); its ``axe.min.js`` is evaluated in the frame through the DevTools protocol,
which the embed's Content-Security-Policy does not apply to, so the page itself is audited
exactly as it is served.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from playwright.async_api import Frame, FrameLocator, Page, expect

from tests.certificates import TestCa, other_key

AXE = Path(__file__).with_name("node_modules") / "axe-core" / "axe.min.js"
# What fails the audit; "moderate" and "minor" findings are reported by axe, not failed on.
FAILING_IMPACTS = frozenset({"serious", "critical"})
# The seeded destination presents it (test_embed_accessibility.py); a form pastes it.
CLIENT = TestCa("Audit CA").issue("audit-client")


@dataclass(frozen=True, slots=True)
class Screen:
    name: str
    route: str  # "#/…" without the "#"; {destination_id} and {event_id} are filled in
    heading: str  # the h1 the route shows once drawn; {…} filled in too
    then: Callable[[FrameLocator], Awaitable[None]] | None = None  # e.g. open a dialog


async def _delete_dialog(frame: FrameLocator) -> None:
    await frame.get_by_role("button", name="Delete", exact=True).click()
    await expect(frame.get_by_role("dialog")).to_be_visible()
    await expect(frame.get_by_role("button", name="Delete destination")).to_be_visible()


async def _headers_and_certificate(frame: FrameLocator) -> None:
    """The create form's custom headers and client certificate, unfolded, one row added."""
    await frame.get_by_text("Custom headers and client certificate").click()
    await frame.get_by_role("button", name="Add header").click()
    await expect(frame.get_by_label("Header 1", exact=True)).to_be_focused()


async def _header_and_key_errors(frame: FrameLocator) -> None:
    """The API's field errors beside a header row and the client key."""
    await _headers_and_certificate(frame)
    await frame.get_by_label("Name").fill("Audited")
    await frame.get_by_label("Endpoint URL").fill("https://audit.example.com/hook")
    await frame.get_by_label("Header 1", exact=True).fill("Webhook-Id")
    await frame.get_by_label("Client certificate (PEM)", exact=True).fill(CLIENT.certificate)
    await frame.get_by_label("Client key (PEM)", exact=True).fill(other_key())
    await frame.get_by_role("button", name="Create destination").click()
    await expect(frame.locator(".header-row .field-error")).to_have_count(1)
    await expect(frame.locator(".pem-field .field-error")).to_have_count(1)


async def _replace_certificate(frame: FrameLocator) -> None:
    """The settings form with the current certificate's replacement fields open."""
    await frame.get_by_role("button", name="Replace certificate").click()
    await expect(frame.get_by_label("Client key (PEM)", exact=True)).to_be_visible()


SCREENS = [
    Screen("destination list", "/destinations", "Destinations"),
    Screen("new destination", "/destinations/new", "New destination"),
    Screen(
        "new destination, headers and certificate",
        "/destinations/new",
        "New destination",
        then=_headers_and_certificate,
    ),
    Screen(
        "new destination, header and key errors",
        "/destinations/new",
        "New destination",
        then=_header_and_key_errors,
    ),
    Screen("destination", "/destinations/{destination_id}", "{destination_name}"),
    Screen(
        "delete confirmation",
        "/destinations/{destination_id}",
        "{destination_name}",
        then=_delete_dialog,
    ),
    Screen(
        "replace the client certificate",
        "/destinations/{destination_id}",
        "{destination_name}",
        then=_replace_certificate,
    ),
    Screen("delivery log", "/deliveries", "Delivery log"),
    Screen("event", "/events/{event_id}", "{event_type}"),
    Screen("export", "/export", "Export the delivery log"),
    Screen("event types", "/event-types", "Event types"),
]


@dataclass(frozen=True, slots=True)
class Theme:
    name: str
    query: str  # the host page's ?theme=, which it passes on to the embed
    color_scheme: str  # the browser's prefers-color-scheme


THEMES = [
    Theme("light", "?theme=light", "light"),
    Theme("dark", "?theme=dark", "light"),  # chosen by the host
    Theme("system dark", "?theme=auto", "dark"),  # the host follows the system
]


def embed_frame(page: Page) -> Frame:
    for frame in page.frames:
        if "/embed" in frame.url:
            return frame
    raise AssertionError(f"no embed frame among {[f.url for f in page.frames]}")


async def axe_violations(frame: Frame) -> list[dict[str, Any]]:
    """axe-core's violations on the frame's document as it stands, every impact."""
    if not await frame.evaluate("() => typeof window.axe === 'object'"):
        await frame.evaluate(AXE.read_text(encoding="utf-8"))
    result: dict[str, Any] = await frame.evaluate(
        "async () => await axe.run(document, {resultTypes: ['violations']})"
    )
    violations: list[dict[str, Any]] = result["violations"]
    return violations


def failing(violations: list[dict[str, Any]]) -> list[str]:
    """One line per element that fails: rule, impact, where, and axe's own explanation."""
    lines = []
    for violation in violations:
        if violation["impact"] not in FAILING_IMPACTS:
            continue
        for node in violation["nodes"]:
            summary = " ".join(node.get("failureSummary", "").split())
            lines.append(
                f"{violation['id']} ({violation['impact']}) at {node['target']}: {summary}"
            )
    return lines

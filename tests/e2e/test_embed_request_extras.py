"""Custom headers and a client certificate set in the embed's forms, in Chromium, against the
whole pipeline: a destination created with two headers (one sensitive) and a certificate
delivers to a real TLS receiver that requires that certificate; the settings form keeps a
sensitive value it does not show unless a new one is typed; the API's field errors (a
reserved header, a key that is not the certificate's) appear beside their row or field;
the certificate is replaced and removed; a viewer sees what is in force, and no form."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, FilePayload, FrameLocator, expect

from tests.certificates import TestCa, other_key
from tests.e2e.conftest import Stack
from tests.e2e.test_embed_destinations import new_workspace
from tests.eventually import eventually
from tests.services.portal.embed.harness import StartHost, open_embedded, screenshot_path
from tests.tls_receiver import MutualTlsReceiver

pytest_plugins = ["tests.services.portal.embed.fixtures"]
pytestmark = pytest.mark.timeout(240)

SERVER_CA = TestCa("Receiver private CA")  # pasted as the receiver's CA
CLIENT_CA = TestCa("Client CA")  # the only issuer the receiver accepts clients from
CLIENT = CLIENT_CA.issue("signet-client")
REPLACEMENT = CLIENT_CA.issue("signet-client-2026")
API_KEY = "key_live_0123456789"
NEW_API_KEY = "key_live_9876543210"


@pytest.fixture
async def receiver() -> AsyncIterator[MutualTlsReceiver]:
    server = SERVER_CA.issue("receiver", server=True)
    async with MutualTlsReceiver(server, client_ca=CLIENT_CA.certificate) as running:
        yield running


async def send_test_event(frame: FrameLocator, receiver: MutualTlsReceiver) -> dict[str, str]:
    """Press "Send test event"; the headers of the request the receiver got for it."""
    before = len(receiver.seen)
    await frame.get_by_role("button", name="Send test event").click()
    verdict = frame.locator(".test-result")
    await expect(verdict).to_contain_text("Your endpoint accepted it")
    await expect(verdict).to_contain_text("mutual ok")
    await eventually(lambda: len(receiver.seen) > before, "the test event at the receiver")
    client_name, headers = receiver.seen[-1]
    assert client_name == "signet-client"  # the certificate pasted in the form
    return headers


async def test_headers_and_a_client_certificate_set_in_the_forms_reach_the_receiver(
    embed_stack: Stack, browser: Browser, host_pages: StartHost, receiver: MutualTlsReceiver
) -> None:
    workspace = await new_workspace(embed_stack)
    host = await host_pages(workspace)
    embed = await open_embedded(browser, host)
    frame = embed.frame
    label = frame.get_by_label

    await frame.get_by_role("link", name="New destination").click()
    await label("Name").fill("Gateway")
    await label("Endpoint URL").fill(receiver.url)
    await frame.get_by_text("Custom headers and client certificate").click()
    for row, (name, value) in enumerate(
        [("X-Tenant", "acme"), ("X-Api-Key", API_KEY), ("Webhook-Id", "forged")], start=1
    ):
        await frame.get_by_role("button", name="Add header").click()
        await expect(label(f"Header {row}", exact=True)).to_be_focused()
        await label(f"Header {row}", exact=True).fill(name)
        await label(f"Value {row}", exact=True).fill(value)
    await label("Sensitive 2", exact=True).check()
    await expect(label("Value 2", exact=True)).to_have_attribute("type", "password")
    await label("Client certificate (PEM)", exact=True).fill(CLIENT.certificate)
    await label("Client key (PEM)", exact=True).fill(other_key())
    await label("Receiver's CA certificate (PEM, optional)", exact=True).fill(SERVER_CA.certificate)

    # The API refuses a name Signet sets and a key of another certificate: each error
    # beside what it names, announced with the control.
    await frame.get_by_role("button", name="Create destination").click()
    reserved = label("Header 3", exact=True)
    await expect(reserved).to_have_attribute("aria-invalid", "true")
    await expect(frame.locator(".header-row").nth(2).locator(".field-error")).to_contain_text(
        "set by Signet"
    )
    await expect(reserved).to_have_accessible_description(re.compile("set by Signet"))
    key = label("Client key (PEM)", exact=True)
    await expect(key).to_have_attribute("aria-invalid", "true")
    await expect(frame.locator('.field[data-field="tls.client_key"] .field-error')).to_contain_text(
        "does not match client_certificate"
    )
    await expect(label("Header 1", exact=True)).not_to_have_attribute("aria-invalid", "true")
    await embed.shot("embed-headers-certificate-errors")

    await frame.get_by_role("button", name="Remove header 3").click()
    await label("Client key from a file", exact=True).set_input_files(
        files=FilePayload(name="client.key", mimeType="text/plain", buffer=CLIENT.key.encode())
    )
    await expect(key).to_have_value(CLIENT.key.strip())
    await frame.get_by_role("button", name="Create destination").click()
    await expect(frame.get_by_role("heading", name="Gateway", exact=True)).to_be_visible()

    headers = await send_test_event(frame, receiver)
    assert headers["X-Tenant"] == "acme" and headers["X-Api-Key"] == API_KEY
    extras = frame.locator("section", has_text="Request headers and client certificate")
    await expect(extras.locator("tr", has_text="X-Api-Key")).to_contain_text("…6789")
    await expect(extras).to_contain_text("CN=signet-client")

    # The settings form: the sensitive value is not there to see, only its end.
    kept = label("Value 2", exact=True)
    await expect(kept).to_have_value("")
    await expect(kept).to_have_attribute("placeholder", "unchanged (…6789)")
    await expect(label("Sensitive 2", exact=True)).to_be_checked()
    await expect(frame.get_by_text(API_KEY)).to_have_count(0)
    await expect(frame.locator(".tls-editor")).to_contain_text("CN=signet-client")
    await expect(frame.locator(".tls-editor textarea")).to_have_count(3)
    await expect(frame.locator(".tls-editor textarea:visible")).to_have_count(0)

    # Untouched, it is kept while the rest changes.
    await label("Name").fill("Gateway EU")
    await label("Value 1", exact=True).fill("acme-eu")
    await frame.get_by_role("button", name="Save changes").click()
    await expect(frame.get_by_role("heading", name="Gateway EU", exact=True)).to_be_visible()
    headers = await send_test_event(frame, receiver)
    assert headers["X-Tenant"] == "acme-eu" and headers["X-Api-Key"] == API_KEY

    # Typed, it replaces the stored one.
    await label("Value 2", exact=True).fill(NEW_API_KEY)
    await frame.get_by_role("button", name="Save changes").click()
    await expect(label("Value 2", exact=True)).to_have_attribute("placeholder", "unchanged (…3210)")
    headers = await send_test_event(frame, receiver)
    assert headers["X-Api-Key"] == NEW_API_KEY

    # Replace the certificate: a key of another one is refused beside the key.
    await frame.get_by_role("button", name="Replace certificate").click()
    pinned = label("Receiver's CA certificate (PEM, optional)", exact=True)
    await expect(pinned).to_have_value(SERVER_CA.certificate.strip())  # sent again, kept
    await label("Client certificate (PEM)", exact=True).fill(REPLACEMENT.certificate)
    await label("Client key (PEM)", exact=True).fill(CLIENT.key)
    settings = frame.locator("section", has=frame.get_by_role("heading", name="Settings"))
    await settings.screenshot(path=screenshot_path("embed-headers-certificate-edit"))
    await frame.get_by_role("button", name="Save changes").click()
    await expect(label("Client key (PEM)", exact=True)).to_have_attribute("aria-invalid", "true")
    await expect(frame.locator('.field[data-field="tls.client_key"] .field-error')).to_contain_text(
        "does not match client_certificate"
    )
    await label("Client key (PEM)", exact=True).fill(REPLACEMENT.key)
    await frame.get_by_role("button", name="Save changes").click()
    await expect(frame.locator(".tls-editor")).to_contain_text("CN=signet-client-2026")
    await frame.get_by_role("button", name="Send test event").click()
    await expect(frame.locator(".test-result")).to_contain_text("mutual ok")
    await eventually(
        lambda: receiver.seen[-1][0] == "signet-client-2026", "the replacement presented"
    )

    # Remove it, behind a confirmation: the receiver now refuses the handshake.
    await frame.get_by_role("button", name="Remove certificate").click()
    await frame.get_by_role("dialog").get_by_role("button", name="Remove certificate").click()
    await expect(frame.get_by_role("button", name="Add a client certificate")).to_be_visible()
    await expect(extras.locator(".client-tls")).to_have_count(0)
    before = len(receiver.seen)
    await frame.get_by_role("button", name="Send test event").click()
    await expect(frame.locator(".test-result")).to_contain_text("did not accept")
    assert len(receiver.seen) == before
    await embed.close()

    # A viewer sees the headers in force, and no form to change them.
    viewer = await open_embedded(browser, host, "?role=viewer")
    await viewer.frame.get_by_role("link", name="Gateway EU").click()
    shown = viewer.frame.locator("section", has_text="Request headers and client certificate")
    await expect(shown.locator("tr", has_text="X-Api-Key")).to_contain_text("…3210")
    await expect(viewer.frame.locator(".header-editor, .tls-editor")).to_have_count(0)
    await viewer.close()

"""Managing destinations in the embed: validation errors next to their fields, a Slack alert
channel, editing, disabling and enabling, deleting behind a confirmation."""

from __future__ import annotations

import hashlib
import hmac
import re
from typing import Any

import pytest
from playwright.async_api import Browser, Route, expect

from tests.certificates import TestCa
from tests.e2e.conftest import Stack
from tests.services.portal.embed.harness import (
    StartHost,
    VerifyingReceiver,
    open_embedded,
)

pytest_plugins = ["tests.services.portal.embed.fixtures"]
pytestmark = pytest.mark.timeout(180)
SLACK_URL = "https://hooks.slack.com/services/T0000/B0000/XXXXXXXXXXXXXXXX"
LEGACY_SECRET = "an-existing-receivers-secret"


async def new_workspace(stack: Stack) -> dict[str, Any]:
    status, workspace = await stack.operator(
        "POST", "/v1/workspaces", {"name": "Casterly", "environment": "staging"}
    )
    assert status == 201, workspace
    created: dict[str, Any] = workspace
    return created


async def test_create_edit_disable_and_delete(
    embed_stack: Stack, browser: Browser, host_pages: StartHost
) -> None:
    host = await host_pages(await new_workspace(embed_stack))
    embed = await open_embedded(browser, host)
    frame = embed.frame

    # The portal's validation, shown beside the field it names.
    await frame.get_by_role("link", name="New destination").click()
    await frame.get_by_label("Name").fill("Orders")
    await frame.get_by_label("Endpoint URL").fill("ftp://orders.example.com/hook")
    await frame.get_by_label("Use my own secret").check()
    await frame.get_by_label("Your secret").fill("too-short")
    await frame.get_by_text("Delivery options").click()
    rate = frame.get_by_label("Rate limit (requests per second)")
    await rate.fill("0")
    await frame.get_by_role("button", name="Create destination").click()
    url_input = frame.get_by_label("Endpoint URL")
    await expect(url_input).to_have_attribute("aria-invalid", "true")
    await expect(frame.locator(".field[data-field=url] .field-error")).to_contain_text("http")
    await expect(frame.get_by_label("Your secret")).to_have_attribute("aria-invalid", "true")
    await expect(rate).to_have_attribute("aria-invalid", "true")
    await expect(
        frame.locator(".field[data-field=rate_limit_per_second] .field-error")
    ).to_contain_text("at least")  # pydantic names the bound crossed
    await expect(url_input).to_be_focused()  # the first bad field takes the focus
    await embed.shot("embed-validation")

    await url_input.fill("https://orders.example.com/hook")
    await rate.fill("0.5")
    await frame.get_by_label("Generate one for me").check()
    await frame.get_by_role("button", name="Create destination").click()
    await expect(frame.get_by_role("heading", name="Orders", exact=True)).to_be_visible()
    # A generated secret is shown this once, ready to copy.
    reveal = frame.locator(".reveal")
    await expect(reveal).to_contain_text("shown this once")
    await expect(reveal.locator("output")).to_contain_text("whsec_")
    await expect(reveal.get_by_role("button", name="Copy")).to_be_visible()
    await embed.shot("embed-secret-shown-once")
    await expect(rate).to_have_value("0.5")  # the settings form, as created

    # Edit: an empty rate limit removes it.
    await frame.get_by_label("Name").fill("Order events")
    await frame.get_by_label("Event types").fill("order.*, invoice.paid")
    await rate.fill("")
    await frame.get_by_role("button", name="Save changes").click()
    await expect(frame.get_by_role("heading", name="Order events", exact=True)).to_be_visible()
    await expect(frame.get_by_label("Event types")).to_have_value("order.*, invoice.paid")
    await expect(rate).to_have_value("")
    await expect(frame.locator(".facts")).to_contain_text("unlimited")

    # Disable, then enable again.
    await frame.get_by_role("button", name="Disable").click()
    await expect(frame.locator(".subtitle .badge")).to_have_text("Disabled")
    await frame.get_by_role("button", name="Enable").click()
    await expect(frame.locator(".subtitle .badge")).to_have_text("Enabled")

    # A Slack alert channel beside it.
    await frame.get_by_role("link", name="Destinations", exact=True).first.click()
    await frame.get_by_role("link", name="New destination").click()
    await frame.get_by_label("Slack alert channel").check()
    await frame.get_by_label("Name").fill("Ops alerts")
    await frame.get_by_label("Slack incoming-webhook URL").fill(SLACK_URL)
    await frame.get_by_role("button", name="Create destination").click()
    await expect(frame.get_by_role("heading", name="Ops alerts")).to_be_visible()
    await expect(frame.get_by_text("Slack alert channel")).to_be_visible()
    await expect(frame.get_by_text(SLACK_URL)).to_have_count(0)  # a credential: never shown

    await frame.get_by_role("link", name="Destinations", exact=True).first.click()
    rows = frame.locator("table.data tbody tr")
    await expect(rows).to_have_count(2)
    await expect(frame.locator("tr", has_text="Ops alerts")).to_contain_text("Slack alerts")
    await embed.shot("embed-destinations")

    # Delete asks first; Escape (or Cancel) keeps the destination.
    await frame.get_by_role("link", name="Order events").click()
    await frame.get_by_role("button", name="Delete").click()
    dialog = frame.get_by_role("dialog")
    await expect(dialog).to_contain_text("Delete “Order events”?")
    await expect(dialog.get_by_role("button", name="Cancel")).to_be_focused()
    await embed.shot("embed-delete-confirm")
    await embed.page.keyboard.press("Escape")
    await expect(dialog).to_have_count(0)
    await expect(frame.get_by_role("heading", name="Order events", exact=True)).to_be_visible()
    await frame.get_by_role("button", name="Delete").click()
    await frame.get_by_role("dialog").get_by_role("button", name="Delete destination").click()
    await expect(frame.get_by_role("heading", name="Destinations")).to_be_visible()
    await expect(rows).to_have_count(1)
    await expect(frame.get_by_role("link", name="Order events")).to_have_count(0)
    await embed.close()


async def test_an_ed25519_destination_shows_its_public_key(
    embed_stack: Stack, browser: Browser, host_pages: StartHost, verifying_receivers: Any
) -> None:
    receiver: VerifyingReceiver = await verifying_receivers()
    host = await host_pages(await new_workspace(embed_stack))
    embed = await open_embedded(browser, host)
    frame = embed.frame
    await frame.get_by_role("link", name="New destination").click()
    await frame.get_by_label("Name").fill("Signed with a key pair")
    await frame.get_by_label("Endpoint URL").fill(receiver.url)
    await frame.get_by_label("Signature scheme").select_option("standard-webhooks-ed25519")
    await frame.get_by_role("button", name="Create destination").click()
    await expect(frame.get_by_role("heading", name="Signed with a key pair")).to_be_visible()
    # The private key never leaves Signet; the public key is what the receiver needs.
    await expect(frame.locator(".reveal")).to_have_count(0)
    await expect(frame.get_by_role("columnheader", name="Public key")).to_be_visible()
    public_key = (await frame.locator("td code", has_text="whpk_").inner_text()).strip()
    assert public_key.startswith("whpk_")
    await embed.shot("embed-ed25519-public-key")

    receiver.public_keys = [public_key]
    await frame.get_by_role("button", name="Send test event").click()
    verdict = frame.locator(".test-result")
    await expect(verdict).to_contain_text("Your endpoint accepted it")
    await expect(verdict).to_contain_text("signature verified")
    [ping] = receiver.requests
    assert ping.verified and "v1a," in ping.headers["webhook-signature"]
    await embed.close()


async def test_headers_a_client_certificate_near_expiry_and_a_signature_header_are_shown(
    embed_stack: Stack, browser: Browser, host_pages: StartHost
) -> None:
    workspace = await new_workspace(embed_stack)
    status, session = await embed_stack.operator(
        "POST", "/v1/sessions", {"workspace_id": workspace["id"], "role": "admin"}
    )
    assert status == 201, session
    ca = TestCa()
    soon, later = ca.issue("expiring-client", valid_days=5), ca.issue("fresh-client")
    # "Fresh" also signs like the receivers it was moved from: GitHub's format, their header.
    own_header = {
        "signature_scheme": "github",
        "secret": "an-existing-receivers-secret",
        "signature_header": "X-Acme-Signature-256",
    }
    for name, client, signing in (("Expiring", soon, {}), ("Fresh", later, own_header)):
        body = {
            "name": name,
            "url": "https://orders.example.com/hook",
            "headers": {"X-Tenant": "acme", "Authorization": "Bearer sk_live_0123456789abcd"},
            "tls": {"client_certificate": client.certificate, "client_key": client.key},
            **signing,
        }
        status, created = await embed_stack.workspace(
            session["token"], "POST", "/v1/workspace/destinations", body
        )
        assert status == 201, created

    host = await host_pages(workspace)
    embed = await open_embedded(browser, host)
    frame = embed.frame
    await frame.get_by_role("link", name="Expiring").click()
    extras = frame.locator("section", has_text="Request headers and client certificate")
    await expect(extras.locator(".cert-warning")).to_contain_text("expires in 4 days")
    await expect(extras).to_contain_text("CN=expiring-client")
    await expect(extras.locator("tr", has_text="Authorization")).to_contain_text("…abcd")
    await expect(extras.locator("tr", has_text="X-Tenant")).to_contain_text("acme")
    await expect(frame.get_by_text("sk_live_0123456789abcd")).to_have_count(0)
    await embed.shot("embed-client-certificate-expiring")

    await frame.get_by_role("link", name="Destinations", exact=True).first.click()
    await frame.get_by_role("link", name="Fresh").click()
    fresh = frame.locator("section", has_text="Request headers and client certificate")
    await expect(fresh).to_contain_text("CN=fresh-client")
    await expect(fresh.locator(".cert-warning")).to_have_count(0)  # 30 days left: no flag
    signing_section = frame.locator("section", has_text="Signing secret")
    await expect(signing_section).to_contain_text("Sent in the header x-acme-signature-256.")
    await embed.close()


async def test_custom_headers_reach_the_receiver_and_the_log_shows_them_masked(
    embed_stack: Stack, browser: Browser, host_pages: StartHost, verifying_receivers: Any
) -> None:
    receiver: VerifyingReceiver = await verifying_receivers()
    workspace = await new_workspace(embed_stack)
    status, session = await embed_stack.operator(
        "POST", "/v1/sessions", {"workspace_id": workspace["id"], "role": "admin"}
    )
    assert status == 201, session
    token = "Bearer sk_live_0123456789abcd"
    body = {
        "name": "Gateway",
        "url": receiver.url,
        "headers": {"X-Tenant": "acme", "Authorization": token},
    }
    status, created = await embed_stack.workspace(
        session["token"], "POST", "/v1/workspace/destinations", body
    )
    assert status == 201, created
    receiver.secrets = [created["secret"]]

    host = await host_pages(workspace)
    embed = await open_embedded(browser, host)
    frame = embed.frame
    await frame.get_by_role("link", name="Gateway").click()
    await frame.get_by_role("button", name="Send test event").click()
    await expect(frame.locator(".test-result")).to_contain_text("signature verified")
    [ping] = receiver.requests
    assert ping.headers["authorization"] == token and ping.headers["x-tenant"] == "acme"

    await frame.get_by_role("link", name="Delivery log").click()
    await frame.get_by_role("link", name=f"Event {ping.headers['webhook-id']}").click()
    attempt = frame.locator("li.attempt").first
    await attempt.get_by_text("Response and headers sent").click()
    sent = attempt.locator("table.headers")
    await expect(sent.locator("tr", has_text="Authorization")).to_contain_text("…abcd")
    await expect(sent.locator("tr", has_text="X-Tenant")).to_contain_text("acme")
    await expect(frame.get_by_text(token)).to_have_count(0)
    await embed.close()


class LoseTheFirstAnswer:
    """A route handler: the first POST reaches the portal, which makes the change, but its
    answer never reaches the page; the keys every POST carried."""

    def __init__(self) -> None:
        self.keys: list[str | None] = []
        self.lost: list[int] = []

    async def __call__(self, route: Route) -> None:
        if route.request.method != "POST":
            await route.continue_()
            return
        self.keys.append(route.request.headers.get("idempotency-key"))
        response = await route.fetch()
        if not self.lost:
            self.lost.append(response.status)
            await route.abort("connectionreset")
        else:
            await route.fulfill(response=response)

    def one_key_twice(self) -> bool:
        key = self.keys[0] if self.keys else None
        fresh = key is not None and re.fullmatch(r"embed-[0-9a-f]{32}", key) is not None
        return fresh and self.keys == [key, key]


async def test_a_create_or_rotation_whose_answer_was_lost_is_made_once_when_sent_again(
    embed_stack: Stack, browser: Browser, host_pages: StartHost
) -> None:
    """The portal makes the change but its answer never reaches the embed: pressed again,
    the form sends the same Idempotency-Key, and the change is made once."""
    workspace, token = await embed_stack.admin_workspace()
    embed = await open_embedded(browser, await host_pages(workspace))
    frame = embed.frame
    creates = LoseTheFirstAnswer()
    await embed.page.route("**/v1/workspace/destinations", creates)
    await frame.get_by_role("link", name="New destination").click()
    await frame.get_by_label("Name").fill("Orders")
    await frame.get_by_label("Endpoint URL").fill("https://orders.example.com/hook")
    create = frame.get_by_role("button", name="Create destination")
    await create.click()
    await expect(frame.locator(".form-errors")).to_contain_text("Signet did not answer")
    await create.click()
    await expect(frame.get_by_role("heading", name="Orders", exact=True)).to_be_visible()
    # The generated secret the lost answer held is shown by the replayed one.
    await expect(frame.locator(".reveal")).to_contain_text("whsec_")
    assert creates.lost == [201] and creates.one_key_twice(), creates.keys

    rotations = LoseTheFirstAnswer()
    await embed.page.route("**/rotate-secret", rotations)
    rotate = frame.get_by_role("button", name="Rotate secret")
    await rotate.click()
    await expect(frame.locator("form", has=rotate).locator(".form-errors")).to_contain_text(
        "Signet did not answer"
    )
    await rotate.click()
    await expect(frame.get_by_text("Secret rotated")).to_be_visible()
    assert rotations.lost == [200] and rotations.one_key_twice(), rotations.keys

    status, listed = await embed_stack.workspace(token, "GET", "/v1/workspace/destinations")
    assert status == 200 and [d["name"] for d in listed["data"]] == ["Orders"]
    assert len(listed["data"][0]["secrets"]) == 2  # created with one, rotated once
    await embed.close()


async def test_a_signature_header_set_in_the_forms_names_the_header_sent(
    embed_stack: Stack, browser: Browser, host_pages: StartHost, verifying_receivers: Any
) -> None:
    """A customer moving receivers that read their own header picks it in the form; the test
    event arrives signed under it; the settings form changes it and refuses a bad name."""
    receiver: VerifyingReceiver = await verifying_receivers()
    workspace, token = await embed_stack.admin_workspace()
    embed = await open_embedded(browser, await host_pages(workspace))
    frame = embed.frame
    await frame.get_by_role("link", name="New destination").click()
    header_input = frame.get_by_label("Signature header")
    await expect(header_input).to_be_hidden()  # Standard Webhooks: its headers are fixed
    await frame.get_by_label("Name").fill("Legacy receivers")
    await frame.get_by_label("Endpoint URL").fill(receiver.url)
    await frame.get_by_label("Signature scheme").select_option("github")
    await frame.get_by_label("Use my own secret").check()
    await frame.get_by_label("Your secret").fill(LEGACY_SECRET)
    await header_input.fill("X-Acme-Signature-256")
    await frame.get_by_role("button", name="Create destination").click()
    await expect(frame.get_by_role("heading", name="Legacy receivers", exact=True)).to_be_visible()

    await frame.get_by_role("button", name="Send test event").click()
    (request,) = await receiver.wait_for(1)
    digest = hmac.new(LEGACY_SECRET.encode(), request.body, hashlib.sha256).hexdigest()
    assert request.headers["x-acme-signature-256"] == f"sha256={digest}"
    assert "x-hub-signature-256" not in request.headers

    settings = frame.locator("section", has_text="Save changes")
    setting = settings.get_by_label("Signature header")
    await expect(setting).to_have_value("x-acme-signature-256")
    await setting.fill("not a header")
    await settings.get_by_role("button", name="Save changes").click()
    await expect(
        settings.locator(".field[data-field=signature_header] .field-error")
    ).to_contain_text("not a header name")
    await setting.fill("")  # back to the scheme's own
    await settings.get_by_role("button", name="Save changes").click()
    await expect(frame.get_by_text("Changes saved")).to_be_visible()
    status, listed = await embed_stack.workspace(token, "GET", "/v1/workspace/destinations")
    assert status == 200 and listed["data"][0]["signature_header"] is None
    await embed.close()

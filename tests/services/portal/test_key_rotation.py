"""``signet keys rotate`` against the real broker and router, with a real dispatcher sending
signed deliveries before and after the change."""

from __future__ import annotations

import asyncio
import base64
import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import pytest
import standardwebhooks
from signet_sdk.ids import new_id, now_ms

from services.dispatcher.signing_keys import SigningKeys
from signet.dev.broker import free_port
from signet.kafka.clients import AsyncProducer
from signet.kafka.topics import Topics
from signet.records import codec
from signet.records.model import Delivery, Destination, Event, SealedSecret, WorkspaceConfig
from signet.records.payload import render_body
from signet.security.key_rotation import reseal_destination
from signet.security.secrets import MasterKeyRing, generate_master_key, secret_aad, slack_url_aad
from signet.settings import CommonSettings
from tests.processes import ServiceProcess, service_env
from tests.receiver import Receiver
from tests.services.portal.conftest import RunningPortal, portal_settings, running_portal

pytestmark = pytest.mark.timeout(300)

OLD = generate_master_key()
NEW = generate_master_key()
OLD_ID, NEW_ID = OLD.partition(":")[0], NEW.partition(":")[0]
DESTINATIONS = "/v1/workspace/destinations"
SLACK_URL = "https://hooks.slack.com/services/T0001/B0001/" + "s" * 24


@pytest.fixture(scope="module")
async def portal(
    kafka_settings: CommonSettings, router: ServiceProcess
) -> AsyncIterator[RunningPortal]:
    """The portal under the OLD key only, allowing the loopback receivers of this module."""
    settings = portal_settings(
        kafka_settings,
        master_keys=OLD,
        allow_insecure_destinations=True,
        command_timeout_seconds=20,
    )
    async with running_portal(settings) as up:
        yield up


@pytest.fixture(scope="module")
async def dispatcher(kafka_settings: CommonSettings) -> AsyncIterator[ServiceProcess]:
    """A dispatcher holding both keys, new first: what every service runs during the change."""
    port = free_port()
    env = service_env(
        kafka_settings,
        metrics_port=port,
        master_keys=f"{NEW},{OLD}",
        allow_private_destinations=True,
        allow_insecure_destinations=True,
        consumer_group=f"dispatcher-{new_id('g')}",
        consumer_session_timeout_seconds=6,
    )
    async with ServiceProcess(
        "dispatcher", env, ready_url=f"http://127.0.0.1:{port}/readyz"
    ) as process:
        yield process


@dataclass(slots=True, frozen=True)
class RunResult:
    code: int
    out: str
    err: str


async def rotate_keys(settings: CommonSettings, ring: str, *args: str) -> RunResult:
    """``signet keys rotate`` as a real child process."""
    env = {**os.environ, **service_env(settings, master_keys=ring, command_timeout_seconds=20)}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "signet.security.key_rotation",
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode is not None
    return RunResult(process.returncode, out.decode(), err.decode())


def sealed_values(config: WorkspaceConfig) -> list[tuple[Destination, SealedSecret, bytes]]:
    """Every sealed value of the workspace with the AAD it opens under."""
    values = []
    for d in config.destinations:
        values += [(d, s.sealed, secret_aad(config.workspace_id, d.id)) for s in d.secrets]
        if d.sealed_url is not None:
            values.append((d, d.sealed_url, slack_url_aad(config.workspace_id, d.id)))
    return values


async def send_one(settings: CommonSettings, config: WorkspaceConfig, destination_id: str) -> str:
    """Produce a delivery straight to the dispatcher's topic, as the router would."""
    event = Event(
        id=new_id("evt"),
        workspace_id=config.workspace_id,
        type="order.completed",
        resource="order",
        resource_id="ord_1",
        payload=b'{"total":1}',
        created_at=now_ms(),
    )
    delivery = Delivery(
        id=new_id("dlv"),
        event_id=event.id,
        workspace_id=config.workspace_id,
        destination_id=destination_id,
        event_type=event.type,
        body=render_body(event),
        attempt=1,
        event_created_at=event.created_at,
        due_at=event.created_at,
    )
    async with AsyncProducer(settings) as producer:
        await producer.send(
            Topics.from_settings(settings).deliveries,
            codec.encode(delivery),
            key=destination_id,
            timeout=10,
        )
    return event.id


async def test_rotation_reseals_everything_and_deliveries_go_on(
    portal: RunningPortal,
    dispatcher: ServiceProcess,
    kafka_settings: CommonSettings,
    make_receiver: Callable[[], Awaitable[Receiver]],
) -> None:
    client = portal.client
    receiver = await make_receiver()
    workspace = await client.new_workspace()
    token = await client.session(workspace["id"])
    own = "whsec_" + base64.b64encode(os.urandom(32)).decode()
    bodies = [
        {"name": "Orders", "url": receiver.url, "secret": own},
        {"name": "Ed", "url": receiver.url, "signature_scheme": "standard-webhooks-ed25519"},
        {"name": "Plain", "url": receiver.url, "signature_scheme": "hmac-sha256"},
        {"type": "slack", "name": "Alerts", "webhook_url": SLACK_URL},
    ]
    ids = []
    for body in bodies:
        answer = await client.workspace(token, "POST", DESTINATIONS, body)
        assert answer.status == 201, answer.text
        ids.append(answer.json["id"])
    # A second secret under the old key too: the rotation re-seals every one of them.
    rotated = await client.workspace(token, "POST", f"{DESTINATIONS}/{ids[2]}/rotate-secret", {})
    assert rotated.status == 200, rotated.text

    view = portal.service.view
    before = view.workspace(workspace["id"])
    assert before is not None
    old_ring = MasterKeyRing.parse(OLD)
    plain = {(d.id, s.ciphertext): old_ring.open(s, aad) for d, s, aad in sealed_values(before)}
    assert len(plain) == 5 and {s.key_id for _, s, _ in sealed_values(before)} == {OLD_ID}

    # Before: delivered and verifiable with the customer's own secret.
    await send_one(kafka_settings, before, ids[0])
    [first] = await receiver.wait_for(1, timeout=30)
    standardwebhooks.Webhook(own).verify(first.body, first.headers)

    # A ring without the old key cannot open them: every destination fails, none changes.
    missing = await rotate_keys(kafka_settings, NEW)
    assert missing.code == 1, missing
    assert missing.out.count("FAILED") == 4 and "re-encrypted 0" in missing.out

    # A dry run names what it would change, and changes nothing.
    dry = await rotate_keys(kafka_settings, f"{NEW},{OLD}", "--dry-run")
    assert dry.code == 0, dry
    assert all(i in dry.out for i in ids) and "would re-encrypt 4" in dry.out
    unchanged = view.workspace(workspace["id"])
    assert unchanged is not None and unchanged.version == before.version

    run = await rotate_keys(kafka_settings, f"{NEW},{OLD}")
    assert run.code == 0, run
    assert all(i in run.out for i in ids) and "re-encrypted 4" in run.out, run.out
    assert f"{OLD_ID} -> {NEW_ID}" in run.out and "slack URL" in run.out

    # The tool waited for the router; the portal's view follows the same topic.
    def all_under_new() -> bool:
        config = view.workspace(workspace["id"])
        return config is not None and all(s.key_id == NEW_ID for _, s, _ in sealed_values(config))

    assert await view.wait_for(all_under_new, 20)
    after = view.workspace(workspace["id"])
    assert after is not None
    new_only = MasterKeyRing.parse(NEW)  # the old key can now leave the ring
    reopened = [new_only.open(s, aad) for _, s, aad in sealed_values(after)]
    assert sorted(reopened) == sorted(plain.values())
    for old_d, new_d in zip(before.destinations, after.destinations, strict=True):
        # Only the sealing changed: same ids, hints, expiry, public keys and settings.
        assert [(s.id, s.hint, s.public_key, s.expires_at) for s in old_d.secrets] == [
            (s.id, s.hint, s.public_key, s.expires_at) for s in new_d.secrets
        ]
        assert (old_d.url, old_d.name, old_d.updated_at) == (
            new_d.url,
            new_d.name,
            new_d.updated_at,
        )
    signing = SigningKeys(new_only).for_destination(
        after.workspace_id, after.destinations[0], now_ms()
    )
    assert signing == [own.encode()]

    # After: the running dispatcher (both keys) signs with the re-sealed secret.
    await send_one(kafka_settings, after, ids[0])
    second = (await receiver.wait_for(2, timeout=30))[1]
    standardwebhooks.Webhook(own).verify(second.body, second.headers)

    # Idempotent: a second run finds nothing and writes nothing.
    again = await rotate_keys(kafka_settings, f"{NEW},{OLD}")
    assert again.code == 0, again
    assert "re-encrypted 0" in again.out and "4 already under it" in again.out
    latest = view.workspace(workspace["id"])
    assert latest is not None and latest.version == after.version


def test_reseal_is_none_when_everything_is_under_the_primary() -> None:
    ring = MasterKeyRing.parse(f"{NEW},{OLD}")
    sealed = ring.seal(b"https://hooks.slack.com/services/x", slack_url_aad("ws", "dst"))
    d = Destination(id="dst", type="slack", name="s", created_at=1, updated_at=1, sealed_url=sealed)
    assert reseal_destination("ws", d, ring) is None
    under_old = MasterKeyRing.parse(f"{OLD},{NEW}")
    resealed = reseal_destination("ws", d, under_old)
    assert resealed is not None and resealed.slack_url and resealed.old_key_ids == (NEW_ID,)
    assert resealed.destination.sealed_url is not None
    assert resealed.destination.sealed_url.key_id == OLD_ID
    assert under_old.open(resealed.destination.sealed_url, slack_url_aad("ws", "dst")) == (
        b"https://hooks.slack.com/services/x"
    )

"""``signet keys rotate`` re-seals the operator webhook's secret too, on the real broker:
after it the secret opens under the new master key alone, unchanged."""

from __future__ import annotations

import base64
import os
from collections.abc import AsyncIterator

import pytest

from signet.operator_webhook.events import operator_secret_aad
from signet.security.secrets import MasterKeyRing
from signet.settings import CommonSettings
from tests.processes import ServiceProcess
from tests.services.portal.conftest import RunningPortal, portal_settings, running_portal
from tests.services.portal.test_key_rotation import NEW, NEW_ID, OLD, OLD_ID, rotate_keys

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
async def portal(
    kafka_settings: CommonSettings, router: ServiceProcess
) -> AsyncIterator[RunningPortal]:
    settings = portal_settings(kafka_settings, master_keys=OLD, command_timeout_seconds=20)
    async with running_portal(settings) as up:
        yield up


async def test_the_operator_webhook_secret_is_resealed_under_the_new_key(
    portal: RunningPortal, kafka_settings: CommonSettings
) -> None:
    own = "whsec_" + base64.b64encode(os.urandom(32)).decode()
    put = await portal.client.operator(
        "PUT", "/v1/operator-webhook", {"url": "https://ops.example/hook", "secret": own}
    )
    assert put.status == 200, put.text
    hooks = portal.service.operator_webhook
    before = hooks.current
    assert before is not None and before.secret.key_id == OLD_ID

    missing = await rotate_keys(kafka_settings, NEW)
    assert missing.code == 1 and "FAILED   operator-webhook" in missing.out, missing

    run = await rotate_keys(kafka_settings, f"{NEW},{OLD}")
    assert run.code == 0, run
    assert f"resealed operator-webhook: its secret, {OLD_ID} -> {NEW_ID}" in run.out

    assert await hooks.wait_for(
        lambda: hooks.current is not None and hooks.current.secret.key_id == NEW_ID, 20
    )
    after = hooks.current
    assert after is not None
    assert MasterKeyRing.parse(NEW).open(after.secret, operator_secret_aad()) == own.encode()
    assert (after.url, after.event_types, after.secret_hint, after.updated_at) == (
        before.url,
        before.event_types,
        before.secret_hint,
        before.updated_at,
    )

    again = await rotate_keys(kafka_settings, f"{NEW},{OLD}")
    assert again.code == 0 and "1 already under it" in again.out, again

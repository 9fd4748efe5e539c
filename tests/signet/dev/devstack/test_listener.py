"""`signet listen`: verifies Standard Webhooks signatures, including the official library's."""

from __future__ import annotations

import io
import time
from datetime import UTC, datetime

import aiohttp
import orjson
from rich.console import Console
from signet_sdk.signing import standard_webhooks
from standardwebhooks import Webhook

from signet.dev.devstack.listener import Listener, check_signature, summarize

SECRET = standard_webhooks.generate_secret().secret
BODY = orjson.dumps({"id": "evt_1", "type": "order.completed", "data": {"order_id": "ord_1"}})


def test_a_signature_from_our_signer_verifies() -> None:
    headers = standard_webhooks.sign([SECRET], "evt_1", int(time.time()), BODY)
    assert check_signature(SECRET, headers, BODY).verified is True


def test_a_signature_from_the_official_library_verifies() -> None:
    now = datetime.now(tz=UTC)
    signature = Webhook(SECRET).sign("evt_1", now, BODY.decode())
    headers = {
        "webhook-id": "evt_1",
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": signature,
    }
    assert check_signature(SECRET, headers, BODY).verified is True


def test_wrong_secret_tampered_body_and_old_timestamp_are_refused() -> None:
    other = standard_webhooks.generate_secret().secret
    headers = standard_webhooks.sign([SECRET], "evt_1", int(time.time()), BODY)
    assert check_signature(other, headers, BODY).verified is False
    assert check_signature(SECRET, headers, BODY + b" ").verified is False
    stale = standard_webhooks.sign([SECRET], "evt_1", int(time.time()) - 3600, BODY)
    verdict = check_signature(SECRET, stale, BODY)
    assert verdict.verified is False and "too old" in verdict.reason
    assert check_signature(None, headers, BODY).verified is None


def test_summary_names_the_event_and_its_id() -> None:
    line = summarize("POST", "/hook", {"Webhook-Id": "evt_1"}, BODY)
    assert line == "POST /hook order.completed webhook-id=evt_1"
    assert summarize("POST", "/hook", {}, b"not json") == "POST /hook"


async def test_the_listener_answers_and_prints_each_verdict() -> None:
    out = io.StringIO()
    listener = Listener("127.0.0.1", 0, SECRET, Console(file=out, width=200))
    await listener.start()
    try:
        url = f"http://127.0.0.1:{listener.port}"
        signed = standard_webhooks.sign([SECRET], "evt_1", int(time.time()), BODY)
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{url}/readyz") as ready:
                assert ready.status == 200
            async with http.post(f"{url}/hook", data=BODY, headers=signed) as good:
                assert good.status == 200
            forged = {**signed, "webhook-id": "evt_2"}
            async with http.post(f"{url}/hook", data=BODY, headers=forged) as bad:
                assert bad.status == 401
    finally:
        await listener.stop()
    printed = out.getvalue()
    assert "POST /hook order.completed webhook-id=evt_1  ✓ signature verified" in printed
    assert "webhook-id=evt_2  ✗ signature NOT verified" in printed
    assert "/readyz" not in printed
    await listener.stop()  # idempotent

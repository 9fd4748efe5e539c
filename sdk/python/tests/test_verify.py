"""``signet_sdk.verify`` against signatures made by the dispatcher's signing code
(``signet_sdk.signing.sign_delivery``, what ``services/dispatcher/pipeline.py`` calls) and by
the official ``standardwebhooks`` library."""

from __future__ import annotations

import base64
import os
import threading
import time
from datetime import datetime, timezone

import orjson
import pytest
import standardwebhooks
from hypothesis import given, settings
from hypothesis import strategies as st

from signet_sdk.signing import UnknownSchemeError, generate_secret, sign_delivery
from signet_sdk.verify import (
    InMemoryReplayCache,
    ReplayError,
    SignatureError,
    TimestampError,
    WebhookVerifier,
)

BODY = orjson.dumps({"id": "evt_1", "type": "order.completed", "data": {"total_cents": 12900}})
SCHEMES = (
    "standard-webhooks",
    "standard-webhooks-ed25519",
    "hmac-sha256",
    "hmac-sha512",
    "github",
)


def signed(
    scheme: str, secrets: list[str], body: bytes = BODY, at: float | None = None
) -> dict[str, str]:
    stamp = int(time.time() if at is None else at)
    return sign_delivery(scheme, secrets, msg_id="evt_1", timestamp=stamp, body=body)


def key_pair(scheme: str) -> tuple[str, str]:
    """(what the dispatcher signs with, what the receiver verifies with)."""
    material = generate_secret(scheme)
    return material.secret, material.shown


@pytest.mark.parametrize("scheme", SCHEMES)
def test_every_scheme_verifies_what_the_dispatcher_signs(scheme: str) -> None:
    secret, key = key_pair(scheme)
    headers = signed(scheme, [secret])
    webhook = WebhookVerifier(key, scheme=scheme).verify(headers, BODY)
    assert webhook.id == "evt_1"
    assert webhook.event["data"] == {"total_cents": 12900}
    if scheme == "github":
        assert webhook.timestamp is None
    else:
        assert webhook.timestamp is not None and abs(webhook.timestamp - time.time()) < 5


@pytest.mark.parametrize("scheme", SCHEMES)
def test_a_tampered_body_or_another_key_is_refused(scheme: str) -> None:
    secret, key = key_pair(scheme)
    _, other = key_pair(scheme)
    headers = signed(scheme, [secret])
    with pytest.raises(SignatureError):
        WebhookVerifier(key, scheme=scheme).verify(headers, BODY.replace(b"12900", b"12901"))
    with pytest.raises(SignatureError):
        WebhookVerifier(other, scheme=scheme).verify(headers, BODY)


@pytest.mark.parametrize("scheme", [s for s in SCHEMES if s != "github"])
def test_timestamps_outside_the_tolerance_are_refused(scheme: str) -> None:
    secret, key = key_pair(scheme)
    verifier = WebhookVerifier(key, scheme=scheme, tolerance_seconds=60)
    with pytest.raises(TimestampError):
        verifier.verify(signed(scheme, [secret], at=time.time() - 120), BODY)
    with pytest.raises(TimestampError):
        verifier.verify(signed(scheme, [secret], at=time.time() + 120), BODY)
    verifier.verify(signed(scheme, [secret], at=time.time() - 30), BODY)


@pytest.mark.parametrize("scheme", ["standard-webhooks", "hmac-sha256", "hmac-sha512"])
def test_during_a_rotation_either_key_verifies(scheme: str) -> None:
    new, _ = key_pair(scheme)
    old, _ = key_pair(scheme)
    headers = signed(scheme, [new, old])
    WebhookVerifier(old, scheme=scheme).verify(headers, BODY)
    WebhookVerifier(new, scheme=scheme).verify(headers, BODY)
    unrelated, _ = key_pair(scheme)
    WebhookVerifier([unrelated, old], scheme=scheme).verify(headers, BODY)


def test_official_library_signatures_verify_and_ours_verify_there() -> None:
    secret, _ = key_pair("standard-webhooks")
    official = standardwebhooks.Webhook(secret)
    now = datetime.now(tz=timezone.utc)
    theirs = {
        "webhook-id": "msg_1",
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": official.sign("msg_1", now, BODY.decode()),
    }
    assert WebhookVerifier(secret).verify(theirs, BODY).id == "msg_1"
    official.verify(BODY, signed("standard-webhooks", [secret]))


@settings(max_examples=50, deadline=None)
@given(body=st.binary(min_size=1, max_size=2048), raw_key=st.binary(min_size=24, max_size=64))
def test_round_trip_any_body_any_key(body: bytes, raw_key: bytes) -> None:
    secret = "whsec_" + base64.b64encode(raw_key).decode()
    headers = signed("standard-webhooks", [secret], body=body)
    assert WebhookVerifier(secret).verify(headers, body).body == body


def test_headers_are_matched_case_insensitively_and_missing_ones_are_named() -> None:
    secret, _ = key_pair("standard-webhooks")
    headers = {k.title(): v for k, v in signed("standard-webhooks", [secret]).items()}
    WebhookVerifier(secret).verify(headers, BODY)
    del headers["Webhook-Signature"]
    with pytest.raises(SignatureError, match="webhook-signature"):
        WebhookVerifier(secret).verify(headers, BODY)


def test_the_replay_cache_refuses_a_second_delivery_until_released() -> None:
    secret, _ = key_pair("standard-webhooks")
    verifier = WebhookVerifier(secret, replay_cache=InMemoryReplayCache())
    headers = signed("standard-webhooks", [secret])
    verifier.verify(headers, BODY)
    with pytest.raises(ReplayError) as raised:
        verifier.verify(headers, BODY)
    assert raised.value.webhook_id == "evt_1"
    assert isinstance(raised.value, SignatureError)  # one `except` refuses everything
    verifier.release("evt_1")  # processing failed: Signet's retry must get through
    verifier.verify(signed("standard-webhooks", [secret]), BODY)


def test_a_forged_request_does_not_claim_its_id() -> None:
    secret, _ = key_pair("standard-webhooks")
    forger, _ = key_pair("standard-webhooks")
    cache = InMemoryReplayCache()
    verifier = WebhookVerifier(secret, replay_cache=cache)
    with pytest.raises(SignatureError):
        verifier.verify(signed("standard-webhooks", [forger]), BODY)
    assert len(cache) == 0
    verifier.verify(signed("standard-webhooks", [secret]), BODY)


def test_replay_cache_entries_expire_and_the_oldest_go_first_when_full() -> None:
    now = [1000.0]
    cache = InMemoryReplayCache(max_entries=2, clock=lambda: now[0])
    assert cache.claim("a", 10) and not cache.claim("a", 10)
    now[0] += 11
    assert cache.claim("a", 10)  # expired: a new claim
    assert cache.claim("b", 10) and cache.claim("c", 10)
    assert len(cache) == 2
    assert cache.claim("a", 10)  # "a" was the oldest, evicted to make room for "c"


def test_replay_cache_claims_are_atomic_across_threads() -> None:
    cache = InMemoryReplayCache()
    wins: list[bool] = []
    barrier = threading.Barrier(8)

    def claim() -> None:
        barrier.wait()
        wins.append(cache.claim("evt_same", 60))

    threads = [threading.Thread(target=claim) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(wins) == [False] * 7 + [True]


def test_untimed_scheme_keeps_ids_a_day_by_default() -> None:
    recorded: list[float] = []

    class Recording(InMemoryReplayCache):
        def claim(self, webhook_id: str, ttl_seconds: float) -> bool:
            recorded.append(ttl_seconds)
            return super().claim(webhook_id, ttl_seconds)

    secret = "s" * 16 + os.urandom(4).hex()
    WebhookVerifier(secret, scheme="github", replay_cache=Recording()).verify(
        signed("github", [secret]), BODY
    )
    WebhookVerifier(secret, scheme="hmac-sha256", replay_cache=Recording()).verify(
        signed("hmac-sha256", [secret]), BODY
    )
    assert recorded == [24 * 3600.0, 600.0]


def test_an_unknown_scheme_or_no_key_is_refused_up_front() -> None:
    with pytest.raises(UnknownSchemeError):
        WebhookVerifier("k", scheme="md5")
    with pytest.raises(ValueError, match="at least one key"):
        WebhookVerifier([])

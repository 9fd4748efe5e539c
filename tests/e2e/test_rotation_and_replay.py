"""Rotation, the test event, replay and recover through the whole stack: ingest, router,
dispatcher and portal as child processes, a real receiver checking signatures."""

from __future__ import annotations

import asyncio
import base64
import os
import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
import pytest
import standardwebhooks

from tests.e2e.conftest import Stack
from tests.eventually import eventually
from tests.receiver import Received, Receiver, Reply

pytestmark = pytest.mark.timeout(300)

DESTINATIONS = "/v1/workspace/destinations"
DELIVERIES = "/v1/workspace/deliveries"
MakeReceiver = Callable[[], Awaitable[Receiver]]


def own_whsec() -> str:
    return "whsec_" + base64.b64encode(os.urandom(32)).decode()


def verifies(secret: str, received: Received) -> bool:
    try:
        standardwebhooks.Webhook(secret).verify(received.body, received.headers)
    except standardwebhooks.WebhookVerificationError:
        return False
    return True


async def workspace(stack: Stack) -> tuple[dict[str, Any], str]:
    return await stack.admin_workspace()


async def destination(stack: Stack, token: str, url: str, **fields: Any) -> dict[str, Any]:
    body = {"name": "Orders", "url": url, "event_types": ["*"], **fields}
    status, created = await stack.workspace(token, "POST", DESTINATIONS, body)
    assert status == 201, created
    made: dict[str, Any] = created
    return made


async def emit(stack: Stack, key: str, resource_id: str = "ord_1") -> str:
    status, accepted = await stack.emit(
        key,
        {
            "event": "order.completed",
            "resource": "order",
            "resource_id": resource_id,
            "payload": {"total_cents": 12900},
        },
    )
    assert status == 202, accepted
    event_id: str = accepted["id"]
    return event_id


async def deliveries_until(
    stack: Stack,
    token: str,
    destination_id: str,
    done: Callable[[list[dict[str, Any]]], bool],
    timeout: float = 30,
) -> list[dict[str, Any]]:
    """The destination's logged deliveries, once ``done`` holds for them (or fail)."""
    listed: list[list[dict[str, Any]]] = [[]]

    async def reached() -> tuple[list[dict[str, Any]]] | None:
        status, page = await stack.workspace(
            token, "GET", f"{DELIVERIES}?destination_id={destination_id}&limit=100"
        )
        assert status == 200, page
        listed[0] = page["data"]
        return (listed[0],) if done(listed[0]) else None

    found: list[dict[str, Any]]
    (found,) = await eventually(
        reached, lambda: f"the log in the expected state: {listed[0]}", timeout, interval=0.2
    )
    return found


async def rotate(stack: Stack, token: str, destination_id: str, **body: Any) -> dict[str, Any]:
    status, rotated = await stack.workspace(
        token, "POST", f"{DESTINATIONS}/{destination_id}/rotate-secret", body
    )
    assert status == 200, rotated
    answer: dict[str, Any] = rotated
    return answer


async def test_both_secrets_verify_during_the_overlap_and_only_the_new_one_after_a_cut_over(
    stack: Stack, make_receiver: MakeReceiver
) -> None:
    receiver = await make_receiver()
    created, token = await workspace(stack)
    first = await destination(stack, token, receiver.url)
    s1 = first["secret"]

    s2 = (await rotate(stack, token, first["id"], overlap_seconds=3600))["secret"]
    await emit(stack, created["publishable_key"])
    [during] = await receiver.wait_for(1, timeout=30)
    assert len(during.headers["webhook-signature"].split()) == 2
    assert verifies(s1, during) and verifies(s2, during)

    s3 = own_whsec()
    cut = await rotate(stack, token, first["id"], secret=s3, overlap_seconds=0)
    assert "secret" not in cut and len(cut["secrets"]) == 1
    await emit(stack, created["publishable_key"])
    after = (await receiver.wait_for(2, timeout=30))[1]
    assert len(after.headers["webhook-signature"].split()) == 1
    assert verifies(s3, after)
    assert not verifies(s2, after) and not verifies(s1, after)


async def test_a_queued_delivery_is_signed_with_the_secrets_current_when_it_is_sent(
    stack: Stack, make_receiver: MakeReceiver
) -> None:
    receiver = await make_receiver()
    created, token = await workspace(stack)
    first = await destination(stack, token, receiver.url)
    dispatcher = stack.processes["dispatcher"]
    await dispatcher.stop()
    try:
        await emit(stack, created["publishable_key"])
        # Routed and queued (the log saw the delivery record) while nothing sends.
        await deliveries_until(
            stack, token, first["id"], lambda ds: [d["status"] for d in ds] == ["pending"]
        )
        s2 = own_whsec()
        await rotate(stack, token, first["id"], secret=s2, overlap_seconds=0)
    finally:
        await dispatcher.start()
    [sent] = await receiver.wait_for(1, timeout=60)
    assert verifies(s2, sent) and not verifies(first["secret"], sent)


async def test_a_retry_is_signed_with_the_secrets_current_when_it_is_sent(
    stack: Stack, make_receiver: MakeReceiver
) -> None:
    receiver = await make_receiver()
    receiver.script(Reply(status=500))
    created, token = await workspace(stack)
    first = await destination(stack, token, receiver.url)
    event_id = await emit(stack, created["publishable_key"])
    [failed] = await receiver.wait_for(1, timeout=30)
    assert verifies(first["secret"], failed)
    # The retry waits in a delay topic (5 s by default) while the secret is replaced.
    s2 = own_whsec()
    await rotate(stack, token, first["id"], secret=s2, overlap_seconds=0)
    retried = (await receiver.wait_for(2, timeout=60))[1]
    assert retried.headers["webhook-id"] == failed.headers["webhook-id"] == event_id
    assert verifies(s2, retried) and not verifies(first["secret"], retried)


async def test_send_test_event_reports_the_receivers_answer(
    stack: Stack, make_receiver: MakeReceiver
) -> None:
    receiver = await make_receiver()
    _, token = await workspace(stack)
    dst = await destination(stack, token, receiver.url, retry_policy={"max_attempts": 1})
    path = f"{DESTINATIONS}/{dst['id']}/test"

    status, ok = await stack.workspace(token, "POST", path)
    assert status == 200, ok
    assert ok["status"] == "delivered" and ok["http_status"] == 200
    assert ok["response_excerpt"] == "ok" and ok["error"] is None and ok["latency_ms"] >= 0
    [got] = await receiver.wait_for(1)
    assert verifies(dst["secret"], got) and got.headers["webhook-id"] == ok["event_id"]
    body = orjson.loads(got.body)
    assert body["type"] == "signet.test" and body["data"]["destination_id"] == dst["id"]

    receiver.script(Reply(status=500, body=b"database is down"))
    status, failed = await stack.workspace(token, "POST", path)
    assert status == 200, failed
    assert failed["status"] in ("failed", "exhausted") and failed["http_status"] == 500
    assert failed["response_excerpt"] == "database is down"
    assert failed["delivery_id"] != ok["delivery_id"]

    # A disabled destination sends nothing, so there is nothing to test.
    status, _ = await stack.workspace(
        token, "PATCH", f"{DESTINATIONS}/{dst['id']}", {"enabled": False}
    )
    assert status == 200
    status, refused = await stack.workspace(token, "POST", path)
    assert status == 409, refused


async def test_a_replay_has_the_same_webhook_id_and_body_and_a_fresh_signature(
    stack: Stack, make_receiver: MakeReceiver
) -> None:
    receiver = await make_receiver()
    created, token = await workspace(stack)
    dst = await destination(stack, token, receiver.url)
    event_id = await emit(stack, created["publishable_key"])
    [original] = await receiver.wait_for(1, timeout=30)
    [logged] = await deliveries_until(
        stack, token, dst["id"], lambda ds: [d["status"] for d in ds] == ["delivered"]
    )
    assert logged["event_id"] == event_id

    # Signatures carry whole seconds: let one pass so "fresh" is visible.
    sent_at = int(original.headers["webhook-timestamp"])
    await asyncio.sleep(max(0.0, sent_at + 1 - time.time()))  # a clock, not a race
    status, replay = await stack.workspace(token, "POST", f"{DELIVERIES}/{logged['id']}/replay")
    assert status == 202, replay
    assert replay["replay_of"] == logged["id"] and replay["delivery_id"] != logged["id"]

    again = (await receiver.wait_for(2, timeout=30))[1]
    assert again.headers["webhook-id"] == original.headers["webhook-id"] == event_id
    assert again.body == original.body
    assert int(again.headers["webhook-timestamp"]) > sent_at
    assert again.headers["webhook-signature"] != original.headers["webhook-signature"]
    assert verifies(dst["secret"], again)

    # The log shows it as a replay, down to its attempt.
    listed = await deliveries_until(
        stack, token, dst["id"], lambda ds: [d["status"] for d in ds] == ["delivered"] * 2
    )
    [as_replay] = [d for d in listed if d["id"] == replay["delivery_id"]]
    assert as_replay["replay_of"] == logged["id"] and as_replay["event_id"] == event_id
    status, detail = await stack.workspace(token, "GET", f"{DELIVERIES}/{replay['delivery_id']}")
    assert status == 200, detail
    assert [a["replay_of"] for a in detail["attempts"]] == [logged["id"]]

    _, stranger = await workspace(stack)
    status, _ = await stack.workspace(stranger, "POST", f"{DELIVERIES}/{logged['id']}/replay")
    assert status == 404
    status, _ = await stack.workspace(token, "POST", f"{DELIVERIES}/dlv_nope/replay")
    assert status == 404
    status, session = await stack.operator(
        "POST", "/v1/sessions", {"workspace_id": created["id"], "role": "viewer"}
    )
    assert status == 201
    status, _ = await stack.workspace(
        session["token"], "POST", f"{DELIVERIES}/{logged['id']}/replay"
    )
    assert status == 403
    assert len(receiver.requests) == 2  # none of the refusals sent anything


async def test_recover_replays_the_failed_deliveries_of_a_range(
    stack: Stack, make_receiver: MakeReceiver
) -> None:
    receiver = await make_receiver()
    created, token = await workspace(stack)
    dst = await destination(stack, token, receiver.url, retry_policy={"max_attempts": 1})
    healthy = await destination(stack, token, (await make_receiver()).url)
    receiver.script(*(Reply(status=500) for _ in range(3)))
    since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 60))
    events = [await emit(stack, created["publishable_key"], f"ord_{i}") for i in range(3)]
    await receiver.wait_for(3, timeout=30)
    failed = await deliveries_until(
        stack,
        token,
        dst["id"],
        lambda ds: len(ds) == 3 and all(d["status"] in ("failed", "exhausted") for d in ds),
    )
    path = f"{DESTINATIONS}/{dst['id']}/recover"

    status, recovered = await stack.workspace(token, "POST", path, {"since": since})
    assert status == 202, recovered
    assert recovered["replayed"] == 3 and recovered["truncated"] is False
    assert "next_since" not in recovered
    assert sorted(d["replay_of"] for d in recovered["deliveries"]) == sorted(
        d["id"] for d in failed
    )
    replays = (await receiver.wait_for(6, timeout=30))[3:]
    assert sorted(r.headers["webhook-id"] for r in replays) == sorted(events)
    assert all(verifies(dst["secret"], r) for r in replays)

    # A range that ends before the failures replays nothing.
    status, nothing = await stack.workspace(
        token, "POST", path, {"since": "2020-01-01T00:00:00Z", "until": since}
    )
    assert status == 202 and nothing["replayed"] == 0, nothing
    # Only failed deliveries: the healthy destination has none to recover.
    status, none = await stack.workspace(
        token, "POST", f"{DESTINATIONS}/{healthy['id']}/recover", {"since": since}
    )
    assert status == 202 and none["replayed"] == 0, none

    status, bad = await stack.workspace(token, "POST", path, {"since": "yesterday"})
    assert status == 400 and bad["errors"][0]["field"] == "since", bad
    _, stranger = await workspace(stack)
    status, _ = await stack.workspace(stranger, "POST", path, {"since": since})
    assert status == 404
    assert len(receiver.requests) == 6

"""Operational webhooks through the whole stack: the router announces destination
changes, the dispatcher announces exhausted deliveries and recovered destinations, and
sends each to the operator's own receiver (127.0.0.1 here), signed per Standard Webhooks
and checked with the ``standardwebhooks`` package; the operator reads what was sent.

The tests share one stack and so one operator webhook: each sets it afresh.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from tests.e2e.conftest import ServiceSettings, Stack
from tests.eventually import eventually, never
from tests.receiver import Receiver, Reply

pytestmark = pytest.mark.timeout(240)

MakeReceiver = Callable[[], Awaitable[Receiver]]
HOOK = "/v1/operator-webhook"
ALL_TYPES = [
    "destination.created",
    "destination.updated",
    "destination.deleted",
    "destination.disabled",
    "destination.secret_rotated",
    "delivery.exhausted",
    "delivery.recovered",
]


@pytest.fixture(scope="module")
def stack_settings() -> ServiceSettings:
    # Retries a second apart, so exhausting and recovering take seconds.
    return {"dispatcher": {"retry_delays_seconds": "[1]"}}


def own_secret() -> str:
    return "whsec_" + base64.b64encode(os.urandom(32)).decode()


def events(receiver: Receiver, secret: str) -> list[dict[str, Any]]:
    """Every request the receiver answered 2xx, verified; the body with its webhook-id."""
    out = []
    for request in receiver.requests:
        if request.status is None or not 200 <= request.status < 300:
            continue
        body = Webhook(secret).verify(request.body, request.headers)
        out.append({**body, "webhook_id": request.headers["webhook-id"]})
    return out


def of_type(receiver: Receiver, secret: str, event_type: str) -> list[dict[str, Any]]:
    return [e for e in events(receiver, secret) if e["type"] == event_type]


async def workspace(stack: Stack, name: str) -> tuple[str, str, str]:
    """A workspace: its id, an admin token and its publishable key."""
    status, created = await stack.operator(
        "POST", "/v1/workspaces", {"name": name, "environment": "production"}
    )
    assert status == 201, created
    status, session = await stack.operator(
        "POST", "/v1/sessions", {"workspace_id": created["id"], "role": "admin"}
    )
    assert status == 201, session
    return created["id"], session["token"], created["publishable_key"]


async def destination(stack: Stack, token: str, url: str, **extra: Any) -> str:
    status, created = await stack.workspace(
        token,
        "POST",
        "/v1/workspace/destinations",
        {"name": "Orders", "url": url, "event_types": ["order.*"], **extra},
    )
    assert status == 201, created
    destination_id: str = created["id"]
    return destination_id


async def emit(stack: Stack, key: str, n: int) -> str:
    status, accepted = await stack.emit(
        key,
        {"event": "order.completed", "resource": "order", "resource_id": f"o{n}", "payload": {}},
    )
    assert status == 202, accepted
    event_id: str = accepted["id"]
    return event_id


async def test_the_secret_is_generated_once_kept_and_replaced(
    stack: Stack, make_receiver: MakeReceiver
) -> None:
    await stack.operator("DELETE", HOOK)
    status, missing = await stack.operator("GET", HOOK)
    assert status == 404, missing
    receiver = await make_receiver()

    status, first = await stack.operator(
        "PUT", HOOK, {"url": receiver.url, "event_types": ["destination.created"]}
    )
    assert status == 200, first
    generated = first["secret"]
    assert generated.startswith("whsec_")
    assert first["secret_hint"] == "…" + generated[-4:]

    status, shown = await stack.operator("GET", HOOK)
    assert status == 200 and "secret" not in shown, shown
    assert shown["url"] == receiver.url and shown["event_types"] == ["destination.created"]

    # A PUT without a secret keeps it, and does not show it.
    status, kept = await stack.operator(
        "PUT", HOOK, {"url": receiver.url, "event_types": ["destination.created"]}
    )
    assert status == 200 and "secret" not in kept, kept
    assert kept["secret_hint"] == first["secret_hint"]
    _, token, _ = await workspace(stack, "Kept")
    first_id = await destination(stack, token, "https://example.com/a")
    (created,) = await eventually(
        lambda: of_type(receiver, generated, "destination.created"), "signed with the kept secret"
    )
    assert created["data"]["destination_id"] == first_id

    # A PUT with a secret replaces it. The dispatcher follows the webhook's topic, so it
    # signs with the new secret a moment after the PUT answers (an event sent in that
    # moment still carries the old one); from then on only the new one verifies.
    replaced = own_secret()
    status, put = await stack.operator(
        "PUT",
        HOOK,
        {"url": receiver.url, "secret": replaced, "event_types": ["destination.created"]},
    )
    assert status == 200 and "secret" not in put, put
    created_ids = [first_id]

    async def signed_with_the_new_secret() -> tuple[str, Any] | None:
        if len(receiver.requests) < len(created_ids):
            return None  # the last one has not arrived yet
        last = receiver.requests[-1]
        try:
            Webhook(replaced).verify(last.body, last.headers)
        except WebhookVerificationError:
            created_ids.append(await destination(stack, token, "https://example.com/b"))
            return None
        return created_ids[-1], last

    newest_id, last = await eventually(
        signed_with_the_new_secret, "an event signed with the new secret", interval=0.2
    )
    assert Webhook(replaced).verify(last.body, last.headers)["data"]["destination_id"] == newest_id
    with pytest.raises(Exception, match="signature"):
        Webhook(generated).verify(last.body, last.headers)
    assert len(created_ids) <= 4, "the new secret took more than a few events to apply"

    status, bad = await stack.operator(
        "PUT", HOOK, {"url": "ftp://x", "secret": "nope", "event_types": ["nope"]}
    )
    assert status == 400, bad
    assert {e["field"] for e in bad["errors"]} >= {"url", "secret", "event_types[0]"}


async def test_each_event_type_arrives_once_with_its_data(
    stack: Stack, make_receiver: MakeReceiver
) -> None:
    operator = await make_receiver()
    status, hook = await stack.operator(
        "PUT", HOOK, {"url": operator.url, "secret": (secret := own_secret())}
    )
    assert status == 200 and hook["event_types"] == ALL_TYPES, hook
    workspace_id, token, key = await workspace(stack, "Everything")

    # created, updated, secret_rotated, deleted
    plain = await destination(stack, token, "https://example.com/plain")
    path = f"/v1/workspace/destinations/{plain}"
    status, _ = await stack.workspace(token, "PATCH", path, {"name": "Renamed"})
    assert status == 200
    status, _ = await stack.workspace(token, "POST", path + "/rotate-secret", {})
    assert status == 200
    status, _ = await stack.workspace(token, "DELETE", path)
    assert status == 204

    # recovered: 500, then the retry delivers
    flaky_receiver = await make_receiver()
    flaky_receiver.script(Reply(status=500))
    flaky = await destination(stack, token, flaky_receiver.url)
    await emit(stack, key, 1)
    await flaky_receiver.wait_for(2, timeout=30)

    # exhausted: two attempts, both 500
    failing_receiver = await make_receiver()
    failing_receiver.default = Reply(status=500)
    failing = await destination(
        stack, token, failing_receiver.url, retry_policy={"max_attempts": 2}
    )
    # disabled: 410
    gone_receiver = await make_receiver()
    gone_receiver.default = Reply(status=410)
    gone = await destination(stack, token, gone_receiver.url)
    exhausted_event = await emit(stack, key, 2)

    def all_arrived() -> dict[str, list[dict[str, Any]]] | None:
        seen = {t: of_type(operator, secret, t) for t in ALL_TYPES}
        return seen if all(seen.values()) else None

    seen = await eventually(
        all_arrived, lambda: f"every type; seen {[e['type'] for e in events(operator, secret)]}", 60
    )
    for event in events(operator, secret):
        assert event["data"]["workspace_id"] == workspace_id
    created_ids = {e["data"]["destination_id"] for e in seen["destination.created"]}
    assert created_ids == {plain, flaky, failing, gone}
    (updated,) = seen["destination.updated"]
    assert updated["data"]["destination_id"] == plain and updated["data"]["changed"] == ["name"]
    assert updated["data"]["name"] == "Renamed"
    (rotated,) = seen["destination.secret_rotated"]
    assert rotated["data"]["destination_id"] == plain
    (deleted,) = seen["destination.deleted"]
    assert deleted["data"]["destination_id"] == plain
    (recovered,) = seen["delivery.recovered"]
    assert recovered["data"]["destination_id"] == flaky
    (exhausted,) = seen["delivery.exhausted"]
    assert exhausted["data"]["destination_id"] == failing
    assert exhausted["data"]["event_id"] == exhausted_event
    assert exhausted["data"]["attempts"] == 2 and exhausted["data"]["http_status"] == 500
    (disabled,) = seen["destination.disabled"]
    assert disabled["data"]["destination_id"] == gone
    assert disabled["data"]["cause"] == "gone" and disabled["data"]["http_status"] == 410
    assert "410" in disabled["data"]["reason"]
    for event in events(operator, secret):
        assert event["timestamp"].endswith("Z")

    # Once each, also after a router that restarts without committing (SIGKILL): the
    # commands it applies again are known to be applied, and announce nothing.
    router = stack.processes["router"]
    router.kill()
    await router.stop()
    await router.start()
    _, other_token, _ = await workspace(stack, "After the restart")
    after = await destination(stack, other_token, "https://example.com/after")
    await eventually(
        lambda: [
            e
            for e in of_type(operator, secret, "destination.created")
            if e["data"]["destination_id"] == after
        ],
        "an event after the restart",
        60,
    )
    counts = {t: len(of_type(operator, secret, t)) for t in ALL_TYPES}
    assert counts == {**{t: 1 for t in ALL_TYPES}, "destination.created": 5}, counts
    ids = [e["webhook_id"] for e in events(operator, secret)]
    assert len(ids) == len(set(ids))

    # The operator reads what was sent: type, status, attempts.
    async def all_logged() -> dict[str, dict[str, Any]] | None:
        status, page = await stack.operator("GET", HOOK + "/deliveries?limit=100")
        assert status == 200, page
        listed = {d["event_id"]: d for d in page["data"] if d["status"] == "delivered"}
        return listed if set(listed) >= set(ids) else None

    listed = await eventually(all_logged, "every event in the operator's log")
    assert {d["event_type"] for d in listed.values()} >= set(ALL_TYPES)
    one = listed[exhausted["webhook_id"]]
    assert one["status"] == "delivered" and one["attempts"] == 1
    status, detail = await stack.operator("GET", f"{HOOK}/deliveries/{one['id']}")
    assert status == 200, detail
    (attempt,) = detail["attempts"]
    assert attempt["http_status"] == 200 and attempt["url"] == operator.url
    status, _ = await stack.operator("GET", f"{HOOK}/deliveries/dlv_nothing")
    assert status == 404
    # ... and no customer can: the operator's log is no workspace's.
    status, theirs = await stack.workspace(token, "GET", "/v1/workspace/deliveries?limit=100")
    assert status == 200
    assert not {d["event_id"] for d in theirs["data"]} & set(ids)


async def test_a_failed_attempt_is_retried_with_the_same_webhook_id(
    stack: Stack, make_receiver: MakeReceiver
) -> None:
    operator = await make_receiver()
    operator.script(Reply(status=500))
    secret = own_secret()
    status, _ = await stack.operator(
        "PUT", HOOK, {"url": operator.url, "secret": secret, "event_types": ["destination.created"]}
    )
    assert status == 200
    _, token, _ = await workspace(stack, "Retry")
    destination_id = await destination(stack, token, "https://example.com/retried")
    first, second = await operator.wait_for(2, timeout=30)
    assert first.status == 500 and second.status == 200
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    for request in (first, second):
        body = Webhook(secret).verify(request.body, request.headers)
        assert body["data"]["destination_id"] == destination_id

    async def logged() -> dict[str, Any] | None:
        query = "/deliveries?event_type=destination.created"
        status, page = await stack.operator("GET", HOOK + query)
        assert status == 200, page
        wanted = first.headers["webhook-id"]
        found = [d for d in page["data"] if d["event_id"] == wanted and d["attempts"] == 2]
        return found[0] if found else None

    both = await eventually(logged, "both attempts in the operator's log")
    assert both["status"] == "delivered"


async def test_event_types_filter_and_delete_stops_deliveries(
    stack: Stack, make_receiver: MakeReceiver
) -> None:
    operator = await make_receiver()
    secret = own_secret()
    status, _ = await stack.operator(
        "PUT", HOOK, {"url": operator.url, "secret": secret, "event_types": ["destination.deleted"]}
    )
    assert status == 200
    _, token, _ = await workspace(stack, "Filtered")
    destination_id = await destination(stack, token, "https://example.com/filtered")
    status, _ = await stack.workspace(
        token, "DELETE", f"/v1/workspace/destinations/{destination_id}"
    )
    assert status == 204
    (deleted,) = await eventually(lambda: events(operator, secret), "the deletion")
    assert deleted["type"] == "destination.deleted"
    assert deleted["data"]["destination_id"] == destination_id

    status, _ = await stack.operator("DELETE", HOOK)
    assert status == 204
    status, _ = await stack.operator("GET", HOOK)
    assert status == 404
    status, _ = await stack.operator("DELETE", HOOK)  # idempotent
    assert status == 204
    another = await destination(stack, token, "https://example.com/unheard")
    await stack.workspace(token, "DELETE", f"/v1/workspace/destinations/{another}")
    await never(lambda: len(operator.requests) > 1, "a delivery after DELETE", 3.0)


async def test_the_operator_routes_need_the_operator_key(stack: Stack) -> None:
    for method, path in (
        ("GET", HOOK),
        ("PUT", HOOK),
        ("DELETE", HOOK),
        ("GET", HOOK + "/deliveries"),
    ):
        status, problem = await stack._call(method, stack.portal_url + path, "not-the-key", {})
        assert status == 401, (method, path, problem)


async def test_an_event_waiting_for_its_retry_ends_unsent_once_the_webhook_is_deleted(
    stack: Stack, make_receiver: MakeReceiver
) -> None:
    operator = await make_receiver()
    operator.default = Reply(status=500)
    status, _ = await stack.operator(
        "PUT",
        HOOK,
        {"url": operator.url, "secret": own_secret(), "event_types": ["destination.created"]},
    )
    assert status == 200
    _, token, _ = await workspace(stack, "Queued")
    await destination(stack, token, "https://example.com/queued")
    (first,) = await operator.wait_for(1, timeout=30)
    status, _ = await stack.operator("DELETE", HOOK)
    assert status == 204

    async def ended() -> dict[str, Any] | None:
        wanted = first.headers["webhook-id"]
        status, page = await stack.operator("GET", HOOK + "/deliveries?status=failed")
        assert status == 200, page
        found = [d for d in page["data"] if d["event_id"] == wanted and d["attempts"] >= 2]
        return found[0] if found else None

    logged = await eventually(ended, "the queued retry, ended")
    status, detail = await stack.operator("GET", f"{HOOK}/deliveries/{logged['id']}")
    assert status == 200, detail
    assert detail["attempts"][-1]["error"] == "no operator webhook is set"
    assert detail["attempts"][-1]["next_attempt_at"] is None
    assert len(operator.requests) == 1  # the retry was never sent

"""The events clients' one request/response logic (``signet_sdk/client/flows.py``), driven
without a transport: each test answers the requests a flow yields, as a server would."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from signet_sdk.client import (
    AuthenticationError,
    IdempotencyConflictError,
    InvalidEventError,
    RetryPolicy,
    UnavailableError,
)
from signet_sdk.client.flows import (
    BULK_PATH,
    EVENTS_PATH,
    Flow,
    NetworkFailure,
    Pause,
    Reply,
    Request,
    Response,
    T,
    bulk_flow,
    emit_flow,
)

HEADERS = {"authorization": "Bearer pk_test_x"}
EVENT = {"event": "order.completed", "resource": "order", "resource_id": "o1", "payload": {}}
POLICY = RetryPolicy(max_attempts=3, initial_backoff_seconds=0.01)


def answer(status: int, body: Any = None, **headers: str) -> Response:
    return Response(status, headers, orjson.dumps(body) if body is not None else b"")


def drive(flow: Flow[T], replies: list[Reply]) -> tuple[T, list[Request], list[float]]:
    """Run ``flow`` to its end, answering its requests with ``replies`` in order; its
    result, the requests it made and the pauses it asked for."""
    requests: list[Request] = []
    pauses: list[float] = []
    pending = iter(replies)
    try:
        step = next(flow)
        while True:
            if isinstance(step, Pause):
                pauses.append(step.seconds)
                step = flow.send(None)
            else:
                requests.append(step)
                step = flow.send(next(pending))
    except StopIteration as done:
        result: T = done.value
        return result, requests, pauses


def test_an_emit_is_retried_with_the_same_key_until_it_is_acknowledged() -> None:
    replies: list[Reply] = [
        answer(503, {"title": "busy"}, **{"retry-after": "2"}),
        NetworkFailure("ConnectionResetError"),
        answer(202, {"id": "evt_1"}),
    ]
    event_id, requests, pauses = drive(emit_flow(HEADERS, EVENT, "key-1", POLICY), replies)
    assert event_id == "evt_1"
    assert [r.path for r in requests] == [EVENTS_PATH] * 3
    assert {r.headers["idempotency-key"] for r in requests} == {"key-1"}
    assert pauses[0] == 2.0  # Retry-After honoured
    assert 0 <= pauses[1] <= POLICY.initial_backoff_seconds * 2


def test_an_emit_gives_up_after_its_attempts() -> None:
    with pytest.raises(UnavailableError, match="no acknowledgement after 3 attempts"):
        drive(emit_flow(HEADERS, EVENT, "key-1", POLICY), [answer(502)] * 3)


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (401, AuthenticationError),
        (403, AuthenticationError),
        (400, InvalidEventError),
        (413, InvalidEventError),
        (422, IdempotencyConflictError),
    ],
)
def test_an_answer_that_is_not_retried_is_its_error(status: int, error: type[Exception]) -> None:
    problem = {"title": "no", "errors": [{"field": "event", "code": "format", "message": "x"}]}
    with pytest.raises(error) as raised:
        drive(emit_flow(HEADERS, EVENT, "key-1", POLICY), [answer(status, problem)])
    assert getattr(raised.value, "status", None) == status


def test_a_bulk_sends_again_only_what_failed_with_the_same_keys() -> None:
    events = [EVENT, {**EVENT, "resource_id": "o2"}, {**EVENT, "id": "mine"}]
    first = answer(
        202,
        {
            "results": [
                {"index": 0, "status": "accepted", "id": "evt_0"},
                {"index": 1, "status": "failed", "error": {"title": "not acknowledged"}},
                {"index": 2, "status": "rejected", "error": {"errors": []}},
            ]
        },
    )
    second = answer(202, {"results": [{"index": 0, "status": "accepted", "id": "evt_1"}]})
    items, requests, _ = drive(bulk_flow(HEADERS, events, POLICY, 500), [first, second])
    assert [i.status for i in items] == ["accepted", "accepted", "rejected"]
    assert [i.id for i in items[:2]] == ["evt_0", "evt_1"]
    assert items[2].idempotency_key == "mine"  # the caller's key kept
    sent = [orjson.loads(r.body)["events"] for r in requests]
    assert [r.path for r in requests] == [BULK_PATH, BULK_PATH]
    assert [e["id"] for e in sent[1]] == [sent[0][1]["id"]]  # the failed one, same key


def test_a_bulk_splits_into_chunks_and_maps_field_errors_to_each_event() -> None:
    events = [{**EVENT, "resource_id": f"o{n}"} for n in range(3)]
    chunk_one = answer(
        202,
        {"results": [{"index": n, "status": "accepted", "id": f"evt_{n}"} for n in range(2)]},
    )
    chunk_two = answer(
        400, {"errors": [{"field": "events[0].payload", "code": "type", "message": "x"}]}
    )
    items, requests, _ = drive(bulk_flow(HEADERS, events, POLICY, 2), [chunk_one, chunk_two])
    assert len(requests) == 2
    assert [i.status for i in items] == ["accepted", "accepted", "rejected"]
    assert items[2].error == {"errors": [{"field": "payload", "code": "type", "message": "x"}]}

"""Outcome records (one per attempt) and their acknowledged write to ``signet.outcomes``.

An outcome is what makes an offset complete, so ``OutcomeWriter.write`` returns only once
the broker acknowledged it, retrying a refusing broker until it does or the caller gives
up (cancellation at the end of a shutdown drain: the offset then stays uncommitted and
the delivery is redone after the restart).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from functools import partial

from signet_sdk.ids import new_id, now_ms

from services.dispatcher.policy import Verdict
from services.dispatcher.results import AttemptResult
from signet.backoff import retry_until_done
from signet.errors import BrokerError
from signet.kafka.clients import AsyncProducer
from signet.kafka.topics import Topics, outcome_headers
from signet.records import codec
from signet.records.model import Delivery, Outcome, OutcomeStatus

logger = logging.getLogger(__name__)


def build_outcome(
    delivery: Delivery,
    result: AttemptResult,
    verdict: Verdict,
    *,
    url: str | None,
    request_headers: Mapping[str, str],
    attempted_at: int | None = None,
    status: OutcomeStatus | None = None,
    next_attempt_at: int | None = None,
    gave_up: str | None = None,
) -> Outcome:
    """One attempt's outcome; ``status`` defaults to delivered or failed by the verdict.

    ``next_attempt_at`` says when the retry is due; ``gave_up`` (with status
    ``exhausted``) is added to the error to say why there is none.
    """
    if status is None:
        status = OutcomeStatus.DELIVERED if verdict.delivered else OutcomeStatus.FAILED
    error = None if verdict.delivered else (result.error or verdict.reason)
    if gave_up is not None:
        error = f"{error}; {gave_up}" if error else gave_up
    return Outcome(
        id=new_id("att"),
        status=status.value,
        delivery_id=delivery.id,
        event_id=delivery.event_id,
        workspace_id=delivery.workspace_id,
        destination_id=delivery.destination_id,
        event_type=delivery.event_type,
        attempt=delivery.attempt,
        attempted_at=attempted_at if attempted_at is not None else now_ms(),
        event_created_at=delivery.event_created_at,
        url=url,
        http_status=result.http_status,
        latency_ms=result.latency_ms,
        error=error,
        response_excerpt=result.response_excerpt,
        request_headers=dict(request_headers),
        next_attempt_at=next_attempt_at,
        replay_of=delivery.replay_of,
    )


class OutcomeWriter:
    def __init__(self, producer: AsyncProducer, topics: Topics) -> None:
        self._producer = producer
        self._topic = topics.outcomes
        self.retries = 0

    async def write(self, outcome: Outcome) -> None:
        def refused(exc: BaseException, _: float) -> None:
            self.retries += 1
            logger.warning("outcome %s not acknowledged (%s); retrying", outcome.id, exc)

        send = partial(
            self._producer.send,
            self._topic,
            codec.encode(outcome),
            key=outcome.workspace_id,
            headers=outcome_headers(outcome.status),
        )
        await retry_until_done(send, retry_on=BrokerError, on_retry=refused)

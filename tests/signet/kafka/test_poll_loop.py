"""poll_until_stopped: the poll loop of every confluent consumer outlives failures,
backs off while they last, and stops when told."""

from __future__ import annotations

import asyncio
import logging

import pytest
from confluent_kafka import KafkaError, KafkaException

from signet.kafka.consumer import poll_until_stopped

logger = logging.getLogger("test.poll")


class Stop(Exception):
    pass


async def test_failures_back_off_successes_reset_and_stopping_ends_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    stopping = asyncio.Event()
    outcomes: list[BaseException | None] = [
        KafkaException(KafkaError(KafkaError._TRANSPORT)),
        ValueError("a bug"),
        None,
        KafkaException(KafkaError(KafkaError._TRANSPORT)),
        None,
    ]
    pauses: list[float] = []

    async def once() -> None:
        outcome = outcomes.pop(0)
        if not outcomes:
            stopping.set()
        if outcome is not None:
            raise outcome

    async def pause(seconds: float) -> None:
        pauses.append(seconds)

    with caplog.at_level(logging.WARNING, logger="test.poll"):
        await poll_until_stopped(
            once, stopping=stopping, what="test consumer", logger=logger, pause=pause
        )

    assert outcomes == []
    assert pauses == [0.1, 0.2, 0.1]  # grew while failing, started over after a success
    kinds = [(r.levelno, r.exc_info is not None) for r in caplog.records]
    # an expected Kafka error is a warning; anything else is logged with its traceback
    assert kinds == [(logging.WARNING, False), (logging.ERROR, True), (logging.WARNING, False)]
    assert caplog.records[0].getMessage().startswith("test consumer: ")


async def test_a_stop_error_from_the_work_or_the_pause_ends_it_quietly() -> None:
    stopping = asyncio.Event()
    calls = 0

    async def once() -> None:
        nonlocal calls
        calls += 1
        raise KafkaException(KafkaError(KafkaError._TRANSPORT))

    async def pause(_: float) -> None:
        raise Stop  # the service began stopping while it waited

    await poll_until_stopped(
        once, stopping=stopping, what="t", logger=logger, stop_on=(Stop,), pause=pause
    )
    assert calls == 1

    async def stops() -> None:
        raise Stop

    await poll_until_stopped(stops, stopping=stopping, what="t", logger=logger, stop_on=(Stop,))

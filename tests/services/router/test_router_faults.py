"""How the router tells a dead Kafka client or a hung worker from a broker that is merely
away, and what it does then: its ``faust`` or ``broker-reader`` state says why (``/readyz``
503) and the worker asks to be restarted once. Pure logic with a fake clock, plus one
in-process check that the probes still find aiokafka's tasks in the pinned versions."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, cast

import pytest
from aiokafka import errors as aiokafka_errors
from confluent_kafka import Consumer, KafkaError, KafkaException
from faust.exceptions import ProducerSendError
from faust.types import TableT
from prometheus_client import CollectorRegistry

from services.router import backfill, liveness
from services.router.app import RouterService
from services.router.backfill import BrokerReader
from services.router.liveness import (
    LivenessGuard,
    StallWatchdog,
    dead_client_reason,
    dead_task_reason,
)
from services.router.streams import TableSnapshots
from signet.dev.broker import free_port
from signet.errors import BrokerError
from signet.kafka.health import ClientState
from signet.kafka.topics import ensure_topics
from signet.settings import CommonSettings, RouterSettings
from tests.eventually import eventually, never


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def restarts(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The reasons the router asked to be restarted (instead of asking)."""
    asked: list[str] = []
    monkeypatch.setattr(liveness, "request_restart", asked.append)
    monkeypatch.setattr(backfill, "request_restart", asked.append)
    return asked


def wrapped(cause: BaseException) -> ProducerSendError:
    """An aiokafka error as Faust's producer raises it."""
    try:
        raise ProducerSendError(f"Error while sending: {cause!r}") from cause
    except ProducerSendError as exc:
        return exc


# -- which errors mean a dead client ---------------------------------------------------


@pytest.mark.parametrize(
    "error",
    [
        aiokafka_errors.ProducerFenced(),
        aiokafka_errors.OutOfOrderSequenceNumber(),
        aiokafka_errors.UnknownProducerId(),
        aiokafka_errors.InvalidProducerEpoch(),
        aiokafka_errors.ProducerClosed(),
        aiokafka_errors.ConsumerStoppedError(),
        wrapped(aiokafka_errors.OutOfOrderSequenceNumber()),
        KafkaException(KafkaError(KafkaError._FENCED, "fenced", fatal=True)),
    ],
)
def test_errors_that_leave_the_client_dead(error: BaseException) -> None:
    assert dead_client_reason(error) is not None


@pytest.mark.parametrize(
    "error",
    [
        aiokafka_errors.RequestTimedOutError(),
        aiokafka_errors.KafkaTimeoutError(),
        aiokafka_errors.KafkaConnectionError("Connection at 127.0.0.1:9092 closed"),
        aiokafka_errors.NotCoordinatorForGroupError(),
        aiokafka_errors.RebalanceInProgressError(),
        # A seek on a partition a rebalance just took away: the next assignment mends it.
        aiokafka_errors.IllegalStateError("No current assignment for partition"),
        wrapped(aiokafka_errors.KafkaTimeoutError()),
        KafkaException(KafkaError(KafkaError._TRANSPORT, "broker down")),
        BrokerError("no acknowledgement"),
    ],
)
def test_errors_worth_retrying(error: BaseException) -> None:
    assert dead_client_reason(error) is None


def test_a_cycle_in_the_exception_chain_ends_the_search() -> None:
    first, second = RuntimeError("a"), RuntimeError("b")
    first.__context__, second.__context__ = second, first
    assert dead_client_reason(first) is None


async def test_a_background_task_that_ended_means_a_dead_client() -> None:
    async def fails() -> None:
        raise aiokafka_errors.KafkaError("Unexpected error during batch delivery")

    async def returns() -> None:
        return None

    running = asyncio.create_task(asyncio.Event().wait())  # runs until cancelled
    failed, ended = asyncio.create_task(fails()), asyncio.create_task(returns())
    cancelled = asyncio.create_task(asyncio.Event().wait())
    cancelled.cancel()
    await asyncio.gather(failed, ended, cancelled, return_exceptions=True)
    try:
        assert dead_task_reason("sender", None) is None
        assert dead_task_reason("sender", running) is None
        assert dead_task_reason("sender", ended) == "sender ended"
        assert dead_task_reason("sender", cancelled) == "sender was cancelled"
        reason = dead_task_reason("sender", failed)
        assert reason is not None and "Unexpected error during batch delivery" in reason
    finally:
        running.cancel()


# -- the stall watchdog ----------------------------------------------------------------


def test_no_sign_of_life_past_the_limit_with_the_broker_reachable_is_a_stall() -> None:
    clock = FakeClock()
    watchdog = StallWatchdog(90, clock=clock)
    clock.now += 89
    assert watchdog.stalled_for(reachable=True) is None
    clock.now += 2
    assert watchdog.stalled_for(reachable=True) == 91


def test_signs_of_life_keep_the_watchdog_quiet() -> None:
    clock = FakeClock()
    watchdog = StallWatchdog(90, clock=clock)
    for _ in range(10):
        clock.now += 60
        watchdog.alive()
        assert watchdog.stalled_for(reachable=True) is None


def test_time_with_the_broker_away_does_not_count() -> None:
    clock = FakeClock()
    watchdog = StallWatchdog(90, clock=clock)
    # Handlers waiting for acknowledgements through a long stall show no sign of life.
    clock.now += 300
    assert watchdog.stalled_for(reachable=False) is None
    clock.now += 1
    assert watchdog.stalled_for(reachable=True) is None  # back now: counting from here
    clock.now += 89
    assert watchdog.stalled_for(reachable=True) is None
    clock.now += 1
    assert watchdog.stalled_for(reachable=True) == 90


# -- the guard: 503 with the reason, one restart ---------------------------------------


def test_a_dead_client_marks_the_state_and_restarts_once(restarts: list[str]) -> None:
    state = ClientState("faust")
    dead: list[str | None] = [None]
    guard = LivenessGuard(
        state, StallWatchdog(90), reachable=lambda: True, dead_client=lambda: dead[0]
    )
    guard.check()
    assert state.dead_for is None and restarts == []
    dead[0] = "the Faust producer's sender ended"
    guard.check()
    guard.check()
    assert state.dead_for is not None and state.reason == "the Faust producer's sender ended"
    assert restarts == ["router: the Faust producer's sender ended"]
    guard.report("the Faust app stopped on its own")  # already restarting
    assert len(restarts) == 1


def test_a_stall_marks_the_state_and_restarts(restarts: list[str]) -> None:
    clock = FakeClock()
    state = ClientState("faust")
    guard = LivenessGuard(
        state, StallWatchdog(90, clock=clock), reachable=lambda: True, dead_client=lambda: None
    )
    clock.now += 100
    guard.check()
    assert state.reason == "no progress for 100s with the broker reachable (limit 90s)"
    assert restarts == [f"router: {state.reason}"]


async def test_the_guard_checks_on_its_own_until_stopped(restarts: list[str]) -> None:
    checks: list[None] = []

    def dead_client() -> str | None:
        checks.append(None)
        return None

    guard = LivenessGuard(
        ClientState("faust"),
        StallWatchdog(90),
        reachable=lambda: True,
        dead_client=dead_client,
        interval=0.01,
    )
    await guard.start()
    await eventually(lambda: len(checks) >= 3, "checked three times", 5)
    await guard.stop()
    seen = len(checks)
    await never(lambda: len(checks) > seen, "a check after the guard stopped", 0.05)
    assert restarts == []


def test_a_changelog_write_that_can_never_succeed_reports_the_producer_dead() -> None:
    reported: list[str] = []
    snapshots = TableSnapshots(cast(TableT[bytes, bytes], None), reported.append)
    loop = asyncio.new_event_loop()
    try:
        timed_out, fenced = loop.create_future(), loop.create_future()
        timed_out.set_exception(aiokafka_errors.KafkaTimeoutError())
        fenced.set_exception(aiokafka_errors.ProducerFenced())
        snapshots._check_sent(timed_out)  # the command path sends it again
        assert reported == []
        snapshots._check_sent(fenced)
        assert len(reported) == 1 and "ProducerFenced" in reported[0]
    finally:
        loop.close()


# -- the broker reader (librdkafka) ----------------------------------------------------


def started_reader() -> BrokerReader:
    reader = BrokerReader(RouterSettings(), "t.router")
    reader._consumer = cast(Consumer, object())  # calls are faked below
    return reader


def test_a_fatal_librdkafka_error_restarts_and_other_errors_do_not(restarts: list[str]) -> None:
    reader = started_reader()
    reader._on_error(KafkaError(KafkaError._ALL_BROKERS_DOWN, "all brokers down"))
    assert reader.state.dead_for is None and restarts == []
    reader._on_error(KafkaError(KafkaError._FENCED, "fenced", fatal=True))
    reader._on_error(KafkaError(KafkaError._FENCED, "fenced", fatal=True))
    assert reader.state.dead_for is not None
    assert restarts == ["router broker reader: fenced"]


async def test_a_read_retries_until_the_broker_answers_but_not_past_a_fatal_error(
    restarts: list[str],
) -> None:
    reader = started_reader()
    answers: list[BaseException | int] = [
        KafkaException(KafkaError(KafkaError._TIMED_OUT, "timed out")),
        42,
    ]

    def call(consumer: Any) -> int:
        answer = answers.pop(0)
        if isinstance(answer, BaseException):
            raise answer
        return answer

    assert await reader._retrying("a range", call) == 42
    assert restarts == []

    def fatal(consumer: Any) -> int:
        raise KafkaException(KafkaError(KafkaError._FATAL, "gone", fatal=True))

    with pytest.raises(BrokerError, match="gone"):
        await reader._retrying("a range", fatal)
    assert reader.state.dead_for is not None and restarts == ["router broker reader: gone"]


# -- the probes against the pinned Faust and aiokafka ----------------------------------


@pytest.fixture
async def router(
    kafka_settings: CommonSettings, tmp_path: Path, restarts: list[str]
) -> AsyncIterator[RouterService]:
    """A router worker in-process, ready; its restarts land in ``restarts``."""
    settings = RouterSettings(
        **{
            **kafka_settings.model_dump(),
            # Topics and a group of its own: no wait for an earlier test's member.
            "topic_prefix": f"t{uuid.uuid4().hex[:8]}.",
            "web_port": free_port(),
            "data_dir": tmp_path,
            "consumer_session_timeout_seconds": 6,
        }
    )
    await asyncio.to_thread(ensure_topics, settings)
    service = RouterService(settings, CollectorRegistry())
    await service.start()
    try:
        await eventually(service.ready, "ready", 60)
        yield service
    finally:
        await service.stop()


async def signs_of_life(watchdog: StallWatchdog, count: int) -> None:
    """Until the watchdog heard ``count`` more signs of life (rounds of the fetch loop)."""
    heard = [watchdog._last_sign]

    def turned() -> bool:
        if watchdog._last_sign != heard[-1]:
            heard.append(watchdog._last_sign)
        return len(heard) > count

    await eventually(turned, f"{count} rounds of the fetch loop", 30)


async def test_the_probe_finds_a_faust_client_that_died_in_the_background(
    router: RouterService, restarts: list[str]
) -> None:
    streams = router._streams
    assert streams.dead_client() is None
    # The aiokafka producer's sender task ends: nothing raises until the next send.
    producer: Any = streams.app.producer
    producer._producer._sender.sender_task.cancel()
    await eventually(lambda: not router.kafka_health.ready, "reported", 10)
    assert "kafka client faust dead (the Faust producer's sender ended)" in (
        router.kafka_health.why_not_ready()
    )
    assert restarts == ["router: the Faust producer's sender ended"]


async def test_a_fetch_loop_left_with_only_paused_partitions_is_a_stall(
    router: RouterService, restarts: list[str]
) -> None:
    await signs_of_life(router._watchdog, 2)  # past the start-up (join, recovery)
    router._watchdog.quiet_limit = 2.5
    # Idle, the loop still turns about once a second (each fetch wait): no stall, for
    # longer than the limit. A negative check: it takes the 4 s on purpose.
    await never(lambda: restarts, "a stall reported while the idle loop turns", 4)
    consumer = router._streams.app.consumer
    consumer.pause_partitions(consumer.assignment())
    await eventually(lambda: bool(restarts), "a stall reported", 10)
    assert "no progress for" in restarts[0]
    assert not router.kafka_health.ready

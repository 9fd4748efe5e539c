"""The circuit breaker's state machine, on a fake clock."""

from __future__ import annotations

import pytest

from services.dispatcher.breaker import Admission, CircuitBreakers, CircuitState


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def breakers(clock: Clock) -> CircuitBreakers:
    return CircuitBreakers(threshold=3, cooldown_seconds=10, max_cooldown_seconds=25, clock=clock)


def test_opens_after_consecutive_failures_only(breakers: CircuitBreakers) -> None:
    breakers.failed("d")
    breakers.failed("d")
    breakers.succeeded("d")  # a success resets the count
    breakers.failed("d")
    breakers.failed("d")
    assert breakers.admit("d").admission is Admission.SEND
    breakers.failed("d")
    decision = breakers.admit("d")
    assert decision.admission is Admission.BLOCK
    assert decision.failures == 3 and decision.retry_in_seconds == 10
    assert breakers.state("d") is CircuitState.OPEN and breakers.opened == 1
    assert breakers.admit("other").admission is Admission.SEND  # per destination


def test_one_probe_after_the_cooldown_and_it_closes_on_success(
    breakers: CircuitBreakers, clock: Clock
) -> None:
    for _ in range(3):
        breakers.failed("d")
    clock.now += 9.5
    assert breakers.admit("d").retry_in_seconds == pytest.approx(0.5)
    clock.now += 0.5
    assert breakers.state("d") is CircuitState.HALF_OPEN
    assert breakers.admit("d").admission is Admission.PROBE
    assert breakers.admit("d").admission is Admission.BLOCK  # one probe at a time
    breakers.succeeded("d")
    assert breakers.state("d") is CircuitState.CLOSED
    assert breakers.admit("d").admission is Admission.SEND
    assert breakers.open_circuits == 0


def test_a_failed_probe_reopens_with_a_doubled_capped_cooldown(
    breakers: CircuitBreakers, clock: Clock
) -> None:
    for _ in range(3):
        breakers.failed("d")
    for expected in (20, 25, 25):  # 10 → 20 → capped at 25
        clock.now += 100
        assert breakers.admit("d").admission is Admission.PROBE
        breakers.failed("d", probe=True)
        decision = breakers.admit("d")
        assert decision.admission is Admission.BLOCK
        assert decision.retry_in_seconds == expected


def test_an_abandoned_probe_lets_the_next_one_go(breakers: CircuitBreakers, clock: Clock) -> None:
    for _ in range(3):
        breakers.failed("d")
    clock.now += 10
    assert breakers.admit("d").admission is Admission.PROBE
    breakers.probe_abandoned("d")
    assert breakers.admit("d").admission is Admission.PROBE


def test_failures_while_open_do_not_extend_it(breakers: CircuitBreakers, clock: Clock) -> None:
    for _ in range(3):
        breakers.failed("d")
    clock.now += 5
    breakers.failed("d")  # a request started before it opened, failing late
    clock.now += 5
    assert breakers.admit("d").admission is Admission.PROBE

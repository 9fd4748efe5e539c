"""A circuit breaker per destination: stop sending to an endpoint that keeps failing.

Closed: requests go out; ``threshold`` consecutive failures open the circuit. Open: no
request goes out (the pipeline schedules the delivery's next attempt instead) until the
cool-down has passed. Half-open: exactly one request (the probe) goes out; its success
closes the circuit, its failure opens it again with the cool-down doubled (up to
``max_cooldown``). A success from any request closes it.

In memory and per process: only destinations with failures have an entry. Time comes
from an injected monotonic clock so the state machine is tested without waiting.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum


class Admission(StrEnum):
    SEND = "send"
    PROBE = "probe"  # half-open: this request decides
    BLOCK = "block"  # open: do not send


class CircuitState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass(slots=True)
class _Circuit:
    failures: int = 0
    opened_at: float | None = None
    cooldown: float = 0.0
    probing: bool = False


@dataclass(slots=True, frozen=True)
class Decision:
    admission: Admission
    failures: int = 0
    retry_in_seconds: float = 0.0  # BLOCK: until the next probe may go out


class CircuitBreakers:
    def __init__(
        self,
        *,
        threshold: int,
        cooldown_seconds: float,
        max_cooldown_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if threshold < 1:
            raise ValueError("threshold must be at least 1")
        self._threshold = threshold
        self._cooldown = cooldown_seconds
        self._max_cooldown = max(max_cooldown_seconds, cooldown_seconds)
        self._clock = clock
        self._circuits: dict[str, _Circuit] = {}
        self.opened = 0  # times a circuit opened (metrics)

    def state(self, destination_id: str) -> CircuitState:
        circuit = self._circuits.get(destination_id)
        if circuit is None or circuit.opened_at is None:
            return CircuitState.CLOSED
        if circuit.probing or self._clock() >= circuit.opened_at + circuit.cooldown:
            return CircuitState.HALF_OPEN
        return CircuitState.OPEN

    def admit(self, destination_id: str) -> Decision:
        circuit = self._circuits.get(destination_id)
        if circuit is None or circuit.opened_at is None:
            return Decision(Admission.SEND)
        reopen_at = circuit.opened_at + circuit.cooldown
        now = self._clock()
        if circuit.probing or now < reopen_at:
            # While a probe runs, the others wait at least one cool-down more.
            wait = reopen_at - now if now < reopen_at else circuit.cooldown
            return Decision(Admission.BLOCK, circuit.failures, wait)
        circuit.probing = True
        return Decision(Admission.PROBE, circuit.failures)

    def succeeded(self, destination_id: str) -> None:
        self._circuits.pop(destination_id, None)

    def failed(self, destination_id: str, *, probe: bool = False) -> None:
        circuit = self._circuits.setdefault(destination_id, _Circuit())
        circuit.failures += 1
        if probe:
            circuit.probing = False
            circuit.cooldown = min(circuit.cooldown * 2, self._max_cooldown)
            circuit.opened_at = self._clock()
        elif circuit.opened_at is None and circuit.failures >= self._threshold:
            circuit.opened_at = self._clock()
            circuit.cooldown = self._cooldown
            self.opened += 1

    def probe_abandoned(self, destination_id: str) -> None:
        """The probe sent nothing (cancelled, config gone): let the next one try."""
        circuit = self._circuits.get(destination_id)
        if circuit is not None:
            circuit.probing = False

    @property
    def open_circuits(self) -> int:
        return sum(1 for c in self._circuits.values() if c.opened_at is not None)

"""One delivery end to end: find the destination, admit, sign, send, judge, follow up.

The destination and its secrets are looked up when the attempt is made (``lookup.py``),
not when the delivery was routed, so an edit, a rotation, a deletion or a disable applies
to deliveries already queued. A record that cannot be a delivery raises (CodecError,
InvalidRecordError) for the consumer to dead-letter. Every other delivery ends in one of:

- an attempt: its outcome is written (acknowledged) and, on a retriable failure, the next
  attempt is on a retry tier first (``retry.py``), or the outcome says ``exhausted``;
- an open circuit: the same, but nothing was sent (the attempt counts; docs/delivery.md);
- a full queue for a busy destination: the delivery goes to the first retry tier as it
  is, without an attempt or an outcome.

Failures feed the circuit breaker and endpoint health; a 410, or failing for the whole
health window, disables the destination (``disabling.py``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
import random
import ssl
import time
from dataclasses import dataclass
from typing import Protocol

from signet_sdk.ids import now_ms
from signet_sdk.signing import SigningError, sign_delivery

from services.dispatcher.breaker import Admission, CircuitBreakers, Decision
from services.dispatcher.disabling import DestinationDisabler
from services.dispatcher.errors import DestinationUnavailable
from services.dispatcher.health import EndpointHealth
from services.dispatcher.limits import DestinationLimiter, QueueTimeout
from services.dispatcher.lookup import DestinationDirectory, DestinationLookup
from services.dispatcher.metrics import DispatcherMetrics
from services.dispatcher.operator_hook import OperatorHook
from services.dispatcher.outcomes import OutcomeWriter, build_outcome
from services.dispatcher.policy import Action, Verdict, decide
from services.dispatcher.rate import RateLimiter
from services.dispatcher.request_extras import RequestExtras
from services.dispatcher.results import (
    AttemptResult,
    ErrorKind,
    circuit_open,
    signing_failed,
    unavailable,
)
from services.dispatcher.retry import RetryScheduler
from services.dispatcher.schedule import GiveUp, RetrySchedule, plan_retry
from services.dispatcher.signing_keys import SigningKeys
from signet import tracing
from signet.errors import InvalidRecordError, SecretError
from signet.kafka.consumer import RecordingGate
from signet.operator_webhook.events import is_operational
from signet.records import codec
from signet.records.model import (
    Delivery,
    Destination,
    Outcome,
    OutcomeStatus,
    WorkspaceConfig,
)
from signet.records.payload import iso_utc_ms


class AttemptSender(Protocol):
    async def send(
        self,
        url: str,
        body: bytes,
        headers: dict[str, str],
        *,
        timeout_seconds: float,
        ssl_context: ssl.SSLContext | None = None,
    ) -> AttemptResult: ...


# Whatever a destination asks for: a request holds a slot and delays a graceful stop.
MIN_TIMEOUT_SECONDS = 1.0
MAX_TIMEOUT_SECONDS = 60.0

_REQUIRED = ("id", "event_id", "workspace_id", "destination_id", "event_type")


def decode_delivery(value: bytes | None) -> Delivery:
    """A Delivery fit to send, or CodecError / InvalidRecordError saying what is wrong."""
    delivery = codec.decode(value, Delivery)
    missing = [name for name in _REQUIRED if not getattr(delivery, name)]
    if missing:
        raise InvalidRecordError(f"delivery has empty {', '.join(missing)}")
    if delivery.attempt < 1:
        raise InvalidRecordError(f"delivery attempt must be at least 1, got {delivery.attempt}")
    if not delivery.body:
        raise InvalidRecordError("delivery has an empty body")
    return delivery


def _span_attributes(delivery: Delivery) -> dict[str, str | int]:
    """An attempt span's own attributes, beside the HTTP ones."""
    attributes: dict[str, str | int] = {
        "signet.delivery.id": delivery.id,
        "signet.event.id": delivery.event_id,
        "signet.destination.id": delivery.destination_id,
        "signet.attempt": delivery.attempt,
    }
    if delivery.attempt > 1:
        attributes["http.request.resend_count"] = delivery.attempt - 1
    return attributes


@dataclass(slots=True, frozen=True)
class EndpointGuards:
    """Per-destination state that protects the rest from one endpoint."""

    limiter: DestinationLimiter
    breakers: CircuitBreakers
    health: EndpointHealth
    disabler: DestinationDisabler
    window_seconds: float
    rate: RateLimiter
    # A delivery waits in memory for its rate-limit slot up to this; longer, on a tier.
    rate_wait_seconds: float


@dataclass(slots=True, frozen=True)
class _Attempt:
    result: AttemptResult
    url: str | None = None
    headers: dict[str, str] = dataclasses.field(default_factory=dict)
    attempted_at: int | None = None
    retry_floor_seconds: float | None = None  # an open circuit: not before the next probe


def _blocked(destination: Destination, decision: Decision) -> _Attempt:
    """An attempt the open circuit stopped: counted, nothing sent."""
    return _Attempt(
        circuit_open(decision.failures, decision.retry_in_seconds),
        url=destination.url,
        attempted_at=now_ms(),
        retry_floor_seconds=decision.retry_in_seconds,
    )


class DeliveryPipeline:
    def __init__(
        self,
        *,
        directory: DestinationDirectory,
        keys: SigningKeys,
        sender: AttemptSender,
        outcomes: OutcomeWriter,
        retries: RetryScheduler,
        guards: EndpointGuards,
        schedule: RetrySchedule,
        metrics: DispatcherMetrics,
        default_timeout_seconds: float,
        config_wait_seconds: float,
        recording: RecordingGate | None = None,
        rng: random.Random | None = None,
        operator: OperatorHook | None = None,
        extras: RequestExtras | None = None,
    ) -> None:
        """``recording``: while shut (a stalled broker), deliveries wait before anything
        is sent, so nothing is sent that could not be recorded (and would be sent again).
        ``operator``: sends operational deliveries to the operator's webhook and announces
        exhausted deliveries and recovered destinations (``operator_hook.py``).
        ``extras``: opens destinations' custom headers and client certificates (by default
        with the signing keys' ring)."""
        self._lookup = DestinationLookup(directory, config_wait_seconds)
        self._keys = keys
        self._sender = sender
        self._outcomes = outcomes
        self._retries = retries
        self._guards = guards
        self._schedule = schedule
        self._metrics = metrics
        self._default_timeout = default_timeout_seconds
        self._recording = recording
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not a secret
        self._operator = operator
        self._extras = extras or RequestExtras(keys.ring)

    async def process(self, value: bytes | None, sequence: int | None = None) -> Outcome | None:
        """Handle one record of ``deliveries`` or a released retry; None when deferred.
        (``sequence``, the record's offset, matters only to ordered lines: ``fifo.py``.)"""
        return await self.handle(decode_delivery(value))

    async def forward(self, delivery: Delivery) -> None:
        """A released retry not due yet: on to the tier that fits the time left."""
        await self._retries.schedule(delivery, reason="hop")

    async def handle(self, delivery: Delivery) -> Outcome | None:
        if self._recording is not None and not self._recording.open:
            await self._recording.wait_open()
        try:
            config, destination = await self._find(delivery)
        except DestinationUnavailable as exc:
            return await self._settle(delivery, None, _Attempt(unavailable(str(exc))))
        guards = self._guards
        decision = guards.breakers.admit(destination.id)
        if decision.admission is Admission.BLOCK:
            return await self._settle(delivery, destination, _blocked(destination, decision))
        probe = decision.admission is Admission.PROBE
        if not probe and not guards.limiter.has_room(destination.id):
            await self._defer(delivery)
            return None
        if not await self._pace(delivery, destination):
            if probe:
                guards.breakers.probe_abandoned(destination.id)
            return None
        judged = False
        try:
            async with guards.limiter.slot(destination.id):
                if not probe:  # the circuit may have opened while this one queued
                    decision = guards.breakers.admit(destination.id)
                    probe = decision.admission is Admission.PROBE
                if decision.admission is Admission.BLOCK:
                    attempt = _blocked(destination, decision)
                else:
                    attempt = await self._attempt(config, destination, delivery)
                    judged = self._judge_endpoint(destination.id, attempt.result, probe=probe)
        except QueueTimeout:  # queued the whole budget: the endpoint is slower than it was
            await self._defer(delivery)
            return None
        finally:
            if probe and not judged:
                guards.breakers.probe_abandoned(destination.id)
        return await self._settle(delivery, destination, attempt)

    async def give_up(self, delivery: Delivery, reason: str) -> Outcome:
        """``delivery`` is exhausted without an attempt: an ordered delivery that waited in
        line too long (``fifo.py``). Written (acknowledged) and announced as any other."""
        result = unavailable(reason)
        at = now_ms()
        outcome = build_outcome(
            delivery,
            result,
            decide(result),
            url=None,
            request_headers={},
            attempted_at=at,
            status=OutcomeStatus.EXHAUSTED,
        )
        if self._operator is not None and not is_operational(delivery.workspace_id):
            await self._operator.exhausted(delivery, at_ms=at, http_status=None, error=reason)
        await self._outcomes.write(outcome)
        self._metrics.observe(outcome, result)
        return outcome

    async def _find(self, delivery: Delivery) -> tuple[WorkspaceConfig, Destination]:
        if is_operational(delivery.workspace_id):
            if self._operator is None:
                raise DestinationUnavailable("this dispatcher sends no operational events")
            return self._operator.find(delivery)
        return await self._lookup.find(delivery)

    async def _pace(self, delivery: Delivery, destination: Destination) -> bool:
        """Wait for the destination's rate-limit slot (``rate.py``); False when the delivery
        went to the retry tiers to wait for it (no attempt, no outcome).

        After the breaker (a blocked delivery takes no slot) and the queue check (a busy
        deferral reserves none), before the destination's slot: a delivery waiting for its
        rate holds no in-flight slot.
        """
        guards = self._guards
        now = time.monotonic()
        # Asked even without a rate: it drops a slot held from before the limit was removed.
        slot = guards.rate.admit(
            destination.id, destination.rate_limit_per_second, delivery.id, now
        )
        wait = slot - now
        if wait <= guards.rate_wait_seconds:
            if wait > 0:
                await asyncio.sleep(wait)
            return True
        guards.rate.hold(delivery.id, slot, now)
        # Back a little early; the rest is waited in memory, so it leaves at its slot.
        early = guards.rate_wait_seconds / 2
        later = dataclasses.replace(delivery, due_at=now_ms() + math.ceil((wait - early) * 1000))
        await self._retries.schedule(later, reason="rate_limited")
        return False

    async def _attempt(
        self, config: WorkspaceConfig, destination: Destination, delivery: Delivery
    ) -> _Attempt:
        """Sign and send, holding the destination's slot (signed now, so the timestamp is
        fresh when the request leaves)."""
        url = destination.url or ""
        timeout = destination.timeout_seconds or self._default_timeout
        timeout = min(max(timeout, MIN_TIMEOUT_SECONDS), MAX_TIMEOUT_SECONDS)
        try:
            secrets = self._keys.for_destination(config.workspace_id, destination, now_ms())
            extras = self._extras.for_destination(config.workspace_id, destination)
            signed = sign_delivery(
                destination.signature_scheme,
                secrets,
                msg_id=delivery.event_id,
                timestamp=int(time.time()),
                body=delivery.body,
            )
        except (SecretError, SigningError) as exc:
            return _Attempt(signing_failed(f"cannot sign: {exc}"), url=url)
        except ssl.SSLError as exc:  # a stored client certificate that does not load
            return _Attempt(signing_failed(f"cannot load the client certificate: {exc}"), url=url)
        attempted_at = now_ms()
        # The operator's own backend may be in-cluster: its sender skips the SSRF guard.
        operator = self._operator if is_operational(config.workspace_id) else None
        sender = operator.sender if operator is not None else self._sender
        # The destination's own headers first: the signature's names are reserved anyway.
        headers = {**extras.headers, **signed}
        tls = {} if extras.ssl_context is None else {"ssl_context": extras.ssl_context}
        with tracing.http_client_span("POST", url, _span_attributes(delivery)) as traced:
            # This attempt's span as the receiver's parent: it can join the trace.
            span, trace_headers = traced
            headers.update(trace_headers)
            result = await sender.send(url, delivery.body, headers, timeout_seconds=timeout, **tls)
            tracing.end_http_client_span(span, result.http_status, result.error_kind)
        # Recorded with sensitive values masked (outcomes, the delivery log, its chain).
        shown = {**extras.shown, **signed, **trace_headers}
        return _Attempt(result, url=url, headers=shown, attempted_at=attempted_at)

    def _judge_endpoint(self, destination_id: str, result: AttemptResult, *, probe: bool) -> bool:
        """Feed the breaker with what the endpoint did; False when it did nothing to judge."""
        if not result.requested:
            return False
        breakers = self._guards.breakers
        if decide(result).delivered:
            breakers.succeeded(destination_id)
        else:
            breakers.failed(destination_id, probe=probe)
        self._metrics.circuits_open.set(breakers.open_circuits)
        return True

    async def _defer(self, delivery: Delivery) -> None:
        """No room behind the destination's cap (its queue is as long as the wait budget or
        the count allows): wait on the first retry tier, no attempt made.

        Due after the platform's first delay (not the destination's own schedule): the
        endpoint is busy, not failing, and the delivery should come back soon.
        """
        delay = self._schedule.jittered(self._schedule.base_delay(1), self._rng)
        later = dataclasses.replace(delivery, due_at=now_ms() + round(delay * 1000))
        await self._retries.schedule(later, reason="busy")

    async def _settle(
        self, delivery: Delivery, destination: Destination | None, attempt: _Attempt
    ) -> Outcome:
        """Write the attempt's outcome, after its follow-up (retry, disable) is durable."""
        result = attempt.result
        verdict = decide(result)
        status: OutcomeStatus | None = None
        next_attempt_at: int | None = None
        gave_up: str | None = None
        # Operational deliveries neither judge the operator's endpoint nor announce.
        announce = None if is_operational(delivery.workspace_id) else self._operator
        if destination is not None and verdict.action in (Action.RETRY, Action.DISABLE):
            if not is_operational(delivery.workspace_id):
                await self._track_health(delivery, destination, attempt, verdict)
            plan = self._plan(delivery, destination, attempt, verdict)
            if isinstance(plan, GiveUp):
                status, gave_up = OutcomeStatus.EXHAUSTED, plan.reason
                if announce is not None:
                    await announce.exhausted(
                        delivery,
                        at_ms=attempt.attempted_at or now_ms(),
                        http_status=result.http_status,
                        error=result.error or verdict.reason,
                    )
            else:
                reason = "circuit_open" if result.error_kind is ErrorKind.CIRCUIT_OPEN else "failed"
                await self._retries.schedule(plan, reason=reason)
                next_attempt_at = plan.due_at
        elif destination is not None and verdict.delivered:
            at = attempt.attempted_at or now_ms()
            ended = self._guards.health.succeeded(
                destination.id, at=at, seeds=(delivery.failing_since,)
            )
            if ended is not None and announce is not None:
                await announce.recovered(delivery, failing_since=ended, at_ms=at)
        sent = attempt.headers if result.requested else {}  # a refused request sent nothing
        outcome = build_outcome(
            delivery,
            result,
            verdict,
            url=attempt.url,
            request_headers=sent,
            attempted_at=attempt.attempted_at,
            status=status,
            next_attempt_at=next_attempt_at,
            gave_up=gave_up,
        )
        await self._outcomes.write(outcome)
        self._metrics.observe(outcome, result)
        return outcome

    def _plan(
        self, delivery: Delivery, destination: Destination, attempt: _Attempt, verdict: Verdict
    ) -> Delivery | GiveUp:
        """The next attempt as a record to schedule, or why the delivery gives up."""
        now = now_ms()
        first = delivery.first_attempt_at or attempt.attempted_at or now
        floors = [s for s in (verdict.retry_after_seconds, attempt.retry_floor_seconds) if s]
        schedule = self._schedule.for_destination(destination.retry_policy)
        if delivery.fifo_sequence is not None:  # the head of a FIFO line (fifo.py)
            schedule = schedule.ordered()
        plan = plan_retry(
            schedule,
            attempt=delivery.attempt,
            first_attempt_at=first,
            now_ms=now,
            rng=self._rng,
            retry_after_seconds=max(floors) if floors else None,
        )
        if isinstance(plan, GiveUp):
            return plan
        return dataclasses.replace(
            delivery,
            attempt=delivery.attempt + 1,
            due_at=plan.due_at,
            first_attempt_at=first,
            failing_since=self._guards.health.failing_since(destination.id),
        )

    async def _track_health(
        self, delivery: Delivery, destination: Destination, attempt: _Attempt, verdict: Verdict
    ) -> None:
        """Endpoint health and disabling: a 410 at once, or a streak as long as the window."""
        result, guards = attempt.result, self._guards
        if not (result.requested or result.error_kind is ErrorKind.CIRCUIT_OPEN):
            return  # signing trouble is ours, not the endpoint's
        now = now_ms()
        since = guards.health.failed(
            destination.id,
            at=attempt.attempted_at or now,
            seeds=(delivery.failing_since, delivery.first_attempt_at),
        )
        if verdict.action is Action.DISABLE:
            await guards.disabler.disable(
                delivery, destination, reason=verdict.reason, cause="gone", http_status=410
            )
        elif guards.health.should_disable(destination.id, now):
            days = guards.window_seconds / 86400
            window = f"{days:g} days" if days >= 1 else f"{guards.window_seconds:g}s"
            reason = (
                f"failing continuously since {iso_utc_ms(since)} (longer than {window}); "
                f"last: {result.error or verdict.reason}"
            )
            await guards.disabler.disable(delivery, destination, reason=reason, cause="failing")

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
import time

from signet_sdk.ids import now_ms

from services.dispatcher.attempt import Attempt, AttemptSender, SignedSender, blocked
from services.dispatcher.breaker import Admission
from services.dispatcher.decode import decode_delivery
from services.dispatcher.errors import DestinationUnavailable
from services.dispatcher.guards import EndpointGuards
from services.dispatcher.limits import QueueTimeout
from services.dispatcher.lookup import DestinationDirectory, DestinationLookup
from services.dispatcher.metrics import DispatcherMetrics
from services.dispatcher.operator_hook import OperatorHook
from services.dispatcher.outcomes import OutcomeWriter, build_outcome
from services.dispatcher.policy import Action, Verdict, decide
from services.dispatcher.request_extras import RequestExtras
from services.dispatcher.results import (
    AttemptResult,
    ErrorKind,
    unavailable,
)
from services.dispatcher.retry import RetryScheduler
from services.dispatcher.schedule import GiveUp, RetrySchedule, plan_retry
from services.dispatcher.signing_keys import SigningKeys
from signet.kafka.consumer import RecordingGate
from signet.operator_webhook.events import is_operational
from signet.records.model import (
    Delivery,
    Destination,
    Outcome,
    OutcomeStatus,
    WorkspaceConfig,
)
from signet.records.payload import iso_utc_ms


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
        self._outcomes = outcomes
        self._retries = retries
        self._guards = guards
        self._schedule = schedule
        self._metrics = metrics
        self._recording = recording
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not a secret
        self._operator = operator
        self._signed = SignedSender(
            keys=keys,
            sender=sender,
            extras=extras or RequestExtras(keys.ring),
            default_timeout_seconds=default_timeout_seconds,
            operator_sender=operator.sender if operator is not None else None,
        )

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
            return await self._settle(delivery, None, Attempt(unavailable(str(exc))))
        guards = self._guards
        decision = guards.breakers.admit(destination.id)
        if decision.admission is Admission.BLOCK:
            return await self._settle(delivery, destination, blocked(destination, decision))
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
                    attempt = blocked(destination, decision)
                else:
                    attempt = await self._signed.attempt(config, destination, delivery)
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
        self, delivery: Delivery, destination: Destination | None, attempt: Attempt
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
        self, delivery: Delivery, destination: Destination, attempt: Attempt, verdict: Verdict
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
        self, delivery: Delivery, destination: Destination, attempt: Attempt, verdict: Verdict
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

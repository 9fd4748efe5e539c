"""Turns outcome records into Slack alerts: decide, fold, send, dead-letter, complete.

Per record: an undecodable one is dead-lettered; one that is not ``exhausted`` or
``destination_disabled`` completes at once, and so does one whose workspace has no
enabled Slack channel. Otherwise storm control decides: the first alert for the
destination is sent now, later ones in the window wait for the digest. An alert goes to
every Slack channel of the workspace; the record completes when each channel took it or
the failure was dead-lettered (the ``DeadLetter`` keeps the original outcome bytes and
the reason, so an operator can resend it). A folded record completes with its digest.

Channels are read from the config view when a message is sent, not when the outcome was
read, so a channel added, removed or disabled meanwhile is respected. A Slack URL is
opened from its sealed form just before use and never kept anywhere else.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Coroutine, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from confluent_kafka import Message as KafkaMessage

from services.alerter.consumer import ConsumedRecord
from services.alerter.errors import AlerterError, ChannelUnusable
from services.alerter.messages import AlertScene, EventLinks, Message, alert_message, digest_message
from services.alerter.metrics import AlerterMetrics
from services.alerter.slack import SlackChannel
from services.alerter.storm import Admission, Digest, StormControl, StormKey
from signet.errors import InvalidRecordError, SecretError, SignetError
from signet.kafka.offsets import Partition
from signet.kafka.topics import OUTCOME_STATUS_HEADER
from signet.operator_webhook.events import is_operational
from signet.records import codec
from signet.records.model import (
    Destination,
    DestinationType,
    Outcome,
    OutcomeStatus,
    SealedSecret,
    WorkspaceConfig,
)
from signet.security.secrets import MasterKeyRing, slack_url_aad

logger = logging.getLogger(__name__)

ALERT_STATUSES = frozenset(
    {OutcomeStatus.EXHAUSTED.value, OutcomeStatus.DESTINATION_DISABLED.value}
)
# What confluent-kafka's Message.headers() returns.
RecordHeaders = Mapping[str, str | bytes | None] | Sequence[tuple[str, str | bytes | None]] | None
# Statuses (as their header bytes) that never call for an alert.
_NOT_ALERTS = frozenset(
    {OutcomeStatus.DELIVERED.value.encode(), OutcomeStatus.FAILED.value.encode()}
)
DEAD_LETTER_BATCH = 100


class WorkspaceDirectory(Protocol):
    """What the pipeline reads of the configuration (``signet.kafka.config_view.ConfigView``)."""

    def workspace(self, workspace_id: str) -> WorkspaceConfig | None: ...

    async def wait_for(self, predicate: Callable[[], bool], timeout: float) -> bool: ...


class SlackPoster(Protocol):
    async def post(self, channel: SlackChannel, message: Message) -> int: ...


class DeadLetters(Protocol):
    async def write_until_acknowledged(self, msg: KafkaMessage, error: BaseException) -> None: ...


@dataclass(slots=True, frozen=True)
class Held:
    """A folded alert: its record (to complete or dead-letter) and the decoded outcome."""

    record: ConsumedRecord
    outcome: Outcome


class AlertPipeline:
    def __init__(
        self,
        *,
        directory: WorkspaceDirectory,
        ring: MasterKeyRing,
        slack: SlackPoster,
        dead_letters: DeadLetters,
        storm: StormControl[Held],
        links: EventLinks,
        metrics: AlerterMetrics,
        max_in_flight: int,
        config_wait_seconds: float,
        drain_timeout_seconds: float,
    ) -> None:
        self._directory = directory
        self._ring = ring
        self._slack = slack
        self._dead_letters = dead_letters
        self._storm = storm
        self._links = links
        self._metrics = metrics
        self._max_in_flight = max_in_flight
        self._config_wait = config_wait_seconds
        self._drain_timeout = drain_timeout_seconds
        self._tasks: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()
        self._timer: asyncio.Task[None] | None = None
        metrics.track(in_flight=lambda: len(self._tasks), pending_folded=lambda: storm.folded)

    # -- lifecycle ---------------------------------------------------------------------

    async def start(self) -> None:
        if self._timer is None:
            self._timer = asyncio.create_task(self._digest_timer(), name="alerter-digests")

    async def drain(self) -> None:
        """Send every pending digest now and wait for what is in flight (bounded).

        What does not finish by the deadline is abandoned uncompleted: its offsets stay
        uncommitted and the alerts are redone after the restart (at-least-once).
        """
        if self._timer is not None:
            self._timer.cancel()
            await asyncio.gather(self._timer, return_exceptions=True)
            self._timer = None
        self._send_digests(self._storm.flush())
        if not self._tasks:
            return
        logger.info(
            "draining %d alerts and digests (up to %gs)", len(self._tasks), self._drain_timeout
        )
        _, pending = await asyncio.wait(set(self._tasks), timeout=self._drain_timeout)
        if pending:
            logger.warning("abandoning %d alerts still being sent at the deadline", len(pending))
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

    # -- what the consumer calls (OutcomeSink) -----------------------------------------

    @property
    def room(self) -> int:
        return self._max_in_flight - len(self._tasks)

    def accept(self, record: ConsumedRecord) -> None:
        if not calls_for_alert(record.msg.headers()):
            self._metrics.outcomes.labels("skipped").inc()
            record.complete()
            return
        try:
            outcome = decode_alert(record.msg.value())
        except SignetError as exc:
            self._spawn(self._dead_letter_and_complete(record, exc))
            return
        # An operational event to the operator's webhook is no customer's to alert about.
        if outcome is None or is_operational(outcome.workspace_id):
            self._metrics.outcomes.labels("skipped").inc()
            record.complete()
            return
        config = self._directory.workspace(outcome.workspace_id)
        if config is None:
            self._spawn(self._admit_later(record, outcome))
        else:
            self._admit(record, outcome, config)

    def forget(self, partitions: frozenset[Partition]) -> None:
        dropped = self._storm.forget(lambda held: held.record.partition in partitions)
        if dropped:
            logger.info("dropped %d folded alerts of revoked partitions", dropped)

    def relieve(self) -> None:
        digests = self._storm.flush()
        if digests:
            logger.info("too many offsets held back: sending %d digests early", len(digests))
            self._send_digests(digests)

    # -- deciding ------------------------------------------------------------------------

    async def _admit_later(self, record: ConsumedRecord, outcome: Outcome) -> None:
        directory, ws = self._directory, outcome.workspace_id
        if self._config_wait > 0:
            await directory.wait_for(lambda: directory.workspace(ws) is not None, self._config_wait)
        config = directory.workspace(ws)
        if config is None:
            logger.info(
                "outcome %s names unknown workspace %s: no channel to alert", outcome.id, ws
            )
            self._metrics.outcomes.labels("no_channel").inc()
            record.complete()
            return
        self._admit(record, outcome, config)

    def _admit(self, record: ConsumedRecord, outcome: Outcome, config: WorkspaceConfig) -> None:
        if not slack_destinations(config):
            self._metrics.outcomes.labels("no_channel").inc()
            record.complete()
            return
        key = StormKey(outcome.workspace_id, outcome.destination_id)
        admission = self._storm.admit(
            key,
            status=outcome.status,
            event_id=outcome.event_id,
            at_ms=outcome.attempted_at,
            item=Held(record, outcome),
        )
        if admission is Admission.FOLD:
            self._metrics.outcomes.labels("folded").inc()
            self._metrics.alerts_folded.inc()
            return
        self._metrics.outcomes.labels("alerted").inc()
        self._wake.set()  # a new window: the timer may be asleep with no deadline

        def build(current: WorkspaceConfig | None) -> Message:
            scene = AlertScene.of(current, key.workspace_id, key.destination_id, outcome.url)
            return alert_message(outcome, scene, self._links)

        self._spawn(self._send("alert", key, build, [record]))

    # -- digests -------------------------------------------------------------------------

    async def _digest_timer(self) -> None:
        while True:
            deadline = self._storm.next_deadline()  # on the storm's (monotonic) clock
            self._wake.clear()
            wait = None if deadline is None else deadline - time.monotonic()
            if wait is None or wait > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), wait)
            self._send_digests(self._storm.due())

    def _send_digests(self, digests: Iterable[Digest[Held]]) -> None:
        for digest in digests:

            def build(current: WorkspaceConfig | None, digest: Digest[Held] = digest) -> Message:
                ws, dst = digest.key
                scene = AlertScene.of(current, ws, dst, digest.folded[0].item.outcome.url)
                return digest_message(digest, scene, self._links)

            records = [held.record for held in digest.items]
            self._spawn(self._send("digest", digest.key, build, records))

    # -- sending -------------------------------------------------------------------------

    async def _send(
        self,
        kind: str,
        key: StormKey,
        build: Callable[[WorkspaceConfig | None], Message],
        records: list[ConsumedRecord],
    ) -> None:
        try:
            failures = await self._deliver(kind, key, build)
        except Exception as exc:  # a bug: dead-letter rather than lose or wedge the partition
            logger.exception("%s for %s failed unexpectedly", kind, key.destination_id)
            failures = [exc]
        for error in failures:
            self._metrics.alerts_failed.labels(kind).inc()
            logger.warning("%s for %s dead-lettered: %s", kind, key.destination_id, error)
            for start in range(0, len(records), DEAD_LETTER_BATCH):
                batch = records[start : start + DEAD_LETTER_BATCH]
                await asyncio.gather(*(self._dead_letter(r, error) for r in batch))
        for record in records:
            record.complete()

    async def _deliver(
        self, kind: str, key: StormKey, build: Callable[[WorkspaceConfig | None], Message]
    ) -> list[Exception]:
        """Post to every channel; the failures (each to be dead-lettered)."""
        config = self._directory.workspace(key.workspace_id)
        channels, failures = self._open_channels(config, key.workspace_id)
        if channels:
            message = build(config)
            results = await asyncio.gather(*(self._post(kind, c, message) for c in channels))
            failures += [error for error in results if error is not None]
        return failures

    async def _post(
        self, kind: str, channel: SlackChannel, message: Message
    ) -> AlerterError | None:
        try:
            attempts = await self._slack.post(channel, message)
        except AlerterError as exc:
            return exc
        self._metrics.alerts_sent.labels(kind).inc()
        logger.info("%s sent to %s (attempt %d)", kind, channel.label, attempts)
        return None

    def _open_channels(
        self, config: WorkspaceConfig | None, workspace_id: str
    ) -> tuple[list[SlackChannel], list[Exception]]:
        channels: list[SlackChannel] = []
        failures: list[Exception] = []
        for destination, sealed in slack_destinations(config) if config else []:
            try:
                url = self._ring.open(sealed, slack_url_aad(workspace_id, destination.id)).decode()
            except (SecretError, UnicodeDecodeError) as exc:
                label = f"Slack channel {destination.name!r} ({destination.id})"
                failures.append(ChannelUnusable(f"its URL does not open: {exc}", channel=label))
                continue
            channels.append(SlackChannel(destination.id, destination.name, url))
        return channels, failures

    # -- dead letters --------------------------------------------------------------------

    async def _dead_letter_and_complete(self, record: ConsumedRecord, error: Exception) -> None:
        await self._dead_letter(record, error)  # the writer logs where and why
        record.complete()

    async def _dead_letter(self, record: ConsumedRecord, error: Exception) -> None:
        await self._dead_letters.write_until_acknowledged(record.msg, error)
        self._metrics.dead_letters.labels(type(error).__name__).inc()

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            # A bug outside the guarded send: the record stays incomplete (redone after a
            # restart, never lost) and the log says so.
            logger.error("alert task failed", exc_info=exc)


def calls_for_alert(headers: RecordHeaders) -> bool:
    """False when the record's status header names a status no alert is for, so most
    outcomes are skipped without being decoded. Without the header, or with a status this
    alerter does not know, only the record can tell."""
    pairs = headers.items() if isinstance(headers, Mapping) else headers or ()
    for name, value in pairs:
        if name == OUTCOME_STATUS_HEADER:
            return value not in _NOT_ALERTS
    return True


def decode_alert(value: bytes | None) -> Outcome | None:
    """The outcome if it calls for an alert, None if not; CodecError / InvalidRecordError."""
    outcome = codec.decode(value, Outcome)
    if outcome.status not in ALERT_STATUSES:
        return None
    missing = [n for n in ("workspace_id", "destination_id", "event_id") if not getattr(outcome, n)]
    if missing:
        raise InvalidRecordError(f"{outcome.status} outcome has empty {', '.join(missing)}")
    return outcome


def slack_destinations(config: WorkspaceConfig) -> list[tuple[Destination, SealedSecret]]:
    """The workspace's enabled Slack alert channels, with their sealed URLs."""
    return [
        (d, d.sealed_url)
        for d in config.destinations
        if d.type == DestinationType.SLACK and d.enabled and d.sealed_url is not None
    ]

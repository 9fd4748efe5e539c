"""Whether a service can work with Kafka right now, told truthfully to its probes.

Two things decide it. First, the broker answers: a light probe (one metadata request
for one topic, every ``kafka_probe_interval_seconds``, each bounded by
``kafka_probe_timeout_seconds``) on a thread of its own, so a frozen broker shows within
about two seconds and its return within one. Second, no Kafka client of the service is
dead: a client that hit a fatal error (a fenced or otherwise broken idempotent producer,
a consumer librdkafka calls fatal) says so through :class:`ClientState` until it has been
replaced.

``ready`` (``/readyz``) is false while either holds: traffic goes elsewhere, nothing is
restarted. ``live`` (``/healthz``) is false only when a client has stayed dead and
unreplaced for ``kafka_fatal_grace_seconds``: a broker that is merely unreachable never
fails liveness, or Kubernetes would restart every pod of every service at once while
Kafka is away, and each would come back to the same missing broker.

The probe's state is exported as ``signet_kafka_broker_reachable`` (1 or 0); each client
replaced counts in ``signet_kafka_client_replacements_total{client}`` (``KafkaMetrics``).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient

from signet.kafka.metrics import KafkaMetrics
from signet.kafka.topics import Topics, kafka_client_config
from signet.settings import CommonSettings

logger = logging.getLogger(__name__)


class ClientState:
    """One Kafka client's fatal state: when it died, and whether it was replaced since.

    Thread-safe: librdkafka reports fatal errors on its own threads.
    """

    def __init__(
        self,
        name: str,
        metrics: KafkaMetrics | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self._metrics = metrics
        self._clock = clock
        self._lock = threading.Lock()
        self._failed_since: float | None = None
        self.reason = ""
        self.replacements = 0

    def failed(self, reason: str) -> bool:
        """The client hit a fatal error; True the first time (until it is replaced)."""
        with self._lock:
            if self._failed_since is not None:
                return False
            self._failed_since = self._clock()
            self.reason = reason
        logger.error("kafka client %s is dead: %s", self.name, reason)
        return True

    def replaced(self) -> None:
        """A new client took the dead one's place."""
        with self._lock:
            self._failed_since = None
            self.replacements += 1
        if self._metrics is not None:
            self._metrics.replacements.labels(self.name).inc()
        logger.warning("kafka client %s replaced (%d so far)", self.name, self.replacements)

    @property
    def dead_for(self) -> float | None:
        """Seconds since a fatal error not yet followed by a replacement; None if alive."""
        since = self._failed_since
        return None if since is None else self._clock() - since


class KafkaHealth:
    """The broker probe and the clients' fatal states of one service process."""

    def __init__(
        self,
        settings: CommonSettings,
        metrics: KafkaMetrics | None = None,
        *,
        probe_topic: str | None = None,
    ) -> None:
        self._conf = {
            **kafka_client_config(settings),
            # The probe's own requests must fail fast; librdkafka's retries would hide the
            # stall behind them.
            "socket.timeout.ms": max(10, int(settings.kafka_probe_timeout_seconds * 1000)),
            # Errors only: while the broker is away librdkafka would log every timed-out
            # probe; the probe logs the change of state once.
            "log_level": 3,
        }
        self._topic = probe_topic or Topics.from_settings(settings).workspace_config
        self._interval = settings.kafka_probe_interval_seconds
        self._timeout = settings.kafka_probe_timeout_seconds
        self._grace = settings.kafka_fatal_grace_seconds
        self._metrics = metrics
        self._clients: list[ClientState] = []
        self._reachable = True  # until the first probe says otherwise
        self._last_error = ""
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        if metrics is not None:
            metrics.broker_reachable.set_function(lambda: 1.0 if self._reachable else 0.0)

    def client(self, name: str) -> ClientState:
        """A state for one more client of this service, counted in ``ready`` and ``live``."""
        state = ClientState(name, self._metrics)
        self._clients.append(state)
        return state

    def watch(self, state: ClientState) -> ClientState:
        """Count a client's state made elsewhere (the client built it with its metrics)."""
        if state not in self._clients:
            self._clients.append(state)
        return state

    # -- lifecycle ---------------------------------------------------------------------

    async def start(self) -> None:
        if self._thread is not None:
            return
        self._stopping.clear()
        self._thread = threading.Thread(target=self._probe_forever, name="kafka-probe", daemon=True)
        self._thread.start()

    async def stop(self) -> None:
        thread, self._thread = self._thread, None
        if thread is None:
            return
        self._stopping.set()
        await asyncio.to_thread(thread.join)

    async def __aenter__(self) -> KafkaHealth:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def _probe_forever(self) -> None:
        admin = AdminClient(self._conf)
        while not self._stopping.is_set():
            started = time.monotonic()
            self._record(self._probe(admin))
            self._stopping.wait(max(0.0, self._interval - (time.monotonic() - started)))

    def _probe(self, admin: AdminClient) -> str:
        """An empty string when the broker answered a metadata request in time."""
        try:
            metadata = admin.list_topics(topic=self._topic, timeout=self._timeout)
        except KafkaException as exc:
            return str(exc.args[0].str() if exc.args else exc)
        if not metadata.brokers:
            return "no broker in the metadata"
        return ""

    def _record(self, error: str) -> None:
        reachable = not error
        if reachable != self._reachable:
            if reachable:
                logger.info("kafka is reachable again")
            else:
                logger.warning("kafka is unreachable: %s", error)
        self._reachable = reachable
        self._last_error = error

    # -- what the probes read ----------------------------------------------------------

    @property
    def reachable(self) -> bool:
        return self._reachable

    @property
    def ready(self) -> bool:
        return self._reachable and all(c.dead_for is None for c in self._clients)

    @property
    def live(self) -> bool:
        return all((c.dead_for or 0.0) < self._grace for c in self._clients)

    def why_not_ready(self) -> str:
        """What keeps ``ready`` false, for the 503's detail."""
        reasons = [] if self._reachable else [f"kafka unreachable ({self._last_error})"]
        reasons += [
            f"kafka client {c.name} dead ({c.reason})"
            for c in self._clients
            if c.dead_for is not None
        ]
        return "; ".join(reasons)

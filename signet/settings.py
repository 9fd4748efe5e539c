"""Settings of every Signet process: one frozen class per service, env prefix ``SIGNET_``.

Read once in a service's ``__main__`` and passed inward; no other module reads the
environment. Secrets are ``SecretStr`` so they are masked when settings are printed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, PositiveFloat, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

INGEST_PORT = 8080
PORTAL_PORT = 8081


def _group_per_installation(data: Any, field: str, role: str) -> Any:
    """Fill an unset consumer-group field from the topic prefix (``signet.`` → ``signet-<role>``).

    Installations sharing one Kafka cluster (or test modules sharing one broker) use
    different topic prefixes; deriving the group from the prefix keeps their consumer
    groups apart, so one's members never hold another's partitions.
    """
    if isinstance(data, dict) and not data.get(field):
        prefix = str(data.get("topic_prefix") or "signet.")
        data = {**data, field: f"{prefix.rstrip('.-_') or 'signet'}-{role}"}
    return data


class CommonSettings(BaseSettings):
    """What every service needs: the broker, topic names, logging."""

    model_config = SettingsConfigDict(env_prefix="SIGNET_", frozen=True, extra="ignore")

    kafka_bootstrap: str = "127.0.0.1:9092"
    kafka_security_protocol: str = "PLAINTEXT"
    kafka_sasl_mechanism: str | None = None
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    kafka_ssl_ca_location: str | None = None
    topic_prefix: str = "signet."
    # events, workspace-commands and workspace-config are co-partitioned: one count.
    partitions: int = Field(default=6, ge=1)
    deliveries_partitions: int = Field(default=6, ge=1)
    replication_factor: int = Field(default=1, ge=1)
    log_level: str = "INFO"
    log_json: bool = False
    # uvloop: libuv's loop, markedly less CPU per request and record; asyncio: the stdlib's.
    event_loop: Literal["uvloop", "asyncio"] = "uvloop"
    # How often a consumer's lag is measured (librdkafka statistics; signet/kafka/metrics.py).
    consumer_lag_interval_seconds: float = Field(default=5.0, gt=0)
    # What each librdkafka consumer may fetch ahead of its service (signet/kafka/topics.py).
    consumer_prefetch_kbytes: int = Field(default=4096, ge=64)
    # The broker probe behind /readyz (signet/kafka/health.py): a metadata request this
    # often, failing after this long; /healthz fails once a dead client stays unreplaced
    # for the grace.
    kafka_probe_interval_seconds: float = Field(default=1.0, gt=0, le=60)
    kafka_probe_timeout_seconds: float = Field(default=1.0, gt=0, le=60)
    kafka_fatal_grace_seconds: float = Field(default=60.0, gt=0)
    # A consumer whose finished work cannot be recorded (its results not acknowledged by
    # the broker, or its offsets not committed) for longer than this takes no new records
    # until it can: a stalled broker must not multiply the work redone after it.
    recording_stall_seconds: float = Field(default=2.0, gt=0)


class IngestSettings(CommonSettings):
    """The HTTP gateway: limits of a request, idempotency memory, produce deadline."""

    host: str = "0.0.0.0"  # noqa: S104 - a gateway listens on every interface
    port: int = Field(default=INGEST_PORT, ge=0, le=65535)  # 0: any free port
    # The whole body of POST /v1/events, and each event's compact payload in a bulk.
    max_payload_bytes: int = Field(default=256 * 1024, ge=1024)
    max_bulk_events: int = Field(default=500, ge=1)
    max_bulk_body_bytes: int = Field(default=8 * 1024 * 1024, ge=1024)
    idempotency_ttl_seconds: int = Field(default=24 * 3600, ge=1)
    idempotency_cache_size: int = Field(default=200_000, ge=1)
    # Waiting for a free produce slot and the broker's ack together; then 503.
    produce_timeout_seconds: float = Field(default=10.0, gt=0)
    # Records awaiting acknowledgement at once, across requests (backpressure).
    max_in_flight_events: int = Field(default=10_000, ge=1)
    # SIGTERM: how long in-flight requests may take to finish before they are cut.
    shutdown_timeout_seconds: float = Field(default=15.0, gt=0)
    # An unknown publishable key waits this long for the config view to learn it (a key
    # created a moment ago) before the 401; 0: answer at once.
    unknown_key_wait_seconds: float = Field(default=1.0, ge=0, le=10)
    # Refuse events whose type the event-type catalog does not hold (400 unknown_event_type).
    require_cataloged_event_types: bool = False


class PortalSettings(CommonSettings):
    @model_validator(mode="before")
    @classmethod
    def _default_group(cls, data: Any) -> Any:
        return _group_per_installation(data, "log_consumer_group", "portal-log")

    host: str = "0.0.0.0"  # noqa: S104
    port: int = PORTAL_PORT
    public_url: str = f"http://127.0.0.1:{PORTAL_PORT}"
    operator_key: SecretStr = SecretStr("")
    master_keys: SecretStr = SecretStr("")
    session_key: SecretStr | None = None
    session_max_ttl_seconds: int = Field(default=24 * 3600, ge=60)
    command_timeout_seconds: float = Field(default=10.0, gt=0)
    allow_insecure_destinations: bool = False
    # A snapshot is one Kafka record: bound what one workspace can grow to.
    max_destinations_per_workspace: int = Field(default=100, ge=1)
    max_active_publishable_keys: int = Field(default=20, ge=1)
    database_url: str = "sqlite:///.signet/signet.db"
    # The delivery log (services/portal/delivery_log): its projection, retention and export key.
    database_pool_size: int = Field(default=10, ge=1)  # PostgreSQL connections per replica
    log_projection_enabled: bool = True  # False: this replica serves the log, never writes it
    log_consumer_group: str = ""  # empty: "<topic prefix>-portal-log" (signet-portal-log)
    log_consumer_session_timeout_seconds: float = Field(default=10.0, gt=0)
    log_batch_max_records: int = Field(default=500, ge=1)
    log_retention_days: float = Field(default=30.0, gt=0)
    log_retention_interval_seconds: float = Field(default=3600.0, gt=0)
    # base64 of a 32-byte raw Ed25519 private key; unset: derived from the master keys.
    log_signing_key: SecretStr | None = None
    # "Send test event" waits this long for the outcome before answering 202 with the ids.
    test_event_timeout_seconds: float = Field(default=20.0, gt=0)
    # One `recover` call replays at most this many deliveries; `next_since` continues.
    recover_max_per_call: int = Field(default=1000, ge=1)


class RouterSettings(CommonSettings):
    # /healthz, /readyz, /metrics; each worker on a machine needs its own port.
    web_port: int = 6066
    web_host: str = "127.0.0.1"
    data_dir: Path = Path(".signet/router")
    # Tansu's first group join waits about half of it: keep it short in tests.
    consumer_session_timeout_seconds: float = 10.0
    commit_interval_seconds: float = Field(default=1.0, gt=0)
    # A batch waits at most this long to fill: the latency one quiet event pays.
    batch_max_records: int = Field(default=500, ge=1)
    batch_wait_seconds: float = Field(default=0.01, gt=0)
    # How long a fetch may wait for data: an event is seen within about this on brokers
    # that do not answer a fetch early (Tansu). Faust alone would wait 1.5 s.
    fetch_wait_max_ms: int = Field(default=20, ge=1, le=5000)
    stop_timeout_seconds: float = Field(default=20.0, gt=0)
    # Dead-letter events produced straight to Kafka whose type the catalog does not hold.
    require_cataloged_event_types: bool = False


# The default retry schedule (docs/architecture.md#retry-tiers): the delay after attempt n
# is entry n-1.
DEFAULT_RETRY_DELAYS_SECONDS = (5, 30, 120, 600, 1800, 3600, 10800, 21600, 43200, 43200)

# Ordered delivery (docs/delivery.md#ordered-delivery): the hold topic keeps a record this
# long; a FIFO head's retries end within half of it (84 h: the portal refuses a longer
# retry_policy and the dispatcher caps the platform's); a delivery waits in line at most
# what is left of the retention, less a day (60 h), so every held record is read, and sent
# or given up, before the topic could drop it (services/dispatcher/fifo.py).
FIFO_HOLD_RETENTION_DAYS = 7
FIFO_MAX_RETRY_SPAN_SECONDS = FIFO_HOLD_RETENTION_DAYS * 24 * 3600 // 2
FIFO_MAX_WAIT_SECONDS = (FIFO_HOLD_RETENTION_DAYS - 1) * 24 * 3600 - FIFO_MAX_RETRY_SPAN_SECONDS


class DispatcherSettings(CommonSettings):
    """Sends deliveries, moves retries through the delay tiers, guards endpoints.

    docs/delivery.md explains the schedule, the breaker and endpoint health.
    """

    @model_validator(mode="before")
    @classmethod
    def _default_group(cls, data: Any) -> Any:
        return _group_per_installation(data, "consumer_group", "dispatcher")

    master_keys: SecretStr = SecretStr("")
    metrics_host: str = "0.0.0.0"  # noqa: S104 - scraped by Prometheus from outside
    metrics_port: int = 8082
    consumer_group: str = ""  # empty: "<topic prefix>-dispatcher" (signet-dispatcher)
    # HTTP requests running at once, every destination together.
    max_in_flight: int = Field(default=256, ge=1)
    max_in_flight_per_destination: int = Field(default=16, ge=1)
    # Deliveries taken from Kafka and not finished (running, or queued behind their
    # destination's cap); the consumer takes no more beyond it.
    max_pending: int = Field(default=2048, ge=1)
    # A delivery may queue behind its destination's cap as long as its expected wait
    # (queued / cap * the destination's recent request time) is below this, and waits
    # no longer than this; beyond, it goes to the first retry tier without an attempt,
    # so one slow endpoint cannot fill max_pending while a fast one may queue a whole
    # burst. As long as the first tier's delay: waiting less is faster than deferring.
    max_queue_wait_seconds: float = Field(default=5.0, gt=0)
    # A hard cap on the deliveries queued behind one destination, however fast it is.
    max_queued_per_destination: int = Field(default=2048, ge=0)  # = max_pending's default
    # Retries. The delay after attempt n is retry_delays_seconds[n-1] (the last one
    # repeats), ±retry_jitter; a destination's own retry_policy overrides each part.
    retry_delays_seconds: tuple[PositiveFloat, ...] = Field(
        default=DEFAULT_RETRY_DELAYS_SECONDS, min_length=1
    )
    retry_jitter: float = Field(default=0.2, ge=0, lt=1)
    retry_max_attempts: int | None = Field(default=None, ge=1)  # None: 1 + len(delays)
    retry_max_age_seconds: float | None = Field(default=None, gt=0)  # None: no age limit
    # Records one retry-tier partition holds in memory until due; it pauses beyond that.
    retry_hold_capacity: int = Field(default=10_000, ge=2)
    # Records of one fifo-hold partition waiting in memory in their FIFO lines; the
    # partition pauses at this and resumes at half (services/dispatcher/held_flow.py).
    fifo_held_in_memory: int = Field(default=1000, ge=2)
    # A held delivery that waited in line longer than this when its turn comes is given
    # up (exhausted, never sent); at most FIFO_MAX_WAIT_SECONDS (60 h), so it never meets
    # the hold topic's retention. Lower only to give up sooner.
    fifo_max_wait_seconds: float = Field(
        default=FIFO_MAX_WAIT_SECONDS, gt=0, le=FIFO_MAX_WAIT_SECONDS
    )
    # How long a fetch may wait for data: a record (a fresh delivery, a retry hopping
    # tiers) is seen within about this on brokers that do not answer a fetch early.
    fetch_wait_max_ms: int = Field(default=20, ge=1, le=5000)
    # Circuit breaker: opens after this many consecutive failures of a destination; a
    # probe goes out after the cool-down, which doubles on every failed probe.
    breaker_failure_threshold: int = Field(default=5, ge=1)
    breaker_cooldown_seconds: float = Field(default=30.0, gt=0)
    breaker_max_cooldown_seconds: float = Field(default=600.0, gt=0)
    # Endpoint health: a destination failing without a success for this long is disabled.
    disable_after_failing_seconds: float = Field(default=5 * 24 * 3600.0, gt=0)
    connect_timeout_seconds: float = Field(default=5.0, gt=0)
    # Per attempt, when the destination sets no timeout_seconds of its own.
    request_timeout_seconds: float = Field(default=15.0, gt=0)
    response_excerpt_bytes: int = Field(default=4096, ge=0)
    allow_insecure_destinations: bool = False
    allow_private_destinations: bool = False
    # Deliveries and tests leave through this forward proxy (http://[user:pass@]host:port),
    # tunnelled with CONNECT to the address the SSRF guard approved (signet/security/egress.py);
    # hosts the comma-separated no-proxy list names are reached directly.
    egress_proxy_url: SecretStr | None = None
    egress_no_proxy: str = ""
    consumer_session_timeout_seconds: float = 10.0
    commit_interval_seconds: float = Field(default=1.0, gt=0)
    # SIGTERM: how long in-flight requests may run on before they are abandoned (and
    # redelivered after the restart). Longer than the request timeout, so they finish.
    drain_timeout_seconds: float = Field(default=25.0, ge=0)
    # A delivery may name a destination the config view has not seen yet (the router's
    # snapshot is still on its way); wait this long for it before calling it deleted.
    config_wait_seconds: float = Field(default=5.0, ge=0)
    config_ready_timeout_seconds: float = Field(default=60.0, gt=0)


class AlerterSettings(CommonSettings):
    """Exhausted / disabled outcomes → the workspace's Slack alert channels."""

    @model_validator(mode="before")
    @classmethod
    def _default_group(cls, data: Any) -> Any:
        return _group_per_installation(data, "consumer_group", "alerter")

    master_keys: SecretStr = SecretStr("")  # opens the sealed Slack webhook URLs
    # Base of the links to an event in the embed: {public_url}/embed#/events/<event_id>.
    public_url: str = f"http://127.0.0.1:{PORTAL_PORT}"
    metrics_host: str = "0.0.0.0"  # noqa: S104 - scraped by Prometheus from outside
    metrics_port: int = Field(default=8083, ge=0, le=65535)
    consumer_group: str = ""  # empty: "<topic prefix>-alerter" (signet-alerter)
    consumer_session_timeout_seconds: float = 10.0
    commit_interval_seconds: float = Field(default=1.0, gt=0)
    # Alerts (or digests) being sent to Slack at once; the consumer pauses beyond it.
    max_in_flight: int = Field(default=64, ge=1)
    # Offsets read but not committable yet (behind a folded outcome or a slow alert):
    # past this the folded digests go out early and the consumer pauses (bounds memory).
    max_held_offsets: int = Field(default=500_000, ge=100)
    # Storm control: after an alert for a destination, further ones within the window
    # are folded into one digest sent when the window closes.
    storm_window_seconds: float = Field(default=600.0, gt=0)
    digest_examples: int = Field(default=5, ge=1, le=10)
    slack_timeout_seconds: float = Field(default=10.0, gt=0)
    # The alerter's own retry budget per Slack message; then the alert is dead-lettered.
    slack_max_attempts: int = Field(default=6, ge=1)
    slack_backoff_initial_seconds: float = Field(default=1.0, gt=0)
    slack_backoff_max_seconds: float = Field(default=60.0, gt=0)
    slack_retry_after_max_seconds: float = Field(default=120.0, gt=0)
    # Tests and the dev stack only: Slack stand-ins on loopback over plain http.
    allow_private_destinations: bool = False
    allow_insecure_destinations: bool = False
    # Slack posts leave through this forward proxy, as the dispatcher's deliveries do.
    egress_proxy_url: SecretStr | None = None
    egress_no_proxy: str = ""
    # An outcome may name a workspace the config view has not seen yet: wait this long.
    config_wait_seconds: float = Field(default=5.0, ge=0)
    config_ready_timeout_seconds: float = Field(default=60.0, gt=0)
    # SIGTERM: how long pending digests and in-flight alerts may take before the exit.
    shutdown_timeout_seconds: float = Field(default=20.0, gt=0)


class DevStackSettings(CommonSettings):
    """``signet up``: the embedded broker and where the dev stack keeps its keys.

    Ports you type (ingest, portal) must be free; the internal ones (broker, router web,
    dispatcher metrics, receiver) move to a free port when taken, and 0 means "any".
    """

    kafka_bootstrap: str = ""  # empty: start the embedded Tansu broker
    broker_port: int = Field(default=9092, ge=0, le=65535)
    state_dir: Path = Path(".signet")
    # The dev stack listens on loopback only: it allows loopback http destinations.
    host: str = "127.0.0.1"
    ingest_port: int = Field(default=INGEST_PORT, ge=0, le=65535)
    portal_port: int = Field(default=PORTAL_PORT, ge=0, le=65535)
    dispatcher_metrics_port: int = Field(default=8082, ge=0, le=65535)
    router_web_port: int = Field(default=6066, ge=0, le=65535)
    alerter_metrics_port: int = Field(default=8083, ge=0, le=65535)
    # The local webhook receiver of the printed walk-through (`signet listen`).
    receiver: bool = True
    receiver_port: int = Field(default=9000, ge=0, le=65535)
    # The example host page (examples/embed-host): a customer's settings page with the embed.
    embed_host: bool = True
    embed_host_port: int = Field(default=8090, ge=0, le=65535)
    operator_key: SecretStr | None = None
    master_keys: SecretStr | None = None
    session_key: SecretStr | None = None
    ready_timeout_seconds: float = Field(default=60.0, gt=0)
    stop_timeout_seconds: float = Field(default=20.0, gt=0)
    restart_initial_delay_seconds: float = Field(default=0.5, gt=0)
    restart_max_delay_seconds: float = Field(default=30.0, gt=0)
    # Consecutive crashes (none lasting restart_stable_seconds) before `signet up` gives up.
    restart_max_attempts: int = Field(default=8, ge=1)
    restart_stable_seconds: float = Field(default=30.0, gt=0)


class KeyRotationSettings(CommonSettings):
    """``signet keys rotate``: the key ring with the NEW master key first, old ones after."""

    master_keys: SecretStr = SecretStr("")
    # Per re-encrypted destination: produced, then seen applied in the config view.
    command_timeout_seconds: float = Field(default=30.0, gt=0)
    config_ready_timeout_seconds: float = Field(default=60.0, gt=0)

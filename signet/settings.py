"""Settings of every Signet process: one frozen class per service, env prefix ``SIGNET_``.

Read once in a service's ``__main__`` and passed inward; no other module reads the
environment. Secrets are ``SecretStr`` so they are masked when settings are printed.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

INGEST_PORT = 8080
PORTAL_PORT = 8081


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


class IngestSettings(CommonSettings):
    host: str = "0.0.0.0"  # noqa: S104 - a gateway listens on every interface
    port: int = INGEST_PORT
    max_payload_bytes: int = 256 * 1024
    max_bulk_events: int = 500
    idempotency_ttl_seconds: int = 24 * 3600
    idempotency_cache_size: int = 200_000
    produce_timeout_seconds: float = 10.0


class PortalSettings(CommonSettings):
    host: str = "0.0.0.0"  # noqa: S104
    port: int = PORTAL_PORT
    public_url: str = f"http://127.0.0.1:{PORTAL_PORT}"
    operator_key: SecretStr = SecretStr("")
    master_keys: SecretStr = SecretStr("")
    session_key: SecretStr | None = None
    session_max_ttl_seconds: int = 24 * 3600
    command_timeout_seconds: float = 10.0
    allow_insecure_destinations: bool = False
    database_url: str = "sqlite:///.signet/signet.db"


class RouterSettings(CommonSettings):
    # Faust always starts a web server; each worker on a machine needs its own port.
    web_port: int = 6066
    web_host: str = "127.0.0.1"
    data_dir: Path = Path(".signet/router")
    consumer_session_timeout_seconds: float = 10.0


class DispatcherSettings(CommonSettings):
    master_keys: SecretStr = SecretStr("")
    metrics_port: int = 8082
    max_in_flight: int = Field(default=256, ge=1)
    max_in_flight_per_destination: int = Field(default=16, ge=1)
    connect_timeout_seconds: float = 5.0
    request_timeout_seconds: float = 15.0
    response_excerpt_bytes: int = 4096
    allow_insecure_destinations: bool = False
    allow_private_destinations: bool = False
    consumer_session_timeout_seconds: float = 10.0


class DevStackSettings(CommonSettings):
    """``signet up``: the embedded broker and where the dev stack keeps its keys."""

    kafka_bootstrap: str = ""  # empty: start the embedded Tansu broker
    broker_port: int = 9092
    state_dir: Path = Path(".signet")
    ingest_port: int = INGEST_PORT
    portal_port: int = PORTAL_PORT
    dispatcher_metrics_port: int = 8082
    router_web_port: int = 6066
    operator_key: SecretStr | None = None
    ready_timeout_seconds: float = 60.0

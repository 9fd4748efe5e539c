"""Python values for every Avro record in ``schemas/``; field names match (order may differ:
fields with defaults come last here).

All ``*_at`` fields are epoch milliseconds (UTC). Instances are frozen: a change to a
workspace is a new snapshot, never an edit in place.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import ClassVar

# A destination's field type, named here beside the records' own enums.
from signet_sdk.signing.schemes import SignatureScheme as SignatureScheme


class Environment(StrEnum):
    DEVELOPMENT = "development"
    STAGING = "staging"
    PRODUCTION = "production"


class DestinationType(StrEnum):
    WEBHOOK = "webhook"
    SLACK = "slack"


# The range of a workspace's own delivery-log retention (``log_retention_days``), in days.
MIN_LOG_RETENTION_DAYS, MAX_LOG_RETENTION_DAYS = 1, 365


class CommandKind(StrEnum):
    CREATE_WORKSPACE = "create_workspace"
    ADD_PUBLISHABLE_KEY = "add_publishable_key"
    REVOKE_PUBLISHABLE_KEY = "revoke_publishable_key"
    PUT_DESTINATION = "put_destination"
    DELETE_DESTINATION = "delete_destination"
    DISABLE_DESTINATION = "disable_destination"  # by the dispatcher: 410 or failing too long
    SET_LOG_RETENTION = "set_log_retention"


class DeliveryOrdering(StrEnum):
    """How a webhook destination's deliveries are ordered (docs/delivery.md#ordered-delivery)."""

    NONE = "none"  # concurrently, each on its own schedule
    FIFO = "fifo"  # one at a time, in the order the events were accepted


class OutcomeStatus(StrEnum):
    DELIVERED = "delivered"
    FAILED = "failed"
    EXHAUSTED = "exhausted"
    DESTINATION_DISABLED = "destination_disabled"


@dataclass(slots=True, frozen=True)
class RetryPolicy:
    avro_name: ClassVar[str] = "signet.RetryPolicy"
    max_attempts: int | None = None
    max_age_seconds: int | None = None
    delays_seconds: list[int] | None = None


@dataclass(slots=True, frozen=True)
class SealedSecret:
    avro_name: ClassVar[str] = "signet.SealedSecret"
    key_id: str
    wrapped_key: bytes
    ciphertext: bytes


@dataclass(slots=True, frozen=True)
class SigningSecret:
    avro_name: ClassVar[str] = "signet.SigningSecret"
    id: str
    sealed: SealedSecret
    hint: str
    created_at: int
    public_key: str | None = None
    expires_at: int | None = None


@dataclass(slots=True, frozen=True)
class SealedHeader:
    """A sensitive request header of a webhook destination (``authorization`` always is)."""

    avro_name: ClassVar[str] = "signet.SealedHeader"
    name: str
    sealed: SealedSecret
    hint: str


@dataclass(slots=True, frozen=True)
class ClientTls:
    """The client certificate a webhook destination presents (mutual TLS); PEM text."""

    avro_name: ClassVar[str] = "signet.ClientTls"
    certificate: str
    sealed_key: SealedSecret
    subject: str
    sha256: str
    not_after: int
    ca_certificate: str | None = None


@dataclass(slots=True, frozen=True)
class Destination:
    avro_name: ClassVar[str] = "signet.Destination"
    id: str
    type: str
    name: str
    created_at: int
    updated_at: int
    url: str | None = None
    sealed_url: SealedSecret | None = None
    event_types: list[str] = field(default_factory=list)
    signature_scheme: str = SignatureScheme.STANDARD_WEBHOOKS.value
    secrets: list[SigningSecret] = field(default_factory=list)
    enabled: bool = True
    disabled_reason: str | None = None
    timeout_seconds: float | None = None
    rate_limit_per_second: float | None = None
    retry_policy: RetryPolicy | None = None
    # Extra request headers (issue 17 §2): plain ones here, sensitive ones sealed.
    headers: dict[str, str] = field(default_factory=dict)
    sealed_headers: list[SealedHeader] = field(default_factory=list)
    tls: ClientTls | None = None  # mutual TLS (issue 17 §3)
    ordering: str = "none"  # DeliveryOrdering
    # The signature's header under a name the receivers already read (one-header schemes).
    signature_header: str | None = None


@dataclass(slots=True, frozen=True)
class PublishableKey:
    avro_name: ClassVar[str] = "signet.PublishableKey"
    id: str
    sha256: str
    hint: str
    created_at: int
    revoked_at: int | None = None


@dataclass(slots=True, frozen=True)
class Event:
    avro_name: ClassVar[str] = "signet.Event"
    id: str
    workspace_id: str
    type: str
    resource: str
    resource_id: str
    payload: bytes
    created_at: int
    source: str = "http"


@dataclass(slots=True, frozen=True)
class WorkspaceCommand:
    avro_name: ClassVar[str] = "signet.WorkspaceCommand"
    id: str
    workspace_id: str
    kind: str
    issued_at: int
    name: str | None = None
    environment: str | None = None
    publishable_key: PublishableKey | None = None
    destination: Destination | None = None
    target_id: str | None = None
    reason: str | None = None
    log_retention_days: int | None = None


@dataclass(slots=True, frozen=True)
class WorkspaceConfig:
    avro_name: ClassVar[str] = "signet.WorkspaceConfig"
    workspace_id: str
    version: int
    name: str
    environment: str
    created_at: int
    updated_at: int
    publishable_keys: list[PublishableKey] = field(default_factory=list)
    destinations: list[Destination] = field(default_factory=list)
    applied_commands: list[str] = field(default_factory=list)
    log_retention_days: int | None = None  # None: the global SIGNET_LOG_RETENTION_DAYS

    def destination(self, destination_id: str) -> Destination | None:
        return next((d for d in self.destinations if d.id == destination_id), None)


@dataclass(slots=True, frozen=True)
class Delivery:
    avro_name: ClassVar[str] = "signet.Delivery"
    id: str
    event_id: str
    workspace_id: str
    destination_id: str
    event_type: str
    body: bytes
    attempt: int
    event_created_at: int
    due_at: int
    first_attempt_at: int | None = None
    replay_of: str | None = None
    failing_since: int | None = None
    config_version: int | None = None
    fifo_sequence: int | None = None  # a FIFO destination's place in line (dispatcher/fifo.py)


@dataclass(slots=True, frozen=True)
class FifoLine:
    """Where a FIFO destination's line stands; compacted, keyed by destination id."""

    avro_name: ClassVar[str] = "signet.FifoLine"
    destination_id: str
    workspace_id: str
    writer: str
    updated_at: int
    head: int | None = None
    head_since: int | None = None
    done_through: int = -1
    held_through: int = -1
    waiting: int = 0


@dataclass(slots=True, frozen=True)
class Outcome:
    avro_name: ClassVar[str] = "signet.Outcome"
    id: str
    status: str
    delivery_id: str
    event_id: str
    workspace_id: str
    destination_id: str
    event_type: str
    attempt: int
    attempted_at: int
    event_created_at: int
    url: str | None = None
    http_status: int | None = None
    latency_ms: float | None = None
    error: str | None = None
    response_excerpt: str | None = None
    request_headers: dict[str, str] = field(default_factory=dict)
    next_attempt_at: int | None = None
    replay_of: str | None = None


@dataclass(slots=True, frozen=True)
class PayloadErasure:
    """Drop one event's payload from the delivery log (``DELETE …/events/{id}/payload``)."""

    avro_name: ClassVar[str] = "signet.PayloadErasure"
    id: str
    workspace_id: str
    event_id: str
    requested_at: int
    requested_by: str | None = None


@dataclass(slots=True, frozen=True)
class OperatorWebhook:
    """The operator's own webhook (signet/operator_webhook/): one record, one key."""

    avro_name: ClassVar[str] = "signet.OperatorWebhook"
    id: str
    url: str
    secret: SealedSecret
    secret_hint: str
    created_at: int
    updated_at: int
    event_types: list[str] = field(default_factory=list)


@dataclass(slots=True, frozen=True)
class DeadLetter:
    avro_name: ClassVar[str] = "signet.DeadLetter"
    source_topic: str
    partition: int
    offset: int
    reason: str
    error_type: str
    service: str
    failed_at: int
    original_key: bytes | None = None
    original_value: bytes | None = None


@dataclass(slots=True, frozen=True)
class EventTypeDefinition:
    """One type of the event-type catalog (``signet.catalog``); schema and example are
    JSON text."""

    avro_name: ClassVar[str] = "signet.EventTypeDefinition"
    name: str
    description: str
    version: int
    updated_at: int
    schema_json: str | None = None
    example_json: str | None = None
    deprecated: bool = False


Record = (
    RetryPolicy
    | SealedSecret
    | SigningSecret
    | SealedHeader
    | ClientTls
    | Destination
    | PublishableKey
    | Event
    | WorkspaceCommand
    | WorkspaceConfig
    | Delivery
    | Outcome
    | PayloadErasure
    | DeadLetter
    | EventTypeDefinition
    | OperatorWebhook
    | FifoLine
)
TOP_LEVEL_RECORDS: tuple[type[Record], ...] = (
    Event,
    WorkspaceCommand,
    WorkspaceConfig,
    Delivery,
    Outcome,
    PayloadErasure,
    DeadLetter,
    EventTypeDefinition,
    OperatorWebhook,
    FifoLine,
)

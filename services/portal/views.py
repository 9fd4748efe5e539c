"""What leaves the portal: the answer models of its operator and workspace routes, built
from config records, and :func:`answer`, which sends one.

One place decides what leaves the portal: sealed secrets and key hashes never do, only
their hints. Times are RFC 3339 strings in UTC with milliseconds
(``2026-04-17T18:22:00.000Z``); records keep epoch milliseconds. A field an answer may
leave out (a Slack channel has no ``url``; ``secret`` is shown once) has a default and
is sent only when the view sets it; every other field is always sent, ``null`` included.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from aiohttp import web
from pydantic import Field
from signet_sdk.contract.models import Answer

from services.portal.body_fields import NULL_UNDOCUMENTED
from services.portal.destination_bodies import RetryPolicy
from services.portal.headers_tls import headers_view
from services.portal.sessions import Role, SessionClaims
from signet.records.model import (
    ClientTls,
    DeliveryOrdering,
    Destination,
    DestinationType,
    Environment,
    PublishableKey,
    SigningSecret,
    WorkspaceConfig,
)
from signet.records.model import RetryPolicy as RetryPolicyRecord
from signet.web import json_response

Time = Annotated[
    str,
    Field(
        json_schema_extra={"format": "date-time"},
        description="RFC 3339, UTC",
        examples=["2026-04-17T18:22:00.123Z"],
    ),
]


def iso(ms: int | None) -> str | None:
    if ms is None:
        return None
    return (
        datetime.fromtimestamp(ms / 1000, UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )


def at(ms: int) -> str:
    """A time that is always there (``iso`` of a number is never None)."""
    return iso(ms) or ""


def answer(body: Answer, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    """``body`` as JSON: every field the view set, ``null`` included; left-out optional
    fields stay out (``exclude_unset``)."""
    return json_response(body.model_dump(mode="json", exclude_unset=True), status, headers)


# -- operator API ----------------------------------------------------------------------


class PublishableKeyInfo(Answer):
    """A publishable key as listed: never the key, only a hint of it."""

    id: str
    hint: str = Field(examples=["pk_live_…f3Qa"])
    created_at: Time
    revoked_at: Time | None


class PublishableKeyCreated(PublishableKeyInfo):
    publishable_key: str = Field(description="shown once")


class Workspace(Answer):
    """What the operator sees of a workspace."""

    id: str
    name: str
    environment: Environment
    publishable_keys: list[PublishableKeyInfo]
    destination_count: int
    version: int
    created_at: Time
    updated_at: Time
    log_retention_days: int | None = Field(
        description="days its delivery log keeps; null: the portal's SIGNET_LOG_RETENTION_DAYS"
    )


class WorkspaceCreated(Workspace):
    publishable_key: str = Field(description="pk_live_ (production) or pk_test_; shown once")


class WorkspacePage(Answer):
    data: list[Workspace]
    has_more: bool


class Session(Answer):
    token: str
    expires_at: Time
    embed_url: str
    session_id: str
    workspace_id: str
    role: Role
    allowed_origins: list[str]


def key_view(key: PublishableKey) -> PublishableKeyInfo:
    return PublishableKeyInfo(
        id=key.id, hint=key.hint, created_at=at(key.created_at), revoked_at=iso(key.revoked_at)
    )


def _workspace_fields(config: WorkspaceConfig) -> dict[str, object]:
    return {
        "id": config.workspace_id,
        "name": config.name,
        "environment": config.environment,
        "publishable_keys": [key_view(k) for k in config.publishable_keys],
        "destination_count": len(config.destinations),
        "version": config.version,
        "created_at": at(config.created_at),
        "updated_at": at(config.updated_at),
        "log_retention_days": config.log_retention_days,
    }


def workspace_view(config: WorkspaceConfig) -> Workspace:
    return Workspace.model_validate(_workspace_fields(config))


def created_workspace_view(config: WorkspaceConfig, publishable_key: str) -> WorkspaceCreated:
    """The new workspace and its first key, in the one answer that shows the key."""
    return WorkspaceCreated.model_validate(
        {**_workspace_fields(config), "publishable_key": publishable_key}
    )


# -- workspace API ---------------------------------------------------------------------


class SessionInfo(Answer):
    role: Role
    expires_at: Time


class SessionWorkspace(Answer):
    """What an embed session sees of its workspace (no publishable keys: they are the SaaS's)."""

    id: str
    name: str
    environment: str
    destination_count: int
    created_at: Time
    updated_at: Time
    session: SessionInfo


def session_workspace_view(config: WorkspaceConfig, claims: SessionClaims) -> SessionWorkspace:
    return SessionWorkspace(
        id=config.workspace_id,
        name=config.name,
        environment=config.environment,
        destination_count=len(config.destinations),
        created_at=at(config.created_at),
        updated_at=at(config.updated_at),
        session=SessionInfo(role=claims.role, expires_at=at(claims.expires_at)),
    )


class SigningSecretInfo(Answer):
    id: str
    hint: str
    public_key: Annotated[str | None, NULL_UNDOCUMENTED] = Field(
        default=None, description="Ed25519 only: the whpk_ public key; absent otherwise"
    )
    created_at: Time
    expires_at: Time | None = Field(description="when it stops signing; null: the primary")


class ClientTlsInfo(Answer):
    """What is shown of a destination's client certificate (its key never is)."""

    client_certificate_subject: str = Field(examples=["CN=signet.example.com"])
    client_certificate_sha256: str = Field(description="hex SHA-256 of the certificate (DER)")
    client_certificate_not_after: Time = Field(description="when the certificate expires")
    ca_certificate: str | None = Field(description="PEM: the receiver's pinned CA; null: none")


def client_tls_view(tls: ClientTls | None) -> ClientTlsInfo | None:
    if tls is None:
        return None
    return ClientTlsInfo(
        client_certificate_subject=tls.subject,
        client_certificate_sha256=tls.sha256,
        client_certificate_not_after=at(tls.not_after),
        ca_certificate=tls.ca_certificate,
    )


# Left out of a Slack channel's answer (never null in a webhook's): documented as the type
# alone, the default saying what "absent" means.
_WebhookText = Annotated[str | None, NULL_UNDOCUMENTED, Field(description="webhooks only")]


class DestinationInfo(Answer):
    """A webhook destination or a Slack alert channel. A Slack channel has only the common
    fields: its incoming-webhook URL is a credential, never shown, not even a hint."""

    id: str
    type: DestinationType
    name: str
    enabled: bool
    disabled_reason: str | None = Field(description="why Signet disabled it (a 410, …)")
    url: _WebhookText = None
    event_types: list[str] = Field(default_factory=list, description="webhooks only")
    signature_scheme: _WebhookText = None
    timeout_seconds: float | None = Field(default=None, description="null: the platform's")
    rate_limit_per_second: float | None = Field(default=None, description="null: no limit")
    retry_policy: RetryPolicy | None = Field(default=None, description="null: the platform's")
    ordering: DeliveryOrdering | None = Field(
        default=None, description="webhooks only: `none` or `fifo` (docs/delivery.md)"
    )
    signature_header: str | None = Field(
        default=None,
        description="webhooks only: the header the signature is sent in; null: the scheme's",
    )
    secret_hint: str | None = Field(default=None, description="the primary secret's hint")
    secrets: list[SigningSecretInfo] = Field(
        default_factory=list, description="webhooks only: newest (primary) first"
    )
    headers: dict[str, str] = Field(
        default_factory=dict, description="webhooks only: sensitive values as …1234"
    )
    sensitive_headers: list[str] = Field(default_factory=list, description="webhooks only")
    tls: ClientTlsInfo | None = Field(default=None, description="mutual TLS; null: none")
    created_at: Time
    updated_at: Time


class DestinationCreated(DestinationInfo):
    secret: Annotated[str | None, NULL_UNDOCUMENTED] = Field(
        default=None, description="only when Signet generated it; shown this once"
    )


class DestinationList(Answer):
    data: list[DestinationInfo]


def _retry_policy_view(policy: RetryPolicyRecord | None) -> RetryPolicy | None:
    if policy is None:
        return None
    # As stored (it was checked on the way in): an answer never fails on a stored value.
    delays = None if policy.delays_seconds is None else list(policy.delays_seconds)
    return RetryPolicy.model_construct(
        max_attempts=policy.max_attempts,
        max_age_seconds=policy.max_age_seconds,
        delays_seconds=delays,
    )


def _secret_view(secret: SigningSecret) -> SigningSecretInfo:
    fields: dict[str, object] = {
        "id": secret.id,
        "hint": secret.hint,
        "created_at": at(secret.created_at),
        "expires_at": iso(secret.expires_at),
    }
    if secret.public_key is not None:
        fields["public_key"] = secret.public_key
    return SigningSecretInfo.model_validate(fields)


def primary_secret(destination: Destination) -> SigningSecret | None:
    """The newest secret signs first; older ones only until they expire (rotation)."""
    return max(destination.secrets, key=lambda s: s.created_at, default=None)


def destination_fields(destination: Destination) -> dict[str, object]:
    """The fields of a destination's answer (``model_validate`` them into a model)."""
    common: dict[str, object] = {
        "id": destination.id,
        "type": destination.type,
        "name": destination.name,
        "enabled": destination.enabled,
        "disabled_reason": destination.disabled_reason,
        "created_at": at(destination.created_at),
        "updated_at": at(destination.updated_at),
    }
    if destination.type == DestinationType.SLACK.value:
        return common
    primary = primary_secret(destination)
    return {
        **common,
        "url": destination.url,
        "event_types": list(destination.event_types),
        "signature_scheme": destination.signature_scheme,
        "timeout_seconds": destination.timeout_seconds,
        "rate_limit_per_second": destination.rate_limit_per_second,
        "retry_policy": _retry_policy_view(destination.retry_policy),
        "ordering": destination.ordering,
        "signature_header": destination.signature_header,
        "secret_hint": primary.hint if primary else None,
        "secrets": [_secret_view(s) for s in destination.secrets],
        **headers_view(destination),
        "tls": client_tls_view(destination.tls),
    }


def destination_view(destination: Destination) -> DestinationInfo:
    return DestinationInfo.model_validate(destination_fields(destination))

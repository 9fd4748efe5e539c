"""The JSON shapes of the portal's responses, built from config records.

One place decides what leaves the portal: sealed secrets and key hashes never do, only
their hints. Times are RFC 3339 strings in UTC with milliseconds
(``2026-04-17T18:22:00.000Z``); records keep epoch milliseconds.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from services.portal.sessions import SessionClaims
from signet.records.model import (
    Destination,
    DestinationType,
    PublishableKey,
    RetryPolicy,
    SigningSecret,
    WorkspaceConfig,
)


def iso(ms: int | None) -> str | None:
    if ms is None:
        return None
    return (
        datetime.fromtimestamp(ms / 1000, UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )


def key_view(key: PublishableKey) -> dict[str, Any]:
    return {
        "id": key.id,
        "hint": key.hint,
        "created_at": iso(key.created_at),
        "revoked_at": iso(key.revoked_at),
    }


def workspace_view(config: WorkspaceConfig) -> dict[str, Any]:
    """What the operator sees of a workspace."""
    return {
        "id": config.workspace_id,
        "name": config.name,
        "environment": config.environment,
        "publishable_keys": [key_view(k) for k in config.publishable_keys],
        "destination_count": len(config.destinations),
        "version": config.version,
        "created_at": iso(config.created_at),
        "updated_at": iso(config.updated_at),
    }


def session_workspace_view(config: WorkspaceConfig, claims: SessionClaims) -> dict[str, Any]:
    """What an embed session sees of its workspace (no publishable keys: they are the SaaS's)."""
    return {
        "id": config.workspace_id,
        "name": config.name,
        "environment": config.environment,
        "destination_count": len(config.destinations),
        "created_at": iso(config.created_at),
        "updated_at": iso(config.updated_at),
        "session": {"role": claims.role.value, "expires_at": iso(claims.expires_at)},
    }


def _retry_policy_view(policy: RetryPolicy | None) -> dict[str, Any] | None:
    if policy is None:
        return None
    return {
        "max_attempts": policy.max_attempts,
        "max_age_seconds": policy.max_age_seconds,
        "delays_seconds": policy.delays_seconds,
    }


def _secret_view(secret: SigningSecret) -> dict[str, Any]:
    view: dict[str, Any] = {
        "id": secret.id,
        "hint": secret.hint,
        "created_at": iso(secret.created_at),
        "expires_at": iso(secret.expires_at),
    }
    if secret.public_key is not None:
        view["public_key"] = secret.public_key
    return view


def primary_secret(destination: Destination) -> SigningSecret | None:
    """The newest secret signs first; older ones only until they expire (rotation)."""
    return max(destination.secrets, key=lambda s: s.created_at, default=None)


def destination_view(destination: Destination) -> dict[str, Any]:
    common: dict[str, Any] = {
        "id": destination.id,
        "type": destination.type,
        "name": destination.name,
        "enabled": destination.enabled,
        "disabled_reason": destination.disabled_reason,
        "created_at": iso(destination.created_at),
        "updated_at": iso(destination.updated_at),
    }
    if destination.type == DestinationType.SLACK.value:
        # The incoming-webhook URL is a credential: sealed, never shown, not even a hint.
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
        "secret_hint": primary.hint if primary else None,
        "secrets": [_secret_view(s) for s in destination.secrets],
    }

"""What a workspace action acts on, and how its failures answer.

The actions (``actions_api.py``, ``replay_api.py``) are scoped like every workspace route:
a destination or delivery of another workspace is indistinguishable from one that does
not exist (404). Deliveries to a destination that is disabled or gone are refused (409):
the dispatcher would send nothing. An unreachable delivery log is a 503 to retry.
"""

from __future__ import annotations

from aiohttp import web

from services.portal.auth import SessionHandler
from services.portal.commands import ConfigReader
from services.portal.delivery_log.errors import StoreUnavailable
from services.portal.problems import ACTION_ERRORS, conflict, log_unavailable
from services.portal.sessions import SessionClaims
from signet.api.operations import problem
from signet.records.model import Destination, DestinationType, WorkspaceConfig
from signet.web import not_found

# What the actions that read the delivery log may also answer 503 for (``log_errors``).
LOG_ERRORS = {
    **ACTION_ERRORS,
    503: problem(
        "Kafka unavailable or the portal not caught up; nothing written (or the delivery "
        "log database did not answer)",
        **{"Retry-After": "seconds"},
    ),
}


def workspace_of(view: ConfigReader, claims: SessionClaims) -> WorkspaceConfig:
    config = view.workspace(claims.workspace_id)
    if config is None:
        raise not_found("the session's workspace does not exist")
    return config


def webhook_of(config: WorkspaceConfig, destination_id: str) -> Destination:
    destination = config.destination(destination_id)
    if destination is None:
        raise not_found(f"no destination {destination_id}")
    if destination.type != DestinationType.WEBHOOK.value:
        raise conflict(f"destination {destination.id} is a Slack alert channel, not a webhook")
    return destination


def sendable(config: WorkspaceConfig, destination_id: str) -> Destination:
    """A webhook destination the dispatcher would deliver to now, or 404/409."""
    destination = webhook_of(config, destination_id)
    if not destination.enabled:
        reason = f" ({destination.disabled_reason})" if destination.disabled_reason else ""
        raise conflict(f"destination {destination.id} is disabled{reason}; enable it first")
    return destination


def log_errors(handler: SessionHandler) -> SessionHandler:
    """An unreachable delivery log is a 503 to retry, not a 500."""

    async def translated(request: web.Request, claims: SessionClaims) -> web.StreamResponse:
        try:
            return await handler(request, claims)
        except StoreUnavailable as exc:
            raise log_unavailable() from exc

    return translated

"""The operational events an applied workspace command causes (pure, no Kafka).

The router is where a destination change becomes real (``apply.py``), so it announces it:
created, updated, deleted, disabled (by the dispatcher: a 410 or failing too long) and a
rotated secret. Compared before and after the command, so a command that changed nothing
(a disable about a version the customer has since changed, deleting what is gone, a
re-seal by ``signet keys rotate``) announces nothing.

Each event's ids come from the command id (``signet/operator_webhook/events.py``), and a
command is applied once: one already in ``applied_commands`` is skipped before this is
asked, so a router re-reading its uncommitted commands after a restart announces nothing
again. The announcements of a batch are acknowledged before its snapshots are stored
(``commands.py``), so none is lost; the one way to announce twice is a crash after the
announcement was acknowledged but before the snapshot was: the command is then applied
again and announced again with the same ``webhook-id``, at most once more per command of
the uncommitted tail.
"""

from __future__ import annotations

from typing import Any

from signet.operator_webhook.events import DisableCause, OperationalEvent, operational_delivery
from signet.records.model import (
    CommandKind,
    Delivery,
    Destination,
    WorkspaceCommand,
    WorkspaceConfig,
)

# What a customer changes; the sealed forms and updated_at change on a re-seal too.
_COMPARED = (
    "type",
    "name",
    "url",
    "event_types",
    "signature_scheme",
    "enabled",
    "timeout_seconds",
    "rate_limit_per_second",
    "retry_policy",
    "ordering",
    "signature_header",
)


def disable_cause(reason: str | None) -> DisableCause:
    """Which verdict disabled a destination, read from the dispatcher's reason
    (``services/dispatcher/policy.py``: a 410's reason starts ``HTTP 410``;
    ``pipeline.py``: a streak's starts ``failing continuously``)."""
    if reason is None:
        return DisableCause.OTHER
    if reason.startswith("HTTP 410"):
        return DisableCause.GONE
    if reason.startswith("failing continuously"):
        return DisableCause.FAILING
    return DisableCause.OTHER


def announcements(
    before: WorkspaceConfig | None, after: WorkspaceConfig, cmd: WorkspaceCommand
) -> list[Delivery]:
    """The operational deliveries ``cmd`` causes, taking ``before`` to ``after``."""
    if cmd.kind not in (
        CommandKind.PUT_DESTINATION,
        CommandKind.DELETE_DESTINATION,
        CommandKind.DISABLE_DESTINATION,
    ):
        return []
    old = {d.id: d for d in before.destinations} if before is not None else {}
    new = {d.id: d for d in after.destinations}
    out: list[Delivery] = []

    def announce(kind: OperationalEvent, destination_id: str, **data: Any) -> None:
        out.append(
            operational_delivery(
                kind,
                cause=(cmd.id, destination_id),
                cause_at_ms=cmd.issued_at,
                workspace_id=cmd.workspace_id,
                destination_id=destination_id,
                data=data,
            )
        )

    for destination_id in sorted(old.keys() - new.keys()):
        announce(OperationalEvent.DESTINATION_DELETED, destination_id)
    for destination_id, now in new.items():
        was = old.get(destination_id)
        if was is None:
            announce(OperationalEvent.DESTINATION_CREATED, destination_id, **_described(now))
            continue
        if cmd.kind == CommandKind.DISABLE_DESTINATION:
            if was.enabled and not now.enabled:
                cause = disable_cause(now.disabled_reason)
                extra = {"http_status": 410} if cause is DisableCause.GONE else {}
                announce(
                    OperationalEvent.DESTINATION_DISABLED,
                    destination_id,
                    cause=cause.value,
                    reason=now.disabled_reason,
                    **extra,
                )
            continue
        if _primary_secret(now) != _primary_secret(was):
            announce(
                OperationalEvent.DESTINATION_SECRET_ROTATED,
                destination_id,
                secret_id=_primary_secret(now),
            )
        changed = [name for name in _COMPARED if getattr(was, name) != getattr(now, name)]
        old_extras, new_extras = _headers_tls(was), _headers_tls(now)
        changed += [name for name in new_extras if old_extras[name] != new_extras[name]]
        if changed:
            announce(
                OperationalEvent.DESTINATION_UPDATED,
                destination_id,
                changed=changed,
                **_described(now),
            )
    return out


def _headers_tls(destination: Destination) -> dict[str, object]:
    """The custom headers and client certificate as a customer changes them: a re-seal
    changes neither (a sensitive value is compared by its name and hint)."""
    tls = destination.tls
    return {
        "headers": (destination.headers, [(h.name, h.hint) for h in destination.sealed_headers]),
        "tls": None if tls is None else (tls.sha256, tls.ca_certificate),
    }


def _primary_secret(destination: Destination) -> str | None:
    newest = max(destination.secrets, key=lambda s: s.created_at, default=None)
    return newest.id if newest is not None else None


def _described(destination: Destination) -> dict[str, Any]:
    """What an operator may see of a destination: never a secret nor a Slack URL."""
    return {
        "type": destination.type,
        "name": destination.name,
        "url": destination.url,
        "event_types": list(destination.event_types),
        "enabled": destination.enabled,
    }

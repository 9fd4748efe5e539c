"""Destinations from validated bodies: whole records, with their secrets sealed.

A webhook destination or a Slack alert channel arrives as a model of
``destination_bodies.py`` (every field already checked, each error naming its field) and
leaves as a full :class:`Destination` — the router upserts it by id as it is. Secrets and
Slack URLs are sealed here, the moment they are read: the plain text goes no further than
this module (and, for a generated secret, the one response that shows it).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from signet_sdk.contract.models import given
from signet_sdk.ids import new_id
from signet_sdk.signing import SecretMaterial

from services.portal.destination_bodies import (
    DestinationPatch,
    RetryPolicy,
    SlackDestinationInput,
    WebhookDestinationInput,
    read_new_destination,
    read_patch,
)
from services.portal.destination_fields import (
    BodyRules,
    DestinationRules,
)
from services.portal.headers_tls import client_tls, header_changes
from services.portal.ordering import check_ordering
from services.portal.signature_header import check_signature_header, stored_name
from services.portal.signing_secrets import SchemeCatalog
from signet.records.model import (
    DeliveryOrdering,
    Destination,
    DestinationType,
    SealedSecret,
    SignatureScheme,
    SigningSecret,
)
from signet.records.model import RetryPolicy as RetryPolicyRecord
from signet.security.secrets import MasterKeyRing, hint, secret_aad, slack_url_aad

NewBody = WebhookDestinationInput | SlackDestinationInput


@dataclass(slots=True, frozen=True)
class NewDestination:
    """A built destination and, if Signet generated its secret, that secret (shown once)."""

    destination: Destination
    revealed_secret: str | None = None


def retry_policy_record(policy: RetryPolicy | None) -> RetryPolicyRecord | None:
    """The record of a policy body; all-null (or null) is the platform's: None."""
    if policy is None:
        return None
    record = RetryPolicyRecord(
        max_attempts=policy.max_attempts,
        max_age_seconds=policy.max_age_seconds,
        delays_seconds=None if policy.delays_seconds is None else list(policy.delays_seconds),
    )
    return None if record == RetryPolicyRecord() else record


def _patterns(event_types: list[str]) -> list[str]:
    return list(dict.fromkeys(event_types))  # keep order, drop repeats


class DestinationBuilder:
    """Reads destination bodies under this deployment's rules and builds sealed
    :class:`Destination` records."""

    def __init__(
        self, ring: MasterKeyRing, schemes: SchemeCatalog, rules: DestinationRules
    ) -> None:
        self._ring = ring
        self._schemes = schemes
        self._rules = rules

    # -- reading ---------------------------------------------------------------------------

    def read_new(self, raw: bytes, kind: DestinationType | None = None) -> NewBody:
        """A create body, or :class:`~signet_sdk.contract.fields.FieldErrors` naming each field
        (``kind``: what :func:`destination_kind` said of ``raw``, if it was asked)."""
        return read_new_destination(raw, BodyRules(self._rules, self._schemes), kind)

    def read_patch(self, raw: bytes, current: Destination) -> DestinationPatch:
        """A PATCH body for ``current`` (a Slack channel takes only its own fields)."""
        kind = DestinationType(current.type)
        return read_patch(raw, BodyRules(self._rules, self._schemes, patching=kind))

    # -- building --------------------------------------------------------------------------

    def create(self, workspace_id: str, body: NewBody, *, now_ms: int) -> NewDestination:
        """A new destination from a validated create body."""
        destination_id = new_id("dst", now_ms=now_ms)
        if isinstance(body, SlackDestinationInput):
            return self._create_slack(workspace_id, destination_id, body, now_ms)
        return self._create_webhook(workspace_id, destination_id, body, now_ms)

    def _create_webhook(
        self, workspace_id: str, destination_id: str, body: WebhookDestinationInput, now_ms: int
    ) -> NewDestination:
        scheme = body.signature_scheme or SignatureScheme.STANDARD_WEBHOOKS
        material = (
            self._schemes.generate(scheme)
            if body.secret is None
            else self._schemes.from_customer(scheme, body.secret)  # checked when read
        )
        destination = Destination(
            id=destination_id,
            type=DestinationType.WEBHOOK.value,
            name=body.name,
            created_at=now_ms,
            updated_at=now_ms,
            url=body.url,
            event_types=_patterns(body.event_types or ["*"]),
            signature_scheme=scheme.value,
            secrets=[self._signing_secret(workspace_id, destination_id, material, now_ms)],
            enabled=True if body.enabled is None else body.enabled,
            timeout_seconds=body.timeout_seconds,
            rate_limit_per_second=body.rate_limit_per_second,
            retry_policy=retry_policy_record(body.retry_policy),
            tls=None
            if body.tls is None
            else client_tls(self._ring, workspace_id, destination_id, body.tls),
            **header_changes(
                self._ring, workspace_id, destination_id, body.headers or {}, body.sensitive_headers
            ),
            ordering=(body.ordering or DeliveryOrdering.NONE).value,
            signature_header=body.signature_header,
        )
        destination = dataclasses.replace(destination, signature_header=stored_name(destination))
        check_ordering(destination)
        check_signature_header(destination)
        # A generated secret is shown once; the customer's own is never echoed back. An
        # Ed25519 private key is never shown: its public key is in the secrets list.
        generated = body.secret is None and material.public_key is None
        return NewDestination(destination, material.secret if generated else None)

    def _create_slack(
        self, workspace_id: str, destination_id: str, body: SlackDestinationInput, now_ms: int
    ) -> NewDestination:
        return NewDestination(
            Destination(
                id=destination_id,
                type=DestinationType.SLACK.value,
                name=body.name,
                created_at=now_ms,
                updated_at=now_ms,
                sealed_url=self._seal_slack_url(workspace_id, destination_id, body.webhook_url),
                enabled=True if body.enabled is None else body.enabled,
            )
        )

    def patch(
        self, workspace_id: str, current: Destination, body: DestinationPatch, *, now_ms: int
    ) -> Destination:
        """``current`` with a PATCH body's fields applied (the same object if none).

        A field left out is kept; ``null`` restores the platform default of
        ``timeout_seconds`` and ``retry_policy``, removes a rate limit, and leaves
        ``enabled`` as it is (the body's rules refuse it elsewhere).
        """
        changes: dict[str, Any] = {}
        if given(body, "name"):
            changes["name"] = body.name
        if given(body, "enabled"):
            changes["enabled"] = current.enabled if body.enabled is None else body.enabled
            if changes["enabled"]:
                changes["disabled_reason"] = None  # re-enabling clears why it was disabled
        if given(body, "webhook_url") and body.webhook_url is not None:
            changes["sealed_url"] = self._seal_slack_url(workspace_id, current.id, body.webhook_url)
        if given(body, "url"):
            changes["url"] = body.url
        if given(body, "event_types") and body.event_types is not None:
            changes["event_types"] = _patterns(body.event_types)
        if given(body, "timeout_seconds"):
            changes["timeout_seconds"] = body.timeout_seconds
        if given(body, "rate_limit_per_second"):
            changes["rate_limit_per_second"] = body.rate_limit_per_second
        if given(body, "retry_policy"):
            changes["retry_policy"] = retry_policy_record(body.retry_policy)
        changes |= self._patch_headers_tls(workspace_id, current, body)
        if given(body, "ordering") and body.ordering is not None:
            changes["ordering"] = body.ordering.value
        if given(body, "signature_header"):
            changes["signature_header"] = body.signature_header
        if not changes:
            return current
        patched = dataclasses.replace(
            current, updated_at=max(now_ms, current.updated_at), **changes
        )
        patched = dataclasses.replace(patched, signature_header=stored_name(patched))
        check_ordering(patched)
        check_signature_header(patched)
        return patched

    def _patch_headers_tls(
        self, workspace_id: str, current: Destination, body: DestinationPatch
    ) -> dict[str, Any]:
        """``headers`` replaces the map (null: none), ``sensitive_headers`` the sealed set,
        ``tls`` the client certificate (null: none)."""
        changes: dict[str, Any] = {}
        if given(body, "headers") or given(body, "sensitive_headers"):
            headers = (body.headers or {}) if given(body, "headers") else None
            sensitive = (body.sensitive_headers or []) if given(body, "sensitive_headers") else None
            changes |= header_changes(
                self._ring, workspace_id, current.id, headers, sensitive, current
            )
        if given(body, "tls"):
            tls = body.tls
            changes["tls"] = (
                None if tls is None else client_tls(self._ring, workspace_id, current.id, tls)
            )
        return changes

    # -- sealing ---------------------------------------------------------------------------

    def _signing_secret(
        self, workspace_id: str, destination_id: str, material: SecretMaterial, now_ms: int
    ) -> SigningSecret:
        return SigningSecret(
            id=new_id("sec", now_ms=now_ms),
            sealed=self._ring.seal(
                material.secret.encode(), secret_aad(workspace_id, destination_id)
            ),
            # For a key pair the public half identifies it; a private key shows nothing.
            hint=hint(material.shown),
            public_key=material.public_key,
            created_at=now_ms,
        )

    def _seal_slack_url(self, workspace_id: str, destination_id: str, url: str) -> SealedSecret:
        return self._ring.seal(url.encode(), slack_url_aad(workspace_id, destination_id))

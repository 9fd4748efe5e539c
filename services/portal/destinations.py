"""Destinations from request bodies: validated field by field, built into whole records.

A webhook destination or a Slack alert channel arrives as JSON, is checked with errors
naming each field, and leaves as a full :class:`Destination` — the router upserts it by
id as it is. Secrets and Slack URLs are sealed here, the moment they are read: the plain
text goes no further than this module (and, for a generated secret, the one response that
shows it).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from services.portal.signing_secrets import SchemeCatalog
from services.portal.validation import BodyReader
from signet.ids import new_id
from signet.records.model import (
    Destination,
    DestinationType,
    RetryPolicy,
    SealedSecret,
    SignatureScheme,
    SigningSecret,
)
from signet.sdk.signing import InvalidSecretError, SecretMaterial
from signet.security.secrets import MasterKeyRing, hint, secret_aad, slack_url_aad

NAME_MAX = 100
URL_MAX = 2048
SECRET_MAX = 1024
EVENT_TYPES_MAX = 50
EVENT_TYPE_MAX_LEN = 200
TIMEOUT_RANGE = (1.0, 30.0)
# Requests per second: from one every ~17 minutes up to 10,000.
RATE_LIMIT_RANGE = (0.001, 10_000.0)
MAX_ATTEMPTS_RANGE = (1, 50)
# Retry topics keep records 7 days; a longer age could never be honoured.
MAX_AGE_RANGE = (60, 7 * 24 * 3600)
DELAY_RANGE = (1, 12 * 3600)
DELAYS_MAX = 20
SLACK_HOST = "hooks.slack.com"
SLACK_PATHS = ("/services/", "/workflows/", "/triggers/")
# With insecure URLs allowed (the dev stack only): a Slack stand-in on loopback (`signet demo`).
LOCAL_SLACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})

_SEGMENT = r"[A-Za-z0-9_-]+"
EVENT_PATTERN = re.compile(rf"^(\*|{_SEGMENT}(\.{_SEGMENT})*(\.\*)?)$")

_WEBHOOK_FIELDS = (
    "type",
    "name",
    "url",
    "event_types",
    "signature_scheme",
    "secret",
    "enabled",
    "timeout_seconds",
    "rate_limit_per_second",
    "retry_policy",
)
_SLACK_FIELDS = ("type", "name", "webhook_url", "enabled")
_RETRY_FIELDS = ("max_attempts", "max_age_seconds", "delays_seconds")
# Named so PATCH can say why they cannot change, instead of "unknown field".
_FIXED_ON_PATCH = {
    "type": "cannot be changed; create a new destination",
    "signature_scheme": "cannot be changed in place; create a new destination",
    "secret": "cannot be set by PATCH; rotate the secret instead",
}


@dataclass(slots=True, frozen=True)
class DestinationRules:
    """Platform policy that shapes validation."""

    allow_insecure_urls: bool = False


@dataclass(slots=True, frozen=True)
class NewDestination:
    """A built destination and, if Signet generated its secret, that secret (shown once)."""

    destination: Destination
    revealed_secret: str | None = None


# -- field checks (pure; each returns an error message or None) -----------------------


def webhook_url_error(url: str, *, allow_insecure: bool) -> str | None:
    if any(c.isspace() or ord(c) < 0x20 for c in url):
        return "must not contain whitespace or control characters"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError:
        return "is not a valid URL"
    schemes = ("https", "http") if allow_insecure else ("https",)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "must be an absolute http(s) URL"
    if parts.scheme not in schemes:
        return "must use https (http needs SIGNET_ALLOW_INSECURE_DESTINATIONS)"
    if parts.username is not None or parts.password is not None:
        return "must not contain credentials; use the signature to authenticate"
    if parts.fragment:
        return "must not have a #fragment"
    return None


def slack_url_error(url: str, *, allow_local: bool = False) -> str | None:
    try:
        parts = urlsplit(url)
    except ValueError:
        return "is not a valid URL"
    if (
        allow_local
        and parts.scheme == "http"
        and parts.hostname in LOCAL_SLACK_HOSTS
        and parts.path.startswith(SLACK_PATHS)
        and parts.username is None
    ):
        return None
    if (
        parts.scheme != "https"
        or parts.hostname != SLACK_HOST
        or parts.port is not None
        or not parts.path.startswith(SLACK_PATHS)
        or len(parts.path.rstrip("/")) <= len("/services")
        or parts.username is not None
    ):
        expected = f"https://{SLACK_HOST}/services/…"
        if allow_local:  # a local stack's stand-in for Slack: say what it may look like
            paths = ", ".join(f"{p}…" for p in SLACK_PATHS)
            expected += f"; here also http://127.0.0.1:<port> with a path of {paths}"
        return f"must be a Slack incoming-webhook URL ({expected})"
    return None


def event_pattern_error(pattern: str) -> str | None:
    if EVENT_PATTERN.match(pattern):
        return None
    return "must be '*', 'prefix.*' or an event type like 'order.completed'"


# -- reading bodies --------------------------------------------------------------------

# Stands in for a secret that failed validation; ``done()`` raises before it is sealed.
_NO_SECRET = SecretMaterial("")


def _read_event_types(reader: BodyReader, default: list[str] | None) -> list[str]:
    patterns = reader.strings(
        "event_types", max_items=EVENT_TYPES_MAX, max_len=EVENT_TYPE_MAX_LEN, default=default
    )
    if not patterns:
        if reader.present("event_types") and not _failed(reader, "event_types"):
            reader.fail("event_types", "must list at least one pattern ('*' for every event)")
        return []
    for index, pattern in enumerate(patterns):
        if (message := event_pattern_error(pattern)) is not None:
            reader.fail(f"event_types[{index}]", message)
    return list(dict.fromkeys(patterns))  # keep order, drop repeats


def _read_url(reader: BodyReader, name: str, error: Callable[[str], str | None]) -> str:
    """A required URL checked by ``error``; "" (with a recorded error) when it is bad."""
    url = reader.text(name, max_len=URL_MAX)
    if url and (message := error(url)) is not None:
        reader.fail(name, message)
    return url


def _read_retry_policy(reader: BodyReader) -> RetryPolicy | None:
    nested = reader.obj("retry_policy", _RETRY_FIELDS)
    if nested is None:
        return None
    policy = RetryPolicy(
        max_attempts=nested.integer(
            "max_attempts", lo=MAX_ATTEMPTS_RANGE[0], hi=MAX_ATTEMPTS_RANGE[1]
        ),
        max_age_seconds=nested.integer("max_age_seconds", lo=MAX_AGE_RANGE[0], hi=MAX_AGE_RANGE[1]),
        delays_seconds=nested.integers(
            "delays_seconds", max_items=DELAYS_MAX, lo=DELAY_RANGE[0], hi=DELAY_RANGE[1]
        ),
    )
    return None if policy == RetryPolicy() else policy


def _read_rate_limit(reader: BodyReader) -> float | None:
    """Requests per second at most, or None: as fast as the in-flight caps allow."""
    return reader.number("rate_limit_per_second", lo=RATE_LIMIT_RANGE[0], hi=RATE_LIMIT_RANGE[1])


def _failed(reader: BodyReader, name: str) -> bool:
    field = reader.field(name)
    return any(e.field == field for e in reader.errors)


class DestinationBuilder:
    """Validates destination bodies and builds sealed :class:`Destination` records."""

    def __init__(
        self, ring: MasterKeyRing, schemes: SchemeCatalog, rules: DestinationRules
    ) -> None:
        self._ring = ring
        self._schemes = schemes
        self._rules = rules

    def _webhook_url_error(self, url: str) -> str | None:
        return webhook_url_error(url, allow_insecure=self._rules.allow_insecure_urls)

    def _slack_url_error(self, url: str) -> str | None:
        return slack_url_error(url, allow_local=self._rules.allow_insecure_urls)

    def create(self, workspace_id: str, body: Any, *, now_ms: int) -> NewDestination:
        """A new destination from a POST body, or :class:`InvalidInput` naming each field."""
        destination_id = new_id("dst", now_ms=now_ms)
        is_slack = isinstance(body, dict) and body.get("type") == DestinationType.SLACK.value
        if is_slack:
            return self._create_slack(workspace_id, destination_id, body, now_ms)
        return self._create_webhook(workspace_id, destination_id, body, now_ms)

    def _create_webhook(
        self, workspace_id: str, destination_id: str, body: Any, now_ms: int
    ) -> NewDestination:
        reader = BodyReader(body, _WEBHOOK_FIELDS)
        reader.choice("type", DestinationType, default=DestinationType.WEBHOOK)
        name = reader.text("name", max_len=NAME_MAX, strip=True)
        url = _read_url(reader, "url", self._webhook_url_error)
        event_types = _read_event_types(reader, ["*"])
        scheme = reader.choice(
            "signature_scheme", SignatureScheme, default=SignatureScheme.STANDARD_WEBHOOKS
        )
        enabled = reader.boolean("enabled", default=True)
        timeout = reader.number("timeout_seconds", lo=TIMEOUT_RANGE[0], hi=TIMEOUT_RANGE[1])
        rate_limit = _read_rate_limit(reader)
        retry_policy = _read_retry_policy(reader)
        own_secret = reader.optional_text("secret", max_len=SECRET_MAX)
        material = self._secret_material(reader, scheme, own_secret)
        reader.done()
        destination = Destination(
            id=destination_id,
            type=DestinationType.WEBHOOK.value,
            name=name,
            created_at=now_ms,
            updated_at=now_ms,
            url=url,
            event_types=event_types,
            signature_scheme=scheme.value,
            secrets=[self._signing_secret(workspace_id, destination_id, material, now_ms)],
            enabled=enabled,
            timeout_seconds=timeout,
            rate_limit_per_second=rate_limit,
            retry_policy=retry_policy,
        )
        # A generated secret is shown once; the customer's own is never echoed back. An
        # Ed25519 private key is never shown: its public key is in the secrets list.
        generated = own_secret is None and material.public_key is None
        return NewDestination(destination, material.secret if generated else None)

    def _secret_material(
        self, reader: BodyReader, scheme: SignatureScheme, own_secret: str | None
    ) -> SecretMaterial:
        if not self._schemes.offers(scheme):
            if not _failed(reader, "signature_scheme"):
                available = ", ".join(self._schemes.names)
                reader.fail(
                    "signature_scheme",
                    f"{scheme.value!r} is not offered here; use one of: {available}",
                )
            return _NO_SECRET
        if own_secret is None:
            return _NO_SECRET if _failed(reader, "secret") else self._schemes.generate(scheme)
        try:
            return self._schemes.from_customer(scheme, own_secret)
        except InvalidSecretError as exc:
            reader.fail("secret", str(exc))
            return _NO_SECRET

    def _create_slack(
        self, workspace_id: str, destination_id: str, body: Any, now_ms: int
    ) -> NewDestination:
        reader = BodyReader(body, _SLACK_FIELDS)
        reader.choice("type", DestinationType)
        name = reader.text("name", max_len=NAME_MAX, strip=True)
        webhook_url = _read_url(reader, "webhook_url", self._slack_url_error)
        enabled = reader.boolean("enabled", default=True)
        reader.done()
        return NewDestination(
            Destination(
                id=destination_id,
                type=DestinationType.SLACK.value,
                name=name,
                created_at=now_ms,
                updated_at=now_ms,
                sealed_url=self._seal_slack_url(workspace_id, destination_id, webhook_url),
                enabled=enabled,
            )
        )

    def patch(
        self, workspace_id: str, current: Destination, body: Any, *, now_ms: int
    ) -> Destination:
        """``current`` with a PATCH body's fields applied (the same object if none)."""
        is_slack = current.type == DestinationType.SLACK.value
        reader = BodyReader(body, _SLACK_FIELDS if is_slack else _WEBHOOK_FIELDS)
        for name, why in _FIXED_ON_PATCH.items():
            if reader.present(name):
                reader.fail(name, why)
        changes: dict[str, Any] = {}
        if reader.present("name"):
            changes["name"] = reader.text("name", max_len=NAME_MAX, strip=True)
        if reader.present("enabled"):
            changes["enabled"] = reader.boolean("enabled", default=current.enabled)
            if changes["enabled"]:
                changes["disabled_reason"] = None  # re-enabling clears why it was disabled
        if is_slack:
            if reader.present("webhook_url"):
                url = _read_url(reader, "webhook_url", self._slack_url_error)
                changes["sealed_url"] = self._seal_slack_url(workspace_id, current.id, url)
        else:
            changes.update(self._webhook_changes(reader))
        reader.done()
        if not changes:
            return current
        return dataclasses.replace(current, updated_at=max(now_ms, current.updated_at), **changes)

    def _webhook_changes(self, reader: BodyReader) -> dict[str, Any]:
        changes: dict[str, Any] = {}
        if reader.present("url"):
            changes["url"] = _read_url(reader, "url", self._webhook_url_error)
        if reader.present("event_types"):
            if reader.is_null("event_types"):
                reader.fail("event_types", "must list at least one pattern ('*' for every event)")
            changes["event_types"] = _read_event_types(reader, None)
        if reader.present("timeout_seconds"):  # null restores the platform default
            changes["timeout_seconds"] = reader.number(
                "timeout_seconds", lo=TIMEOUT_RANGE[0], hi=TIMEOUT_RANGE[1]
            )
        if reader.present("rate_limit_per_second"):  # null removes the limit
            changes["rate_limit_per_second"] = _read_rate_limit(reader)
        if reader.present("retry_policy"):  # null restores the platform defaults
            changes["retry_policy"] = _read_retry_policy(reader)
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

"""The fields of a destination body: their ranges, their types and the rules a schema
cannot say, each declared once (the bodies themselves are ``destination_bodies.py``).

Ranges are ``Field`` constraints over this module's constants, so the validation, its
field errors and the OpenAPI document read the same numbers. Rules a schema cannot say are
validators here, raising :class:`~signet_sdk.contract.fields.RuleError` so they name their
field like any other: the URL checks (https unless ``SIGNET_ALLOW_INSECURE_DESTINATIONS``,
no credentials, the shape of a Slack URL), the event patterns, the schemes this deployment
offers. What depends on the deployment reaches them as the validation context, a
:class:`BodyRules`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field, StringConstraints, ValidationInfo
from signet_sdk.contract.fields import FieldErrorCode, RuleError

from services.portal.body_fields import plain_text
from services.portal.signing_secrets import SchemeCatalog
from signet.records.model import DeliveryOrdering, DestinationType, SignatureScheme

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


@dataclass(slots=True, frozen=True)
class DestinationRules:
    """Platform policy that shapes validation."""

    allow_insecure_urls: bool = False


@dataclass(slots=True, frozen=True)
class BodyRules:
    """The validation context of a destination body: this deployment's policy and
    schemes and, on a PATCH, the kind of the destination changed."""

    rules: DestinationRules = field(default_factory=DestinationRules)
    schemes: SchemeCatalog = field(default_factory=SchemeCatalog.default)
    patching: DestinationType | None = None


def body_rules(info: ValidationInfo) -> BodyRules:
    """The validation context, or the defaults when none was given."""
    context = info.context
    return context if isinstance(context, BodyRules) else BodyRules()


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
    if EVENT_PATTERN.fullmatch(pattern):
        return None
    return "must be '*', 'prefix.*' or an event type like 'order.completed'"


def _event_pattern(pattern: str) -> str:
    if (message := event_pattern_error(pattern)) is not None:
        raise RuleError(message, FieldErrorCode.FORMAT)
    return pattern


def _url_rule(url: str, info: ValidationInfo) -> str:
    allow = body_rules(info).rules.allow_insecure_urls
    if (message := webhook_url_error(url, allow_insecure=allow)) is not None:
        raise RuleError(message, FieldErrorCode.FORMAT)
    return url


def _slack_url_rule(url: str, info: ValidationInfo) -> str:
    allow = body_rules(info).rules.allow_insecure_urls
    if (message := slack_url_error(url, allow_local=allow)) is not None:
        raise RuleError(message, FieldErrorCode.FORMAT)
    return url


def _offered(scheme: SignatureScheme, info: ValidationInfo) -> SignatureScheme:
    schemes = body_rules(info).schemes
    if not schemes.offers(scheme):
        available = ", ".join(schemes.names)
        raise RuleError(
            f"{scheme.value!r} is not offered here; use one of: {available}",
            FieldErrorCode.CHOICE,
        )
    return scheme


# -- the field types -------------------------------------------------------------------

Name = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=NAME_MAX),
    AfterValidator(plain_text),
]
WebhookUrl = Annotated[
    str,
    StringConstraints(min_length=1, max_length=URL_MAX),
    Field(json_schema_extra={"format": "uri"}, examples=["https://hooks.example.com/signet"]),
    AfterValidator(_url_rule),
]
SlackUrl = Annotated[
    str,
    StringConstraints(min_length=1, max_length=URL_MAX),
    Field(
        description="https://hooks.slack.com/services/…; sealed, never returned",
        examples=["https://hooks.slack.com/services/T000/B000/XXXXXXXX"],
    ),
    AfterValidator(_slack_url_rule),
]
Scheme = Annotated[SignatureScheme, AfterValidator(_offered)]
EventPattern = Annotated[
    str,
    StringConstraints(min_length=1, max_length=EVENT_TYPE_MAX_LEN),
    Field(json_schema_extra={"pattern": EVENT_PATTERN.pattern}),
    AfterValidator(_event_pattern),
]
EventTypes = Annotated[
    list[EventPattern],
    Field(
        min_length=1,
        max_length=EVENT_TYPES_MAX,
        description="'*', 'prefix.*' or exact event types",
        examples=[["order.*"]],
    ),
]
Secret = Annotated[
    str,
    StringConstraints(min_length=1, max_length=SECRET_MAX),
    AfterValidator(plain_text),
]
Timeout = Annotated[
    float,
    Field(
        ge=TIMEOUT_RANGE[0],
        le=TIMEOUT_RANGE[1],
        allow_inf_nan=False,
        description="seconds to wait for the receiver; null: the platform default",
    ),
]
RateLimit = Annotated[
    float,
    Field(
        ge=RATE_LIMIT_RANGE[0],
        le=RATE_LIMIT_RANGE[1],
        allow_inf_nan=False,
        description="requests per second at most (0.5 = 30 a minute), spaced evenly; "
        "deliveries over it wait, none is dropped. null: no limit",
    ),
]
Delays = Annotated[
    list[Annotated[int, Field(ge=DELAY_RANGE[0], le=DELAY_RANGE[1])]],
    Field(min_length=1, max_length=DELAYS_MAX),
]


Ordering = Annotated[
    DeliveryOrdering,
    Field(
        description="`fifo`: one delivery at a time, in the order the events were accepted; "
        "a failing one holds those behind it until it is delivered or exhausted "
        "(docs/delivery.md#ordered-delivery). `none` (the default): concurrently"
    ),
]

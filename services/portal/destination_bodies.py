"""The bodies that create and change destinations, as models: every field, range, default
and rule of a webhook destination and a Slack alert channel, declared once.

``POST /v1/workspace/destinations`` takes a :class:`WebhookDestinationInput` (``type``
``webhook`` or absent) or a :class:`SlackDestinationInput` (``type`` ``slack``);
``PATCH …/{destination_id}`` a :class:`DestinationPatch`. Ranges are ``Field``
constraints over this module's constants, so the validation, its field errors and the
OpenAPI document read the same numbers. Rules a schema cannot say are validators here,
raising :class:`~signet_sdk.contract.fields.RuleError` so they name their field like any other:
the URL checks (https unless ``SIGNET_ALLOW_INSECURE_DESTINATIONS``, no credentials,
the shape of a Slack URL), the secret formats of each signature scheme, the schemes this
deployment offers. What depends on the deployment reaches them as the validation context,
a :class:`BodyRules` (:func:`read_new_destination`, :func:`read_patch`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, TypeVar
from urllib.parse import urlsplit

import orjson
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    Discriminator,
    Field,
    RootModel,
    StringConstraints,
    Tag,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic.json_schema import SkipJsonSchema
from signet_sdk.contract.fields import (
    FieldError,
    FieldErrorCode,
    FieldErrors,
    RuleError,
    field_errors,
)
from signet_sdk.contract.models import Body
from signet_sdk.signing import InvalidSecretError

from services.portal.body_fields import NULL_UNDOCUMENTED, plain_text
from services.portal.headers_tls import ClientTlsInput, Headers, HeadersPatch, SensitiveHeaders
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
KINDS = ", ".join(k.value for k in DestinationType)

_SEGMENT = r"[A-Za-z0-9_-]+"
EVENT_PATTERN = re.compile(rf"^(\*|{_SEGMENT}(\.{_SEGMENT})*(\.\*)?)$")

M = TypeVar("M", bound=BaseModel)


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


def _rules(info: ValidationInfo) -> BodyRules:
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


def _kind_webhook(value: Any) -> Any:
    if value is None:  # null is the default, as if left out
        return DestinationType.WEBHOOK.value
    if value != DestinationType.WEBHOOK.value:
        raise RuleError(f"must be one of: {KINDS}", FieldErrorCode.CHOICE)
    return value


def _url_rule(url: str, info: ValidationInfo) -> str:
    allow = _rules(info).rules.allow_insecure_urls
    if (message := webhook_url_error(url, allow_insecure=allow)) is not None:
        raise RuleError(message, FieldErrorCode.FORMAT)
    return url


def _slack_url_rule(url: str, info: ValidationInfo) -> str:
    allow = _rules(info).rules.allow_insecure_urls
    if (message := slack_url_error(url, allow_local=allow)) is not None:
        raise RuleError(message, FieldErrorCode.FORMAT)
    return url


def _offered(scheme: SignatureScheme, info: ValidationInfo) -> SignatureScheme:
    schemes = _rules(info).schemes
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


class RetryPolicy(Body):
    """null fields (or null) fall back to the platform schedule."""

    max_attempts: (
        Annotated[int, Field(ge=MAX_ATTEMPTS_RANGE[0], le=MAX_ATTEMPTS_RANGE[1])] | None
    ) = None
    max_age_seconds: Annotated[int, Field(ge=MAX_AGE_RANGE[0], le=MAX_AGE_RANGE[1])] | None = None
    delays_seconds: Delays | None = None


class WebhookDestinationInput(Body):
    """A webhook destination: Signet POSTs each matching event to ``url``, signed."""

    type: Annotated[
        Literal["webhook"],
        BeforeValidator(_kind_webhook),
        Field(description="`webhook` (the default) or `slack`"),
    ] = "webhook"
    name: Name
    url: WebhookUrl
    event_types: Annotated[EventTypes | None, NULL_UNDOCUMENTED] = Field(
        default_factory=lambda: ["*"],
        description="'*', 'prefix.*' or exact event types; every event ('*') by default",
    )
    signature_scheme: Annotated[Scheme | None, NULL_UNDOCUMENTED] = (
        SignatureScheme.STANDARD_WEBHOOKS
    )
    secret: Annotated[
        Secret | None,
        NULL_UNDOCUMENTED,
        Field(
            description="your own secret: whsec_… (24-64 bytes, base64) for standard-webhooks, "
            "16-512 printable characters for hmac-sha256, hmac-sha512 and github, a whsk_ "
            "private key for standard-webhooks-ed25519. Omit it to have one generated: a "
            "symmetric secret is shown once as `secret`; for Ed25519 the private key is "
            "never shown and the whpk_ public key is in `secrets`"
        ),
    ] = None
    enabled: Annotated[bool | None, NULL_UNDOCUMENTED] = True
    timeout_seconds: Timeout | None = None
    rate_limit_per_second: RateLimit | None = None
    retry_policy: RetryPolicy | None = None
    # Custom headers and mutual TLS (headers_tls.py).
    headers: Annotated[Headers | None, NULL_UNDOCUMENTED] = None
    sensitive_headers: Annotated[SensitiveHeaders | None, NULL_UNDOCUMENTED] = None
    tls: ClientTlsInput | None = Field(default=None, description="mutual TLS; null: none")
    ordering: Annotated[Ordering | None, NULL_UNDOCUMENTED] = DeliveryOrdering.NONE

    @field_validator("secret")
    @classmethod
    def _secret_of_scheme(cls, secret: str | None, info: ValidationInfo) -> str | None:
        if secret is None or "signature_scheme" not in info.data:
            return secret  # generated; or the scheme is wrong, and says so itself
        scheme = info.data["signature_scheme"] or SignatureScheme.STANDARD_WEBHOOKS
        try:
            _rules(info).schemes.from_customer(scheme, secret)
        except InvalidSecretError as exc:
            raise RuleError(str(exc), FieldErrorCode.FORMAT) from exc
        return secret


class SlackDestinationInput(Body):
    """A Slack alert channel: Signet posts its alerts (a destination disabled, deliveries
    exhausted) to an incoming webhook."""

    type: Literal["slack"]
    name: Name
    webhook_url: SlackUrl
    enabled: Annotated[bool | None, NULL_UNDOCUMENTED] = True


def _kind_tag(body: Any) -> str:
    kind = body.get("type") if isinstance(body, dict) else getattr(body, "type", None)
    return DestinationType.SLACK.value if kind == DestinationType.SLACK.value else "webhook"


class NewDestination(
    RootModel[
        Annotated[
            Annotated[WebhookDestinationInput, Tag(DestinationType.WEBHOOK.value)]
            | Annotated[SlackDestinationInput, Tag(DestinationType.SLACK.value)],
            Discriminator(_kind_tag),
        ]
    ]
):
    """The body of ``POST /v1/workspace/destinations``: a webhook or a Slack channel, told
    apart by ``type`` (``webhook`` when absent). The operation's documented body;
    :func:`read_new_destination` reads it, with the errors of the kind meant."""


# Named so PATCH can say why they cannot change, instead of "unknown field".
FIXED_ON_PATCH = {
    "type": "cannot be changed; create a new destination",
    "signature_scheme": "cannot be changed in place; create a new destination",
    "secret": "cannot be set by PATCH; rotate the secret instead",
}
_WEBHOOK_ONLY: tuple[str, ...] = (
    "url",
    "event_types",
    "timeout_seconds",
    "rate_limit_per_second",
    "retry_policy",
)
_WEBHOOK_ONLY += ("headers", "sensitive_headers", "tls")  # headers_tls.py
_WEBHOOK_ONLY += ("ordering",)  # ordering.py
_SLACK_ONLY = ("webhook_url",)


class DestinationPatch(Body):
    """Fields to change; the others are kept. Slack channels take name, webhook_url and
    enabled. null restores the platform default of timeout_seconds and retry_policy and
    removes a rate limit; it is refused where a value is needed."""

    name: Annotated[Name | None, NULL_UNDOCUMENTED] = None
    url: Annotated[WebhookUrl | None, NULL_UNDOCUMENTED] = None
    webhook_url: Annotated[SlackUrl | None, NULL_UNDOCUMENTED] = None
    event_types: Annotated[EventTypes | None, NULL_UNDOCUMENTED] = None
    enabled: Annotated[bool | None, NULL_UNDOCUMENTED] = None
    timeout_seconds: Timeout | None = None
    rate_limit_per_second: RateLimit | None = None
    retry_policy: RetryPolicy | None = None
    headers: HeadersPatch | None = None
    sensitive_headers: SensitiveHeaders | None = None
    tls: ClientTlsInput | None = Field(default=None, description="replaces it; null: none")
    ordering: Annotated[Ordering | None, NULL_UNDOCUMENTED] = None
    # Accepted only to be refused with a reason (FIXED_ON_PATCH); not in the document.
    type: SkipJsonSchema[Any] = None
    signature_scheme: SkipJsonSchema[Any] = None
    secret: SkipJsonSchema[Any] = None

    @field_validator(*FIXED_ON_PATCH, mode="before")
    @classmethod
    def _fixed(cls, value: Any, info: ValidationInfo) -> Any:
        raise RuleError(FIXED_ON_PATCH[info.field_name or ""], FieldErrorCode.INVALID)

    @field_validator(*_WEBHOOK_ONLY, mode="before")
    @classmethod
    def _webhook_only(cls, value: Any, info: ValidationInfo) -> Any:
        if _rules(info).patching is DestinationType.SLACK:
            raise RuleError("unknown field", FieldErrorCode.UNKNOWN)
        return value

    @field_validator(*_SLACK_ONLY, mode="before")
    @classmethod
    def _slack_only(cls, value: Any, info: ValidationInfo) -> Any:
        if _rules(info).patching is not DestinationType.SLACK:
            raise RuleError("unknown field", FieldErrorCode.UNKNOWN)
        return value

    @field_validator("name", "url", "webhook_url", "ordering")
    @classmethod
    def _needed(cls, value: str | None) -> str:
        if value is None:
            raise RuleError("is required", FieldErrorCode.REQUIRED)
        return value

    @field_validator("event_types")
    @classmethod
    def _some(cls, value: list[str] | None) -> list[str]:
        if value is None:
            raise RuleError(
                "must list at least one pattern ('*' for every event)", FieldErrorCode.REQUIRED
            )
        return value


# -- reading ---------------------------------------------------------------------------


def _parse(model: type[M], raw: bytes, context: BodyRules) -> M:
    try:
        return model.model_validate_json(raw, context=context)
    except ValidationError as exc:
        raise FieldErrors(field_errors(exc)) from exc


def destination_kind(raw: bytes) -> DestinationType:
    """The kind a create body asks for: ``slack`` only when it says so (as before any
    other check, so that the errors are those of the kind meant)."""
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        detail = f"the body is not valid JSON: {exc}"
        raise FieldErrors([FieldError("body", FieldErrorCode.FORMAT, detail)]) from exc
    if isinstance(body, dict) and body.get("type") == DestinationType.SLACK.value:
        return DestinationType.SLACK
    return DestinationType.WEBHOOK


def read_new_destination(
    raw: bytes, context: BodyRules, kind: DestinationType | None = None
) -> WebhookDestinationInput | SlackDestinationInput:
    """A create body as the model of its kind, or :class:`FieldErrors` naming each field."""
    if (kind or destination_kind(raw)) is DestinationType.SLACK:
        return _parse(SlackDestinationInput, raw, context)
    return _parse(WebhookDestinationInput, raw, context)


def read_patch(raw: bytes, context: BodyRules) -> DestinationPatch:
    """A PATCH body (``context.patching`` names the destination's kind)."""
    return _parse(DestinationPatch, raw, context)

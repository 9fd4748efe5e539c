"""The bodies that create and change destinations, as models: every field, default and
rule of a webhook destination and a Slack alert channel, declared once.

``POST /v1/workspace/destinations`` takes a :class:`WebhookDestinationInput` (``type``
``webhook`` or absent) or a :class:`SlackDestinationInput` (``type`` ``slack``);
``PATCH …/{destination_id}`` a :class:`DestinationPatch`. The fields, their ranges and the
checks they run are ``destination_fields.py``'s; the rules that tie fields together are
validators here (a secret in the format of its scheme, what PATCH may not change, what only
one kind of destination takes). What depends on the deployment reaches them as the
validation context, a :class:`~services.portal.destination_fields.BodyRules`
(:func:`read_new_destination`, :func:`read_patch`).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypeVar

import orjson
from pydantic import (
    BaseModel,
    BeforeValidator,
    Discriminator,
    Field,
    RootModel,
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

from services.portal.body_fields import NULL_UNDOCUMENTED
from services.portal.destination_fields import (
    MAX_AGE_RANGE,
    MAX_ATTEMPTS_RANGE,
    BodyRules,
    Delays,
    EventTypes,
    Name,
    Ordering,
    RateLimit,
    Scheme,
    Secret,
    SlackUrl,
    Timeout,
    WebhookUrl,
    body_rules,
)
from services.portal.headers_tls import ClientTlsInput, Headers, HeadersPatch, SensitiveHeaders
from services.portal.signature_header import SignatureHeader
from signet.records.model import DeliveryOrdering, DestinationType, SignatureScheme

KINDS = ", ".join(k.value for k in DestinationType)

M = TypeVar("M", bound=BaseModel)


def _kind_webhook(value: Any) -> Any:
    if value is None:  # null is the default, as if left out
        return DestinationType.WEBHOOK.value
    if value != DestinationType.WEBHOOK.value:
        raise RuleError(f"must be one of: {KINDS}", FieldErrorCode.CHOICE)
    return value


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
    signature_header: SignatureHeader | None = None  # signature_header.py

    @field_validator("secret")
    @classmethod
    def _secret_of_scheme(cls, secret: str | None, info: ValidationInfo) -> str | None:
        if secret is None or "signature_scheme" not in info.data:
            return secret  # generated; or the scheme is wrong, and says so itself
        scheme = info.data["signature_scheme"] or SignatureScheme.STANDARD_WEBHOOKS
        try:
            body_rules(info).schemes.from_customer(scheme, secret)
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
_WEBHOOK_ONLY += ("signature_header",)  # signature_header.py
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
    signature_header: SignatureHeader | None = None
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
        if body_rules(info).patching is DestinationType.SLACK:
            raise RuleError("unknown field", FieldErrorCode.UNKNOWN)
        return value

    @field_validator(*_SLACK_ONLY, mode="before")
    @classmethod
    def _slack_only(cls, value: Any, info: ValidationInfo) -> Any:
        if body_rules(info).patching is not DestinationType.SLACK:
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

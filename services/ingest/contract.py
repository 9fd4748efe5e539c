"""The ingest's HTTP contract: the models of its requests and answers, and its replies.

The event body is :class:`signet_sdk.contract.events.EventBody`, the rules every event
meets wherever it enters. Limits come from the running settings (:class:`Limits`), and
the models are made from them when the app is built (:meth:`Contract.of`), so the same
model validates a request and states its limits in ``/openapi.json``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    ValidationError,
    create_model,
    with_config,
)
from signet_sdk.contract.events import EventBody, IdempotencyKey, event_body
from signet_sdk.contract.fields import FieldError, FieldErrorCode, FieldErrors, RuleError
from signet_sdk.contract.models import Answer, Body
from signet_sdk.contract.models import Problem as ProblemBody
from signet_sdk.contract.rules import body_errors, few_unknown, optional_not_null
from typing_extensions import TypedDict

from signet.api.operations import Reply, SecurityScheme, problem
from signet.web import Problem

EVENTS_ROUTE = "/v1/events"
BULK_ROUTE = "/v1/events/bulk"
IDEMPOTENCY_KEY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
EVENT_ID_PATTERN = r"^evt_[0-9A-Z]{26}$"

PUBLISHABLE_KEY = SecurityScheme(
    "publishableKey", "The workspace's publishable key, `pk_test_…` or `pk_live_…`."
)


@dataclass(slots=True, frozen=True)
class Limits:
    """What this process enforces, and its document states."""

    max_payload_bytes: int
    max_bulk_events: int
    max_bulk_body_bytes: int
    idempotency_ttl_seconds: float


# -- requests ------------------------------------------------------------------------------


class IdempotencyHeaders(BaseModel):
    """The request headers the event endpoints read (others are ignored)."""

    model_config = ConfigDict(frozen=True)

    idempotency_key: IdempotencyKey = optional_not_null(alias=IDEMPOTENCY_KEY_HEADER)


def _headers_model(ttl_seconds: float) -> type[IdempotencyHeaders]:
    return create_model(
        "IdempotencyHeaders",
        __base__=IdempotencyHeaders,
        __module__=__name__,
        idempotency_key=(
            IdempotencyKey,
            optional_not_null(
                alias=IDEMPOTENCY_KEY_HEADER,
                description=(
                    f"Within {ttl_seconds:g} s, the same key in the same workspace returns "
                    "the same event id and produces no second event. The event id is derived "
                    "from the key, so it is stable even beyond that window; receivers "
                    "deduplicate by `webhook-id`. On the bulk endpoint, event i without its "
                    "own `id` uses `<key>:<i>`."
                ),
            ),
        ),
    )


class BulkBody(Body):
    """``{"events": [...]}``; each event is validated on its own, so one bad event is
    rejected alone (its entry in the answer says why) and the others still go."""

    events: list[Any]


def _bulk_model(event: type[EventBody], max_events: int, max_body_bytes: int) -> type[BulkBody]:
    def events(value: object) -> list[Any]:
        # Our words and codes: too many events is `too_large` (413), not `length`.
        if not isinstance(value, list):
            raise RuleError("must be an array of events", FieldErrorCode.TYPE)
        if not value:
            raise RuleError("must hold at least one event", FieldErrorCode.LENGTH)
        if len(value) > max_events:
            raise RuleError(
                f"holds {len(value)} events; at most {max_events} per request",
                FieldErrorCode.TOO_LARGE,
            )
        return value

    documented = Annotated[list[event], Field(min_length=1, max_length=max_events)]  # type: ignore[valid-type]
    return create_model(
        "BulkBody",
        __base__=BulkBody,
        __module__=__name__,
        __doc__=(
            f"1 to {max_events} events. The body may not exceed {max_body_bytes} bytes (413)."
        ),
        events=(
            Annotated[list[Any], PlainValidator(events, json_schema_input_type=documented)],
            ...,
        ),
    )


def validate_body(model: type[BulkBody], document: Any) -> BulkBody:
    """A decoded body as ``model``, or :class:`FieldErrors` naming every bad field."""
    if isinstance(document, dict):
        document = few_unknown(document, model)
    try:
        return model.__pydantic_validator__.validate_python(document)  # type: ignore[no-any-return]
    except ValidationError as exc:
        raise FieldErrors(body_errors(exc, model)) from exc


# -- answers -------------------------------------------------------------------------------


class EventAccepted(Answer):
    id: str = Field(
        pattern=EVENT_ID_PATTERN,
        description="The event id: `webhook-id` of every delivery of it.",
        examples=["evt_01JS3G8Q2W5RZ4Y7K9M2N6P0TV"],
    )


def event_accepted(event_id: str) -> EventAccepted:
    """The 202 answer of one event, made by the model's validator directly: on the hot
    path, ``EventAccepted(id=...)`` costs as much again in ``BaseModel.__init__``."""
    answer: EventAccepted = _validate_accepted({"id": event_id})
    return answer


_validate_accepted = EventAccepted.__pydantic_validator__.validate_python


# The entries of a bulk answer are typed dicts (closed, like every answer), not models: a
# batch answers hundreds, and a model instance apiece costs more than validating the event.
Index = Annotated[int, Field(ge=0, description="The event's position in `events`.")]


@with_config(ConfigDict(extra="forbid"))
class AcceptedEntry(TypedDict):
    index: Index
    status: Literal["accepted"]
    id: Annotated[str, Field(pattern=EVENT_ID_PATTERN)]


@with_config(ConfigDict(extra="forbid"))
class RejectedEntry(TypedDict):
    """Refused as it is: fields in `error.errors` are the event's own (`payload`), and
    `""` is the event itself (not an object)."""

    index: Index
    status: Literal["rejected"]
    error: ProblemBody


@with_config(ConfigDict(extra="forbid"))
class FailedEntry(TypedDict):
    """Not acknowledged by the broker: send it again with the same idempotency key."""

    index: Index
    status: Literal["failed"]
    error: ProblemBody


BulkEntry = Annotated[AcceptedEntry | RejectedEntry | FailedEntry, Field(discriminator="status")]


class BulkResult(Answer):
    results: list[BulkEntry] = Field(description="One entry per event, in order.")
    accepted: int = Field(ge=0)
    rejected: int = Field(ge=0)
    failed: int = Field(ge=0, description="Not acknowledged by the broker: retry these.")


def entry_problem(problem: Problem) -> ProblemBody:
    """A problem (:class:`signet.web.Problem`) as the ``error`` of a bulk entry."""
    return ProblemBody.model_validate(problem.problem)


def entry_errors(entry: BulkEntry) -> list[FieldError]:
    """A rejected entry's field errors, named from the batch (``events[3].payload``)."""
    if entry["status"] != "rejected":
        return []
    prefix = f"events[{entry['index']}]"
    return [
        FieldError(e.field, e.code, e.message).under(prefix) for e in entry["error"].errors or ()
    ]


# -- the contract --------------------------------------------------------------------------


def _common_problems() -> dict[int | str, Reply]:
    return {
        401: problem(
            "Missing, malformed, unknown or revoked publishable key.",
            **{"WWW-Authenticate": "`Bearer`"},
        ),
        413: problem("Body or payload over the limit."),
        415: problem("Content type is not JSON."),
        422: problem("Idempotency key reused for a different event."),
        503: problem(
            "Broker did not acknowledge in time, or the gateway is still starting. "
            "Retry with the same idempotency key.",
            **{"Retry-After": "seconds to wait before retrying"},
        ),
    }


@dataclass(frozen=True, slots=True)
class Contract:
    """The models and replies of both endpoints, for this process's limits."""

    limits: Limits
    event: type[EventBody]
    bulk: type[BulkBody]
    headers: type[IdempotencyHeaders]

    @classmethod
    def of(cls, limits: Limits) -> Contract:
        event = event_body(limits.max_payload_bytes)
        return cls(
            limits,
            event,
            _bulk_model(event, limits.max_bulk_events, limits.max_bulk_body_bytes),
            _headers_model(limits.idempotency_ttl_seconds),
        )

    def event_operation(self) -> dict[str, Any]:
        """``@operation`` details of ``POST /v1/events``."""
        return {
            "summary": "Emit one event",
            "description": (
                f"The body may not exceed {self.limits.max_payload_bytes} bytes (413)."
            ),
            "operation_id": "emitEvent",
            "body": self.event,
            "headers": self.headers,
            "security": [PUBLISHABLE_KEY],
            "responses": {
                202: Reply(
                    "Acknowledged by the broker.",
                    EventAccepted,
                    headers={REPLAYED_HEADER: "`true` when answered from an earlier request."},
                ),
                400: problem("Invalid JSON or event; `errors` names each field."),
                **_common_problems(),
            },
        }

    def bulk_operation(self) -> dict[str, Any]:
        """``@operation`` details of ``POST /v1/events/bulk``."""
        return {
            "summary": f"Emit 1 to {self.limits.max_bulk_events} events",
            "description": (
                "Valid events are produced concurrently; the answer comes after all of "
                "them were acknowledged. Invalid events are rejected one by one. When "
                "no event is accepted the answer is 400 (or 503 if the broker failed). "
                f"The body may not exceed {self.limits.max_bulk_body_bytes} bytes (413)."
            ),
            "operation_id": "emitEvents",
            "body": self.bulk,
            "headers": self.headers,
            "security": [PUBLISHABLE_KEY],
            "responses": {
                202: Reply("At least one event was acknowledged.", BulkResult),
                400: problem("Invalid body, or no event valid; `errors` names `events[i].field`."),
                **_common_problems(),
            },
        }

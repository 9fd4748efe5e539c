"""One shape for every field error Signet answers: ``{"field", "code", "message"}``.

``field`` is a dotted path into the request (``retry_policy.max_attempts``,
``events[3].payload``), ``body`` for the request as a whole, or a header's name
(``Idempotency-Key``). ``code`` is one of :class:`FieldErrorCode`, stable for programs;
``message`` is for people. Ingest and portal answer the same shape, and a request model's
:class:`pydantic.ValidationError` becomes these errors in :func:`field_errors`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from signet_sdk._compat import StrEnum
from signet_sdk.errors import SignetError


class FieldErrorCode(StrEnum):
    REQUIRED = "required"  # absent (or null where a value is needed)
    TYPE = "type"  # a string where a number belongs, an array for an object…
    FORMAT = "format"  # the right type with the wrong form: a pattern, a URL, JSON syntax
    LENGTH = "length"  # a string or array too short or too long
    RANGE = "range"  # a number outside its bounds
    CHOICE = "choice"  # not one of the allowed values
    TOO_LARGE = "too_large"  # over a byte limit (413 when it is the only trouble)
    UNKNOWN = "unknown"  # a field the body does not have
    RESERVED = "reserved"  # a name Signet keeps for itself (``signet.*`` event types)
    CONFLICT = "conflict"  # clashes with what is stored (a reused idempotency key)
    INVALID = "invalid"  # breaks a rule of its own (a URL that resolves to loopback)
    UNAUTHORIZED = "unauthorized"  # a credential missing, malformed or refused (a 401's)
    PAYLOAD_ERASED = "payload_erased"  # the event's payload was erased from the log (a 409's)
    SCHEMA = "schema"  # a payload that fails its event type's JSON Schema (the catalog)
    UNKNOWN_EVENT_TYPE = "unknown_event_type"  # not in the catalog, and the catalog is required


@dataclass(slots=True, frozen=True)
class FieldError:
    field: str
    code: FieldErrorCode
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "code": self.code.value, "message": self.message}

    def under(self, prefix: str) -> FieldError:
        """The same error, named inside a container (``events[3].payload``)."""
        return FieldError(
            f"{prefix}.{self.field}" if self.field else prefix, self.code, self.message
        )


def field_name(loc: Iterable[int | str], prefix: str = "") -> str:
    """``("events", 3, "payload")`` → ``events[3].payload``; the empty path → ``prefix``."""
    name = prefix
    for part in loc:
        if isinstance(part, int):
            name += f"[{part}]"
        else:
            name = f"{name}.{part}" if name else part
    return name or "body"


def field_errors(exc: ValidationError, prefix: str = "") -> list[FieldError]:
    """Every error of a failed model validation, in Signet's shape and words."""
    return [_translate(error, prefix) for error in exc.errors(include_url=False)]


def _translate(error: ErrorDetails, prefix: str) -> FieldError:
    kind = error["type"]
    ctx = {name: _plain(value) for name, value in (error.get("ctx") or {}).items()}
    loc = [part for part in error["loc"] if not _is_union_tag(part)]
    field = field_name(loc, prefix)
    code, message = _WORDS.get(kind, (None, None))
    if code is None:
        code, message = _by_family(kind, ctx, error["msg"])
    elif message is not None:
        message = message.format(**ctx)
    return FieldError(field, code, message or error["msg"])


def _plain(value: Any) -> Any:
    """``30.0`` reads ``30`` in a message; other values are kept."""
    return f"{value:g}" if isinstance(value, float) else value


def _is_union_tag(part: int | str) -> bool:
    # pydantic names the member of a union it tried (``function-after[...]``, ``str``);
    # the client's field is the path without it.
    return isinstance(part, str) and ("[" in part or part in _TYPE_NAMES)


_TYPE_NAMES = frozenset({"str", "int", "float", "bool", "list", "dict", "none", "model"})

# pydantic error type → (code, message template over its ctx)
_WORDS: dict[str, tuple[FieldErrorCode, str | None]] = {
    "missing": (FieldErrorCode.REQUIRED, "is required"),
    "extra_forbidden": (FieldErrorCode.UNKNOWN, "unknown field"),
    "json_invalid": (FieldErrorCode.FORMAT, "the body is not valid JSON: {error}"),
    "model_type": (FieldErrorCode.TYPE, "must be a JSON object"),
    "model_attributes_type": (FieldErrorCode.TYPE, "must be a JSON object"),
    "dict_type": (FieldErrorCode.TYPE, "must be a JSON object"),
    "string_type": (FieldErrorCode.TYPE, "must be a string"),
    "int_type": (FieldErrorCode.TYPE, "must be an integer"),
    "int_from_float": (FieldErrorCode.TYPE, "must be an integer"),
    "float_type": (FieldErrorCode.TYPE, "must be a number"),
    "bool_type": (FieldErrorCode.TYPE, "must be true or false"),
    "list_type": (FieldErrorCode.TYPE, "must be an array"),
    "tuple_type": (FieldErrorCode.TYPE, "must be an array"),
    "none_required": (FieldErrorCode.TYPE, "must be null"),
    "finite_number": (FieldErrorCode.TYPE, "must be a finite number"),
    "string_too_short": (FieldErrorCode.LENGTH, "must be at least {min_length} characters"),
    "string_too_long": (FieldErrorCode.LENGTH, "must be at most {max_length} characters"),
    "too_short": (FieldErrorCode.LENGTH, "must hold at least {min_length} items"),
    "too_long": (FieldErrorCode.LENGTH, "may hold at most {max_length} items"),
    "greater_than_equal": (FieldErrorCode.RANGE, "must be at least {ge}"),
    "greater_than": (FieldErrorCode.RANGE, "must be greater than {gt}"),
    "less_than_equal": (FieldErrorCode.RANGE, "must be at most {le}"),
    "less_than": (FieldErrorCode.RANGE, "must be less than {lt}"),
    "string_pattern_mismatch": (FieldErrorCode.FORMAT, "must match {pattern}"),
    "enum": (FieldErrorCode.CHOICE, "must be one of: {expected}"),
    "literal_error": (FieldErrorCode.CHOICE, "must be one of: {expected}"),
    "union_tag_invalid": (FieldErrorCode.CHOICE, "must be one of: {expected_tags}"),
}


def _by_family(kind: str, ctx: dict[str, Any], msg: str) -> tuple[FieldErrorCode, str]:
    """Errors a validator of ours raised (``value_error``) carry their own words."""
    if kind in ("value_error", "assertion_error"):
        reason = ctx.get("error")
        code = getattr(reason, "code", FieldErrorCode.INVALID)
        return code, str(reason) if reason is not None else msg
    if kind.endswith("_type") or kind.endswith("_parsing"):
        return FieldErrorCode.TYPE, msg
    return FieldErrorCode.INVALID, msg


class RuleError(ValueError):
    """Raised by a model's own validator; the message is the client's, the code chosen.

    pydantic wraps a ``ValueError`` from a validator as ``value_error`` and keeps it in
    the error's ``ctx``; :func:`field_errors` reads the code back from it.
    """

    def __init__(self, message: str, code: FieldErrorCode = FieldErrorCode.INVALID) -> None:
        super().__init__(message)
        self.code = code

    def __str__(self) -> str:
        return str(self.args[0])


class FieldErrors(SignetError):
    """A request that breaks its rules; ``errors`` names every bad field, all at once.

    Raised anywhere below a handler; :func:`signet.web.problem_middleware` answers it as
    a 400 problem (413 when every error is ``too_large``).
    """

    def __init__(self, errors: Iterable[FieldError]) -> None:
        self.errors = tuple(errors)
        super().__init__("; ".join(f"{e.field}: {e.message}" for e in self.errors))

    @property
    def too_large(self) -> bool:
        return bool(self.errors) and all(e.code is FieldErrorCode.TOO_LARGE for e in self.errors)

"""Rules of request models that pydantic's own constraints do not state the Signet way.

- :class:`Matches`: a pattern the document states and the model checks, refused with
  words for people (``format``) instead of the regular expression.
- :func:`optional_not_null`: a field that may be left out but not sent as ``null``.
- :func:`body_errors` and :func:`few_unknown`: a body's field errors, where an unknown
  field's message names the fields the body has, and a body of junk keys is cut to
  :data:`MAX_UNKNOWN_REPORTED` of them before it is validated.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, Field, GetCoreSchemaHandler, GetJsonSchemaHandler, ValidationError
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import core_schema

from signet_sdk.contract.fields import FieldError, FieldErrorCode, RuleError, field_errors

# A few unknown fields named are enough: 50k junk keys must not make a 5 MB answer.
MAX_UNKNOWN_REPORTED = 10


@dataclass(frozen=True, slots=True)
class Matches:
    """``Annotated[str, Field(...), Matches(pattern, message)]``.

    The check is pydantic-core's own (Rust regex, no Python call on a hot path): a pattern
    step after the type and length checks, whose error is ours.
    """

    pattern: str  # Rust and ECMA syntax alike; ``$`` is the end of the text in both
    message: str

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        words = RuleError(self.message, FieldErrorCode.FORMAT)
        pattern = core_schema.custom_error_schema(
            core_schema.str_schema(pattern=self.pattern),
            custom_error_type="value_error",  # field_errors reads the code from it
            custom_error_context={"error": words},
        )
        return core_schema.chain_schema([handler(source), pattern])

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        out = handler(schema)
        out["pattern"] = self.pattern
        return out


def optional_not_null(**details: Any) -> Any:
    """The default of a field that may be absent (tell it with
    :func:`~signet_sdk.contract.models.given`) but not ``null`` (a type error): typed ``X``, not
    ``X | None``, and the document shows no ``default: null``."""
    return Field(default=None, json_schema_extra=_no_default, **details)


def _no_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)


def body_errors(exc: ValidationError, model: type[BaseModel], prefix: str = "") -> list[FieldError]:
    """A body model's errors (:func:`~signet_sdk.contract.fields.field_errors`); an unknown field's
    message names the fields the body has."""
    expected = ", ".join(model.model_fields)
    return [
        FieldError(e.field, e.code, f"unknown field; expected {expected}")
        if e.code is FieldErrorCode.UNKNOWN
        else e
        for e in field_errors(exc, prefix)
    ]


def few_unknown(document: dict[str, Any], model: type[BaseModel]) -> dict[str, Any]:
    """``document`` with at most :data:`MAX_UNKNOWN_REPORTED` fields the model lacks, so a
    body of junk keys costs neither a long validation nor a long answer."""
    if len(document) <= MAX_UNKNOWN_REPORTED:
        return document
    fields = model.model_fields
    unknown = [name for name in document if name not in fields]
    if len(unknown) <= MAX_UNKNOWN_REPORTED:
        return document
    dropped = set(unknown[MAX_UNKNOWN_REPORTED:])
    return {name: value for name, value in document.items() if name not in dropped}

"""Query strings read into models: what the portal's GET routes accept, declared once.

A :class:`QueryModel` is both the validation of a query string and its operation's
documented parameters. Unlike a request body, a query string tolerates parameters it does
not know (a cache buster, a host page's own), and a parameter is either given or absent:
never ``null``, so the document shows none. :func:`read_query` refuses a parameter given
twice (``?limit=5&limit=6``), which a mapping would otherwise quietly reduce to one.
"""

from __future__ import annotations

from typing import Any, TypeVar

from multidict import MultiMapping
from pydantic import BaseModel, ConfigDict
from signet_sdk.contract.fields import FieldError, FieldErrorCode, FieldErrors

from services.portal.body_fields import without_null
from signet.api.reading import read_strings


def _as_parameters(schema: dict[str, Any]) -> None:
    """An optional parameter is one that may be left out: no null branch, no null default."""
    for prop in schema.get("properties", {}).values():
        without_null(prop)


class QueryModel(BaseModel):
    """A query string: parameters it does not name are ignored; values are parsed from text."""

    model_config = ConfigDict(extra="ignore", frozen=True, json_schema_extra=_as_parameters)


Q = TypeVar("Q", bound=QueryModel)


def read_query(model: type[Q], query: MultiMapping[str]) -> Q:
    """``query`` as ``model``, or :class:`FieldErrors` naming every bad parameter at once."""
    values: dict[str, str] = {}
    repeated: list[FieldError] = []
    for field_name, info in model.model_fields.items():
        name = info.alias or field_name
        given = query.getall(name, [])
        if len(given) > 1:
            repeated.append(FieldError(name, FieldErrorCode.TYPE, "give it once"))
        elif given:
            values[name] = given[0]
    try:
        parsed = read_strings(model, values)
    except FieldErrors as exc:
        raise FieldErrors([*repeated, *exc.errors]) from exc
    if repeated:
        raise FieldErrors(repeated)
    return parsed

"""A request's body, query or headers read into their model, or every field error at once."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError
from signet_sdk.contract.fields import FieldErrors, field_errors

from signet.web import read_bytes

M = TypeVar("M", bound=BaseModel)


def parse_model(model: type[M], raw: bytes | str, *, prefix: str = "") -> M:
    """JSON text into ``model`` (strict as the model says), or :class:`FieldErrors`."""
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        raise FieldErrors(field_errors(exc, prefix)) from exc


async def read_model(request: web.Request, model: type[M], max_bytes: int) -> M:
    """The request body as ``model``; a bad body is a 400/413/415 problem."""
    return parse_model(model, await read_bytes(request, max_bytes))


def read_strings(model: type[M], values: Mapping[str, str]) -> M:
    """A query string or headers as ``model``: its fields are parsed from text (lax mode),
    as query values are always strings."""
    try:
        return model.model_validate(dict(values), strict=False)
    except ValidationError as exc:
        raise FieldErrors(field_errors(exc)) from exc

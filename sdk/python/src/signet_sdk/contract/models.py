"""The base classes of every request and response body, and the problem+json body.

A request body is a :class:`Body`: strict (``"5"`` is not a number, ``1`` is not ``true``),
unknown fields refused, frozen. On a PATCH, :func:`given` tells a field the client left
out from one it set to ``null``, which pydantic keeps apart in ``model_fields_set``.
A response body is an :class:`Answer`: what a handler returns, serialised by
:func:`signet.web.model_response`.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from signet_sdk.contract.fields import FieldErrorCode


class Body(BaseModel):
    """A request body (or a part of one): strict, closed, immutable."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


class Answer(BaseModel):
    """A response body: closed (the document says exactly what is sent), immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def given(body: BaseModel, name: str) -> bool:
    """Whether the client sent ``name`` at all (``null`` included)."""
    return name in body.model_fields_set


class FieldErrorBody(Answer):
    field: str = Field(
        description="dotted path into the request (`retry_policy.max_attempts`, "
        "`events[3].payload`), `body` for the whole body, or a header's name",
        examples=["retry_policy.max_attempts"],
    )
    code: FieldErrorCode = Field(description="stable, for programs")
    message: str = Field(description="for people", examples=["must be at most 30"])


class Problem(BaseModel):
    """An RFC 9457 problem; ``errors`` names each bad field of a refused request."""

    model_config = ConfigDict(extra="allow", frozen=True)

    type: str = Field(examples=["https://signet.dev/problems/invalid-request"])
    title: str
    status: int
    detail: str | None = None
    errors: list[FieldErrorBody] | None = None

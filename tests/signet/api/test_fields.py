"""signet_sdk.contract.fields: a model's validation errors become Signet's one field-error shape."""

from __future__ import annotations

from typing import Annotated, Literal

import pytest
from pydantic import Field, field_validator
from signet_sdk.contract.fields import FieldErrorCode, FieldErrors, RuleError, field_name
from signet_sdk.contract.models import Body, given

from signet.api.reading import parse_model


class Policy(Body):
    max_attempts: Annotated[int, Field(ge=1, le=30)] | None = None


class Destination(Body):
    name: Annotated[str, Field(min_length=1, max_length=8)]
    kind: Literal["webhook", "slack"] = "webhook"
    timeout_seconds: Annotated[float, Field(ge=1, le=30)] | None = None
    tags: Annotated[tuple[str, ...], Field(max_length=2)] = ()
    retry_policy: Policy | None = None
    url: str | None = None

    @field_validator("url")
    @classmethod
    def _https(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith("https://"):
            raise RuleError("must be an https:// URL", FieldErrorCode.FORMAT)
        return value


def errors_of(raw: str) -> dict[str, tuple[str, str]]:
    with pytest.raises(FieldErrors) as caught:
        parse_model(Destination, raw)
    return {e.field: (e.code.value, e.message) for e in caught.value.errors}


def test_every_bad_field_is_named_with_a_code_and_words() -> None:
    errors = errors_of(
        '{"name": "", "kind": "fax", "timeout_seconds": 31, "tags": ["a", "b", "c"],'
        ' "retry_policy": {"max_attempts": 0}, "url": "http://x", "colour": "red"}'
    )
    assert errors == {
        "name": ("length", "must be at least 1 characters"),
        "kind": ("choice", "must be one of: 'webhook' or 'slack'"),
        "timeout_seconds": ("range", "must be at most 30"),
        "tags": ("length", "may hold at most 2 items"),
        "retry_policy.max_attempts": ("range", "must be at least 1"),
        "url": ("format", "must be an https:// URL"),
        "colour": ("unknown", "unknown field"),
    }


def test_strict_types_refuse_what_json_does_not_say() -> None:
    errors = errors_of('{"name": 5, "timeout_seconds": "5", "tags": "a"}')
    assert errors["name"][0] == "type"
    assert errors["timeout_seconds"][0] == "type"
    assert errors["tags"] == ("type", "must be an array")


def test_a_missing_field_and_a_broken_body() -> None:
    assert errors_of("{}") == {"name": ("required", "is required")}
    assert errors_of("[]")["body"][0] == "type"
    code, message = errors_of("{nope")["body"]
    assert code == "format" and message.startswith("the body is not valid JSON")


def test_absent_and_null_are_told_apart() -> None:
    absent = parse_model(Destination, '{"name": "a"}')
    null = parse_model(Destination, '{"name": "a", "retry_policy": null}')
    assert not given(absent, "retry_policy")
    assert given(null, "retry_policy") and null.retry_policy is None


def test_field_names_are_dotted_with_indexes() -> None:
    assert field_name(("events", 3, "payload")) == "events[3].payload"
    assert field_name((), "events[2]") == "events[2]"
    assert field_name(()) == "body"
    assert field_name(("payload",), "events[0]") == "events[0].payload"

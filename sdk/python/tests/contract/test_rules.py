"""signet_sdk.contract.rules: a pattern refused in words, a field absent but never null, and a body
of unknown fields answered in a bounded number of errors."""

from __future__ import annotations

from typing import Annotated

import pytest
from pydantic import Field, ValidationError

from signet_sdk.contract.fields import FieldErrorCode
from signet_sdk.contract.models import Body, given
from signet_sdk.contract.rules import (
    MAX_UNKNOWN_REPORTED,
    Matches,
    body_errors,
    few_unknown,
    optional_not_null,
)

Slug = Annotated[str, Field(min_length=1, max_length=8), Matches(r"^[a-z]+$", "lowercase only")]


class Thing(Body):
    slug: Slug
    key: Slug = optional_not_null(description="optional")


def errors(document: object) -> dict[str, tuple[FieldErrorCode, str]]:
    with pytest.raises(ValidationError) as caught:
        Thing.model_validate(document)
    return {e.field: (e.code, e.message) for e in body_errors(caught.value, Thing)}


def test_a_pattern_is_refused_in_words_after_type_and_length() -> None:
    assert errors({"slug": "Ab1"}) == {"slug": (FieldErrorCode.FORMAT, "lowercase only")}
    assert errors({"slug": "abc\n"})["slug"][0] is FieldErrorCode.FORMAT  # $ is the very end
    assert errors({"slug": ""})["slug"][0] is FieldErrorCode.LENGTH
    assert errors({"slug": 5})["slug"][0] is FieldErrorCode.TYPE
    schema = Thing.model_json_schema()["properties"]["slug"]
    assert (schema["pattern"], schema["maxLength"]) == (r"^[a-z]+$", 8)


def test_an_optional_field_may_be_absent_but_not_null() -> None:
    absent = Thing.model_validate({"slug": "a"})
    assert absent.key is None and not given(absent, "key")
    assert errors({"slug": "a", "key": None})["key"][0] is FieldErrorCode.TYPE
    key = Thing.model_json_schema()["properties"]["key"]
    assert "default" not in key and key["type"] == "string"
    assert "key" not in Thing.model_json_schema()["required"]


def test_unknown_fields_are_named_with_the_fields_the_body_has_and_bounded() -> None:
    junk = {"slug": "a", **{f"x{i}": i for i in range(5000)}}
    kept = few_unknown(junk, Thing)
    found = errors(kept)
    assert len(found) == MAX_UNKNOWN_REPORTED
    assert found["x0"] == (FieldErrorCode.UNKNOWN, "unknown field; expected slug, key")
    small = {"slug": "a", "x": 1}
    assert few_unknown(small, Thing) is small

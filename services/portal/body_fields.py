"""Field types the portal's bodies share: plain text, RFC 3339 times, and
:data:`NULL_UNDOCUMENTED` for fields whose ``null`` is not worth advertising.

Every text a client sends is refused if it holds a control character (the Unicode ``Cc``
category): such a name or id would corrupt a log line or a header further on. Times are
RFC 3339 with an offset (``2026-04-17T18:22:00Z`` or ``+02:00``), kept in epoch
milliseconds once read.
"""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from pydantic import AfterValidator, Field
from signet_sdk.contract.fields import FieldErrorCode, RuleError

TIME_MAX_LEN = 40
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def plain_text(text: str) -> str:
    """``text`` unless it holds a control character."""
    if any(unicodedata.category(c) == "Cc" for c in text):
        raise RuleError("must not contain control characters", FieldErrorCode.FORMAT)
    return text


def without_null(schema: dict[str, Any]) -> None:
    """A schema of ``X | None`` as ``X`` alone, with no ``null`` default."""
    members = schema.get("anyOf")
    if members and _NULL in members:
        rest = [m for m in members if m != _NULL]
        del schema["anyOf"]
        if len(rest) == 1:
            schema.update(rest[0])
        else:
            schema["anyOf"] = rest
    if "default" in schema and schema["default"] is None:
        del schema["default"]


_NULL = {"type": "null"}
# For a field typed ``X | None`` whose ``null`` is accepted as "not given" (a default
# applies), refused by a rule of its own, or (in an answer) never sent, the field being
# left out instead: the document shows ``X`` alone, and no ``null`` default.
NULL_UNDOCUMENTED: Any = Field(json_schema_extra=without_null)


def epoch_ms(text: str) -> int:
    """An RFC 3339 time with an offset as epoch milliseconds (exact: integer maths)."""
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError("no offset")
    return (moment - _EPOCH) // timedelta(milliseconds=1)


def _rfc3339(text: str) -> str:
    try:
        ms = epoch_ms(text)
    except ValueError:
        raise RuleError(
            "must be an RFC 3339 time with an offset, like 2026-04-17T18:22:00Z",
            FieldErrorCode.FORMAT,
        ) from None
    if ms < 0:
        raise RuleError("must be 1970 or later", FieldErrorCode.RANGE)
    return text


# A time a client sends; read it with epoch_ms() once validated.
TimeText = Annotated[
    str,
    Field(
        min_length=1,
        max_length=TIME_MAX_LEN,
        json_schema_extra={"format": "date-time"},
        examples=["2026-04-17T18:22:00Z"],
    ),
    AfterValidator(plain_text),
    AfterValidator(_rfc3339),
]

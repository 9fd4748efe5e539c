"""Reading a JSON request body field by field, collecting every problem with its field name.

Handlers never index a body directly: a :class:`BodyReader` checks the shape, refuses
unknown fields and wrong types, and records one :class:`FieldError` per bad field, so a
client learns everything that is wrong in one round trip. Getters of required values
return a placeholder on error; :meth:`BodyReader.done` raises before it can be used.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Iterable
from enum import StrEnum
from typing import Any, TypeVar

from services.portal.errors import FieldError, InvalidInput

E = TypeVar("E", bound=StrEnum)


class BodyReader:
    """One JSON object of a request body (or a nested object, sharing the error list)."""

    def __init__(
        self,
        body: Any,
        allowed: Iterable[str],
        *,
        path: str = "",
        errors: list[FieldError] | None = None,
    ) -> None:
        self._path = path
        self.errors: list[FieldError] = [] if errors is None else errors
        self._allowed = frozenset(allowed)
        if isinstance(body, dict):
            self._body: dict[str, Any] = body
        else:
            self._body = {}
            self.errors.append(FieldError(path or "body", "must be a JSON object"))
        for name in self._body:
            if name not in self._allowed:
                self.fail(name, "unknown field")

    # -- bookkeeping -------------------------------------------------------------------

    def field(self, name: str) -> str:
        return f"{self._path}.{name}" if self._path else name

    def fail(self, name: str, message: str) -> None:
        self.errors.append(FieldError(self.field(name), message))

    def present(self, name: str) -> bool:
        return name in self._body

    def is_null(self, name: str) -> bool:
        return name in self._body and self._body[name] is None

    def done(self) -> None:
        """Raise :class:`InvalidInput` naming every bad field, if there is any."""
        if self.errors:
            raise InvalidInput(list(self.errors))

    def _get(self, name: str) -> Any:
        if name not in self._allowed:
            raise KeyError(f"{name} is not an allowed field of this body")
        return self._body.get(name)

    # -- typed getters -----------------------------------------------------------------

    def text(
        self,
        name: str,
        *,
        max_len: int,
        min_len: int = 1,
        default: str | None = None,
        strip: bool = False,
    ) -> str:
        """A required string (or ``default`` when absent or null); ``strip`` trims blanks."""
        value = self._get(name)
        if value is None:
            if default is None:
                self.fail(name, "is required")
            return default or ""
        return self._check_text(name, value, min_len, max_len, strip) or ""

    def optional_text(
        self, name: str, *, max_len: int, min_len: int = 1, strip: bool = False
    ) -> str | None:
        value = self._get(name)
        if value is None:
            return None
        return self._check_text(name, value, min_len, max_len, strip)

    def _check_text(
        self, name: str, value: Any, min_len: int, max_len: int, strip: bool
    ) -> str | None:
        if not isinstance(value, str):
            self.fail(name, "must be a string")
            return None
        text = value.strip() if strip else value
        if any(unicodedata.category(c) == "Cc" for c in text):
            self.fail(name, "must not contain control characters")
            return None
        if not text and min_len > 0:
            self.fail(name, "must not be blank" if strip else "must not be empty")
            return None
        if not min_len <= len(text) <= max_len:
            self.fail(name, f"must be {min_len} to {max_len} characters long")
            return None
        return text

    def choice(self, name: str, options: type[E], *, default: E | None = None) -> E:
        """One value of a StrEnum; the error lists the allowed values."""
        value = self._get(name)
        fallback = default if default is not None else next(iter(options))
        if value is None:
            if default is None:
                self.fail(name, "is required")
            return fallback
        try:
            return options(value) if isinstance(value, str) else options("\0")
        except ValueError:
            allowed = ", ".join(o.value for o in options)
            self.fail(name, f"must be one of: {allowed}")
            return fallback

    def integer(self, name: str, *, lo: int, hi: int, default: int | None = None) -> int | None:
        value = self._get(name)
        if value is None:
            return default
        # bool is an int in Python; JSON true is not a number.
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(name, "must be an integer")
            return default
        if not lo <= value <= hi:
            self.fail(name, f"must be between {lo} and {hi}")
            return default
        return value

    def number(self, name: str, *, lo: float, hi: float) -> float | None:
        value = self._get(name)
        if value is None:
            return None
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            self.fail(name, "must be a number")
            return None
        if not lo <= value <= hi:
            self.fail(name, f"must be between {lo:g} and {hi:g}")
            return None
        return float(value)

    def boolean(self, name: str, *, default: bool) -> bool:
        value = self._get(name)
        if value is None:
            return default
        if not isinstance(value, bool):
            self.fail(name, "must be true or false")
            return default
        return value

    def strings(
        self, name: str, *, max_items: int, max_len: int, default: list[str] | None = None
    ) -> list[str] | None:
        """A list of non-empty strings; ``default`` when absent or null."""
        value = self._get(name)
        if value is None:
            return default
        if not isinstance(value, list):
            self.fail(name, "must be a list of strings")
            return default
        if len(value) > max_items:
            self.fail(name, f"may hold at most {max_items} items")
            return default
        items: list[str] = []
        for index, item in enumerate(value):
            if not isinstance(item, str) or not item or len(item) > max_len:
                self.fail(f"{name}[{index}]", f"must be a string of 1 to {max_len} characters")
            else:
                items.append(item)
        return items

    def integers(
        self, name: str, *, max_items: int, lo: int, hi: int, min_items: int = 1
    ) -> list[int] | None:
        value = self._get(name)
        if value is None:
            return None
        if not isinstance(value, list) or not min_items <= len(value) <= max_items:
            self.fail(name, f"must be a list of {min_items} to {max_items} integers")
            return None
        items: list[int] = []
        for index, item in enumerate(value):
            if isinstance(item, bool) or not isinstance(item, int) or not lo <= item <= hi:
                self.fail(f"{name}[{index}]", f"must be an integer between {lo} and {hi}")
            else:
                items.append(item)
        return items

    def obj(self, name: str, allowed: Iterable[str]) -> BodyReader | None:
        """A nested object whose errors join this body's (``retry_policy.max_attempts``)."""
        value = self._get(name)
        if value is None:
            return None
        return BodyReader(value, allowed, path=self.field(name), errors=self.errors)

"""What Python 3.10 lacks and the SDK uses (the SDK supports 3.10 and later)."""

from __future__ import annotations

import sys
from enum import Enum

if sys.version_info >= (3, 11):
    from enum import StrEnum
else:

    class StrEnum(str, Enum):
        """:class:`enum.StrEnum` of 3.11: members are their values, in ``str()`` too."""

        def __str__(self) -> str:
            return str(self.value)

        def __format__(self, spec: str) -> str:
            return format(str(self.value), spec)


__all__ = ["StrEnum"]

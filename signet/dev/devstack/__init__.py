"""The embedded local stack behind ``signet up``: broker, topics, keys, services, banner.

    async with DevStack(settings, console) as stack:
        print(stack.info.ingest_url, stack.info.operator_key)

``signet demo`` and tests use :class:`DevStack` directly; ``signet up`` adds signals and
the banner around it (``signet/cli.py``).
"""

from __future__ import annotations

from signet.dev.devstack.info import StackInfo
from signet.dev.devstack.stack import DevStack

__all__ = ["DevStack", "StackInfo"]

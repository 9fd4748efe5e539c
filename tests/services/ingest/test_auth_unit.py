"""Unit tests of PublishableKeyAuth's pure logic, with an in-memory key directory."""

from __future__ import annotations

import asyncio
import hashlib
import time

import pytest

from services.ingest.auth import PublishableKeyAuth
from signet.kafka.config_view import KeyMatch
from signet.records.model import PublishableKey
from signet.web import Problem
from tests.changes import Changes

KEY = "pk_test_" + "k" * 24
LATE_KEY = "pk_live_" + "l" * 24


def match_for(key: str, key_id: str) -> tuple[str, KeyMatch]:
    digest = hashlib.sha256(key.encode()).hexdigest()
    return digest, KeyMatch("ws_1", PublishableKey(key_id, digest, "pk_…", 1))


class Directory(Changes):
    """Keys in a dict; ``learn`` adds one later, as the config view does on an update."""

    def __init__(self, *, ready: bool) -> None:
        self.ready = ready
        self.keys = dict([match_for(KEY, "pk_1")])
        self.lookups: list[str] = []
        super().__init__()

    def key_by_hash(self, sha256_hex: str) -> KeyMatch | None:
        self.lookups.append(sha256_hex)
        return self.keys.get(sha256_hex)

    def learn(self, key: str, key_id: str) -> None:
        digest, match = match_for(key, key_id)
        self.keys[digest] = match
        self.notify()


async def test_a_known_key_names_its_workspace() -> None:
    caller = await PublishableKeyAuth(Directory(ready=True)).authenticate(f"bearer  {KEY} ")
    assert (caller.workspace_id, caller.key_id) == ("ws_1", "pk_1")


async def test_before_the_view_caught_up_the_answer_is_503_not_401() -> None:
    directory = Directory(ready=False)
    with pytest.raises(Problem) as caught:
        await PublishableKeyAuth(directory).authenticate(f"Bearer {KEY}")
    assert caught.value.status == 503
    assert caught.value.headers["Retry-After"] == "1"
    assert directory.lookups == []


async def test_only_the_hash_of_a_well_formed_key_is_looked_up() -> None:
    directory = Directory(ready=True)
    auth = PublishableKeyAuth(directory, unknown_key_wait_seconds=0)
    for header in ("Bearer pk_live_not!valid!!!", "Bearer nope", "Token " + KEY):
        with pytest.raises(Problem):
            await auth.authenticate(header)
    assert directory.lookups == []
    with pytest.raises(Problem):
        await auth.authenticate("Bearer pk_live_" + "u" * 24)
    assert directory.lookups == [hashlib.sha256(("pk_live_" + "u" * 24).encode()).hexdigest()]


async def test_a_key_the_view_learns_during_the_wait_is_accepted() -> None:
    directory = Directory(ready=True)
    auth = PublishableKeyAuth(directory, unknown_key_wait_seconds=5)
    asyncio.get_running_loop().call_later(0.05, directory.learn, LATE_KEY, "pk_late")
    caller = await auth.authenticate(f"Bearer {LATE_KEY}")
    assert caller.key_id == "pk_late"


async def test_an_unknown_key_is_refused_once_the_wait_is_over() -> None:
    auth = PublishableKeyAuth(Directory(ready=True), unknown_key_wait_seconds=0.05)
    started = time.monotonic()
    with pytest.raises(Problem) as caught:
        await auth.authenticate(f"Bearer {LATE_KEY}")
    assert caught.value.status == 401
    assert caught.value.text is not None
    assert "unknown publishable key" in caught.value.text
    assert time.monotonic() - started >= 0.05

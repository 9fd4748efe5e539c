"""Unit tests of PublishableKeyAuth's pure logic, with an in-memory key directory."""

from __future__ import annotations

import hashlib

import pytest

from services.ingest.auth import PublishableKeyAuth
from signet.config_view import KeyMatch
from signet.records import PublishableKey
from signet.web import Problem

KEY = "pk_test_" + "k" * 24


class Directory:
    def __init__(self, *, ready: bool) -> None:
        self.ready = ready
        digest = hashlib.sha256(KEY.encode()).hexdigest()
        self.keys = {digest: KeyMatch("ws_1", PublishableKey("pk_1", digest, "pk_test_…kkkk", 1))}
        self.lookups: list[str] = []

    def key_by_hash(self, sha256_hex: str) -> KeyMatch | None:
        self.lookups.append(sha256_hex)
        return self.keys.get(sha256_hex)


def test_a_known_key_names_its_workspace() -> None:
    caller = PublishableKeyAuth(Directory(ready=True)).authenticate(f"bearer  {KEY} ")
    assert (caller.workspace_id, caller.key_id) == ("ws_1", "pk_1")


def test_before_the_view_caught_up_the_answer_is_503_not_401() -> None:
    directory = Directory(ready=False)
    with pytest.raises(Problem) as caught:
        PublishableKeyAuth(directory).authenticate(f"Bearer {KEY}")
    assert caught.value.status == 503
    assert caught.value.headers["Retry-After"] == "1"
    assert directory.lookups == []


def test_only_the_hash_of_a_well_formed_key_is_looked_up() -> None:
    directory = Directory(ready=True)
    auth = PublishableKeyAuth(directory)
    for header in ("Bearer pk_live_not!valid!!!", "Bearer nope", "Token " + KEY):
        with pytest.raises(Problem):
            auth.authenticate(header)
    assert directory.lookups == []
    with pytest.raises(Problem):
        auth.authenticate("Bearer pk_live_" + "u" * 24)
    assert directory.lookups == [hashlib.sha256(("pk_live_" + "u" * 24).encode()).hexdigest()]

"""The .signet/ directory: created private, keys generated once and reused, one owner."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from pydantic import SecretStr
from signet_sdk.signing.standard_webhooks import validate_secret

from signet.dev.devstack.state import (
    MASTER_KEYS_FILE,
    OPERATOR_KEY_FILE,
    RECEIVER_SECRET_FILE,
    SESSION_KEY_FILE,
    StateDir,
    read_or_create,
    read_runtime,
)
from signet.errors import ConfigurationError
from signet.security.secrets import MasterKeyRing
from signet.settings import DevStackSettings

KEY_FILES = (OPERATOR_KEY_FILE, MASTER_KEYS_FILE, SESSION_KEY_FILE, RECEIVER_SECRET_FILE)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def settings(root: Path, **overrides: object) -> DevStackSettings:
    return DevStackSettings(state_dir=root, **overrides)  # type: ignore[arg-type]


def test_first_run_generates_private_usable_keys(tmp_path: Path) -> None:
    root = tmp_path / "state"
    state = StateDir(root)
    state.prepare()
    keys = state.keys(settings(root))

    assert mode(root) == 0o700
    for name in KEY_FILES:
        assert mode(root / name) == 0o600, name
    assert set(keys.generated) == set(KEY_FILES)
    assert keys.operator_key.startswith("sk_op_") and len(keys.operator_key) > 40
    MasterKeyRing.parse(keys.master_keys)  # raises if the ring is malformed
    assert len(keys.session_key) >= 32  # the portal's minimum
    validate_secret(keys.receiver_secret)
    assert (root / OPERATOR_KEY_FILE).read_text().strip() == keys.operator_key


def test_second_run_reuses_the_same_keys(tmp_path: Path) -> None:
    state = StateDir(tmp_path)
    state.prepare()
    first = state.keys(settings(tmp_path))
    again = StateDir(tmp_path)
    again.prepare()
    second = again.keys(settings(tmp_path))

    assert second.generated == ()
    assert (first.operator_key, first.master_keys, first.session_key) == (
        second.operator_key,
        second.master_keys,
        second.session_key,
    )
    assert first.receiver_secret == second.receiver_secret


def test_keys_from_settings_win_and_are_not_written(tmp_path: Path) -> None:
    state = StateDir(tmp_path)
    state.prepare()
    keys = state.keys(settings(tmp_path, operator_key=SecretStr("my-own-operator-key")))
    assert keys.operator_key == "my-own-operator-key"
    assert not (tmp_path / OPERATOR_KEY_FILE).exists()
    assert OPERATOR_KEY_FILE not in keys.generated


def test_a_bad_master_key_ring_is_a_clear_error(tmp_path: Path) -> None:
    state = StateDir(tmp_path)
    state.prepare()
    (tmp_path / MASTER_KEYS_FILE).write_text("not-a-ring\n")
    with pytest.raises(ConfigurationError, match="master key ring"):
        state.keys(settings(tmp_path))


def test_loose_permissions_are_tightened(tmp_path: Path) -> None:
    path = tmp_path / "key"
    path.write_text("value\n")
    path.chmod(0o644)
    assert read_or_create(path, lambda: "other") == ("value", False)
    assert mode(path) == 0o600


def test_an_empty_key_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "key"
    path.write_text("")
    path.chmod(0o600)
    with pytest.raises(ConfigurationError, match="is empty"):
        read_or_create(path, lambda: "other")


def test_one_signet_up_per_directory(tmp_path: Path) -> None:
    first, second = StateDir(tmp_path), StateDir(tmp_path)
    first.prepare()
    first.lock()
    try:
        with pytest.raises(ConfigurationError, match="another `signet up`"):
            second.lock()
    finally:
        first.unlock()
    second.lock()  # free again once the first let go
    second.unlock()


def test_reset_data_keeps_keys_and_runtime_round_trips(tmp_path: Path) -> None:
    state = StateDir(tmp_path)
    state.prepare()
    keys = state.keys(settings(tmp_path))
    (state.data_dir / "router").mkdir()
    (state.data_dir / "signet.db").write_text("old")
    state.reset_data()

    assert list(state.data_dir.iterdir()) == []
    assert state.keys(settings(tmp_path)).operator_key == keys.operator_key
    state.write_runtime({"pid": 7, "services": {}})
    assert read_runtime(tmp_path) == {"pid": 7, "services": {}}
    assert mode(tmp_path / "stack.json") == 0o600
    state.remove_runtime()
    assert read_runtime(tmp_path) is None

"""The dev stack's ``.signet/`` directory: keys kept across restarts, data reset with the broker.

    .signet/                 0700
      operator_key           0600  the operator API key (unless SIGNET_OPERATOR_KEY is set)
      master_keys            0600  the master key ring that seals customer secrets
      session_key            0600  the key that signs embed session tokens
      receiver_secret        0600  the whsec_ secret of the walk-through receiver
      walkthrough.sh         0600  the printed curl walk-through (it holds the operator key)
      config-snapshot.jsonl  0600  the setup kept across restarts (embedded broker only;
                                   snapshot.py): workspaces, destinations, sealed secrets
      embed-host.json        0600  the example host page's demo workspace (id, publishable
                                   key), reused at the next start; --fresh forgets it
      stack.json             0600  pids and URLs of the running stack, removed on stop
      up.lock                      held by the running ``signet up``: one per directory
      data/                        router tables, the delivery-log database, broker log

Keys are generated once and reused, so the printed operator key stays valid across
restarts, and the restored setup's sealed secrets (master keys), embed sessions (session
key) and delivery-log signatures (derived from the master keys) keep working. ``data/`` is
wiped when the broker is the embedded one: that broker forgets every topic when it stops
(only the setup is put back) and the delivery log and router tables would point at
events and offsets that no longer exist.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import secrets
import shutil
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from pydantic import SecretStr
from signet_sdk.signing.standard_webhooks import generate_secret

from signet.errors import ConfigurationError, SignetError
from signet.security.secrets import MasterKeyRing, generate_master_key
from signet.settings import DevStackSettings

logger = logging.getLogger(__name__)

OPERATOR_KEY_FILE = "operator_key"
MASTER_KEYS_FILE = "master_keys"
SESSION_KEY_FILE = "session_key"
RECEIVER_SECRET_FILE = "receiver_secret"  # noqa: S105 - a file name
WALKTHROUGH_FILE = "walkthrough.sh"
RUNTIME_FILE = "stack.json"
LOCK_FILE = "up.lock"
DATA_DIR = "data"
PRIVATE_FILE = 0o600
PRIVATE_DIR = 0o700


def generate_operator_key() -> str:
    return f"sk_op_{secrets.token_urlsafe(32)}"


def generate_session_key() -> str:
    return secrets.token_urlsafe(32)


@dataclass(slots=True, frozen=True)
class StackKeys:
    """The dev stack's secrets, and which of them were generated just now."""

    operator_key: str = field(repr=False)
    master_keys: str = field(repr=False)
    session_key: str = field(repr=False)
    receiver_secret: str = field(repr=False)
    generated: tuple[str, ...] = ()


class StateDir:
    """One ``.signet/`` directory; :meth:`lock` makes sure one ``signet up`` uses it."""

    def __init__(self, root: Path) -> None:
        self.root = root.absolute()
        self._lock_fd: int | None = None

    @property
    def data_dir(self) -> Path:
        return self.root / DATA_DIR

    def prepare(self) -> None:
        self.root.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
        _make_private(self.root, PRIVATE_DIR)
        self.data_dir.mkdir(exist_ok=True)

    def reset_data(self) -> None:
        """Forget local data that only made sense with the previous broker's topics."""
        shutil.rmtree(self.data_dir, ignore_errors=True)
        self.data_dir.mkdir()

    def lock(self) -> None:
        """Claim the directory for this process; ConfigurationError if another holds it."""
        if self._lock_fd is not None:
            return
        fd = os.open(self.root / LOCK_FILE, os.O_RDWR | os.O_CREAT, PRIVATE_FILE)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise ConfigurationError(
                f"another `signet up` (pid {holder}) is using {self.root}; stop it first "
                "or give this one its own SIGNET_STATE_DIR"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._lock_fd = fd

    def unlock(self) -> None:
        fd, self._lock_fd = self._lock_fd, None
        if fd is not None:
            os.close(fd)  # closing releases the flock

    def keys(self, settings: DevStackSettings) -> StackKeys:
        """The stack's keys: from settings when given, else from files, else generated."""
        generated: list[str] = []

        def key(name: str, given: SecretStr | None, make: Callable[[], str]) -> str:
            if given is not None and given.get_secret_value():
                return given.get_secret_value()
            value, created = read_or_create(self.root / name, make)
            if created:
                generated.append(name)
            return value

        master_keys = key(MASTER_KEYS_FILE, settings.master_keys, generate_master_key)
        try:
            MasterKeyRing.parse(master_keys)
        except SignetError as exc:
            raise ConfigurationError(
                f"the master key ring ({self.root / MASTER_KEYS_FILE} or SIGNET_MASTER_KEYS) "
                f"is unusable: {exc}"
            ) from exc
        return StackKeys(
            operator_key=key(OPERATOR_KEY_FILE, settings.operator_key, generate_operator_key),
            master_keys=master_keys,
            session_key=key(SESSION_KEY_FILE, settings.session_key, generate_session_key),
            receiver_secret=key(RECEIVER_SECRET_FILE, None, lambda: generate_secret().secret),
            generated=tuple(generated),
        )

    def write_private(self, name: str, text: str) -> Path:
        """Replace ``name`` atomically with a 0600 file holding ``text``."""
        path = self.root / name
        tmp = path.with_name(f".{name}.{os.getpid()}.tmp")
        _write_new(tmp, text)
        os.replace(tmp, path)
        return path

    def write_runtime(self, runtime: dict[str, Any]) -> None:
        self.write_private(RUNTIME_FILE, orjson.dumps(runtime, option=orjson.OPT_INDENT_2).decode())

    def remove_runtime(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            (self.root / RUNTIME_FILE).unlink()


def read_runtime(root: Path) -> dict[str, Any] | None:
    """What a running ``signet up`` wrote to ``stack.json``; None when it is not running."""
    try:
        data: dict[str, Any] = orjson.loads((root / RUNTIME_FILE).read_bytes())
    except FileNotFoundError:
        return None
    return data


def read_or_create(path: Path, make: Callable[[], str]) -> tuple[str, bool]:
    """The stripped contents of ``path``, creating it (0600) from ``make()`` first if missing.

    Creation is a hard link of a finished temporary file, so two processes racing here
    agree on one value and nobody ever reads a half-written key.
    """
    with contextlib.suppress(FileNotFoundError):
        return _read_private(path), False
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    _write_new(tmp, make() + "\n")
    try:
        os.link(tmp, path)
        created = True
    except FileExistsError:
        created = False
    finally:
        tmp.unlink()
    return _read_private(path), created


def _read_private(path: Path) -> str:
    _make_private(path, PRIVATE_FILE)
    value = path.read_text().strip()
    if not value:
        raise ConfigurationError(f"{path} is empty; delete it and a new key will be generated")
    return value


def _write_new(path: Path, text: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)


def _make_private(path: Path, mode: int) -> None:
    """Tighten ``path`` to ``mode`` if group or others can read it, and say so."""
    current = stat.S_IMODE(path.stat().st_mode)
    if current & 0o077:
        logger.warning("%s was readable by others (%o); made it %o", path, current, mode)
        path.chmod(mode)

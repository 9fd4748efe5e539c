"""A real forward proxy (proxy.py) in a child process on loopback, for the egress tests.

    proxy = await start_forward_proxy(tmp_path)           # any free port
    proxy = await start_forward_proxy(tmp_path, port=p, basic_auth="user:pass")
    proxy.connects_to(receiver_port)   # ["127.0.0.1:<port>", …]: the tunnels it opened
    await proxy.stop()

The plugin tests/signet/security/proxy_recorder.py writes one line per request the proxy
takes, before it connects anywhere.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

from tests.eventually import eventually

ROOT = Path(__file__).resolve().parents[1]


@dataclass(slots=True)
class ForwardProxy:
    port: int
    record: Path
    process: asyncio.subprocess.Process

    def url(self, credentials: str = "") -> str:
        return f"http://{credentials + '@' if credentials else ''}127.0.0.1:{self.port}"

    def seen(self) -> list[dict[str, object]]:
        if not self.record.exists():
            return []
        return [json.loads(line) for line in self.record.read_text().splitlines()]

    def connects_to(self, port: int) -> list[str]:
        """The targets the proxy was asked for on ``port``, as ``host:port``."""
        return [f"{s['host']}:{s['port']}" for s in self.seen() if s["port"] == port]

    async def stop(self) -> None:
        if self.process.returncode is None:
            self.process.terminate()
            await self.process.wait()


async def start_forward_proxy(
    directory: Path, *, port: int = 0, basic_auth: str | None = None
) -> ForwardProxy:
    name = uuid.uuid4().hex[:8]
    port_file, record = directory / f"proxy-{name}.port", directory / f"proxy-{name}.jsonl"
    args = [
        "-m",
        "proxy",
        "--hostname=127.0.0.1",
        f"--port={port}",
        f"--port-file={port_file}",
        "--num-acceptors=1",
        "--num-workers=1",
        "--log-level=WARNING",
        "--plugins=tests.signet.security.proxy_recorder.RecordRequests",
    ]
    if basic_auth:
        args.append(f"--basic-auth={basic_auth}")
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
        "SIGNET_TEST_PROXY_RECORD": str(record),
    }
    child = await asyncio.create_subprocess_exec(sys.executable, *args, env=env)

    def listening() -> int | None:
        assert child.returncode is None, "proxy.py exited"
        text = port_file.read_text().strip() if port_file.exists() else ""
        return int(text) if text else None

    try:
        bound = await eventually(listening, "proxy.py listening", 20)
    except BaseException:
        child.kill()
        await child.wait()
        raise
    return ForwardProxy(bound, record, child)

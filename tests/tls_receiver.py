"""A real aiohttp receiver on 127.0.0.1 over TLS that requires a client certificate
(mutual TLS): no certificate its CA issued, no connection. It records the client
certificate's common name and the headers of every request, and answers the statuses it
is given in order, then 200 "mutual ok". Certificates come from tests/certificates.py.

    async with MutualTlsReceiver(SERVER, client_ca=CLIENT_CA.certificate) as receiver:
        ...  # receiver.url; receiver.seen: [(common name, headers), ...]
"""

from __future__ import annotations

import ssl
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from aiohttp import web

from signet.dev.broker import free_port
from tests.certificates import Issued


@dataclass
class MutualTlsReceiver:
    server: Issued  # the receiver's certificate (for 127.0.0.1) and key
    client_ca: str  # PEM: the CA whose client certificates it accepts
    statuses: list[int] = field(default_factory=list)  # answers in order, then 200
    seen: list[tuple[str, dict[str, str]]] = field(default_factory=list)  # client CN, headers
    port: int = 0
    _runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}/hook"

    def _context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        with tempfile.TemporaryDirectory() as folder:  # load_cert_chain reads files only
            cert, key = Path(folder) / "server.pem", Path(folder) / "server.key"
            cert.write_text(self.server.certificate)
            key.write_text(self.server.key)
            context.load_cert_chain(cert, key)
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(cadata=self.client_ca)
        return context

    async def _handle(self, request: web.Request) -> web.Response:
        peer = request.transport.get_extra_info("peercert") if request.transport else None
        subject = dict(pair[0] for pair in peer["subject"]) if peer else {}
        self.seen.append((subject.get("commonName", ""), dict(request.headers)))
        status = self.statuses.pop(0) if self.statuses else 200
        return web.Response(status=status, text="mutual ok")

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/hook", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        self.port = free_port()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port, ssl_context=self._context())
        await site.start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> MutualTlsReceiver:
        await self.start()
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        await self.stop()

"""An aiohttp app on a loopback port the kernel picks: the demo's receivers and Slack
stand-in, the benchmarks' OTLP sink, the tests' receivers."""

from __future__ import annotations

from aiohttp import web

HOST = "127.0.0.1"


class LoopbackServer:
    """Serves one app on ``127.0.0.1:<port>``; ``serve`` and ``stop`` are idempotent."""

    def __init__(self) -> None:
        self._runner: web.AppRunner | None = None
        self.port = 0  # known once served

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    async def serve(self, app: web.Application) -> None:
        if self._runner is not None:
            return
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, HOST, 0).start()
        self._runner = runner
        self.port = runner.addresses[0][1]

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

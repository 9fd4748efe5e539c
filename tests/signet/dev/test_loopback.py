"""The loopback server behind the demo's and the tests' stand-ins: a free port on
127.0.0.1, served once however often asked, stopped once however often told."""

from __future__ import annotations

import aiohttp
import pytest
from aiohttp import web

from signet.dev.loopback import LoopbackServer


async def test_serves_on_a_free_loopback_port_until_stopped() -> None:
    async def hello(_request: web.Request) -> web.Response:
        return web.Response(text="hi")

    app = web.Application()
    app.router.add_get("/", hello)
    server = LoopbackServer()
    await server.serve(app)
    port = server.port
    await server.serve(web.Application())  # already serving: nothing changes
    assert port > 0 and server.port == port
    assert server.base_url == f"http://127.0.0.1:{port}"
    async with aiohttp.ClientSession() as http:
        async with http.get(server.base_url + "/") as response:
            assert (response.status, await response.text()) == (200, "hi")
        await server.stop()
        await server.stop()
        with pytest.raises(aiohttp.ClientConnectionError):
            await http.get(server.base_url + "/")

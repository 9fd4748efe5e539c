"""The portal API as the demo calls it: each call is printed with its method, path and
status, and an answer that is not 2xx stops the demo with the problem's detail."""

from __future__ import annotations

from typing import Any

import aiohttp

from signet.dev.demo.narration import Narrator
from signet.errors import SignetError


class DemoFailed(SignetError):
    """A step of the demo did not happen as it should; the message says which."""


class PortalCalls:
    def __init__(
        self, http: aiohttp.ClientSession, portal_url: str, operator_key: str, narrator: Narrator
    ) -> None:
        self._http = http
        self._url = portal_url
        self._operator_key = operator_key
        self._narrator = narrator
        self.session_token: str | None = None

    async def operator(self, method: str, path: str, body: Any = None, note: str = "") -> Any:
        """A call with the operator key (what the SaaS backend does)."""
        return await self._call(method, path, self._operator_key, body, note)

    async def workspace(
        self, method: str, path: str, body: Any = None, note: str = "", *, poll: bool = False
    ) -> Any:
        """A call with the embed session token (what the customer does in the embed).

        ``poll``: not printed (the caller prints the call once it is done), and a 404 is
        None (the delivery log is projected from outcomes and may not have it yet).
        """
        if self.session_token is None:
            raise DemoFailed("no embed session yet")
        return await self._call(method, path, self.session_token, body, note, poll=poll)

    async def _call(
        self, method: str, path: str, bearer: str, body: Any, note: str, *, poll: bool = False
    ) -> Any:
        headers = {"Authorization": f"Bearer {bearer}"}
        async with self._http.request(
            method, self._url + path, json=body, headers=headers
        ) as response:
            answer = await response.json(content_type=None) if response.status != 204 else None
        shown = path.split("?")[0]
        if poll and response.status == 404:
            return None
        if not poll or response.status >= 300:
            self._narrator.call(method, shown, response.status, note)
        if response.status >= 300:
            detail = answer.get("detail") if isinstance(answer, dict) else answer
            raise DemoFailed(f"{method} {shown} answered {response.status}: {detail}")
        return answer

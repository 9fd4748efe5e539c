"""A local stand-in for a Slack incoming webhook: takes what the alerter posts and shows
it roughly as Slack would (header, text, fields, buttons, footer) in the terminal.

Block Kit ``mrkdwn`` is turned into terminal styles: ``*bold*``, ```code```, links
``<url|text>`` and date tokens ``<!date^…|fallback>`` (their fallback text).
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

from aiohttp import web
from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from signet.dev.loopback import LoopbackServer

# What a real incoming-webhook URL looks like, served here on loopback.
PATH = "/services/T0CASTERLY/B0OPSALERTS/demo"

_DATE = re.compile(r"<!date\^[^|>]*\|([^>]*)>")
_LINK = re.compile(r"<([^|>]+)\|([^>]*)>")
_BARE_LINK = re.compile(r"<(https?://[^>]+)>")
_BOLD = re.compile(r"(?<![\w*])\*([^*\n]+)\*(?![\w*])")
_CODE = re.compile(r"`([^`\n]+)`")


def mrkdwn(text: str) -> Text:
    """Slack mrkdwn → rich Text (bold, code, links shown as their text)."""
    text = _DATE.sub(r"\1", text)
    text = _LINK.sub(lambda m: f"\x01{m.group(2)}\x02", text)
    text = _BARE_LINK.sub(lambda m: f"\x01{m.group(1)}\x02", text)
    text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    escaped = text.replace("[", r"\[").replace("\x01", "[underline blue]").replace("\x02", "[/]")
    escaped = _BOLD.sub(r"[bold]\1[/bold]", escaped)
    escaped = _CODE.sub(r"[magenta]\1[/magenta]", escaped)
    return Text.from_markup(escaped)


def render(message: dict[str, Any]) -> RenderableType:
    """A Slack message (``{"text", "blocks"}``) as a terminal panel."""
    title = "Slack"
    parts: list[RenderableType] = []
    for block in message.get("blocks") or []:
        kind = block.get("type")
        if kind == "header":
            title = str(block["text"]["text"])
        elif kind == "section" and "text" in block:
            parts.append(mrkdwn(str(block["text"]["text"])))
        elif kind == "section" and "fields" in block:
            grid = Table.grid(padding=(0, 3))
            grid.add_column()
            grid.add_column()
            cells = [mrkdwn(str(f["text"])) for f in block["fields"]]
            for i in range(0, len(cells), 2):
                grid.add_row(*cells[i : i + 2])
            parts.append(grid)
        elif kind == "actions":
            labels = [f"[ {e['text']['text']} ]" for e in block.get("elements", [])]
            parts.append(Text("  ".join(labels), style="bold blue"))
        elif kind == "context":
            texts = [str(e.get("text", "")) for e in block.get("elements", [])]
            parts.append(Text.assemble(("", ""), mrkdwn(" ".join(texts)), style="dim"))
    if not parts:
        parts.append(mrkdwn(str(message.get("text", ""))))
    body = Group(*(item for part in parts for item in (part, Text(""))))
    return Panel(body, title=f"[bold]#casterly-ops · {title}[/]", border_style="magenta")


class SlackStandIn:
    """Answers ``ok`` like Slack does, and keeps every message posted to it."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self._arrived = asyncio.Condition()
        self._server = LoopbackServer()

    @property
    def port(self) -> int:
        return self._server.port

    @property
    def url(self) -> str:
        return self._server.base_url + PATH

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post(PATH, self._handle)
        await self._server.serve(app)

    async def stop(self) -> None:
        await self._server.stop()

    async def _handle(self, request: web.Request) -> web.Response:
        message = await request.json()
        async with self._arrived:
            self.messages.append(message if isinstance(message, dict) else {"text": message})
            self._arrived.notify_all()
        return web.Response(text="ok")

    async def wait_for(self, count: int, timeout: float) -> bool:
        async with self._arrived:
            try:
                await asyncio.wait_for(
                    self._arrived.wait_for(lambda: len(self.messages) >= count), timeout
                )
            except TimeoutError:
                return False
        return True

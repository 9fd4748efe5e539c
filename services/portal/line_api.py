"""Where a FIFO destination's line stands: ``GET /v1/workspace/destinations/{id}/line``.

Answered from the dispatcher's own line records (``signet.fifo-lines``, followed by a
:class:`~signet.kafka.fifo_line_view.FifoLineView`), so it says what the dispatcher
decides on: whether a head is being delivered (in flight or waiting on a retry tier) and
how many deliveries wait behind it on the hold topic. The embed shows it for a FIFO
destination (docs/delivery.md#ordered-delivery). Session-scoped like every workspace
route; another workspace's destination id is not found (404).

    LineApi(view, lines, guard).register(app, api)
"""

from __future__ import annotations

from aiohttp import web
from pydantic import Field
from signet_sdk.contract.models import Answer

from services.portal.auth import SESSION_TOKEN, SessionGuard
from services.portal.commands import ConfigReader
from services.portal.problems import SESSION_READ_ERRORS
from services.portal.sessions import SessionClaims
from services.portal.views import Time, answer, at
from signet.api.operations import Api, Reply, operation
from signet.kafka.fifo_line_view import FifoLineView
from signet.records.model import DeliveryOrdering
from signet.web import not_found

LINE = "/v1/workspace/destinations/{destination_id}/line"


class DestinationLine(Answer):
    """A destination's delivery line."""

    ordering: DeliveryOrdering
    waiting: int = Field(
        description="FIFO: deliveries held behind the head (0 for an unordered destination)"
    )
    head_since: Time | None = Field(
        default=None,
        description="FIFO: when the delivery at the head of the line was first attempted; "
        "null when nothing is being delivered",
    )


class LineApi:
    def __init__(self, view: ConfigReader, lines: FifoLineView, guard: SessionGuard) -> None:
        self._view = view
        self._lines = lines
        self._guard = guard

    def register(self, app: web.Application, api: Api) -> None:
        api.route(
            app,
            self.destination_line,
            serve=self._guard.protect(self.destination_line, write=False),
        )

    @operation(
        "GET",
        LINE,
        summary="A FIFO destination's line: how many deliveries wait behind its head",
        tags=["workspace"],
        security=[SESSION_TOKEN],
        responses={200: Reply("the line", DestinationLine), **SESSION_READ_ERRORS},
        operation_id="destination_line",
    )
    async def destination_line(self, request: web.Request, claims: SessionClaims) -> web.Response:
        destination_id = request.match_info["destination_id"]
        config = self._view.workspace(claims.workspace_id)
        destination = None if config is None else config.destination(destination_id)
        if destination is None:
            raise not_found(f"no destination {destination_id}")
        line = self._lines.line(destination_id)
        ordering = DeliveryOrdering(destination.ordering)
        if ordering is not DeliveryOrdering.FIFO or line is None:
            return answer(DestinationLine(ordering=ordering, waiting=0))
        since = None if line.head is None or line.head_since is None else at(line.head_since)
        return answer(DestinationLine(ordering=ordering, waiting=line.waiting, head_since=since))

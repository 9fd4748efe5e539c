"""The embed's request and answer models: the page's query, the embed URL's answer."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from signet_sdk.contract.models import Answer

from services.portal.queries import QueryModel
from services.portal.views import Time


class EmbedPageQuery(QueryModel):
    """The query of ``GET /embed``. Only ``frame`` is read by the portal; the rest are
    read by the page itself, which ignores a value it does not understand (a host's typo
    must not blank its iframe), so the portal never refuses the page for its query."""

    frame: str | None = Field(
        None,
        description="the frame ticket of an embed URL; without a valid one the page may not "
        "be framed (frame-ancestors 'none')",
    )
    theme: Literal["light", "dark", "auto"] | None = Field(
        None, description="colour scheme; by default the user's `prefers-color-scheme`"
    )
    brand: str | None = Field(
        None, description="accent colour: `#rgb` to `#rrggbbaa`, `rgb()`, `hsl()`"
    )
    font: str | None = Field(None, description="a CSS font-family list")


class EmbedUrl(Answer):
    embed_url: str = Field(
        json_schema_extra={"format": "uri"},
        description="`/embed?frame=<ticket>`: the frame ticket names the session's allowed "
        "origins and carries no credential",
        examples=["https://portal.example.com/embed?frame=fr1.…"],
    )
    frame_ancestors: list[str] = Field(
        description="the origins that may frame the page (the session's allowed origins)"
    )
    expires_at: Time = Field(description="when the session, and so the URL, expires")

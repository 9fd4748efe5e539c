"""The OpenAPI paths of the embed (``routes.py``), for ``openapi.py`` to merge:
``**embed_paths()`` beside the other path groups."""

from __future__ import annotations

from services.portal.embed.routes import ASSETS_PATH, EMBED_PATH, EMBED_URL_PATH
from services.portal.openapi_schemas import Schema, ok, problem

_SESSION: list[Schema] = [{"sessionToken": []}]
_HTML = {"text/html": {"schema": {"type": "string"}}}


def embed_paths() -> dict[str, Schema]:
    return {
        EMBED_URL_PATH: {
            "post": {
                "summary": "The URL a host page puts in its iframe for this session",
                "description": "`embed_url` carries a frame ticket (no credential) naming the "
                "session's allowed origins, which the page at that URL sends as "
                "`Content-Security-Policy: frame-ancestors`. The token itself reaches the "
                "frame by postMessage, never in a URL.",
                "security": _SESSION,
                "responses": {
                    "201": ok(
                        "the URL, valid until the session expires",
                        {
                            "type": "object",
                            "required": ["embed_url", "frame_ancestors", "expires_at"],
                            "properties": {
                                "embed_url": {"type": "string", "format": "uri"},
                                "frame_ancestors": {"type": "array", "items": {"type": "string"}},
                                "expires_at": {"type": "string", "format": "date-time"},
                            },
                        },
                    ),
                    "401": problem("missing, forged or expired session token"),
                    "403": problem("an origin the session does not allow"),
                    "503": problem("the portal is not caught up yet"),
                },
            }
        },
        EMBED_PATH: {
            "get": {
                "summary": "The embeddable workspace UI (a single page)",
                "parameters": [
                    {
                        "name": "frame",
                        "in": "query",
                        "schema": {"type": "string"},
                        "description": "the frame ticket of an embed URL; without a valid "
                        "one the page may not be framed (frame-ancestors 'none')",
                    },
                    {"name": "theme", "in": "query", "schema": {"enum": ["light", "dark", "auto"]}},
                    {"name": "brand", "in": "query", "schema": {"type": "string"}},
                ],
                "responses": {"200": {"description": "the page", "content": _HTML}},
            }
        },
        ASSETS_PATH + "/{name}": {
            "get": {
                "summary": "The page's ES modules and stylesheet",
                "parameters": [
                    {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}
                ],
                "responses": {
                    "200": {"description": "the asset (JavaScript or CSS)"},
                    "404": problem("no such asset"),
                },
            }
        },
    }

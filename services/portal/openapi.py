"""The portal's OpenAPI 3.1 document, written by hand to match every route it serves."""

from __future__ import annotations

from typing import Any

from services.portal.actions_openapi import actions_paths
from services.portal.delivery_log_openapi import log_paths
from services.portal.embed.openapi import embed_paths
from services.portal.openapi_schemas import (
    NAME,
    SCHEMAS,
    Schema,
    json_body,
    ok,
    problem,
    ref,
)
from signet.records.model import Environment

_WRITE_ERRORS = {
    "400": problem("invalid body; `errors` names each field"),
    "401": problem("missing or invalid credentials"),
    "503": problem("Kafka unavailable or the portal not caught up; nothing written"),
    "504": problem("written but not applied in time; read before retrying"),
}
_SESSION_WRITE_ERRORS = {
    **_WRITE_ERRORS,
    "403": problem("viewer session, or an origin the session does not allow"),
    "404": problem("no such destination in this workspace"),
}
_NO_CONTENT = {"204": {"description": "done"}}
_DESTINATION_ID = {
    "name": "destination_id",
    "in": "path",
    "required": True,
    "schema": {"type": "string"},
}
_WORKSPACE_ID = {
    "name": "workspace_id",
    "in": "path",
    "required": True,
    "schema": {"type": "string"},
}


def _operator_paths() -> dict[str, Schema]:
    op: list[Schema] = [{"operatorKey": []}]
    return {
        "/v1/workspaces": {
            "post": {
                "summary": "Create a workspace with its first publishable key",
                "security": op,
                "requestBody": {
                    "required": True,
                    **json_body(
                        {
                            "type": "object",
                            "additionalProperties": False,
                            "required": ["name", "environment"],
                            "properties": {
                                "name": NAME,
                                "environment": {"enum": [e.value for e in Environment]},
                            },
                        }
                    ),
                },
                "responses": {"201": ok("created", ref("WorkspaceCreated")), **_WRITE_ERRORS},
            },
            "get": {
                "summary": "List workspaces, oldest first",
                "security": op,
                "parameters": [
                    {
                        "name": "limit",
                        "in": "query",
                        "schema": {"type": "integer", "minimum": 1, "maximum": 500},
                    },
                    {"name": "starting_after", "in": "query", "schema": {"type": "string"}},
                ],
                "responses": {
                    "200": ok(
                        "a page",
                        {
                            "type": "object",
                            "properties": {
                                "data": {"type": "array", "items": ref("Workspace")},
                                "has_more": {"type": "boolean"},
                            },
                        },
                    ),
                    "400": problem("bad query parameter"),
                    "401": problem("missing or invalid operator key"),
                },
            },
        },
        "/v1/workspaces/{workspace_id}": {
            "get": {
                "summary": "One workspace",
                "security": op,
                "parameters": [_WORKSPACE_ID],
                "responses": {
                    "200": ok("the workspace", ref("Workspace")),
                    "401": problem("missing or invalid operator key"),
                    "404": problem("no such workspace"),
                },
            }
        },
        "/v1/workspaces/{workspace_id}/publishable-keys": {
            "post": {
                "summary": "Issue another publishable key (shown once)",
                "security": op,
                "parameters": [_WORKSPACE_ID],
                "responses": {
                    "201": ok("issued", ref("PublishableKeyCreated")),
                    "404": problem("no such workspace"),
                    "409": problem("too many active keys"),
                    **_WRITE_ERRORS,
                },
            }
        },
        "/v1/workspaces/{workspace_id}/publishable-keys/{key_id}": {
            "delete": {
                "summary": "Revoke a publishable key (idempotent)",
                "security": op,
                "parameters": [
                    _WORKSPACE_ID,
                    {
                        "name": "key_id",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string"},
                    },
                ],
                "responses": {**_NO_CONTENT, "404": problem("no such key"), **_WRITE_ERRORS},
            }
        },
        "/v1/sessions": {
            "post": {
                "summary": "Mint a short-lived embed session for one workspace",
                "security": op,
                "requestBody": {
                    "required": True,
                    **json_body(
                        {
                            "type": "object",
                            "additionalProperties": False,
                            "required": ["workspace_id", "role"],
                            "properties": {
                                "workspace_id": {"type": "string"},
                                "role": {"enum": ["admin", "viewer"]},
                                "ttl_seconds": {
                                    "type": "integer",
                                    "minimum": 1,
                                    "description": "capped by SIGNET_SESSION_MAX_TTL_SECONDS",
                                },
                                "allowed_origins": {
                                    "type": "array",
                                    "maxItems": 10,
                                    "items": {"type": "string", "examples": ["https://app.x.com"]},
                                },
                            },
                        }
                    ),
                },
                "responses": {
                    "201": ok("minted", ref("Session")),
                    "400": problem("invalid body"),
                    "401": problem("missing or invalid operator key"),
                    "404": problem("no such workspace"),
                },
            }
        },
    }


def _workspace_paths() -> dict[str, Schema]:
    session: list[Schema] = [{"sessionToken": []}]
    read_errors = {
        "401": problem("missing, forged or expired session token"),
        "403": problem("an origin the session does not allow"),
        "404": problem("not found in this workspace"),
    }
    return {
        "/v1/workspace": {
            "get": {
                "summary": "The session's workspace",
                "security": session,
                "responses": {"200": ok("it", ref("SessionWorkspace")), **read_errors},
            }
        },
        "/v1/workspace/destinations": {
            "get": {
                "summary": "Every destination of the workspace",
                "security": session,
                "responses": {
                    "200": ok(
                        "the list",
                        {
                            "type": "object",
                            "properties": {"data": {"type": "array", "items": ref("Destination")}},
                        },
                    ),
                    **read_errors,
                },
            },
            "post": {
                "summary": "Add a webhook destination or a Slack alert channel",
                "security": session,
                "requestBody": {
                    "required": True,
                    **json_body(
                        {
                            "oneOf": [
                                ref("WebhookDestinationInput"),
                                ref("SlackDestinationInput"),
                            ]
                        }
                    ),
                },
                "responses": {
                    "201": ok("created", ref("DestinationCreated")),
                    "409": problem("the workspace has too many destinations"),
                    **_SESSION_WRITE_ERRORS,
                },
            },
        },
        "/v1/workspace/destinations/{destination_id}": {
            "parameters": [_DESTINATION_ID],
            "get": {
                "summary": "One destination",
                "security": session,
                "responses": {"200": ok("it", ref("Destination")), **read_errors},
            },
            "patch": {
                "summary": "Change some fields of a destination",
                "security": session,
                "requestBody": {"required": True, **json_body(ref("DestinationPatch"))},
                "responses": {"200": ok("updated", ref("Destination")), **_SESSION_WRITE_ERRORS},
            },
            "delete": {
                "summary": "Delete a destination",
                "security": session,
                "responses": {**_NO_CONTENT, **_SESSION_WRITE_ERRORS},
            },
        },
    }


def _health_paths() -> dict[str, Schema]:
    status = {"type": "object", "properties": {"status": {"type": "string"}}}
    return {
        "/healthz": {
            "get": {"summary": "The process answers", "responses": {"200": ok("ok", status)}}
        },
        "/readyz": {
            "get": {
                "summary": "Caught up with the config topic and connected to Kafka",
                "responses": {"200": ok("ready", status), "503": problem("not ready")},
            }
        },
        "/metrics": {
            "get": {
                "summary": "Prometheus metrics",
                "responses": {"200": {"description": "text format", "content": {"text/plain": {}}}},
            }
        },
        "/openapi.json": {
            "get": {"summary": "This document", "responses": {"200": ok("it", {"type": "object"})}}
        },
    }


def openapi_document(public_url: str, version: str) -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Signet portal",
            "version": version,
            "description": "Operator API (Bearer operator key) and workspace API (Bearer "
            "session token). Errors are application/problem+json (RFC 9457). Every write is "
            "answered once it is applied (read-your-writes).",
        },
        "servers": [{"url": public_url.rstrip("/")}],
        "components": {
            "securitySchemes": {
                "operatorKey": {"type": "http", "scheme": "bearer"},
                "sessionToken": {"type": "http", "scheme": "bearer", "bearerFormat": "sess_…"},
            },
            "schemas": SCHEMAS,
        },
        "paths": {
            **_operator_paths(),
            **_workspace_paths(),
            **actions_paths(),
            **embed_paths(),
            **log_paths(),
            **_health_paths(),
        },
    }

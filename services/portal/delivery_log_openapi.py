"""The OpenAPI paths of the delivery log's routes (merged into the portal's document)."""

from __future__ import annotations

from typing import Any

from services.portal.delivery_log.query import DEFAULT_LIMIT, MAX_LIMIT
from services.portal.delivery_log.store import DeliveryStatus
from services.portal.openapi_schemas import NULLABLE_TIME, TIME, Schema, ok, problem
from signet.security.hash_chain import HEAD_FIELDS, SIGNING_KEY_PATH

_NULLABLE_INT: Schema = {"type": ["integer", "null"]}
_NULLABLE_TEXT: Schema = {"type": ["string", "null"]}

ATTEMPT: Schema = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "attempt": {"type": "integer"},
        "status": {"enum": ["delivered", "failed", "exhausted", "destination_disabled"]},
        "attempted_at": TIME,
        "http_status": _NULLABLE_INT,
        "latency_ms": {"type": ["number", "null"]},
        "error": _NULLABLE_TEXT,
        "response_excerpt": {**_NULLABLE_TEXT, "description": "first 4 KiB of the response"},
        "url": _NULLABLE_TEXT,
        "request_headers": {
            "type": "object",
            "additionalProperties": {"type": "string"},
            "description": "the signature headers sent",
        },
        "next_attempt_at": NULLABLE_TIME,
        "replay_of": _NULLABLE_TEXT,
        "seq": {"type": "integer", "description": "place in the workspace's hash chain"},
        "hash": {"type": "string"},
    },
}
DELIVERY: Schema = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "event_id": {"type": "string"},
        "event_type": {"type": "string"},
        "destination_id": {"type": "string"},
        "status": {"enum": [s.value for s in DeliveryStatus]},
        "attempts": {"type": "integer"},
        "last_attempt_id": _NULLABLE_TEXT,
        "last_attempt_at": NULLABLE_TIME,
        "last_http_status": _NULLABLE_INT,
        "next_attempt_at": NULLABLE_TIME,
        "replay_of": _NULLABLE_TEXT,
        "event_created_at": TIME,
        "created_at": TIME,
        "updated_at": TIME,
    },
}
DELIVERY_DETAIL: Schema = {
    "allOf": [DELIVERY, {"properties": {"attempts": {"type": "array", "items": ATTEMPT}}}]
}
EVENT: Schema = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "type": {"type": "string"},
        "created_at": TIME,
        "resource": _NULLABLE_TEXT,
        "resource_id": _NULLABLE_TEXT,
        "data": {"description": "the event's payload, as sent"},
        "deliveries": {
            "type": "array",
            "items": {
                "allOf": [
                    DELIVERY,
                    {"properties": {"attempts": {"type": "array", "items": ATTEMPT}}},
                ]
            },
        },
    },
}
LOG_KEY: Schema = {
    "type": "object",
    "properties": {
        "key_id": {"type": "string"},
        "algorithm": {"const": "ed25519"},
        "public_key": {"type": "string", "description": "base64 of the raw 32-byte key"},
    },
}


def _query(name: str, schema: Schema, description: str) -> Schema:
    return {"name": name, "in": "query", "schema": schema, "description": description}


def _path(name: str) -> Schema:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}


def log_paths() -> dict[str, Any]:
    session: list[Schema] = [{"sessionToken": []}]
    read_errors = {
        "401": problem("missing, forged or expired session token"),
        "403": problem("an origin the session does not allow"),
        "503": problem("the delivery log database is unavailable"),
    }
    export_description = (
        "JSON Lines: one line per attempt (its fields, seq, prev_hash, hash), then "
        '{"head": {' + ", ".join(HEAD_FIELDS) + '}, "signature": base64 Ed25519}. '
        "Verify with `signet verify-log FILE --public-key …`."
    )
    return {
        "/v1/workspace/deliveries": {
            "get": {
                "summary": "The workspace's deliveries, newest first (cursor pagination)",
                "security": session,
                "parameters": [
                    _query("destination_id", {"type": "string"}, "one destination"),
                    _query("status", {"enum": [s.value for s in DeliveryStatus]}, "state"),
                    _query("event_type", {"type": "string"}, "exact, or a prefix.* pattern"),
                    _query("since", {"type": "string", "format": "date-time"}, "event time ≥"),
                    _query("until", {"type": "string", "format": "date-time"}, "event time <"),
                    _query("cursor", {"type": "string"}, "next_cursor of the previous page"),
                    _query(
                        "limit",
                        {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT},
                        f"page size, default {DEFAULT_LIMIT}",
                    ),
                ],
                "responses": {
                    "200": ok(
                        "a page",
                        {
                            "type": "object",
                            "properties": {
                                "data": {"type": "array", "items": DELIVERY},
                                "next_cursor": _NULLABLE_TEXT,
                                "has_more": {"type": "boolean"},
                            },
                        },
                    ),
                    "400": problem("a bad query parameter; `errors` names it"),
                    **read_errors,
                },
            }
        },
        "/v1/workspace/deliveries/{delivery_id}": {
            "get": {
                "summary": "One delivery with every attempt",
                "security": session,
                "parameters": [_path("delivery_id")],
                "responses": {
                    "200": ok("it", DELIVERY_DETAIL),
                    "404": problem("no such delivery in this workspace"),
                    **read_errors,
                },
            }
        },
        "/v1/workspace/events/{event_id}": {
            "get": {
                "summary": "An event and every attempt to every destination",
                "security": session,
                "parameters": [_path("event_id")],
                "responses": {
                    "200": ok("it", EVENT),
                    "404": problem("no such event in this workspace's log"),
                    **read_errors,
                },
            }
        },
        "/v1/workspace/log/export": {
            "get": {
                "summary": "The workspace's hash-chained delivery log with a signed head",
                "description": export_description,
                "security": session,
                "responses": {
                    "200": {
                        "description": "the export",
                        "content": {"application/x-ndjson": {"schema": {"type": "string"}}},
                    },
                    **read_errors,
                },
            }
        },
        SIGNING_KEY_PATH: {
            "get": {
                "summary": "The platform's Ed25519 public key that signs log exports",
                "responses": {
                    "200": ok(
                        "the signing key, and every key still published",
                        {
                            "allOf": [
                                LOG_KEY,
                                {"properties": {"keys": {"type": "array", "items": LOG_KEY}}},
                            ]
                        },
                    )
                },
            }
        },
    }

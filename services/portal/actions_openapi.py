"""The OpenAPI paths of the workspace actions (``actions_api.py``), merged into the portal's
document by ``openapi.py``."""

from __future__ import annotations

from services.portal.openapi_schemas import Schema, json_body, ok, problem, ref
from services.portal.ping import TEST_EVENT_TYPE
from services.portal.rotation import DEFAULT_OVERLAP_SECONDS, MAX_OVERLAP_SECONDS, SECRET_MAX

_SESSION: list[Schema] = [{"sessionToken": []}]
_ERRORS = {
    "400": problem("invalid body; `errors` names each field"),
    "401": problem("missing, forged or expired session token"),
    "403": problem("viewer session, or an origin the session does not allow"),
    "404": problem("not found in this workspace"),
    "503": problem("Kafka unavailable or the portal not caught up; nothing written"),
}
_DESTINATION_ID = {
    "name": "destination_id",
    "in": "path",
    "required": True,
    "schema": {"type": "string"},
}
_TIME = {"type": "string", "format": "date-time", "examples": ["2026-04-17T18:22:00Z"]}
_REPLAYED = {
    "type": "object",
    "properties": {
        "delivery_id": {"type": "string", "description": "the new delivery"},
        "replay_of": {"type": "string", "description": "the delivery it repeats"},
        "event_id": {"type": "string", "description": "unchanged: the webhook-id"},
    },
}


def _rotate() -> Schema:
    return {
        "post": {
            "summary": "Rotate the signing secret: the new one becomes primary, the previous "
            "one keeps signing beside it until the overlap ends",
            "security": _SESSION,
            "parameters": [_DESTINATION_ID],
            "requestBody": {
                "required": False,
                **json_body(
                    {
                        "type": "object",
                        "additionalProperties": False,
                        "properties": {
                            "secret": {
                                "type": "string",
                                "minLength": 1,
                                "maxLength": SECRET_MAX,
                                "description": "your own secret, checked like at creation; "
                                "omit it to have one generated (Ed25519: a new key pair)",
                            },
                            "overlap_seconds": {
                                "type": "integer",
                                "minimum": 0,
                                "maximum": MAX_OVERLAP_SECONDS,
                                "default": DEFAULT_OVERLAP_SECONDS,
                                "description": "how long the previous secret keeps signing; "
                                "0 drops every older secret at once",
                            },
                        },
                    }
                ),
            },
            "responses": {
                "200": ok(
                    "rotated",
                    {
                        "allOf": [
                            ref("Destination"),
                            {
                                "type": "object",
                                "properties": {
                                    "secret": {
                                        "type": "string",
                                        "description": "a generated secret, shown this once",
                                    },
                                    "public_key": {
                                        "type": "string",
                                        "description": "Ed25519: the new whpk_ public key",
                                    },
                                },
                            },
                        ]
                    },
                ),
                "409": problem("a Slack channel, or the destination changed meanwhile"),
                "504": problem("written but not applied in time; read before retrying"),
                **_ERRORS,
            },
        }
    }


def _send_test() -> Schema:
    result = {
        "type": "object",
        "properties": {
            "delivery_id": {"type": "string"},
            "event_id": {"type": "string"},
            "status": {
                "enum": ["delivered", "failed", "exhausted", "destination_disabled", "pending"]
            },
            "http_status": {"type": ["integer", "null"]},
            "latency_ms": {"type": ["number", "null"]},
            "response_excerpt": {"type": ["string", "null"]},
            "error": {"type": ["string", "null"]},
            "attempted_at": {"type": ["string", "null"], "format": "date-time"},
        },
    }
    return {
        "post": {
            "summary": f"Send a signed `{TEST_EVENT_TYPE}` event to this destination and "
            "report the receiver's answer",
            "security": _SESSION,
            "parameters": [_DESTINATION_ID],
            "responses": {
                "200": ok("the attempt's result (any HTTP status of the receiver)", result),
                "202": ok("sent; no result within the wait (status pending)", result),
                "409": problem("a Slack channel or a disabled destination"),
                **_ERRORS,
            },
        }
    }


def _recover() -> Schema:
    return {
        "post": {
            "summary": "Replay the destination's failed and exhausted deliveries of a time "
            "range (event time), oldest first, a bounded number per call",
            "security": _SESSION,
            "parameters": [_DESTINATION_ID],
            "requestBody": {
                "required": True,
                **json_body(
                    {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["since"],
                        "properties": {"since": _TIME, "until": _TIME},
                    }
                ),
            },
            "responses": {
                "202": ok(
                    "replayed",
                    {
                        "type": "object",
                        "properties": {
                            "replayed": {"type": "integer"},
                            "truncated": {"type": "boolean"},
                            "next_since": {
                                **_TIME,
                                "description": "when truncated: call again with this since",
                            },
                            "deliveries": {"type": "array", "items": _REPLAYED},
                            "skipped_without_body": {"type": "integer"},
                        },
                    },
                ),
                "409": problem("a Slack channel or a disabled destination"),
                **_ERRORS,
            },
        }
    }


def _replay() -> Schema:
    return {
        "post": {
            "summary": "Replay one delivery: same event id (webhook-id) and body, fresh "
            "signature and timestamp",
            "security": _SESSION,
            "parameters": [
                {
                    "name": "delivery_id",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "string"},
                }
            ],
            "responses": {
                "202": ok("queued", _REPLAYED),
                "409": problem(
                    "its destination is gone or disabled, or its body is not logged yet"
                ),
                **_ERRORS,
            },
        }
    }


def actions_paths() -> dict[str, Schema]:
    base = "/v1/workspace/destinations/{destination_id}"
    return {
        f"{base}/rotate-secret": _rotate(),
        f"{base}/test": _send_test(),
        f"{base}/recover": _recover(),
        "/v1/workspace/deliveries/{delivery_id}/replay": _replay(),
    }

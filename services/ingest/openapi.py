"""The ingest's OpenAPI 3.1 document, written by hand (served at ``/openapi.json``).

Limits come from the running settings, so the document states the limits this process
enforces.
"""

from __future__ import annotations

from typing import Any

from signet.records.event_input import (
    EVENT_TYPE_MAX_CHARS,
    IDEMPOTENCY_KEY_MAX_CHARS,
    RESOURCE_ID_MAX_CHARS,
    RESOURCE_MAX_CHARS,
)
from signet.settings import IngestSettings

_PROBLEM = {"$ref": "#/components/schemas/Problem"}


def _problem_response(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/problem+json": {"schema": _PROBLEM}},
    }


def openapi_document(settings: IngestSettings) -> dict[str, Any]:
    event_input: dict[str, Any] = {
        "type": "object",
        "additionalProperties": False,
        "required": ["event", "resource", "resource_id", "payload"],
        "properties": {
            "event": {
                "type": "string",
                "description": "Event type: dot-separated segments; `signet.*` is reserved.",
                "pattern": r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$",
                "maxLength": EVENT_TYPE_MAX_CHARS,
                "examples": ["order.completed"],
            },
            "resource": {
                "type": "string",
                "minLength": 1,
                "maxLength": RESOURCE_MAX_CHARS,
                "examples": ["order"],
            },
            "resource_id": {
                "type": "string",
                "minLength": 1,
                "maxLength": RESOURCE_ID_MAX_CHARS,
                "examples": ["ord_lannister_77"],
            },
            "payload": {
                "type": "object",
                "description": (
                    "Your JSON object, delivered as `data`. At most "
                    f"{settings.max_payload_bytes} bytes as compact JSON."
                ),
            },
            "id": {
                "type": "string",
                "minLength": 1,
                "maxLength": IDEMPOTENCY_KEY_MAX_CHARS,
                "pattern": "^[\\x21-\\x7e]+$",
                "description": (
                    "Idempotency key (same as the Idempotency-Key header; if both are sent "
                    "they must be equal). The event id is derived from it."
                ),
            },
        },
    }
    idempotency_header = {
        "name": "Idempotency-Key",
        "in": "header",
        "required": False,
        "description": (
            f"Within {settings.idempotency_ttl_seconds} s, the same key in the same workspace "
            "returns the same event id and produces no second event. The event id is derived "
            "from the key, so it is stable even beyond that window; receivers deduplicate by "
            "`webhook-id`. On the bulk endpoint, event i without its own `id` uses `<key>:<i>`."
        ),
        "schema": {
            "type": "string",
            "minLength": 1,
            "maxLength": IDEMPOTENCY_KEY_MAX_CHARS,
            "pattern": "^[\\x21-\\x7e]+$",
        },
    }
    common_errors = {
        "401": _problem_response("Missing, malformed, unknown or revoked publishable key."),
        "413": _problem_response("Body or payload over the limit."),
        "415": _problem_response("Content type is not JSON."),
        "422": _problem_response("Idempotency key reused for a different event."),
        "503": _problem_response(
            "Broker did not acknowledge in time, or the gateway is still starting. "
            "Retry with the same idempotency key."
        ),
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Signet ingest",
            "version": "1",
            "description": (
                "Emit product events to Signet, which delivers them as signed webhooks to "
                "every subscribed destination of the workspace. A 202 means the event is "
                "durably on the broker (acks=all)."
            ),
        },
        "security": [{"publishableKey": []}],
        "paths": {
            "/v1/events": {
                "post": {
                    "operationId": "emitEvent",
                    "summary": "Emit one event",
                    "parameters": [idempotency_header],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/EventInput"}
                            }
                        },
                    },
                    "responses": {
                        "202": {
                            "description": "Acknowledged by the broker.",
                            "headers": {
                                "Idempotent-Replayed": {
                                    "description": "`true` when answered from an earlier request.",
                                    "schema": {"type": "string", "enum": ["true"]},
                                }
                            },
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/Accepted"}
                                }
                            },
                        },
                        "400": _problem_response(
                            "Invalid JSON or event; `errors` names each field."
                        ),
                        **common_errors,
                    },
                }
            },
            "/v1/events/bulk": {
                "post": {
                    "operationId": "emitEvents",
                    "summary": f"Emit 1 to {settings.max_bulk_events} events",
                    "description": (
                        "Valid events are produced concurrently; the answer comes after all of "
                        "them were acknowledged. Invalid events are rejected one by one. When "
                        "no event is accepted the answer is 400 (or 503 if the broker failed)."
                    ),
                    "parameters": [idempotency_header],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "additionalProperties": False,
                                    "required": ["events"],
                                    "properties": {
                                        "events": {
                                            "type": "array",
                                            "minItems": 1,
                                            "maxItems": settings.max_bulk_events,
                                            "items": {"$ref": "#/components/schemas/EventInput"},
                                        }
                                    },
                                }
                            }
                        },
                    },
                    "responses": {
                        "202": {
                            "description": "At least one event was acknowledged.",
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/BulkResult"}
                                }
                            },
                        },
                        "400": _problem_response(
                            "Invalid body, or no event valid; `errors` names `events[i].field`."
                        ),
                        **common_errors,
                    },
                }
            },
        },
        "components": {
            "securitySchemes": {
                "publishableKey": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "The workspace's publishable key, `pk_test_…` or `pk_live_…`.",
                }
            },
            "schemas": {
                "EventInput": event_input,
                "Accepted": {
                    "type": "object",
                    "required": ["id"],
                    "properties": {"id": {"type": "string", "pattern": "^evt_[0-9A-Z]{26}$"}},
                },
                "BulkResult": {
                    "type": "object",
                    "required": ["results", "accepted", "rejected", "failed"],
                    "properties": {
                        "results": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "required": ["index", "status"],
                                "properties": {
                                    "index": {"type": "integer", "minimum": 0},
                                    "status": {"enum": ["accepted", "rejected", "failed"]},
                                    "id": {"type": "string"},
                                    "error": _PROBLEM,
                                },
                            },
                        },
                        "accepted": {"type": "integer"},
                        "rejected": {"type": "integer"},
                        "failed": {
                            "type": "integer",
                            "description": "Not acknowledged by the broker: retry these.",
                        },
                    },
                },
                "Problem": {
                    "type": "object",
                    "description": "RFC 9457 problem details.",
                    "required": ["type", "title", "status"],
                    "properties": {
                        "type": {"type": "string", "format": "uri"},
                        "title": {"type": "string"},
                        "status": {"type": "integer"},
                        "detail": {"type": "string"},
                        "errors": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "required": ["field", "code", "message"],
                                "properties": {
                                    "field": {
                                        "type": "string",
                                        "examples": ["payload", "events[3].event", "body"],
                                    },
                                    "code": {"type": "string"},
                                    "message": {"type": "string"},
                                },
                            },
                        },
                    },
                },
            },
        },
    }

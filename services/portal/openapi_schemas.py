"""The component schemas of the portal's OpenAPI document, and helpers to refer to them.

Ranges come from the validators' own constants, so the document cannot drift from them.
"""

from __future__ import annotations

from typing import Any

from services.portal.destinations import (
    DELAY_RANGE,
    DELAYS_MAX,
    EVENT_PATTERN,
    EVENT_TYPES_MAX,
    MAX_AGE_RANGE,
    MAX_ATTEMPTS_RANGE,
    NAME_MAX,
    RATE_LIMIT_RANGE,
    TIMEOUT_RANGE,
    URL_MAX,
)
from signet.records.model import Environment, SignatureScheme

Schema = dict[str, Any]

TIME = {"type": "string", "format": "date-time", "description": "RFC 3339, UTC"}
NULLABLE_TIME = {"type": ["string", "null"], "format": "date-time"}


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def json_body(schema: Schema) -> Schema:
    return {"content": {"application/json": {"schema": schema}}}


def problem(description: str) -> Schema:
    return {
        "description": description,
        "content": {"application/problem+json": {"schema": ref("Problem")}},
    }


def ok(description: str, schema: Schema) -> Schema:
    return {"description": description, **json_body(schema)}


_RETRY_POLICY: Schema = {
    "type": ["object", "null"],
    "additionalProperties": False,
    "description": "null fields (or null) fall back to the platform schedule",
    "properties": {
        "max_attempts": {
            "type": ["integer", "null"],
            "minimum": MAX_ATTEMPTS_RANGE[0],
            "maximum": MAX_ATTEMPTS_RANGE[1],
        },
        "max_age_seconds": {
            "type": ["integer", "null"],
            "minimum": MAX_AGE_RANGE[0],
            "maximum": MAX_AGE_RANGE[1],
        },
        "delays_seconds": {
            "type": ["array", "null"],
            "minItems": 1,
            "maxItems": DELAYS_MAX,
            "items": {"type": "integer", "minimum": DELAY_RANGE[0], "maximum": DELAY_RANGE[1]},
        },
    },
}
NAME = {"type": "string", "minLength": 1, "maxLength": NAME_MAX}
_EVENT_TYPES = {
    "type": "array",
    "minItems": 1,
    "maxItems": EVENT_TYPES_MAX,
    "items": {"type": "string", "pattern": EVENT_PATTERN.pattern},
    "description": "'*', 'prefix.*' or exact event types",
}
_TIMEOUT = {"type": ["number", "null"], "minimum": TIMEOUT_RANGE[0], "maximum": TIMEOUT_RANGE[1]}
_RATE_LIMIT = {
    "type": ["number", "null"],
    "minimum": RATE_LIMIT_RANGE[0],
    "maximum": RATE_LIMIT_RANGE[1],
    "description": "requests per second at most (0.5 = 30 a minute), spaced evenly; "
    "deliveries over it wait, none is dropped. null: no limit",
}

SCHEMAS: dict[str, Schema] = {
    "Problem": {
        "type": "object",
        "required": ["type", "title", "status"],
        "properties": {
            "type": {"type": "string"},
            "title": {"type": "string"},
            "status": {"type": "integer"},
            "detail": {"type": "string"},
            "errors": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
                },
            },
        },
    },
    "PublishableKey": {
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "hint": {"type": "string", "examples": ["pk_live_…f3Qa"]},
            "created_at": TIME,
            "revoked_at": NULLABLE_TIME,
        },
    },
    "PublishableKeyCreated": {
        "allOf": [
            ref("PublishableKey"),
            {
                "type": "object",
                "properties": {"publishable_key": {"type": "string", "description": "shown once"}},
            },
        ]
    },
    "Workspace": {
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "name": {"type": "string"},
            "environment": {"enum": [e.value for e in Environment]},
            "publishable_keys": {"type": "array", "items": ref("PublishableKey")},
            "destination_count": {"type": "integer"},
            "version": {"type": "integer"},
            "created_at": TIME,
            "updated_at": TIME,
        },
    },
    "WorkspaceCreated": {
        "allOf": [
            ref("Workspace"),
            {
                "type": "object",
                "properties": {
                    "publishable_key": {
                        "type": "string",
                        "description": "pk_live_ (production) or pk_test_; shown once",
                    }
                },
            },
        ]
    },
    "SessionWorkspace": {
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "name": {"type": "string"},
            "environment": {"type": "string"},
            "destination_count": {"type": "integer"},
            "created_at": TIME,
            "updated_at": TIME,
            "session": {
                "type": "object",
                "properties": {"role": {"enum": ["admin", "viewer"]}, "expires_at": TIME},
            },
        },
    },
    "Session": {
        "type": "object",
        "properties": {
            "token": {"type": "string"},
            "expires_at": TIME,
            "embed_url": {"type": "string"},
            "session_id": {"type": "string"},
            "workspace_id": {"type": "string"},
            "role": {"enum": ["admin", "viewer"]},
            "allowed_origins": {"type": "array", "items": {"type": "string"}},
        },
    },
    "WebhookDestinationInput": {
        "type": "object",
        "additionalProperties": False,
        "required": ["name", "url"],
        "properties": {
            "type": {"const": "webhook"},
            "name": NAME,
            "url": {"type": "string", "format": "uri", "maxLength": URL_MAX},
            "event_types": _EVENT_TYPES,
            "signature_scheme": {
                "enum": [s.value for s in SignatureScheme],
                "default": SignatureScheme.STANDARD_WEBHOOKS.value,
            },
            "secret": {
                "type": "string",
                "description": "your own secret: whsec_… (24-64 bytes, base64) for "
                "standard-webhooks, 16-512 printable characters for hmac-sha256, hmac-sha512 "
                "and github, "
                "a whsk_ private key for standard-webhooks-ed25519. Omit it to have one "
                "generated: a symmetric secret is shown once as `secret`; for Ed25519 the "
                "private key is never shown and the whpk_ public key is in `secrets`",
            },
            "enabled": {"type": "boolean", "default": True},
            "timeout_seconds": _TIMEOUT,
            "rate_limit_per_second": _RATE_LIMIT,
            "retry_policy": _RETRY_POLICY,
        },
    },
    "SlackDestinationInput": {
        "type": "object",
        "additionalProperties": False,
        "required": ["type", "name", "webhook_url"],
        "properties": {
            "type": {"const": "slack"},
            "name": NAME,
            "webhook_url": {
                "type": "string",
                "description": "https://hooks.slack.com/services/…; sealed, never returned",
            },
            "enabled": {"type": "boolean"},
        },
    },
    "DestinationPatch": {
        "type": "object",
        "additionalProperties": False,
        "description": "fields to change; the others are kept. Slack channels take name, "
        "webhook_url and enabled.",
        "properties": {
            "name": NAME,
            "url": {"type": "string", "maxLength": URL_MAX},
            "webhook_url": {"type": "string"},
            "event_types": _EVENT_TYPES,
            "enabled": {"type": "boolean"},
            "timeout_seconds": _TIMEOUT,
            "rate_limit_per_second": _RATE_LIMIT,
            "retry_policy": _RETRY_POLICY,
        },
    },
    "SigningSecretInfo": {
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "hint": {"type": "string"},
            "public_key": {"type": "string"},
            "created_at": TIME,
            "expires_at": NULLABLE_TIME,
        },
    },
    "Destination": {
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "type": {"enum": ["webhook", "slack"]},
            "name": {"type": "string"},
            "enabled": {"type": "boolean"},
            "disabled_reason": {"type": ["string", "null"]},
            "url": {"type": "string"},
            "event_types": {"type": "array", "items": {"type": "string"}},
            "signature_scheme": {"type": "string"},
            "timeout_seconds": {"type": ["number", "null"]},
            "rate_limit_per_second": {"type": ["number", "null"]},
            "retry_policy": _RETRY_POLICY,
            "secret_hint": {"type": ["string", "null"]},
            "secrets": {"type": "array", "items": ref("SigningSecretInfo")},
            "created_at": TIME,
            "updated_at": TIME,
        },
    },
    "DestinationCreated": {
        "allOf": [
            ref("Destination"),
            {
                "type": "object",
                "properties": {
                    "secret": {
                        "type": "string",
                        "description": "only when Signet generated it; shown this once",
                    }
                },
            },
        ]
    },
}

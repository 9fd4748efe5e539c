"""The operator API's bodies and query (``operator_api.py`` serves them): a new
workspace, a workspace's changed settings, a new embed session, the workspace list's page.

Every range is a ``Field`` constraint over this module's constants, so the validation, its
field errors and the OpenAPI document read the same numbers.
"""

from __future__ import annotations

from typing import Annotated

from multidict import MultiMapping
from pydantic import AfterValidator, ConfigDict, Field, StringConstraints
from signet_sdk.contract.fields import FieldErrorCode, FieldErrors, RuleError
from signet_sdk.contract.models import Body

from services.portal.body_fields import NULL_UNDOCUMENTED, plain_text
from services.portal.queries import QueryModel
from services.portal.sessions import Role, normalize_origin
from signet.api.reading import read_strings
from signet.records.model import MAX_LOG_RETENTION_DAYS, MIN_LOG_RETENTION_DAYS, Environment

NAME_MAX = 100
ID_MAX = 100
MAX_ORIGINS = 10
ORIGIN_MAX_LEN = 200
DEFAULT_SESSION_TTL_SECONDS = 3600
MAX_SESSION_TTL_SECONDS = 10 * 365 * 24 * 3600
LIST_LIMIT_DEFAULT = 100
LIST_LIMIT_MAX = 500


Name = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=NAME_MAX),
    AfterValidator(plain_text),
]
Id = Annotated[str, StringConstraints(min_length=1, max_length=ID_MAX), AfterValidator(plain_text)]


def _origin(value: str) -> str:
    origin = normalize_origin(value)
    if origin is None:
        raise RuleError(
            "must be an origin like https://app.example.com (no path)", FieldErrorCode.FORMAT
        )
    return origin


Origin = Annotated[
    str,
    StringConstraints(min_length=1, max_length=ORIGIN_MAX_LEN),
    Field(examples=["https://app.x.com"]),
    AfterValidator(plain_text),
    AfterValidator(_origin),
]
Origins = Annotated[list[Origin], Field(max_length=MAX_ORIGINS)]
Ttl = Annotated[
    int,
    Field(
        ge=1,
        le=MAX_SESSION_TTL_SECONDS,
        description=f"default {DEFAULT_SESSION_TTL_SECONDS}; capped by "
        "SIGNET_SESSION_MAX_TTL_SECONDS (longer is not an error: `expires_at` says the end)",
    ),
]


class NewWorkspace(Body):
    name: Name
    environment: Environment = Field(
        description="production keys are pk_live_, the others pk_test_"
    )


class WorkspaceChanges(Body):
    """A PATCH: what is left out stays as it is."""

    log_retention_days: Annotated[
        int | None,
        Field(
            ge=MIN_LOG_RETENTION_DAYS,
            le=MAX_LOG_RETENTION_DAYS,
            description="days its delivery log keeps; null: back to SIGNET_LOG_RETENTION_DAYS",
        ),
    ] = None


class NewSession(Body):
    workspace_id: Id
    role: Role = Field(description="a viewer reads; an admin also changes")
    ttl_seconds: Annotated[Ttl | None, NULL_UNDOCUMENTED] = None
    allowed_origins: Annotated[
        Origins | None,
        NULL_UNDOCUMENTED,
        Field(
            description="origins besides the portal's own that may call with the token "
            "(and frame the embed); normalised, repeats dropped"
        ),
    ] = None


class WorkspaceListQuery(QueryModel):
    """Unlike most query strings, this one refuses a parameter it does not know."""

    model_config = ConfigDict(extra="forbid")

    limit: Annotated[int, Field(ge=1, le=LIST_LIMIT_MAX, description="page size")] = (
        LIST_LIMIT_DEFAULT
    )
    starting_after: (
        Annotated[
            str,
            Field(min_length=1, max_length=ID_MAX, description="the last id of the previous page"),
        ]
        | None
    ) = None


def read_list_query(query: MultiMapping[str]) -> WorkspaceListQuery:
    """The query, or every bad parameter named ``query.<name>``."""
    try:
        return read_strings(WorkspaceListQuery, dict(query))
    except FieldErrors as exc:
        raise FieldErrors(e.under("query") for e in exc.errors) from exc

"""``Idempotency-Key`` on the portal's creates and secret rotation: sent again, nothing is
made twice.

A create (or a rotation) answered ``504`` (written, not seen applied in time), or whose
answer was lost on the way, may still apply; a client that sends it again must not end up
with two workspaces, keys or destinations, or a secret rotated twice. With an
``Idempotency-Key`` header (the syntax ingest takes: 1 to 255 visible ASCII characters),
the first request keeps, for ``IDEMPOTENCY_KEY_TTL_HOURS``, under the caller (the
operator, or the session's workspace) and the key: a fingerprint of the request (method,
path, body), the command it produced and the one-time secret its answer showed, sealed
with the master key ring (``delivery_log/idempotency_keys.py``). Then:

- The same key with the same request re-submits *that* command unless a request already
  saw it applied. The router applies a command id once (the snapshot's
  ``applied_commands``), so it applies once however often it is sent. The answer is built
  as the first one was: the resource as it is now, the same one-time secret, and the
  header ``Idempotent-Replayed: true``.
- The same key with another method, path or body: ``422`` (``idempotency-conflict``),
  nothing done, as ingest answers.
- A request refused before it made a command (a bad body, a missing workspace, a limit)
  keeps nothing: the key stays free.

Without the header a request runs as before.
"""

from __future__ import annotations

import base64
import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import orjson
from aiohttp import web
from pydantic import BaseModel, ConfigDict
from signet_sdk.contract.events import IdempotencyKey
from signet_sdk.contract.fields import FieldError, FieldErrorCode
from signet_sdk.contract.rules import optional_not_null
from signet_sdk.ids import now_ms

from services.portal.commands import CommandBus, ConfigReader
from services.portal.delivery_log.errors import StoreUnavailable
from services.portal.delivery_log.idempotency_keys import IdempotencyKeys, KeyRecord
from services.portal.problems import conflict
from signet.api.operations import problem
from signet.api.reading import read_strings
from signet.errors import InvalidRecordError, SecretError
from signet.records import codec
from signet.records.model import (
    Destination,
    PublishableKey,
    SealedSecret,
    WorkspaceCommand,
    WorkspaceConfig,
)
from signet.security.secrets import MasterKeyRing
from signet.web import Problem

logger = logging.getLogger(__name__)

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
IDEMPOTENCY_KEY_TTL_HOURS = 24
TTL_MS = IDEMPOTENCY_KEY_TTL_HOURS * 3600 * 1000
OPERATOR_SCOPE = "operator"  # the operator API's keys; a session's are its workspace id's


class IdempotencyKeyHeader(BaseModel):
    """The request header an idempotent write reads (others are ignored)."""

    model_config = ConfigDict(frozen=True)

    idempotency_key: IdempotencyKey = optional_not_null(
        alias=HEADER,
        description=(
            f"Within {IDEMPOTENCY_KEY_TTL_HOURS} hours, the same key from the same caller "
            "with the same request changes nothing more: the answer is the one the first "
            "request got (the resource as it is now, the same one-time secret) with "
            f"`{REPLAYED_HEADER}: true`; the key with another request is a `422`."
        ),
    )


# The answer a create with the header may give beside its own (operations' ``responses``).
KEY_REUSED = {422: problem("the Idempotency-Key was used for another request")}


@dataclass(frozen=True, slots=True)
class Prepared:
    """What a create produces: its command, and the one-time secret its answer shows."""

    command: WorkspaceCommand
    revealed: str | None = None

    @property
    def destination(self) -> Destination:
        """The destination a destination's create or rotation carries."""
        return _carried(self.command, self.command.destination, "destination")

    @property
    def publishable_key(self) -> PublishableKey:
        """The key an ``add_publishable_key`` command carries."""
        return _carried(self.command, self.command.publishable_key, "publishable key")


T = TypeVar("T")


def _carried(command: WorkspaceCommand, value: T | None, what: str) -> T:
    # A stored command is the same route's (the fingerprint holds the path), so it carries
    # what that route's handler built; anything else is a broken row.
    if value is None:
        raise InvalidRecordError(f"command {command.id} ({command.kind}) carries no {what}")
    return value


@dataclass(frozen=True, slots=True)
class Submitted:
    """A create applied: the snapshot that has it, what was prepared (the first request's,
    on a replay) and whether this is a replay."""

    config: WorkspaceConfig
    prepared: Prepared
    replayed: bool

    @property
    def headers(self) -> dict[str, str]:
        return {REPLAYED_HEADER: "true"} if self.replayed else {}


def request_key(request: web.Request) -> str | None:
    """The request's ``Idempotency-Key``, checked (a 400 naming the header); None if absent."""
    value = request.headers.get(HEADER)
    if value is None:
        return None
    key: str = read_strings(IdempotencyKeyHeader, {HEADER: value}).idempotency_key
    return key


def fingerprint(request: web.Request, body: bytes) -> str:
    digest = hashlib.sha256(f"{request.method} {request.path}\n".encode())
    digest.update(body)
    return digest.hexdigest()


def key_reused(key: str) -> Problem:
    return Problem(
        422,
        "Idempotency key reused",
        f"idempotency key {key!r} was already used for another request; "
        "send a new key for a new request",
        kind="idempotency-conflict",
        errors=[FieldError(HEADER, FieldErrorCode.CONFLICT, "used for another request").as_dict()],
    )


def database_unavailable() -> Problem:
    return Problem(
        503,
        "Database unavailable",
        "the portal's database, which keeps idempotency keys, did not answer; nothing was "
        "written: retry with the same key",
        kind="database-unavailable",
        headers={"Retry-After": "2"},
    )


class Once:
    """Submits a create's command, once per idempotency key."""

    def __init__(
        self, bus: CommandBus, view: ConfigReader, keys: IdempotencyKeys, ring: MasterKeyRing
    ) -> None:
        self._bus = bus
        self._view = view
        self._keys = keys
        self._ring = ring

    async def submit(
        self, request: web.Request, scope: str, body: bytes, prepare: Callable[[], Prepared]
    ) -> Submitted:
        """Submit what ``prepare`` makes, or what the first request with this request's key
        made. ``prepare`` runs only when the key is new (or absent) and may refuse (raise)."""
        key = request_key(request)
        if key is None:
            prepared = prepare()
            return Submitted(await self._bus.submit(prepared.command), prepared, replayed=False)
        record, new = await self._claim(scope, key, fingerprint(request, body), prepare)
        prepared = Prepared(
            codec.decode(record.command, WorkspaceCommand), self._open(record, scope, key)
        )
        config = self._view.workspace(prepared.command.workspace_id)
        if record.applied_at is None or config is None:
            config = await self._bus.submit(prepared.command)  # applied at most once
            await self._mark_applied(scope, key)
        return Submitted(config, prepared, replayed=not new)

    async def _claim(
        self, scope: str, key: str, print_: str, prepare: Callable[[], Prepared]
    ) -> tuple[KeyRecord, bool]:
        """The key's row, and whether this request made it."""
        now, new = now_ms(), False
        try:
            record = await self._keys.find(scope, key, now_ms=now)
            if record is None:
                prepared = prepare()
                record, new = await self._keys.claim(
                    KeyRecord(
                        scope,
                        key,
                        print_,
                        codec.encode(prepared.command),
                        self._seal(prepared.revealed, scope, key),
                        now,
                    )
                )
        except StoreUnavailable as exc:
            raise database_unavailable() from exc
        if record.fingerprint != print_:
            raise key_reused(key)
        return record, new

    async def _mark_applied(self, scope: str, key: str) -> None:
        """Only spares a later replay a re-submit, so a failure here fails nothing."""
        try:
            await self._keys.mark_applied(scope, key, now_ms=now_ms())
        except StoreUnavailable:
            logger.warning("idempotency key %r: could not record it applied", key, exc_info=True)

    # -- the one-time secret, sealed at rest --------------------------------------------------

    @staticmethod
    def _aad(scope: str, key: str) -> bytes:
        return f"signet/idempotency-key|{scope}|{key}".encode()

    def _seal(self, revealed: str | None, scope: str, key: str) -> str | None:
        if revealed is None:
            return None
        sealed = self._ring.seal(revealed.encode(), self._aad(scope, key))
        return orjson.dumps(
            {
                "key_id": sealed.key_id,
                "wrapped_key": base64.b64encode(sealed.wrapped_key).decode(),
                "ciphertext": base64.b64encode(sealed.ciphertext).decode(),
            }
        ).decode()

    def _open(self, record: KeyRecord, scope: str, key: str) -> str | None:
        if record.revealed is None:
            return None
        stored = orjson.loads(record.revealed)
        sealed = SealedSecret(
            key_id=stored["key_id"],
            wrapped_key=base64.b64decode(stored["wrapped_key"]),
            ciphertext=base64.b64decode(stored["ciphertext"]),
        )
        try:
            return self._ring.open(sealed, self._aad(scope, key)).decode()
        except SecretError as exc:  # its master key was retired since
            raise conflict(
                f"the secret the first request with idempotency key {key!r} showed can no "
                "longer be shown (its master key was retired); send a new key"
            ) from exc

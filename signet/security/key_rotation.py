"""``signet keys rotate``: re-encrypt every stored customer secret under the new master key.

Run it with ``SIGNET_MASTER_KEYS`` listing the NEW key first and the old one(s) after,
once every service that opens or seals secrets (dispatcher, portal, alerter) already has
that same ring, so each of them opens secrets under either key while this runs and no
delivery is interrupted. It reads every workspace from the config topic and, for each
destination whose signing secrets or sealed Slack URL name another key than the primary,
produces a ``put_destination`` command with them re-sealed (same AAD, same plaintext) and
waits until the router applied it. The operator's webhook secret
(``signet/operator_webhook/``) is re-sealed the same way, by writing its record again. A
second run finds nothing left and changes nothing; after it, the old key can leave the
ring.

The whole destination record is upserted, so a change a customer makes to the same
destination in the instant between our read and the router applying our command would be
lost; the window is one command round trip, and re-reading right before each command keeps
it that short. Run it in a quiet moment.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable
from dataclasses import dataclass, field

from signet_sdk.ids import new_id, now_ms

from signet.errors import SignetError
from signet.kafka.clients import AsyncProducer
from signet.kafka.config_view import ConfigView
from signet.kafka.topics import Topics
from signet.operator_webhook.events import OPERATOR_DESTINATION_ID, operator_secret_aad
from signet.operator_webhook.view import KEY, OperatorWebhookView
from signet.records import codec
from signet.records.model import CommandKind, Destination, SealedSecret, WorkspaceCommand
from signet.security.secrets import (
    MasterKeyRing,
    client_key_aad,
    header_aad,
    secret_aad,
    slack_url_aad,
)
from signet.settings import KeyRotationSettings

Print = Callable[[str], None]


@dataclass(slots=True, frozen=True)
class Resealed:
    """A destination with every sealed value under the primary key, and what changed."""

    destination: Destination
    secrets: int
    slack_url: bool
    old_key_ids: tuple[str, ...]
    headers_tls: int = 0  # sensitive header values and a client key


@dataclass(slots=True)
class RotationReport:
    primary_key_id: str
    resealed: list[str] = field(default_factory=list)  # "ws_…/dst_…"
    current: int = 0  # destinations already entirely under the primary key
    failed: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed


def reseal_destination(
    workspace_id: str, destination: Destination, ring: MasterKeyRing
) -> Resealed | None:
    """``destination`` re-sealed under the ring's primary key; None if it already is (pure).

    Raises :class:`SecretError` when a value names a key the ring does not hold.
    """
    primary = ring.primary_id
    stale_secrets = [s for s in destination.secrets if s.sealed.key_id != primary]
    stale_url = destination.sealed_url is not None and destination.sealed_url.key_id != primary
    stale_extras = _stale_headers_tls(destination, primary)
    if not stale_secrets and not stale_url and not stale_extras:
        return None
    aad = secret_aad(workspace_id, destination.id)
    secrets = [
        dataclasses.replace(s, sealed=ring.reseal(s.sealed, aad)) for s in destination.secrets
    ]
    sealed_url = destination.sealed_url
    if sealed_url is not None:
        sealed_url = ring.reseal(sealed_url, slack_url_aad(workspace_id, destination.id))
    old = {s.sealed.key_id for s in stale_secrets} | {s.key_id for s in stale_extras}
    if stale_url and destination.sealed_url is not None:
        old.add(destination.sealed_url.key_id)
    headers = [
        dataclasses.replace(
            h, sealed=ring.reseal(h.sealed, header_aad(workspace_id, destination.id, h.name))
        )
        for h in destination.sealed_headers
    ]
    tls = destination.tls
    if tls is not None:
        key_aad = client_key_aad(workspace_id, destination.id)
        tls = dataclasses.replace(tls, sealed_key=ring.reseal(tls.sealed_key, key_aad))
    return Resealed(
        dataclasses.replace(
            destination, secrets=secrets, sealed_url=sealed_url, sealed_headers=headers, tls=tls
        ),
        secrets=len(stale_secrets),
        slack_url=stale_url,
        old_key_ids=tuple(sorted(old)),
        headers_tls=len(stale_extras),
    )


def _stale_headers_tls(destination: Destination, primary: str) -> list[SealedSecret]:
    """Sealed header values and the client key under another key than ``primary``."""
    sealed = [h.sealed for h in destination.sealed_headers]
    if destination.tls is not None:
        sealed.append(destination.tls.sealed_key)
    return [s for s in sealed if s.key_id != primary]


class KeyRotation:
    """Re-encrypts through the command topic, one destination at a time, read-your-writes."""

    def __init__(
        self,
        settings: KeyRotationSettings,
        ring: MasterKeyRing,
        *,
        out: Print = print,
        dry_run: bool = False,
    ) -> None:
        self._settings = settings
        self._ring = ring
        self._out = out
        self._dry_run = dry_run
        self._topic = Topics.from_settings(settings).workspace_commands

    async def run(self) -> RotationReport:
        settings = self._settings
        report = RotationReport(self._ring.primary_id)
        async with ConfigView(settings) as view, AsyncProducer(settings) as producer:
            await view.wait_ready(settings.config_ready_timeout_seconds)
            targets = [
                (config.workspace_id, d.id)
                for config in sorted(view.workspaces(), key=lambda c: c.workspace_id)
                for d in config.destinations
            ]
            for workspace_id, destination_id in targets:
                await self._rotate_one(view, producer, workspace_id, destination_id, report)
            await self._rotate_operator_webhook(producer, report)
        verb = "would re-encrypt" if self._dry_run else "re-encrypted"
        self._out(
            f"{verb} {len(report.resealed)} destination(s) under master key "
            f"{report.primary_key_id}; {report.current} already under it; "
            f"{len(report.failed)} failed"
        )
        return report

    async def _rotate_one(
        self,
        view: ConfigView,
        producer: AsyncProducer,
        workspace_id: str,
        destination_id: str,
        report: RotationReport,
    ) -> None:
        name = f"{workspace_id}/{destination_id}"
        # Re-read right before the command: the record we upsert is the newest we know.
        config = view.workspace(workspace_id)
        destination = config.destination(destination_id) if config else None
        if destination is None:
            return  # deleted since the listing: nothing left to protect
        try:
            resealed = reseal_destination(workspace_id, destination, self._ring)
        except SignetError as exc:
            report.failed.append(name)
            self._out(f"FAILED   {name}: {exc}")
            return
        if resealed is None:
            report.current += 1
            return
        what = ", ".join(
            part
            for part in (
                f"{resealed.secrets} signing secret(s)" if resealed.secrets else "",
                "slack URL" if resealed.slack_url else "",
                f"{resealed.headers_tls} header value(s)/TLS key" if resealed.headers_tls else "",
            )
            if part
        )
        moved = f"{'+'.join(resealed.old_key_ids)} -> {self._ring.primary_id}"
        if self._dry_run:
            report.resealed.append(name)
            self._out(f"would    {name} ({destination.name}): {what}, {moved}")
            return
        command = WorkspaceCommand(
            id=new_id("cmd"),
            workspace_id=workspace_id,
            kind=CommandKind.PUT_DESTINATION.value,
            issued_at=now_ms(),
            destination=resealed.destination,
        )
        timeout = self._settings.command_timeout_seconds
        try:
            await producer.send(
                self._topic, codec.encode(command), key=workspace_id, timeout=timeout
            )
            applied = await view.wait_for_command(workspace_id, command.id, timeout)
        except SignetError as exc:
            report.failed.append(name)
            self._out(f"FAILED   {name}: {exc}")
            return
        if not applied:
            report.failed.append(name)
            self._out(f"FAILED   {name}: not applied within {timeout:g}s; run again")
            return
        report.resealed.append(name)
        self._out(f"resealed {name} ({destination.name}): {what}, {moved}")

    async def _rotate_operator_webhook(
        self, producer: AsyncProducer, report: RotationReport
    ) -> None:
        """The operator webhook's secret, re-sealed by writing its record again."""
        settings, name = self._settings, OPERATOR_DESTINATION_ID
        async with OperatorWebhookView(settings) as hooks:
            await hooks.wait_ready(settings.config_ready_timeout_seconds)
            hook = hooks.current
            if hook is None:
                return
            if hook.secret.key_id == self._ring.primary_id:
                report.current += 1
                return
            moved = f"{hook.secret.key_id} -> {self._ring.primary_id}"
            try:
                sealed = self._ring.reseal(hook.secret, operator_secret_aad())
            except SignetError as exc:
                report.failed.append(name)
                self._out(f"FAILED   {name}: {exc}")
                return
            if self._dry_run:
                report.resealed.append(name)
                self._out(f"would    {name}: its secret, {moved}")
                return
            record = dataclasses.replace(hook, id=new_id("owh"), secret=sealed)
            timeout = settings.command_timeout_seconds
            try:
                await producer.send(hooks.topic, codec.encode(record), key=KEY, timeout=timeout)
                seen = await hooks.wait_for(
                    lambda: hooks.current is not None and hooks.current.id == record.id, timeout
                )
            except SignetError as exc:
                report.failed.append(name)
                self._out(f"FAILED   {name}: {exc}")
                return
            if not seen:
                report.failed.append(name)
                self._out(f"FAILED   {name}: not seen within {timeout:g}s; run again")
                return
            report.resealed.append(name)
            self._out(f"resealed {name}: its secret, {moved}")


if __name__ == "__main__":  # ``python -m signet.security.key_rotation`` is ``signet keys rotate``
    from signet.cli import main

    sys.exit(main(["keys", "rotate", *sys.argv[1:]]))

"""The ``signet`` command: ``up`` (the local stack), ``demo``, ``topics ensure``, ``listen``,
``verify-log`` and ``keys rotate``.

Each command reads its settings from ``SIGNET_*`` (pydantic-settings) and hands them to
the module that does the work; this file only parses arguments (click) and prints
reports. ``signet --help`` lists the commands, ``signet COMMAND --help`` their options.

:func:`main` is the console script: it returns the exit code instead of exiting, so tests
call it with an argv list. 0 is success, 1 a failure the command reports, 2 a usage error
or an invalid setting.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Sequence
from typing import Any

import click
from pydantic import ValidationError

from signet.errors import SignetError
from signet.kafka.topics import EnsureReport, Topics, ensure_topics, topic_specs
from signet.settings import CommonSettings, DevStackSettings

EXIT_FAILED = 1
EXIT_USAGE = 2
# `signet listen`'s secret by environment: a command line is visible to anyone in `ps`.
LISTEN_SECRET_ENV = "SIGNET_LISTEN_SECRET"  # noqa: S105 - a variable's name


class _ListedAsDeclared(click.Group):
    """A group whose ``--help`` lists its commands in the order they are declared (the
    order a newcomer meets them: ``up`` first), not alphabetically."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(self.commands)


class _SignetGroup(_ListedAsDeclared):
    """The root: turns what a command raises on purpose into a report and an exit code,
    so the tree behaves the same under :func:`main`, click's standalone mode and tests."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ValidationError as exc:
            click.echo(f"signet: invalid SIGNET_* setting:\n{exc}", err=True)
            ctx.exit(EXIT_USAGE)
        except SignetError as exc:
            click.echo(f"signet: {exc}", err=True)
            ctx.exit(EXIT_FAILED)


@click.group(
    cls=_SignetGroup,
    # A bare `signet` (or `signet topics`) is a usage error, exit 2, on every click 8.x.
    no_args_is_help=False,
    context_settings={"help_option_names": ["--help", "-h"], "max_content_width": 100},
)
def cli() -> None:
    """Signet: self-hosted webhook delivery on Kafka."""


@cli.result_callback()
def _exit_with(code: int | None) -> None:
    """Commands return their exit code; click's standalone mode would drop it otherwise."""
    click.get_current_context().exit(code or 0)


# -- the local stack -----------------------------------------------------------------------


@cli.command(short_help="start the local stack: broker, topics, services (Ctrl-C stops)")
@click.option(
    "--fresh",
    is_flag=True,
    help="start without the previous run's workspaces, destinations and publishable keys "
    "(the embedded broker restores them otherwise)",
)
def up(fresh: bool) -> int:
    """Start the local stack: the embedded broker, the topics and every service, in the
    foreground (Ctrl-C stops it). With the embedded broker the setup (workspaces,
    destinations, publishable keys) is kept in the state directory and restored on the next
    start; events and the delivery log are not. Settings come from SIGNET_* variables (see
    DevStackSettings)."""
    from signet.dev.devstack.up import run_up  # the stack's imports only when needed

    return run_up(DevStackSettings(), fresh=fresh)


@cli.command(short_help="play the seed scenario on a throw-away local stack, narrated")
@click.option("--record", metavar="FILE.svg", help="also save the narration as an SVG")
def demo(record: str | None) -> int:
    """Play the seed scenario on a throw-away local stack, narrated (about a minute)."""
    from signet.dev.demo import run_demo

    return run_demo(record=record)


# -- topics --------------------------------------------------------------------------------


@cli.group(cls=_ListedAsDeclared, no_args_is_help=False, short_help="manage Signet's Kafka topics")
def topics() -> None:
    """Manage Signet's Kafka topics."""


@topics.command(short_help="create every missing topic (idempotent), check partition counts")
@click.option("--bootstrap", help="Kafka bootstrap servers (default: SIGNET_KAFKA_BOOTSTRAP)")
def ensure(bootstrap: str | None) -> int:
    """Create every missing topic (idempotent) and check partition counts. Exits 1 when
    co-partitioned topics disagree."""
    settings = CommonSettings()
    if bootstrap:
        settings = settings.model_copy(update={"kafka_bootstrap": bootstrap})
    report = ensure_topics(settings)
    lines, broken = format_ensure_report(report, settings)
    click.echo("\n".join(lines))
    return EXIT_FAILED if broken else 0


def format_ensure_report(report: EnsureReport, settings: CommonSettings) -> tuple[list[str], bool]:
    """Lines describing each topic, and whether co-partitioned topics are inconsistent."""
    lines = []
    created = set(report.created)
    for spec in topic_specs(settings):
        status = "created" if spec.name in created else "exists"
        policy = spec.config.get("cleanup.policy", "delete")
        lines.append(f"{status:<8} {spec.name}  partitions={spec.partitions} policy={policy}")
    for name, (want, have) in sorted(report.partition_mismatch.items()):
        lines.append(f"MISMATCH {name}: settings say {want} partitions, the topic has {have}")
    names = Topics.from_settings(settings)
    copartitioned = {names.events, names.workspace_commands, names.workspace_config}
    broken = bool(copartitioned & set(report.partition_mismatch))
    lines.append(
        f"{len(report.created)} created, {len(report.existing)} already there, "
        f"{len(report.partition_mismatch)} partition mismatch(es)"
    )
    if broken:
        lines.append(
            "error: events, workspace-commands and workspace-config must have the same "
            "partition count (they are co-partitioned); set SIGNET_PARTITIONS to match "
            "or use a new SIGNET_TOPIC_PREFIX"
        )
    return lines, broken


# -- a local receiver ----------------------------------------------------------------------


@cli.command(short_help="a local webhook receiver checking Standard Webhooks signatures")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=9000, show_default=True, help="0 picks a free port")
@click.option(
    "--secret",
    envvar=LISTEN_SECRET_ENV,
    show_envvar=True,
    help="the destination's whsec_ secret, to verify signatures; better by environment, "
    "which keeps it out of `ps`",
)
def listen(host: str, port: int, secret: str | None) -> int:
    """Run a local webhook receiver that checks Standard Webhooks signatures."""
    from signet.dev.devstack.listener import run_listener

    return run_listener(host, port, secret)


# -- the delivery log ----------------------------------------------------------------------


@cli.command(
    "verify-log",
    short_help="verify an exported delivery log: hash chain and signed head",
)
@click.argument("file", metavar="FILE")
@click.option("--public-key", help="the log key, base64 (from /v1/log-signing-key)")
@click.option("--portal-url", help="fetch the log key from this portal")
def verify_log(file: str, public_key: str | None, portal_url: str | None) -> int:
    """Verify a delivery-log export (GET /v1/workspace/log/export): every hash link and the
    signed head. FILE is the export (JSON Lines); - reads standard input. Give exactly one
    of --public-key and --portal-url. Exits 0 when it verifies, 1 when it does not."""
    from signet.security import hash_chain

    if (public_key is None) == (portal_url is None):
        raise click.UsageError("give exactly one of --public-key KEY or --portal-url URL")
    try:
        data = _read_input(file)
        if portal_url is not None:
            public_key = hash_chain.fetch_public_key(portal_url, hash_chain.head_key_id(data))
        key = hash_chain.load_public_key(public_key or "")
    except (OSError, ValueError) as exc:  # unreadable file, bad key, unreachable portal
        click.echo(f"signet verify-log: {exc}", err=True)
        return EXIT_USAGE
    result = hash_chain.verify_export(data, key)
    click.echo(result.describe())
    return 0 if result.ok else EXIT_FAILED


def _read_input(file: str) -> bytes:
    if file == "-":
        return sys.stdin.buffer.read()
    with open(file, "rb") as handle:
        return handle.read()


# -- the master key ring -------------------------------------------------------------------


@cli.group(cls=_ListedAsDeclared, no_args_is_help=False, short_help="manage the master key ring")
def keys() -> None:
    """Manage the master key ring."""


@keys.command(short_help="re-seal every stored secret under SIGNET_MASTER_KEYS's first key")
@click.option("--dry-run", is_flag=True, help="list, change nothing")
@click.option("--bootstrap", help="Kafka bootstrap servers (default: from settings)")
def rotate(dry_run: bool, bootstrap: str | None) -> int:
    """Re-encrypt every stored secret under the first key of SIGNET_MASTER_KEYS (list the
    new key first, the old one(s) after). Idempotent."""
    from signet.security.key_rotation import KeyRotation
    from signet.security.secrets import MasterKeyRing
    from signet.settings import KeyRotationSettings

    try:
        settings = KeyRotationSettings()
        if bootstrap:
            settings = settings.model_copy(update={"kafka_bootstrap": bootstrap})
        ring = MasterKeyRing.parse(settings.master_keys.get_secret_value())
    except ValidationError as exc:
        click.echo(f"signet keys rotate: invalid SIGNET_* setting:\n{exc}", err=True)
        return EXIT_USAGE
    except SignetError as exc:
        click.echo(f"signet keys rotate: {exc}", err=True)
        return EXIT_USAGE
    if len(ring.keys) < 2:
        click.echo(
            "signet keys rotate: note: the ring holds one key; values under any other key "
            "cannot be opened (list the new key first, then the old ones)",
            err=True,
        )
    try:
        report = asyncio.run(KeyRotation(settings, ring, out=click.echo, dry_run=dry_run).run())
    except SignetError as exc:
        click.echo(f"signet keys rotate: {exc}", err=True)
        return EXIT_FAILED
    return 0 if report.ok else EXIT_FAILED


# -- the console script --------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``signet`` with ``argv`` (default: the process's arguments); the exit code.

    click runs without its standalone mode so the code comes back to the caller instead
    of a ``SystemExit``; usage errors are shown as click shows them (exit 2).
    """
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        code = cli.main(args, prog_name="signet", standalone_mode=False)
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.Abort as exc:
        # click turns Ctrl-C into Abort: give it back, as before click, for the interpreter.
        if exc.__cause__ is not None:
            raise exc.__cause__ from None
        click.echo("Aborted!", err=True)
        return EXIT_FAILED
    except SystemExit as exc:  # click exits on a broken stdout pipe; main returns instead
        return exc.code if isinstance(exc.code, int) else EXIT_FAILED
    return code if isinstance(code, int) else 0


if __name__ == "__main__":
    sys.exit(main())

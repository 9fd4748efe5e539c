"""The ``signet`` command: ``up`` (the local stack), ``demo``, ``topics ensure``, ``listen``,
``verify-log`` and ``keys rotate``.

Each subcommand reads its settings from ``SIGNET_*`` (pydantic-settings) and hands them
to the module that does the work; this file only parses arguments and prints reports.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from pydantic import ValidationError

from signet.errors import SignetError
from signet.kafka.topics import EnsureReport, Topics, ensure_topics, topic_specs
from signet.settings import CommonSettings, DevStackSettings

EXIT_USAGE = 2
# `signet listen`'s secret by environment: a command line is visible to anyone in `ps`.
LISTEN_SECRET_ENV = "SIGNET_LISTEN_SECRET"  # noqa: S105 - a variable's name


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="signet", description="Signet: self-hosted webhook delivery on Kafka."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser(
        "up",
        help="start the local stack: broker, topics, every service (Ctrl-C stops it)",
        description="Settings come from SIGNET_* variables (see DevStackSettings).",
    )
    topics = commands.add_parser("topics", help="manage Signet's Kafka topics")
    topic_commands = topics.add_subparsers(dest="topics_command", required=True, metavar="ACTION")
    ensure = topic_commands.add_parser(
        "ensure", help="create every missing topic (idempotent) and check partition counts"
    )
    ensure.add_argument(
        "--bootstrap", help="Kafka bootstrap servers (default: SIGNET_KAFKA_BOOTSTRAP)"
    )
    demo = commands.add_parser(
        "demo",
        help="play the seed scenario on a throw-away local stack, narrated (about a minute)",
    )
    demo.add_argument("--record", metavar="FILE.svg", help="also save the narration as an SVG")
    listen = commands.add_parser(
        "listen", help="run a local webhook receiver that checks Standard Webhooks signatures"
    )
    listen.add_argument("--host", default="127.0.0.1")
    listen.add_argument("--port", type=int, default=9000, help="0 picks a free port")
    listen.add_argument(
        "--secret",
        default=os.environ.get(LISTEN_SECRET_ENV),
        help="the destination's whsec_ secret, to verify signatures "
        f"(default: ${LISTEN_SECRET_ENV}, which keeps it out of `ps`)",
    )
    # Listed for --help; main() hands their arguments to the modules that own them.
    commands.add_parser(
        "verify-log",
        add_help=False,
        help="verify an exported delivery log: hash chain and signed head (--help for options)",
    )
    keys = commands.add_parser("keys", help="manage the master key ring")
    key_commands = keys.add_subparsers(dest="keys_command", required=True, metavar="ACTION")
    key_commands.add_parser(
        "rotate",
        add_help=False,
        help="re-seal every stored secret under the first key of SIGNET_MASTER_KEYS",
    )
    return parser


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
    topics = Topics.from_settings(settings)
    copartitioned = {topics.events, topics.workspace_commands, topics.workspace_config}
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


def _topics_ensure(bootstrap: str | None) -> int:
    settings = CommonSettings()
    if bootstrap:
        settings = settings.model_copy(update={"kafka_bootstrap": bootstrap})
    report = ensure_topics(settings)
    lines, broken = format_ensure_report(report, settings)
    print("\n".join(lines))
    return 1 if broken else 0


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # ``verify-log`` and ``keys rotate`` parse their own arguments (and answer --help).
    if argv[:1] == ["verify-log"]:
        from signet.security import hash_chain

        return hash_chain.main(argv[1:])
    if argv[:2] == ["keys", "rotate"]:
        from signet.security import key_rotation

        return key_rotation.main(argv[2:])
    args = _parser().parse_args(argv)
    try:
        if args.command == "up":
            from signet.dev.devstack.up import run_up  # the stack's imports only when needed

            return run_up(DevStackSettings())
        if args.command == "demo":
            from signet.dev.demo import run_demo

            return run_demo(record=args.record)
        if args.command == "topics":
            return _topics_ensure(args.bootstrap)

        from signet.dev.devstack.listener import run_listener

        return run_listener(args.host, args.port, args.secret)
    except ValidationError as exc:
        print(f"signet: invalid SIGNET_* setting:\n{exc}", file=sys.stderr)
        return EXIT_USAGE
    except SignetError as exc:
        print(f"signet: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())

"""Start what the demo needs, play the scenario, stop everything, say what happened.

The stack runs on free loopback ports from a throw-away state directory, so the demo
works next to a running ``signet up``; the services' own output goes to a log file
(its path is printed when something fails) to keep the narration readable.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import tempfile
from pathlib import Path

import aiohttp
from rich.console import Console

from signet.dev.demo.api import DemoFailed, PortalCalls
from signet.dev.demo.narration import Narrator
from signet.dev.demo.receivers import VerifyingReceiver
from signet.dev.demo.scenario import Customer, SeedScenario
from signet.dev.demo.slack import SlackStandIn
from signet.dev.devstack import DevStack, StackInfo
from signet.dev.devstack.output import StackConsole
from signet.errors import SignetError
from signet.settings import DevStackSettings

SERVICES_LOG = "services.log"
SUBTITLE = (
    "Your SaaS emits order.completed once. Signet routes it to your customer Casterly's two "
    "webhooks, signs each with Casterly's own secret, retries the one that fails and tells "
    "Casterly's Slack when it gives up. Everything runs on this machine, on loopback."
)


def demo_settings(state_dir: Path) -> DevStackSettings:
    """The dev stack on free ports, without the walk-through receiver (the demo has its own)."""
    return DevStackSettings(
        state_dir=state_dir,
        ingest_port=0,
        portal_port=0,
        broker_port=0,
        router_web_port=0,
        dispatcher_metrics_port=0,
        alerter_metrics_port=0,
        receiver=False,
    )


async def play(narrator: Narrator, settings: DevStackSettings) -> None:
    """The whole demo on a stack built from ``settings``; raises DemoFailed / SignetError."""
    log_path = settings.state_dir / SERVICES_LOG
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    with log_path.open("w") as log_file:
        stack_console = StackConsole(Console(file=log_file, width=200, color_system=None))
        root = logging.getLogger()
        saved = root.handlers[:], root.level
        root.handlers[:] = [stack_console.handler()]
        root.setLevel(logging.INFO)
        try:
            narrator.step("Signet starts on this machine: broker, topics and every service")
            stack = DevStack(settings, stack_console)
            try:
                with narrator.waiting("starting the embedded stack (about 15 s)…"):
                    info = await stack.start()
                _show_stack(narrator, info)
                await _play_with_customer(narrator, info)
            finally:
                with narrator.waiting("stopping the stack…"):
                    await stack.stop()
        except BaseException:
            narrator.say(f"[dim]the services' output is in {log_path}[/]")
            raise
        finally:
            root.handlers[:], root.level = saved


async def _play_with_customer(narrator: Narrator, info: StackInfo) -> None:
    customer = Customer(
        primary=VerifyingReceiver("Order service"),
        audit=VerifyingReceiver("Audit log"),
        slack=SlackStandIn(),
    )
    servers = (customer.primary, customer.audit, customer.slack)
    try:
        for server in servers:
            await server.start()
        narrator.step("Casterly's side: two webhook receivers and a Slack stand-in, on loopback")
        narrator.table(
            None,
            ("endpoint", "URL", "checks"),
            [
                (customer.primary.name, customer.primary.url, "every signature"),
                (customer.audit.name, customer.audit.url, "every signature"),
                ("Slack stand-in", customer.slack.url, "prints what Slack would show"),
            ],
        )
        async with aiohttp.ClientSession() as http:
            calls = PortalCalls(http, info.portal_url, info.operator_key, narrator)
            await SeedScenario(narrator, calls, info.ingest_url, customer).play()
    finally:
        for server in servers:
            await server.stop()


def _show_stack(narrator: Narrator, info: StackInfo) -> None:
    broker = "embedded Tansu" if info.embedded_broker else "external Kafka"
    narrator.table(
        None,
        ("part", "where"),
        [
            ("broker", f"{info.bootstrap} ({broker})"),
            ("ingest", info.ingest_url),
            ("portal", info.portal_url),
            ("router, dispatcher, alerter", "consuming"),
        ],
    )
    narrator.say(f"ready in {info.ready_seconds:.1f} s")


def run_demo(record: str | None = None) -> int:
    """``signet demo``: 0 when every step happened, 1 (with the reason) when one did not.

    ``record``: also save what was shown as an SVG (a terminal screenshot for docs).
    """
    narrator = Narrator(Console(highlight=False, record=record is not None))
    try:
        return _run(narrator)
    finally:
        if record is not None:
            narrator.console.save_svg(record, title="signet demo")
            narrator.console.print(f"[dim]saved {record}[/]")


def _run(narrator: Narrator) -> int:
    narrator.title("Signet demo: the Casterly order webhooks", SUBTITLE)
    state_dir = Path(tempfile.mkdtemp(prefix="signet-demo-"))
    try:
        asyncio.run(play(narrator, demo_settings(state_dir)))
    except DemoFailed as exc:
        narrator.say(f"[bold red]The demo stopped: {exc}[/]")
        return 1
    except SignetError as exc:
        narrator.say(f"[bold red]The stack could not run: {exc}[/]")
        return 1
    except KeyboardInterrupt:
        narrator.say("[yellow]interrupted[/]")
        return 130
    narrator.step(f"Done in {narrator.elapsed:.0f} s")
    narrator.say("Your backend stored no customer secret and shipped no signing code.")
    narrator.say(
        "Next: [bold]make run[/] for a stack to keep, docs/getting-started.md to build on it."
    )
    shutil.rmtree(state_dir, ignore_errors=True)
    return 0

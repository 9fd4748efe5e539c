"""A restarted ``signet up`` (embedded broker) serves the previous run's setup.

One state directory for the module, used in order, each step a real ``signet up`` process:

1. a workspace, a publishable key, an embed session and a webhook destination (with our
   own secret, pointing at a receiver of this test) are created through the portal;
2. SIGTERM, start again: the portal lists the same workspace, key and destination (same
   ids, same secret hint, the old session token still works), and an event emitted with
   the old publishable key is delivered with a signature that verifies with the old secret;
3. a second destination, then SIGKILL of the whole ``signet up`` process group as soon as
   the saved copy has it (within the promised bound): the next start still has it;
4. ``signet up --fresh`` starts with nothing but a new demo workspace of the example host,
   and the old publishable key is refused.

The example host page runs: it creates its demo workspace at the first start and keeps it
in ``.signet/embed-host.json``, so every later start lists the same workspaces, not one
more each time. Events and the delivery log are not restored; the walk-through receiver
is off, so nothing else creates workspaces.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
from signet_sdk.signing.standard_webhooks import generate_secret
from signet_sdk.verify import WebhookVerifier

from signet.dev.broker import free_port
from signet.dev.devstack.info import SEED_PAYLOAD
from signet.dev.devstack.recorder import SAVE_BOUND_SECONDS
from signet.dev.devstack.services import EMBED_HOST_STATE_FILE
from signet.dev.devstack.snapshot import SNAPSHOT_FILE, read_snapshot
from signet.records import codec
from signet.records.model import WorkspaceConfig
from tests.eventually import eventually
from tests.receiver import Receiver
from tests.signet.dev.devstack.up_process import READY_BANNER, UpProcess, up_env
from tests.signet.dev.devstack.waiting import alive

pytestmark = pytest.mark.timeout(360)

START_TIMEOUT = 180.0
STOP_TIMEOUT = 90.0
JSON = dict[str, Any]


@dataclass(slots=True)
class Setup:
    """What the first run created, as its client saw it."""

    workspace_id: str
    demo_workspace_id: str  # the example host's
    publishable_key: str
    key_hint: str
    session_token: str
    destination_id: str
    secret: str
    secret_hint: str


class Run:
    """One ``signet up`` process and its portal and ingest, once it is ready."""

    def __init__(self, up: UpProcess) -> None:
        self.up = up
        runtime = up.runtime()
        self.portal: str = runtime["portal_url"]
        self.ingest: str = runtime["ingest_url"]
        self.operator_key = (up.state_dir / "operator_key").read_text().strip()

    async def call(
        self, method: str, url: str, bearer: str, body: JSON | None = None
    ) -> tuple[int, Any]:
        async with (
            aiohttp.ClientSession() as http,
            http.request(
                method,
                url,
                json=body,
                headers={"Authorization": f"Bearer {bearer}"},
                timeout=aiohttp.ClientTimeout(total=30),
            ) as response,
        ):
            return response.status, orjson.loads(await response.read() or b"null")

    async def operator(self, method: str, path: str, body: JSON | None = None) -> Any:
        status, answer = await self.call(method, self.portal + path, self.operator_key, body)
        assert status in (200, 201), (status, answer)
        return answer

    async def workspace(self, token: str, method: str, path: str, body: JSON | None = None) -> Any:
        status, answer = await self.call(method, self.portal + path, token, body)
        assert status in (200, 201), (status, answer)
        return answer

    async def emit(self, publishable_key: str) -> tuple[int, Any]:
        event = {
            "event": "order.completed",
            "resource": "order",
            "resource_id": "ord_lannister_77",
            "payload": SEED_PAYLOAD,
        }
        return await self.call("POST", self.ingest + "/v1/events", publishable_key, event)

    def printed(self, text: str) -> bool:
        return any(text in line for line in self.up.lines)


class Scenario:
    """The module's one state directory, the runs on it, and the test's own receiver."""

    def __init__(self, cwd: Path, receiver: Receiver) -> None:
        self.cwd = cwd
        self.receiver = receiver
        self.runs: list[UpProcess] = []
        self.setup: Setup | None = None

    @property
    def snapshot_path(self) -> Path:
        return self.cwd / ".signet" / SNAPSHOT_FILE

    @property
    def host_state_path(self) -> Path:
        return self.cwd / ".signet" / EMBED_HOST_STATE_FILE

    def host_workspace(self) -> str:
        """The demo workspace the example host keeps (its ready answer waits for it)."""
        workspace_id: str = orjson.loads(self.host_state_path.read_bytes())["workspace_id"]
        return workspace_id

    async def start(self, *args: str) -> Run:
        # New ports each time: a killed run's sockets may linger a moment.
        up = UpProcess(
            self.cwd,
            up_env(
                SIGNET_RECEIVER="false",
                SIGNET_EMBED_HOST_PORT=str(free_port()),
                SIGNET_READY_TIMEOUT_SECONDS="150",
            ),
        )
        self.runs.append(up)
        await up.start(*args)
        await up.wait_for_line(lambda line: READY_BANNER in line, "all ready", START_TIMEOUT)
        return Run(up)

    async def stop(self, run: Run) -> None:
        """SIGTERM, as Ctrl-C: a clean stop, exit code 0."""
        process = run.up.process
        assert process is not None
        process.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(process.wait(), STOP_TIMEOUT)
        assert code == 0, run.up.output()

    def kill_everything(self) -> None:
        for up in self.runs:
            if up.process is not None and up.process.returncode is None:
                up.kill_everything()


@pytest.fixture(scope="module")
async def scenario(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Scenario]:
    receiver = Receiver()
    await receiver.start()
    scenario = Scenario(tmp_path_factory.mktemp("restore"), receiver)
    try:
        yield scenario
    finally:
        scenario.kill_everything()
        await receiver.stop()


@pytest.fixture(autouse=True)
def stack_output(scenario: Scenario) -> Iterator[None]:
    """Print every run's output after each test: pytest shows it when the test failed,
    so a failure in CI comes with the services' own logs."""
    yield
    for number, up in enumerate(scenario.runs, start=1):
        print(f"--- signet up, run {number} ---\n{up.output(last=400)}")


@pytest.fixture(scope="module")
async def first_run(scenario: Scenario) -> Run:
    """The first run, with a workspace, a key, a session and a destination created."""
    run = await scenario.start()
    assert run.printed("nothing to restore (a first start)")
    demo = scenario.host_workspace()
    assert run.printed(f"demo workspace {demo} created")
    created = await run.operator(
        "POST", "/v1/workspaces", {"name": "Casterly", "environment": "development"}
    )
    session = await run.operator(
        "POST",
        "/v1/sessions",
        {
            "workspace_id": created["id"],
            "role": "admin",
            "ttl_seconds": 3600,
            "allowed_origins": [],
        },
    )
    secret = generate_secret().secret
    destination = await run.workspace(
        session["token"],
        "POST",
        "/v1/workspace/destinations",
        {
            "type": "webhook",
            "name": "orders",
            "url": scenario.receiver.url,
            "event_types": ["order.*"],
            "signature_scheme": "standard-webhooks",
            "secret": secret,
        },
    )
    scenario.setup = Setup(
        workspace_id=created["id"],
        demo_workspace_id=demo,
        publishable_key=created["publishable_key"],
        key_hint=created["publishable_keys"][0]["hint"],
        session_token=session["token"],
        destination_id=destination["id"],
        secret=secret,
        secret_hint=destination["secret_hint"],
    )
    return run


def saved_destinations(path: Path) -> set[str]:
    """Destination ids in the saved copy of the setup."""
    snapshot = read_snapshot(path)
    if snapshot is None:
        return set()
    return {
        destination.id
        for record in snapshot.records
        for destination in codec.decode(record.value, WorkspaceConfig).destinations
    }


async def workspace_ids(run: Run) -> set[str]:
    page = await run.operator("GET", "/v1/workspaces")
    return {workspace["id"] for workspace in page["data"]}


async def test_a_restarted_stack_serves_the_previous_setup(
    scenario: Scenario, first_run: Run
) -> None:
    setup = scenario.setup
    assert setup is not None
    before = await workspace_ids(first_run)
    assert before == {setup.workspace_id, setup.demo_workspace_id}
    await scenario.stop(first_run)
    assert first_run.printed(f"setup saved to {scenario.snapshot_path} (2 records)")

    run = await scenario.start()
    assert run.printed(
        "restored 2 workspaces, 1 destination, 2 publishable keys from the previous run"
    )
    assert run.printed("events and the delivery log")  # the banner says what is not kept

    # The example host reused its demo workspace: a restart adds no workspace.
    assert run.printed(f"demo workspace {setup.demo_workspace_id} reused")
    assert scenario.host_workspace() == setup.demo_workspace_id
    page = await run.operator("GET", "/v1/workspaces")
    assert {w["id"] for w in page["data"]} == before
    [workspace] = [w for w in page["data"] if w["id"] == setup.workspace_id]
    assert workspace["name"] == "Casterly"
    assert [k["hint"] for k in workspace["publishable_keys"]] == [setup.key_hint]
    # The session key is kept too: the old token still opens the workspace.
    listed = await run.workspace(setup.session_token, "GET", "/v1/workspace/destinations")
    assert [(d["id"], d["secret_hint"]) for d in listed["data"]] == [
        (setup.destination_id, setup.secret_hint)
    ]

    status, accepted = await run.emit(setup.publishable_key)
    assert status == 202, accepted
    [delivered] = await scenario.receiver.wait_for(1, timeout=60)
    webhook = WebhookVerifier(setup.secret).verify(delivered.headers, delivered.body)
    assert webhook.event["type"] == "order.completed"
    assert webhook.event["data"] == SEED_PAYLOAD


async def test_a_crash_loses_nothing_saved_within_the_bound(scenario: Scenario) -> None:
    run = Run(scenario.runs[-1])
    setup = scenario.setup
    assert setup is not None
    second = await run.workspace(
        setup.session_token,
        "POST",
        "/v1/workspace/destinations",
        {
            "type": "webhook",
            "name": "audit log",
            "url": scenario.receiver.url,
            "event_types": ["order.*"],
        },
    )
    answered = time.monotonic()
    await eventually(
        lambda: second["id"] in saved_destinations(scenario.snapshot_path),
        "the new destination in the saved copy",
        SAVE_BOUND_SECONDS,
    )
    print(f"\nsaved {time.monotonic() - answered:.2f}s after the portal answered")

    run.up.runtime()  # every pid of this run: signet up, the broker, each service
    pids = set(run.up.seen_pids)
    assert run.up.process is not None
    os.killpg(run.up.process.pid, signal.SIGKILL)  # signet up and nothing else of its group
    await run.up.process.wait()
    # The kernel takes the broker and the services with it (PR_SET_PDEATHSIG).
    await eventually(lambda: not any(alive(pid) for pid in pids), "every process gone", 30)

    after = await scenario.start()
    assert after.printed(
        "restored 2 workspaces, 2 destinations, 2 publishable keys from the previous run"
    )
    assert await workspace_ids(after) == {setup.workspace_id, setup.demo_workspace_id}
    listed = await after.workspace(setup.session_token, "GET", "/v1/workspace/destinations")
    assert {d["id"] for d in listed["data"]} == {setup.destination_id, second["id"]}


async def test_fresh_starts_with_nothing(scenario: Scenario) -> None:
    setup = scenario.setup
    assert setup is not None
    await scenario.stop(Run(scenario.runs[-1]))

    run = await scenario.start("--fresh")
    assert run.printed("started fresh (--fresh)")
    # --fresh forgot the host's file with the setup: the host made a new demo workspace.
    assert run.printed(f"--fresh: forgot {scenario.host_state_path}")
    demo = scenario.host_workspace()
    assert demo != setup.demo_workspace_id
    assert await workspace_ids(run) == {demo}
    status, refused = await run.emit(setup.publishable_key)
    assert status == 401, refused
    await scenario.stop(run)
    left = [pid for up in scenario.runs for pid in up.seen_pids if alive(pid)]
    assert left == [], f"still running: {left}"

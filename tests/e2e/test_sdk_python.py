"""signet-sdk installed on its own, as a product backend would: a fresh virtualenv of the
oldest supported Python (3.10 where this machine has it) with ``pip install sdk/python``.

- The plain install brings nothing of the server stack, and not even the Kafka extra; the
  SDK's own unit tests pass there (with ``[kafka]`` added).
- From that project, the events client emits the seed event to the real ingest and the
  direct producer writes one straight to the stack's events topic; a receiver written
  with the SDK's verifier gets both, on an HMAC (``whsec_``) and an Ed25519 (``whpk_``)
  destination, and checks every signature.
"""

from __future__ import annotations

import asyncio
import glob
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from signet.dev.broker import free_port
from signet.kafka.topics import Topics
from signet.settings import CommonSettings
from tests.e2e.conftest import Stack
from tests.eventually import eventually

REPO = Path(__file__).resolve().parents[2]
SDK = REPO / "sdk" / "python"
# What only the services need: none of it may come with the SDK.
SERVER_STACK = {
    "signet",
    "faust-streaming",
    "mode-streaming",
    "aiokafka",
    "asyncpg",
    "aiosqlite",
    "uvloop",
    "pydantic-settings",
    "prometheus-client",
    "rich",
    "click",
}
KAFKA_EXTRA = {"confluent-kafka", "fastavro", "pydantic"}

RECEIVER = """
import json, os, sys
from aiohttp import web
from signet_sdk.verify import WebhookVerifier, InMemoryReplayCache, SignatureError

verifiers = {
    "/hmac": WebhookVerifier(os.environ["HMAC_SECRET"], replay_cache=InMemoryReplayCache()),
    "/ed25519": WebhookVerifier(
        os.environ["ED25519_PUBLIC_KEY"], scheme="standard-webhooks-ed25519"
    ),
}

async def handle(request):
    body = await request.read()
    try:
        webhook = verifiers[request.path].verify(request.headers, body)
    except SignatureError as exc:
        print(json.dumps({"path": request.path, "refused": str(exc)}), flush=True)
        return web.Response(status=400)
    print(json.dumps({"path": request.path, "id": webhook.id, "event": webhook.event}), flush=True)
    return web.Response(status=204)

app = web.Application()
app.router.add_post("/{name}", handle)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None)
"""

EXAMPLE = re.compile(r"<!-- example: (?P<name>[\w.]+) -->\n```python\n(?P<code>.*?)```", re.S)


def readme_examples() -> dict[str, str]:
    """The README's runnable examples by file name (``<!-- example: emit.py -->``)."""
    text = (SDK / "README.md").read_text("utf-8")
    return {m["name"]: m["code"] for m in EXAMPLE.finditer(text)}


def oldest_python() -> str:
    """Python 3.10 (the SDK's oldest) where the machine has one, else this interpreter.

    pyenv's versions are looked up directly: its ``python3.10`` shim exists even when
    3.10 is not the selected version, and then refuses to run."""
    pyenv = sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.10*/bin/python3.10")))
    on_path = shutil.which("python3.10")
    if pyenv:
        return pyenv[-1]
    if on_path and "/shims/" not in on_path:
        return on_path
    return sys.executable


@dataclass(slots=True)
class Project:
    root: Path
    python: Path

    def run(self, *args: str, env: dict[str, str] | None = None, timeout: float = 300) -> str:
        done = subprocess.run(  # noqa: S603 - our own interpreter and arguments
            [str(self.python), *args],
            cwd=self.root,
            env={**os.environ, **(env or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        assert done.returncode == 0, f"{args}: {done.stdout}\n{done.stderr}"
        return done.stdout

    def installed(self) -> set[str]:
        listed = json.loads(self.run("-m", "pip", "list", "--format", "json"))
        return {item["name"].lower().replace("_", "-") for item in listed}

    def pip_install(self, *requirements: str) -> None:
        self.run("-m", "pip", "install", "--quiet", "--disable-pip-version-check", *requirements)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    root = tmp_path_factory.mktemp("product-backend")
    subprocess.run([oldest_python(), "-m", "venv", str(root / "venv")], check=True)  # noqa: S603
    yield Project(root, root / "venv" / "bin" / "python")


def test_the_plain_install_brings_no_server_stack(project: Project) -> None:
    project.pip_install(str(SDK))
    installed = project.installed()
    assert "signet-sdk" in installed
    assert not installed & SERVER_STACK, installed & SERVER_STACK
    assert not installed & KAFKA_EXTRA, "the Kafka extra came without being asked for"
    project.run("-c", "import signet_sdk.client, signet_sdk.verify")
    probe = "import signet_sdk.producer"
    done = subprocess.run(  # noqa: S603
        [str(project.python), "-c", probe], capture_output=True, text=True, check=False
    )
    assert done.returncode != 0 and "confluent_kafka" in done.stderr


def test_the_sdk_own_tests_pass_in_the_project(project: Project) -> None:
    project.pip_install(
        f"{SDK}[kafka]", "pytest", "pytest-asyncio", "hypothesis", "standardwebhooks"
    )
    assert not project.installed() & SERVER_STACK
    out = project.run(
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "-c",
        str(SDK / "pyproject.toml"),
        "--rootdir",
        str(SDK),
        str(SDK / "tests"),
    )
    assert " passed" in out and "failed" not in out, out


@dataclass(slots=True)
class Running:
    """A script of the project, running; ``lines`` is what it printed so far."""

    url: str
    lines: list[str]


@pytest.fixture
async def start_script(project: Project) -> AsyncIterator[Callable[..., Awaitable[Running]]]:
    """Start ``name`` (written into the project from ``code``) on loopback ``port``."""
    processes: list[asyncio.subprocess.Process] = []
    readers: list[asyncio.Task[None]] = []

    async def start(name: str, code: str, env: dict[str, str], *, port: int) -> Running:
        (project.root / name).write_text(code)
        process = await asyncio.create_subprocess_exec(
            str(project.python),
            name,
            str(port),
            cwd=project.root,
            env={**os.environ, **env, "PORT": str(port)},
            stdout=asyncio.subprocess.PIPE,
        )
        processes.append(process)
        running = Running(f"http://127.0.0.1:{port}", [])
        assert process.stdout is not None
        stdout = process.stdout

        async def read() -> None:
            while line := await stdout.readline():
                running.lines.append(line.decode().strip())

        readers.append(asyncio.get_running_loop().create_task(read()))
        return running

    yield start
    for process in processes:
        process.terminate()
        await process.wait()
    await asyncio.gather(*readers)


async def test_the_seed_event_reaches_a_verifying_receiver(
    stack: Stack,
    kafka_settings: CommonSettings,
    project: Project,
    start_script: Callable[..., Awaitable[Running]],
) -> None:
    """The README's emitters (HTTP sync and async, straight to Kafka) send from the
    project; the README's receiver and a receiver checking both schemes verify them."""
    project.pip_install(f"{SDK}[kafka]")
    examples = readme_examples()
    assert set(examples) == {"emit.py", "emit_async.py", "receiver.py", "produce.py"}

    status, workspace = await stack.operator(
        "POST", "/v1/workspaces", {"name": "Casterly", "environment": "production"}
    )
    assert status == 201, workspace
    status, session = await stack.operator(
        "POST", "/v1/sessions", {"workspace_id": workspace["id"], "role": "admin"}
    )
    assert status == 201, session

    async def destination(url: str, scheme: str) -> str:
        status, created = await stack.workspace(
            session["token"],
            "POST",
            "/v1/workspace/destinations",
            {"type": "webhook", "name": scheme, "url": url, "signature_scheme": scheme},
        )
        assert status == 201, created
        key: str = created.get("secret") or created["secrets"][0]["public_key"]
        return key

    # Keys exist once the destinations do: register them first, then start the receivers
    # with the keys, then emit.
    ports = {name: free_port() for name in ("checking", "readme")}
    hmac = await destination(f"http://127.0.0.1:{ports['checking']}/hmac", "standard-webhooks")
    ed25519 = await destination(
        f"http://127.0.0.1:{ports['checking']}/ed25519", "standard-webhooks-ed25519"
    )
    readme_secret = await destination(
        f"http://127.0.0.1:{ports['readme']}/webhooks/signet", "standard-webhooks"
    )
    assert hmac.startswith("whsec_") and ed25519.startswith("whpk_")
    checking = await start_script(
        "checking_receiver.py",
        RECEIVER,
        {"HMAC_SECRET": hmac, "ED25519_PUBLIC_KEY": ed25519},
        port=ports["checking"],
    )
    readme = await start_script(
        "receiver.py",
        examples["receiver.py"],
        {"SIGNET_WEBHOOK_SECRET": readme_secret},
        port=ports["readme"],
    )

    env = {
        "SIGNET_PUBLISHABLE_KEY": workspace["publishable_key"],
        "SIGNET_URL": stack.ingest_url,
        "SIGNET_KAFKA_BOOTSTRAP": kafka_settings.kafka_bootstrap,
        "SIGNET_EVENTS_TOPIC": Topics.from_settings(kafka_settings).events,
        "SIGNET_WORKSPACE_ID": workspace["id"],
    }
    ids = set()
    for name in ("emit.py", "emit_async.py", "produce.py"):
        (project.root / name).write_text(examples[name])
        printed = await asyncio.to_thread(project.run, name, env=env)
        ids.add(printed.strip())
    assert len(ids) == 3 and all(i.startswith("evt_") for i in ids), ids

    expected = {(path, event_id) for path in ("/hmac", "/ed25519") for event_id in ids}

    def checked() -> list[dict[str, Any]]:
        return [json.loads(line) for line in checking.lines]

    def every_delivery_verified() -> bool:
        assert not [line for line in checked() if "refused" in line], checking.lines
        got = {(line["path"], line["id"]) for line in checked()}
        readme_got = {line.split()[1] for line in readme.lines if line.startswith("verified")}
        return got == expected and readme_got == ids

    await eventually(
        every_delivery_verified, lambda: f"{ids} in {checking.lines}, {readme.lines}", timeout=60
    )
    seed = {line["id"]: line["event"] for line in checked()}
    for event in seed.values():
        assert event["type"] == "order.completed"
        assert event["workspace_id"] == workspace["id"]
    assert {event["resource_id"] for event in seed.values()} == {
        "ord_lannister_77",
        "ord_lannister_78",
        "ord_lannister_79",
    }

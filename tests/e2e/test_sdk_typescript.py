"""The TypeScript SDK (sdk/typescript/, ``@signet/events``) against the whole stack.

- its real-ingest node tests (test/stack/): emit, field errors, a bad key, bulk counts;
- the packed tarball installed alone in a scratch project (so only the package's declared
  dependencies exist there) delivers the seed event to a receiver that verifies with the
  SDK's ``verify``: one ``standard-webhooks`` (HMAC) and one Ed25519 destination;
- the README's examples, extracted and run as written with the variables they read.
"""

from __future__ import annotations

import asyncio
import json
import re
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from signet.dev.broker import free_port
from tests.e2e.conftest import Stack
from tests.e2e.test_seed_scenario import SEED_PAYLOAD
from tests.eventually import eventually
from tests.sdk.typescript.node import PACKAGE, NodeServer, installed, run, tool

pytestmark = pytest.mark.timeout(300)

DESTINATIONS = "/v1/workspace/destinations"
EVENT_ID = re.compile(r"evt_[0-9A-Z]{26}")
# A fenced js block the README marks with the file name it is run as.
README_EXAMPLE = re.compile(r"<!-- example: (\S+) -->\n```js\n(.*?)```", re.DOTALL)

# The scratch project's receiver: one path per destination, each verified with its own
# key by the SDK; it also says whether the other destination's key verifies the request.
SEED_RECEIVER = """
import { createServer } from "node:http";
import { verify } from "@signet/events";

const keys = { "/hmac": process.env.HMAC_SECRET, "/ed25519": process.env.ED25519_PUBLIC_KEY };
const other = { "/hmac": keys["/ed25519"], "/ed25519": keys["/hmac"] };
const verifies = (body, headers, key) => {
  try { return verify(body, headers, key); } catch (error) { return null; }
};

createServer((req, res) => {
  const chunks = [];
  req.on("data", (chunk) => chunks.push(chunk));
  req.on("end", () => {
    const body = Buffer.concat(chunks);
    const line = { path: req.url, webhook_id: req.headers["webhook-id"] };
    try {
      line.event = verify(body, req.headers, keys[req.url]);
      line.verified = true;
      line.other_key_verifies = verifies(body, req.headers, other[req.url]) !== null;
    } catch (error) {
      line.verified = false;
      line.error = `${error.name}: ${error.message}`;
    }
    console.log(JSON.stringify(line));
    res.writeHead(line.verified ? 200 : 400).end();
  });
}).listen(Number(process.env.PORT), "127.0.0.1", () => console.log("listening"));
"""

SEED_EMIT = """
import { SignetEventsClient } from "@signet/events";

const signet = new SignetEventsClient(process.env.SIGNET_PUBLISHABLE_KEY, {
  baseUrl: process.env.SIGNET_URL,
});
const { id } = await signet.emit({
  event: "order.completed",
  resource: "order",
  resource_id: "ord_lannister_77",
  payload: JSON.parse(process.env.SEED_PAYLOAD),
});
console.log(id);
"""


@dataclass(slots=True, frozen=True)
class Workspace:
    id: str
    publishable_key: str
    token: str  # an admin session's, for the workspace API

    def env(self, stack: Stack) -> dict[str, str]:
        """What the SDK's scripts and the README read."""
        return {"SIGNET_URL": stack.ingest_url, "SIGNET_PUBLISHABLE_KEY": self.publishable_key}


async def new_workspace(stack: Stack, name: str) -> Workspace:
    status, created = await stack.operator(
        "POST", "/v1/workspaces", {"name": name, "environment": "production"}
    )
    assert status == 201, created
    status, session = await stack.operator(
        "POST", "/v1/sessions", {"workspace_id": created["id"], "role": "admin"}
    )
    assert status == 201, session
    return Workspace(created["id"], created["publishable_key"], session["token"])


async def new_destination(stack: Stack, workspace: Workspace, **fields: Any) -> dict[str, Any]:
    body = {"type": "webhook", "event_types": ["order.*"], **fields}
    status, created = await stack.workspace(workspace.token, "POST", DESTINATIONS, body)
    assert status == 201, created
    made: dict[str, Any] = created
    return made


@pytest.fixture(scope="module")
async def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project that has nothing but ``npm install`` of the SDK's packed tarball."""
    npm = tool("npm")
    root = tmp_path_factory.mktemp("sdk-typescript")
    packing = await run([npm, "pack", "--pack-destination", str(root)], installed())
    packing.check("npm pack")
    [tarball] = root.glob("*.tgz")
    with tarfile.open(tarball) as packed:
        files = {name.removeprefix("package/") for name in packed.getnames()}
    assert {"package.json", "index.js", "index.d.ts", "README.md"} <= files, files
    assert {"types/ingest.d.ts", "types/portal.d.ts", "src/verify.js"} <= files, files
    assert not [name for name in files if name.startswith(("test/", "node_modules/"))], files

    project = root / "project"
    project.mkdir()
    (await run([npm, "init", "-y"], project)).check("npm init")
    install = [npm, "install", "--no-audit", "--no-fund", "--prefer-offline", str(tarball)]
    (await run(install, project, timeout=240)).check("npm install of the tarball")
    modules = project / "node_modules"
    assert (modules / "@signet" / "events" / "index.js").exists()
    assert (modules / "standardwebhooks").is_dir()  # its one runtime dependency
    assert not (modules / "typescript").exists() and not (modules / "openapi-typescript").exists()
    return project


def verified_lines(receiver: NodeServer) -> list[dict[str, Any]]:
    return [json.loads(line) for line in receiver.lines if line.startswith("{")]


async def listening(port: int) -> bool:
    try:
        _, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return False
    writer.close()
    await writer.wait_closed()
    return True


async def test_node_tests_against_the_real_ingest(stack: Stack) -> None:
    """test/stack/*.test.js: {id}, InvalidEventError naming the field, a bad key, bulk."""
    workspace = await new_workspace(stack, "SDK tests")
    command = [tool("node"), "--test", "test/stack/ingest.test.js"]
    completed = await run(command, installed(), workspace.env(stack))
    output = completed.check("node --test test/stack/")
    assert "# fail 0" in output and "# pass 0" not in output, output


async def test_the_installed_sdk_delivers_the_seed_event_to_verifying_receivers(
    stack: Stack, scratch: Path
) -> None:
    workspace = await new_workspace(stack, "Casterly")
    port = free_port()
    hmac = await new_destination(
        stack,
        workspace,
        name="Primary",
        url=f"http://127.0.0.1:{port}/hmac",
        signature_scheme="standard-webhooks",
    )
    ed25519 = await new_destination(
        stack,
        workspace,
        name="Audit log",
        url=f"http://127.0.0.1:{port}/ed25519",
        signature_scheme="standard-webhooks-ed25519",
    )
    secret: str = hmac["secret"]
    [public_key] = [entry["public_key"] for entry in ed25519["secrets"]]
    assert secret.startswith("whsec_") and public_key.startswith("whpk_")

    (scratch / "seed-receiver.mjs").write_text(SEED_RECEIVER)
    (scratch / "seed-emit.mjs").write_text(SEED_EMIT)
    node = tool("node")
    keys = {"PORT": str(port), "HMAC_SECRET": secret, "ED25519_PUBLIC_KEY": public_key}
    async with NodeServer([node, "seed-receiver.mjs"], scratch, keys) as receiver:
        await eventually(
            lambda: receiver.lines_with("listening") or receiver.exited, receiver.describe
        )
        assert not receiver.exited, receiver.describe()
        env = {**workspace.env(stack), "SEED_PAYLOAD": json.dumps(SEED_PAYLOAD)}
        emitted = (await run([node, "seed-emit.mjs"], scratch, env)).check("seed-emit.mjs")
        event_id = emitted.strip().splitlines()[-1]
        assert EVENT_ID.fullmatch(event_id), emitted
        await eventually(lambda: len(verified_lines(receiver)) >= 2, receiver.describe)

    lines = verified_lines(receiver)
    assert sorted(line["path"] for line in lines) == ["/ed25519", "/hmac"], lines
    for line in lines:
        assert line["verified"], line
        assert not line["other_key_verifies"], line  # each destination signs with its own
        assert line["webhook_id"] == event_id
        event = line["event"]
        assert event["id"] == event_id and event["type"] == "order.completed"
        assert (event["resource"], event["resource_id"]) == ("order", "ord_lannister_77")
        assert event["workspace_id"] == workspace.id
        assert event["data"] == SEED_PAYLOAD


async def test_the_readme_examples_run_as_written(stack: Stack, scratch: Path) -> None:
    readme = (PACKAGE / "README.md").read_text()
    examples = dict(README_EXAMPLE.findall(readme))
    assert readme.count("```js") == len(examples), "a js block of the README is not run here"
    assert set(examples) == {"emit.mjs", "bulk.mjs", "errors.mjs", "receiver.mjs"}
    folder = scratch / "readme"
    folder.mkdir()
    for name, code in examples.items():
        (folder / name).write_text(code)

    workspace = await new_workspace(stack, "README")
    port = free_port()
    hmac = await new_destination(stack, workspace, name="README", url=f"http://127.0.0.1:{port}/")
    node = tool("node")
    env = workspace.env(stack)
    receiver_env = {"PORT": str(port), "SIGNET_WEBHOOK_SECRET": hmac["secret"]}
    async with NodeServer([node, "receiver.mjs"], folder, receiver_env) as receiver:
        await eventually(
            lambda: receiver.exited or listening(port), lambda: f"{port} {receiver.describe()}"
        )
        assert not receiver.exited, receiver.describe()

        emitted = (await run([node, "emit.mjs"], folder, env)).check("README emit.mjs")
        event_id = emitted.strip()
        assert EVENT_ID.fullmatch(event_id), emitted

        bulk = (await run([node, "bulk.mjs"], folder, env)).check("README bulk.mjs")
        assert bulk.splitlines()[0] == "1 1 0", bulk
        assert "field: 'payload'" in bulk, bulk

        errors = (await run([node, "errors.mjs"], folder, env)).check("README errors.mjs")
        assert errors.startswith("event (format): "), errors

        line = await eventually(
            lambda: receiver.lines_with(f"verified order.completed {event_id}"), receiver.describe
        )
    assert json.loads(line[0].split(" ", 3)[3]) == {
        "order_id": "ord_lannister_77",
        "total_cents": 12900,
        "currency": "usd",
    }
    # The bulk example's accepted order reached it too; nothing was refused.
    assert len(receiver.lines_with("verified order.completed")) == 2, receiver.describe()

"""The TypeScript SDK on its own: its node tests (verify, retries, error typing, the
generated types' drift from docs/openapi/) and tsc over its declarations."""

from __future__ import annotations

from tests.sdk.typescript.node import installed, run, tool


async def test_node_tests_pass() -> None:
    """``npm test``: node's test runner over test/*.test.js (no real ingest needed)."""
    completed = await run([tool("npm"), "test"], installed())
    output = completed.check("npm test")
    assert "# fail 0" in output and "# pass 0" not in output, output


async def test_declarations_type_check() -> None:
    """``npm run check``: tsc --noEmit, strict, over index.d.ts and a typed usage file."""
    (await run([tool("npm"), "run", "check"], installed())).check("npm run check (tsc)")


async def test_node_is_20_or_later() -> None:
    version = (await run([tool("node"), "--version"], installed())).check("node --version")
    major = int(version.strip().removeprefix("v").split(".")[0])
    assert major >= 20, f"the SDK needs Node >= 20 (package.json engines), found {version}"

"""The verification code of ``docs/receiving-webhooks.md`` verifies what Signet signs.

Each ``<!-- verify:LANG -->`` block is run as written (Python in-process, Node and Go as
child processes when the machine has them) against signatures made by ``signet_sdk.signing``
during a rotation: both secrets verify (the newest only, for `github`), a stranger's
secret, a changed body and a stale timestamp do not.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import pytest
from signet_sdk.signing import generate_secret, sign_delivery

DOC = Path(__file__).resolve().parents[2] / "docs" / "receiving-webhooks.md"
BODY = b'{"id":"evt_doc","type":"order.completed","data":{"total":12900}}'
FUNCTIONS = {
    "standard-webhooks": (
        "verify_standard_webhooks",
        "verifyStandardWebhooks",
        "VerifyStandardWebhooks",
    ),
    "standard-webhooks-ed25519": ("verify_ed25519", "verifyEd25519", "VerifyEd25519"),
    "hmac-sha256": ("verify_hmac_sha256", "verifyHmacSha256", "VerifyHMACSHA256"),
    "github": ("verify_github", "verifyGithub", "VerifyGitHub"),
}


def block(language: str) -> str:
    text = DOC.read_text()
    found = re.search(rf"<!-- verify:{language} -->\n```\w+\n(.*?)\n```", text, re.S)
    assert found, f"no verify:{language} block in {DOC.name}"
    return found.group(1)


@dataclass(slots=True, frozen=True)
class Case:
    scheme: str
    keys: list[str]
    headers: dict[str, str]
    body: bytes
    valid: bool
    why: str

    def as_json(self, language: int) -> dict[str, Any]:
        return {
            "fn": FUNCTIONS[self.scheme][language],
            "keys": self.keys,
            "headers": self.headers,
            "body": base64.b64encode(self.body).decode(),
        }


def cases() -> list[Case]:
    out: list[Case] = []
    for scheme in FUNCTIONS:
        new, old, stranger = (generate_secret(scheme) for _ in range(3))
        now = int(time.time())
        signed = sign_delivery(scheme, [new.secret, old.secret], "evt_doc", now, BODY)
        stale = sign_delivery(scheme, [new.secret], "evt_doc", now - 600, BODY)
        headers = {k.lower(): v for k, v in signed.items()}
        out += [
            Case(scheme, [new.shown], headers, BODY, True, "the new secret"),
            Case(scheme, [stranger.shown, new.shown], headers, BODY, True, "any of several"),
            # github's single header carries the newest secret only
            Case(scheme, [old.shown], headers, BODY, scheme != "github", "the old secret"),
            Case(scheme, [stranger.shown], headers, BODY, False, "another secret"),
            Case(scheme, [new.shown], headers, BODY + b" ", False, "a changed body"),
        ]
        if scheme != "github":
            stale_headers = {k.lower(): v for k, v in stale.items()}
            out.append(Case(scheme, [new.shown], stale_headers, BODY, False, "a stale timestamp"))
    return out


def check(results: list[bool], all_cases: list[Case]) -> None:
    wrong = [
        f"{c.scheme}: {c.why} should {'pass' if c.valid else 'fail'}"
        for c, ok in zip(all_cases, results, strict=True)
        if ok != c.valid
    ]
    assert not wrong, wrong


def test_python() -> None:
    namespace: dict[str, Any] = {}
    exec(compile(block("python"), str(DOC), "exec"), namespace)  # noqa: S102 - our own doc
    all_cases = cases()
    results = []
    for case in all_cases:
        verify: Callable[[list[str], dict[str, str], bytes], None] = namespace[
            FUNCTIONS[case.scheme][0]
        ]
        try:
            verify(case.keys, case.headers, case.body)
            results.append(True)
        except namespace["InvalidWebhook"]:
            results.append(False)
    check(results, all_cases)


def test_python_official_library_snippet() -> None:
    text = DOC.read_text()
    found = re.search(r"```python\n(from standardwebhooks import .*?)\n```", text, re.S)
    assert found
    namespace: dict[str, Any] = {}
    exec(compile(found.group(1), str(DOC), "exec"), namespace)  # noqa: S102
    for case in cases():
        if case.scheme != "standard-webhooks":
            continue
        try:
            namespace["verify_with_library"](case.keys, case.headers, case.body)
            ok = True
        except ValueError:
            ok = False
        assert ok == case.valid, case.why


NODE_DRIVER = """
const verify = require("./verify.js");
const input = JSON.parse(require("node:fs").readFileSync(0, "utf8"));
const results = input.map((c) => {
  try {
    verify[c.fn](c.keys, c.headers, Buffer.from(c.body, "base64"));
    return true;
  } catch (e) {
    return false;
  }
});
process.stdout.write(JSON.stringify(results));
"""

GO_DRIVER = """
package main

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"os"
)

type testCase struct {
	Fn      string            `json:"fn"`
	Keys    []string          `json:"keys"`
	Headers map[string]string `json:"headers"`
	Body    string            `json:"body"`
}

func main() {
	var input []testCase
	if err := json.NewDecoder(os.Stdin).Decode(&input); err != nil {
		panic(err)
	}
	fns := map[string]func([]string, http.Header, []byte) error{
		"VerifyStandardWebhooks": VerifyStandardWebhooks,
		"VerifyEd25519":          VerifyEd25519,
		"VerifyHMACSHA256":       VerifyHMACSHA256,
		"VerifyGitHub":           VerifyGitHub,
	}
	results := []bool{}
	for _, c := range input {
		h := http.Header{}
		for k, v := range c.Headers {
			h.Set(k, v)
		}
		body, _ := base64.StdEncoding.DecodeString(c.Body)
		results = append(results, fns[c.Fn](c.Keys, h, body) == nil)
	}
	json.NewEncoder(os.Stdout).Encode(results)
}
"""


def run(command: list[str], cwd: Path, all_cases: list[Case], language: int) -> list[bool]:
    completed = subprocess.run(  # noqa: S603 - fixed commands
        command,
        cwd=cwd,
        input=json.dumps([c.as_json(language) for c in all_cases]),
        capture_output=True,
        text=True,
        timeout=240,
        env={**os.environ, "GOCACHE": str(cwd / ".gocache"), "GOPATH": str(cwd / ".gopath")},
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    results: list[bool] = json.loads(completed.stdout)
    return results


def missing(tool: str) -> NoReturn:
    """Skip on a developer's machine without ``tool``; fail in CI, which installs it."""
    message = f"{tool} is not installed (.ci/run installs it from Debian)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def test_node(tmp_path: Path) -> None:
    node = shutil.which("node")
    if node is None:
        missing("node")
    (tmp_path / "verify.js").write_text(block("node"))
    (tmp_path / "driver.js").write_text(NODE_DRIVER)
    all_cases = cases()
    check(run([node, "driver.js"], tmp_path, all_cases, 1), all_cases)


@pytest.mark.timeout(300)
def test_go(tmp_path: Path) -> None:
    go = shutil.which("go")
    if go is None:
        missing("go")
    (tmp_path / "go.mod").write_text("module doccheck\n\ngo 1.19\n")
    (tmp_path / "webhooks.go").write_text(
        block("go").replace("package webhooks", "package main", 1)
    )
    (tmp_path / "main.go").write_text(GO_DRIVER)
    all_cases = cases()
    check(run([go, "run", "."], tmp_path, all_cases, 2), all_cases)

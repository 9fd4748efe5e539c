"""Numbers and commands docs/delivery.md and docs/workspace-api.md show are the code's."""

from __future__ import annotations

import base64
import re
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from services.dispatcher.app import RATE_WAIT_SECONDS
from services.portal.destination_fields import (
    LOCAL_SLACK_HOSTS,
    SLACK_PATHS,
    TIMEOUT_RANGE,
    slack_url_error,
)
from services.portal.replay_api import LINKED_MAX, REPLAY_SPAN
from signet.cli import main as signet

DOCS = Path(__file__).parents[2] / "docs"


def test_the_destination_timeout_range_is_the_api_s() -> None:
    text = (DOCS / "delivery.md").read_text(encoding="utf-8")
    low, high = TIMEOUT_RANGE
    assert f"`timeout_seconds` ({low:g}\N{EN DASH}{high:g} s)" in text


def test_the_rate_limit_wait_is_the_dispatcher_s_constant() -> None:
    text = (DOCS / "delivery.md").read_text(encoding="utf-8")
    assert f"at most {RATE_WAIT_SECONDS:g} s away\n(a constant, `RATE_WAIT_SECONDS`" in text


def test_the_verify_log_command_shown_runs_as_shown(tmp_path: Path) -> None:
    """The doc gives the options the command needs: with them it reads and judges the
    export (an empty one fails verification, 1); without, it is a usage error (2)."""
    text = (DOCS / "workspace-api.md").read_text(encoding="utf-8")
    assert re.search(r"`signet verify-log FILE --portal-url \S+` \(or `--public-key KEY`", text)
    empty = tmp_path / "export.jsonl"
    empty.write_text("")
    key = Ed25519PrivateKey.generate().public_key().public_bytes_raw()
    assert signet(["verify-log", str(empty), "--public-key", base64.b64encode(key).decode()]) == 1
    assert signet(["verify-log", str(empty)]) == 2


def test_the_slack_urls_the_doc_allows_are_the_portal_s() -> None:
    text = (DOCS / "workspace-api.md").read_text(encoding="utf-8")
    assert slack_url_error("https://hooks.slack.com/services/T0/B0/x") is None
    for path in SLACK_PATHS:
        assert f"`{path}`" in text
    for host in sorted(LOCAL_SLACK_HOSTS):
        shown = f"[{host}]" if ":" in host else host
        assert f"`http://{shown}:<port>`" in text
        url = f"http://{shown}:9000/services/T0/B0/demo"
        assert slack_url_error(url, allow_local=True) is None, url
        assert slack_url_error(url) is not None  # only where insecure destinations are allowed
    assert "http://127.0.0.1:9000/services/T0/B0/demo" in text
    # The refusal says what a local stand-in may look like.
    refusal = slack_url_error("http://127.0.0.1:9000/hook", allow_local=True)
    assert refusal is not None and "/services/…" in refusal and "127.0.0.1" in refusal


def test_the_replay_span_and_its_links_are_the_portal_s() -> None:
    text = (DOCS / "delivery.md").read_text(encoding="utf-8")
    assert f"under a `{REPLAY_SPAN}` span" in text
    assert f"(for the first {LINKED_MAX} of a recover)" in text

"""What `signet up` prints: URLs, the operator key, the loud dev warning, a runnable script."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
from pathlib import Path

import pytest
from rich.console import Console

from signet.dev.devstack.banner import print_banner, walkthrough_script
from signet.dev.devstack.info import SEED_PAYLOAD, StackInfo
from signet.dev.devstack.restore import RestoreReport


def info(**overrides: object) -> StackInfo:
    values: dict[str, object] = {
        "ingest_url": "http://127.0.0.1:18080",
        "portal_url": "http://127.0.0.1:18081",
        "bootstrap": "127.0.0.1:19092",
        "embedded_broker": True,
        "operator_key": "sk_op_it's-a-key",
        "receiver_url": "http://127.0.0.1:19000/hook",
        "receiver_secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "receiver_running": True,
        "state_dir": Path("/work/.signet"),
        "ready_seconds": 6.25,
        "walkthrough_path": Path("/work/.signet/walkthrough.sh"),
    }
    values.update(overrides)
    return StackInfo(**values)  # type: ignore[arg-type]


def rendered(stack: StackInfo, width: int = 200) -> str:
    out = io.StringIO()
    print_banner(Console(file=out, width=width, color_system=None), stack)
    return out.getvalue()


def flat(stack: StackInfo) -> str:
    """The banner with every run of whitespace as one space: notes wrap at 200 columns."""
    return " ".join(rendered(stack).split())


def test_banner_shows_urls_key_timing_and_the_dev_warning() -> None:
    text = flat(info())
    for expected in (
        "http://127.0.0.1:18080",
        "http://127.0.0.1:18081",
        "127.0.0.1:19092",
        "sk_op_it's-a-key",
        "http://127.0.0.1:19000/hook",
        "all ready in 6.2s",
        "NOT FOR PRODUCTION",
        "SIGNET_ALLOW_PRIVATE_DESTINATIONS=true",
        "SIGNET_ALLOW_INSECURE_DESTINATIONS=true",
        "restores it on the next start",
        "events and the delivery log start empty",
        "`signet up --fresh` starts with nothing",
        "bash /work/.signet/walkthrough.sh",
        "Ctrl-C stops everything",
    ):
        assert expected in text, expected


def test_the_walkthrough_is_printed_unwrapped_for_copy_and_paste() -> None:
    stack = info()
    text = rendered(stack, width=80)
    for line in walkthrough_script(stack).splitlines():
        assert line in text  # not wrapped at 80 columns, not inside a panel border
    # ...while the panels wrap instead of being cut at the terminal's edge.
    assert "receivers work." in text
    assert max(len(line) for line in text.splitlines() if "│" in line) <= 80


def test_the_banner_says_what_was_restored_and_where_it_is_kept() -> None:
    kept = Path("/work/.signet/config-snapshot.jsonl")
    text = flat(
        info(
            restore=RestoreReport(kept, records=3, workspaces=3, destinations=5, publishable_keys=3)
        )
    )
    assert "restored 3 workspaces, 5 destinations, 3 publishable keys from the previous run" in text
    assert f"copy of the setup (workspaces, destinations, keys) in {kept}" in text
    fresh = flat(info(restore=RestoreReport(kept, fresh=True)))
    assert "started fresh (--fresh)" in fresh


def test_no_restore_note_with_an_external_kafka() -> None:
    text = rendered(info(embedded_broker=False, bootstrap="kafka:9092"))
    for embedded_only in ("restore", "--fresh", "copy of the setup"):
        assert embedded_only not in text
    assert "external Kafka" in text


def test_walkthrough_follows_the_contract_with_the_seed_payload() -> None:
    script = walkthrough_script(info())
    steps = [
        '"$PORTAL/v1/workspaces"',
        '"$PORTAL/v1/sessions"',
        '"$PORTAL/v1/workspace/destinations"',
        '"$INGEST/v1/events"',
    ]
    positions = [script.index(step) for step in steps]
    assert positions == sorted(positions)
    assert "Bearer $OPERATOR_KEY" in script and "Bearer $TOKEN" in script
    assert "Bearer $PUBLISHABLE_KEY" in script
    assert json.dumps(SEED_PAYLOAD) in script
    assert '"secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"' in script
    assert '"url": "http://127.0.0.1:19000/hook"' in script
    assert "jq" not in script


def test_without_a_receiver_the_walkthrough_says_how_to_start_one() -> None:
    script = walkthrough_script(info(receiver_running=False))
    assert "signet listen --port 19000 --secret whsec_" in script


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_the_walkthrough_is_valid_shell_and_quotes_the_key(tmp_path: Path) -> None:
    script = tmp_path / "walkthrough.sh"
    script.write_text(walkthrough_script(info()))
    subprocess.run(["bash", "-n", str(script)], check=True)  # noqa: S603, S607
    # Only the variable assignments, evaluated for real: the quoted key survives intact.
    head = "\n".join(line for line in script.read_text().splitlines()[:4])
    out = subprocess.run(  # noqa: S603
        ["bash", "-c", head + '\nprintf %s "$OPERATOR_KEY"'],  # noqa: S607
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout == "sk_op_it's-a-key"

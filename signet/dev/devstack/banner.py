"""What ``signet up`` prints once everything is ready: URLs, the operator key, what was
restored from the previous run, a warning that this stack delivers to loopback over plain
http, and a curl walk-through.

The walk-through is plain text (no panel borders) so it survives copy and paste, and the
same script is saved as ``.signet/walkthrough.sh``. It needs only a POSIX shell, curl
and python3 (to read one field of a JSON answer; jq is not assumed).
"""

from __future__ import annotations

import json
import shlex
from typing import Any, Protocol
from urllib.parse import urlsplit

from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from signet.dev.devstack.info import (
    SEED_EVENT,
    SEED_PAYLOAD,
    SEED_RESOURCE,
    SEED_RESOURCE_ID,
    StackInfo,
)

DEV_WARNING = (
    "DEV STACK, NOT FOR PRODUCTION: the dispatcher delivers to loopback and private "
    "addresses over plain http (SIGNET_ALLOW_PRIVATE_DESTINATIONS=true, "
    "SIGNET_ALLOW_INSECURE_DESTINATIONS=true) so local receivers work."
)
KEPT_NOTE = (
    "The embedded broker keeps its topics in memory. `signet up` keeps a copy of the setup "
    "(workspaces, destinations, keys) in {path} and restores it on the next start; events "
    "and the delivery log start empty each time. `signet up --fresh` starts with nothing. "
    "Set SIGNET_KAFKA_BOOTSTRAP to use a real Kafka."
)


def _json(document: object) -> str:
    return shlex.quote(json.dumps(document))


def walkthrough_script(info: StackInfo) -> str:
    """A copy-paste shell session from a new workspace to a verified delivery."""
    destination = {
        "type": "webhook",
        "name": "local receiver",
        "url": info.receiver_url,
        "event_types": ["order.*"],
        "signature_scheme": "standard-webhooks",
        "secret": info.receiver_secret,
    }
    event = {
        "event": SEED_EVENT,
        "resource": SEED_RESOURCE,
        "resource_id": SEED_RESOURCE_ID,
        "payload": SEED_PAYLOAD,
    }
    if info.receiver_running:
        receiver_step = "#    (signet up runs it: its lines are prefixed `receiver |`)"
    else:
        receiver_step = (
            "#    Start it first, in another terminal:\n"
            f"#    signet listen --port {urlsplit(info.receiver_url).port} "
            f"--secret {info.receiver_secret}"
        )
    session_body = (
        '"{\\"workspace_id\\": \\"$WORKSPACE_ID\\", \\"role\\": \\"admin\\", '
        '\\"ttl_seconds\\": 3600, \\"allowed_origins\\": []}"'
    )
    return f"""\
# Signet walk-through: paste into a shell while `signet up` runs.
OPERATOR_KEY={shlex.quote(info.operator_key)}
PORTAL={shlex.quote(info.portal_url)}
INGEST={shlex.quote(info.ingest_url)}
json_field() {{ python3 -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }}

# 1. Create a workspace with the operator key; keep its id and publishable key.
WORKSPACE=$(curl -sS --fail-with-body -X POST "$PORTAL/v1/workspaces" \\
  -H "Authorization: Bearer $OPERATOR_KEY" -H 'Content-Type: application/json' \\
  -d {_json({"name": "Casterly", "environment": "development"})})
WORKSPACE_ID=$(printf '%s' "$WORKSPACE" | json_field id)
PUBLISHABLE_KEY=$(printf '%s' "$WORKSPACE" | json_field publishable_key)
echo "workspace $WORKSPACE_ID, publishable key $PUBLISHABLE_KEY"

# 2. Mint an embed session for that workspace; keep its token.
SESSION=$(curl -sS --fail-with-body -X POST "$PORTAL/v1/sessions" \\
  -H "Authorization: Bearer $OPERATOR_KEY" -H 'Content-Type: application/json' \\
  -d {session_body})
TOKEN=$(printf '%s' "$SESSION" | json_field token)
echo "session minted for $WORKSPACE_ID (token in \\$TOKEN)"

# 3. Register the local receiver as a webhook destination, signed with its own secret.
{receiver_step}
curl -sS --fail-with-body -X POST "$PORTAL/v1/workspace/destinations" \\
  -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \\
  -d {_json(destination)}
echo

# 4. Emit {SEED_EVENT} to ingest with the publishable key.
curl -sS --fail-with-body -X POST "$INGEST/v1/events" \\
  -H "Authorization: Bearer $PUBLISHABLE_KEY" -H 'Content-Type: application/json' \\
  -d {_json(event)}
echo

# 5. The receiver prints the delivery with "signature verified (standard-webhooks)".
"""


class Printer(Protocol):
    def print(self, *objects: Any, soft_wrap: bool | None = None) -> None: ...


def print_banner(out: Printer, info: StackInfo) -> None:
    """Print the banner: panels wrap to the terminal, the walk-through never wraps."""
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold")
    table.add_column()
    table.add_row("ingest", f"{info.ingest_url}  (POST /v1/events)")
    table.add_row("portal", f"{info.portal_url}  (operator API, /embed)")
    if info.embed_host_url is not None:
        table.add_row("example host", f"{info.embed_host_url}  (open it: your customer's view)")
    broker = "embedded Tansu, memory only" if info.embedded_broker else "external Kafka"
    table.add_row("broker", f"{info.bootstrap}  ({broker})")
    receiver = "" if info.receiver_running else "  (run `signet listen`)"
    table.add_row("receiver", f"{info.receiver_url}{receiver}")
    table.add_row("operator key", Text(info.operator_key, style="bold green"))
    table.add_row("receiver secret", info.receiver_secret)
    table.add_row("state", f"{info.state_dir}  (keys kept across restarts)")
    if info.restore is not None:
        table.add_row("setup", info.restore.describe())
    if info.broker_log is not None:
        table.add_row("broker log", str(info.broker_log))
    title = f"Signet is up: all ready in {info.ready_seconds:.1f}s"
    out.print(Panel(table, title=title, title_align="left", border_style="green"), soft_wrap=False)
    out.print(
        Panel(Text(DEV_WARNING, style="bold yellow"), border_style="bold red"), soft_wrap=False
    )
    if info.embedded_broker:
        kept = info.restore.path if info.restore else info.state_dir
        out.print(Text(KEPT_NOTE.format(path=kept), style="yellow"), soft_wrap=False)
    path = info.walkthrough_path
    saved = f" (saved as {path}: `bash {path}` runs it)" if path else ""
    out.print(Text(f"\nWalk-through{saved}:\n", style="bold"), soft_wrap=False)
    out.print(Text(walkthrough_script(info)), soft_wrap=True)
    out.print(Text("Ctrl-C stops everything (twice: kill at once).", style="bold"), soft_wrap=False)

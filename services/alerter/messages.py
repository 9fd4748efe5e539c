"""The Slack messages the alerter posts: Block Kit JSON for one alert and for a digest.

Everything a customer typed (workspace and destination names, errors their endpoint
caused) is escaped for mrkdwn and clipped to Block Kit's limits, so no name can break a
message or make Slack refuse it. Destinations are shown by name and URL host only: the
path and query of a webhook URL can hold credentials. Times are Slack date tokens (each
reader sees their own time zone) with a UTC fallback.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlsplit

from services.alerter.storm import Digest
from signet.records.model import Destination, Outcome, OutcomeStatus, WorkspaceConfig

# Block Kit limits (api.slack.com/reference/block-kit/blocks), with room to spare.
HEADER_MAX = 150
FIELD_MAX = 2000
SECTION_MAX = 3000
BUTTON_TEXT_MAX = 75
ERROR_SHOWN_MAX = 500
NAME_SHOWN_MAX = 80

Message = dict[str, Any]


@dataclass(slots=True, frozen=True)
class AlertScene:
    """Where an alert happened, as the customer knows it."""

    workspace_id: str
    workspace_name: str
    destination_id: str
    destination_name: str
    destination_host: str | None

    @classmethod
    def of(
        cls, config: WorkspaceConfig | None, workspace_id: str, destination_id: str, url: str | None
    ) -> AlertScene:
        """From the current snapshot; a deleted destination is named by its id."""
        destination: Destination | None = config.destination(destination_id) if config else None
        return cls(
            workspace_id=workspace_id,
            workspace_name=config.name if config else workspace_id,
            destination_id=destination_id,
            destination_name=destination.name if destination else destination_id,
            destination_host=url_host(destination.url if destination and destination.url else url),
        )


@dataclass(slots=True, frozen=True)
class EventLinks:
    """Links into the embed: ``{public_url}/embed#/events/<event_id>``."""

    public_url: str

    def event(self, event_id: str) -> str:
        return f"{self.public_url.rstrip('/')}/embed#/events/{quote(event_id, safe='')}"


def url_host(url: str | None) -> str | None:
    """``host[:port]`` of a URL, without credentials, path or query; None if it has none."""
    if not url:
        return None
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port
    except ValueError:
        return None
    if not host:
        return None
    host = f"[{host}]" if ":" in host else host
    return f"{host}:{port}" if port else host


def alert_message(outcome: Outcome, scene: AlertScene, links: EventLinks) -> Message:
    """One exhausted delivery or one disabled destination."""
    dest = _destination(scene)
    link = links.event(outcome.event_id)
    disabled = outcome.status == OutcomeStatus.DESTINATION_DISABLED
    last = _last_result(outcome)
    if disabled:
        title = f"Destination {scene.destination_name} disabled"
        summary = (
            f"Signet stopped delivering to {dest}: {_esc(last)}. Fix the endpoint, then "
            "enable the destination again in the workspace; failed deliveries can be replayed."
        )
        fallback = f"Signet: destination {scene.destination_name} disabled ({last})"
    else:
        title = f"Delivery to {scene.destination_name} failed for good"
        summary = (
            f"The *{_esc(_clip(outcome.event_type, NAME_SHOWN_MAX))}* event "
            f"`{_esc(_clip(outcome.event_id, NAME_SHOWN_MAX))}` could not be delivered to {dest} "
            f"after {_attempts(outcome.attempt)}. Signet will not retry it; replay it from the "
            "workspace once the endpoint is fixed."
        )
        fallback = (
            f"Signet: {outcome.event_type} {outcome.event_id} to {scene.destination_name} "
            f"exhausted after {_attempts(outcome.attempt)} ({last})"
        )
    first = outcome.attempted_at if outcome.attempt == 1 else None
    fields = [
        ("Workspace", _esc(_clip(scene.workspace_name, NAME_SHOWN_MAX))),
        ("Destination", dest),
        ("Event type", f"`{_esc(_clip(outcome.event_type, NAME_SHOWN_MAX))}`"),
        ("Event", f"<{link}|{_esc(outcome.event_id)}>"),
        ("Attempts", str(outcome.attempt)),
        ("Last result", _esc(_clip(last, ERROR_SHOWN_MAX))),
        # Outcomes do not record the first attempt's time; until they do, the event's
        # creation time stands in for it (the first attempt follows it within moments).
        ("First attempt", _date(first))
        if first
        else ("Event created", _date(outcome.event_created_at)),
        ("Last attempt", _date(outcome.attempted_at)),
    ]
    return _message(
        fallback,
        _header(("⛔ " if disabled else "🚨 ") + title),
        _section(_clip(summary, SECTION_MAX)),
        _fields(fields),
        _button("Open the event in Signet", link),
        _context(
            f"Signet · workspace `{scene.workspace_id}` · destination `{scene.destination_id}`"
        ),
    )


def digest_message(digest: Digest[Any], scene: AlertScene, links: EventLinks) -> Message:
    """The alerts folded during one storm window, counted by status."""
    dest = _destination(scene)
    by_status = digest.by_status
    noun = "delivery" if digest.count == 1 else "deliveries"
    if set(by_status) <= {OutcomeStatus.EXHAUSTED.value}:
        what = f"{digest.count} more {noun} to {dest} exhausted their retries"
        fallback_what = f"{digest.count} more {noun} to {scene.destination_name} exhausted"
    else:
        what = f"{digest.count} more {_plural(digest.count, 'alert')} for {dest}"
        fallback_what = (
            f"{digest.count} more {_plural(digest.count, 'alert')} for {scene.destination_name}"
        )
    since = _date(digest.first_at_ms)
    counts = "\n".join(
        f"{_status_label(status)}: *{count}*" for status, count in sorted(by_status.items())
    )
    examples = _example_links(digest.examples, digest.count, links)
    return _message(
        f"Signet: {fallback_what} since {_utc(digest.first_at_ms)}",
        _header(
            f"🚨 {digest.count} more {_plural(digest.count, 'alert')} for {scene.destination_name}"
        ),
        _section(
            _clip(
                f"{what} since {since}. Folded into this digest to keep the channel quiet.",
                SECTION_MAX,
            )
        ),
        _fields(
            [
                ("Workspace", _esc(_clip(scene.workspace_name, NAME_SHOWN_MAX))),
                ("Destination", dest),
                ("By status", counts),
                ("Examples", examples),
                ("First", since),
                ("Last", _date(digest.last_at_ms)),
            ]
        ),
        _context(
            f"Signet · workspace `{scene.workspace_id}` · destination `{scene.destination_id}`"
        ),
    )


# -- pieces ----------------------------------------------------------------------------


def _example_links(event_ids: tuple[str, ...], count: int, links: EventLinks) -> str:
    """One link per example while they fit in a field, then how many more there were."""
    lines: list[str] = []
    budget = FIELD_MAX - 100  # the label and the "…and N more" line
    for event_id in event_ids:
        line = f"<{links.event(event_id)}|{_esc(_clip(event_id, NAME_SHOWN_MAX))}>"
        if len(line) + 1 > budget:
            break
        budget -= len(line) + 1
        lines.append(line)
    if count > len(lines):
        lines.append(f"…and {count - len(lines)} more")
    return "\n".join(lines)


def _message(fallback: str, *blocks: dict[str, Any]) -> Message:
    # `text` is what notifications and screen readers show; blocks are what the channel shows.
    return {"text": _clip(fallback, SECTION_MAX), "blocks": list(blocks)}


def _header(text: str) -> dict[str, Any]:
    return {
        "type": "header",
        "text": {"type": "plain_text", "text": _clip(text, HEADER_MAX), "emoji": True},
    }


def _section(mrkdwn: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": mrkdwn}}


def _fields(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    return {
        "type": "section",
        "fields": [
            {"type": "mrkdwn", "text": _clip(f"*{label}*\n{value}", FIELD_MAX)}
            for label, value in pairs[:10]
        ],
    }


def _button(text: str, url: str) -> dict[str, Any]:
    return {
        "type": "actions",
        "elements": [
            {
                "type": "button",
                "text": {"type": "plain_text", "text": _clip(text, BUTTON_TEXT_MAX)},
                "url": url,
                "action_id": "signet-open-event",
            }
        ],
    }


def _context(mrkdwn: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": mrkdwn}]}


def _destination(scene: AlertScene) -> str:
    name = f"*{_esc(_clip(scene.destination_name, NAME_SHOWN_MAX))}*"
    return f"{name} (`{_esc(scene.destination_host)}`)" if scene.destination_host else name


def _last_result(outcome: Outcome) -> str:
    status, error = outcome.http_status, (outcome.error or "").strip()
    if status is None:
        return error or "no response"
    shown = f"HTTP {status}"
    return f"{shown} · {error}" if error and not error.startswith(shown) else (error or shown)


def _status_label(status: str) -> str:
    return status.replace("_", " ").capitalize()


def _attempts(count: int) -> str:
    return f"{count} {_plural(count, 'attempt')}"


def _plural(count: int, word: str) -> str:
    return word if count == 1 else f"{word}s"


def _date(epoch_ms: int) -> str:
    seconds = epoch_ms // 1000
    return f"<!date^{seconds}^{{date_short_pretty}} {{time_secs}}|{_utc(epoch_ms)}>"


def _utc(epoch_ms: int) -> str:
    return datetime.fromtimestamp(epoch_ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _esc(text: str) -> str:
    """mrkdwn control characters (Slack's escaping rules: only these three)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"

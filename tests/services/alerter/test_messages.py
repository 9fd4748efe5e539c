"""Block Kit messages, validated by parsing them back with slack_sdk's models."""

from __future__ import annotations

import json
from typing import Any

import pytest
from signet_sdk.ids import new_id
from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    HeaderBlock,
    SectionBlock,
)

from services.alerter.messages import (
    AlertScene,
    EventLinks,
    alert_message,
    digest_message,
    url_host,
)
from services.alerter.storm import Digest, Folded, StormKey
from signet.records.model import OutcomeStatus
from tests.services.alerter.records import outcome, webhook_destination, workspace

LINKS = EventLinks("https://signet.acme.test/")
MAX_BLOCKS = 50


def parse(message: dict[str, Any]) -> list[Block]:
    """Every block through slack_sdk: it must parse, pass its limits, and round-trip."""
    assert isinstance(message["text"], str) and message["text"]
    blocks = message["blocks"]
    assert 0 < len(blocks) <= MAX_BLOCKS
    json.dumps(message)  # plain JSON, nothing Python-only
    parsed = []
    for raw in blocks:
        block = Block.parse(raw)
        assert block is not None, raw
        block.validate_json()  # raises SlackObjectFormationError past a Block Kit limit
        assert block.to_dict() == raw
        parsed.append(block)
    for block in parsed:
        if isinstance(block, SectionBlock):
            assert block.text is not None or block.fields
            assert all(len(f.text or "") <= 2000 for f in block.fields or [])
    return parsed


def text_of(blocks: list[Block]) -> str:
    return json.dumps([b.to_dict() for b in blocks], ensure_ascii=False)


def scene_for(
    dst_url: str = "https://user:pw@api.acme.test:8443/hooks/x?token=s3cr3t",
) -> tuple[AlertScene, Any]:
    destination = webhook_destination(dst_url)
    config = workspace(new_id("ws"), [destination])
    return AlertScene.of(config, config.workspace_id, destination.id, None), destination


def test_exhausted_alert_says_what_where_and_when_and_links_to_the_event() -> None:
    scene, destination = scene_for()
    record = outcome(scene.workspace_id, destination, attempt=10, http_status=503, error="HTTP 503")
    blocks = parse(alert_message(record, scene, LINKS))

    header = blocks[0]
    assert isinstance(header, HeaderBlock) and header.text is not None
    assert "Orders API" in (header.text.text or "")
    body = text_of(blocks)
    for expected in (
        "Acme Corp",
        "Orders API",
        "api.acme.test:8443",
        "order.completed",
        record.event_id,
        "*Attempts*\\n10",
        "HTTP 503",
        f"<!date^{record.attempted_at // 1000}^",
        f"<!date^{record.event_created_at // 1000}^",
        scene.workspace_id,
        destination.id,
    ):
        assert expected in body, expected
    # The host only: never credentials, path or query of the destination URL.
    for secret in ("s3cr3t", "user:pw", "/hooks/x", "token="):
        assert secret not in body
    (button,) = next(b for b in blocks if isinstance(b, ActionsBlock)).elements
    assert isinstance(button, ButtonElement)
    assert button.url == f"https://signet.acme.test/embed#/events/{record.event_id}"


def test_the_first_attempts_time_is_shown_when_the_outcome_knows_it() -> None:
    scene, destination = scene_for()
    record = outcome(scene.workspace_id, destination, attempt=1)
    body = text_of(parse(alert_message(record, scene, LINKS)))
    assert "*First attempt*" in body and "*Event created*" not in body


def test_disabled_destination_alert_gives_the_reason() -> None:
    scene, destination = scene_for()
    record = outcome(
        scene.workspace_id,
        destination,
        status=OutcomeStatus.DESTINATION_DISABLED,
        http_status=410,
        error="HTTP 410: the receiver asked to stop deliveries",
    )
    message = alert_message(record, scene, LINKS)
    blocks = parse(message)
    assert "disabled" in message["text"]
    header = blocks[0]
    assert isinstance(header, HeaderBlock) and header.text is not None
    assert "disabled" in (header.text.text or "")
    assert "HTTP 410: the receiver asked to stop deliveries" in text_of(blocks)


def test_network_errors_are_shown_when_there_was_no_http_status() -> None:
    scene, destination = scene_for()
    record = outcome(
        scene.workspace_id, destination, http_status=None, error="timed out waiting (limit 15s)"
    )
    assert "timed out waiting (limit 15s)" in text_of(parse(alert_message(record, scene, LINKS)))


def test_customer_text_is_escaped_and_clipped_to_block_kit_limits() -> None:
    long_name = "<!channel> & " + "x" * 500
    destination = webhook_destination(name=long_name)
    config = workspace(new_id("ws"), [destination], name="<@U123> " + "y" * 500)
    scene = AlertScene.of(config, config.workspace_id, destination.id, None)
    record = outcome(config.workspace_id, destination, error="<script>" + "e" * 5000)
    blocks = parse(alert_message(record, scene, LINKS))  # within every limit
    assert isinstance(blocks[-1], ContextBlock)
    body = text_of(blocks[1:])  # past the header: plain_text needs no escaping
    assert "<!channel>" not in body and "<@U123>" not in body and "<script>" not in body
    assert "&lt;!channel&gt; &amp; " in body


def test_a_deleted_destination_is_named_by_its_id_and_the_outcomes_url_host() -> None:
    config = workspace(new_id("ws"), [])
    destination = webhook_destination("https://gone.acme.test/x?key=1")
    record = outcome(config.workspace_id, destination)
    scene = AlertScene.of(config, config.workspace_id, destination.id, record.url)
    body = text_of(parse(alert_message(record, scene, LINKS)))
    assert destination.id in body and "gone.acme.test" in body and "key=1" not in body


def test_digest_counts_by_status_and_lists_a_few_examples() -> None:
    scene, _ = scene_for()
    folded = tuple(
        Folded(
            OutcomeStatus.EXHAUSTED.value if i < 11 else OutcomeStatus.DESTINATION_DISABLED.value,
            f"evt_{i:02d}",
            1_700_000_000_000 + i * 1000,
            None,
        )
        for i in range(12)
    )
    digest: Digest[None] = Digest(StormKey(scene.workspace_id, scene.destination_id), folded, 5)
    message = digest_message(digest, scene, LINKS)
    blocks = parse(message)
    body = text_of(blocks)
    assert "12 more" in message["text"] and "12 more" in body
    assert "Exhausted: *11*" in body and "Destination disabled: *1*" in body
    for i in range(5):
        assert f"embed#/events/evt_{i:02d}|evt_{i:02d}>" in body
    assert "evt_05" not in body and "and 7 more" in body
    assert "<!date^1700000000^" in body and "<!date^1700000011^" in body


def test_digest_of_only_exhausted_deliveries_says_so() -> None:
    scene, _ = scene_for()
    folded = tuple(Folded("exhausted", f"evt_{i}", 1_700_000_000_000, None) for i in range(5))
    message = digest_message(Digest(StormKey("ws", "dst"), folded, 5), scene, LINKS)
    parse(message)
    assert "5 more deliveries to Orders API exhausted" in message["text"]


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("https://hooks.slack.com/services/T/B/secret", "hooks.slack.com"),
        ("https://u:p@example.com:8443/p?q=1", "example.com:8443"),
        ("http://[::1]:9000/x", "[::1]:9000"),
        ("not a url", None),
        (None, None),
        ("https://[bad/x", None),
    ],
)
def test_url_host_keeps_host_and_port_only(url: str | None, host: str | None) -> None:
    assert url_host(url) == host


def test_event_links_escape_the_event_id() -> None:
    assert EventLinks("http://x/").event("evt_1/../a") == "http://x/embed#/events/evt_1%2F..%2Fa"


def test_digest_examples_stay_within_a_field_even_with_huge_event_ids() -> None:
    scene, _ = scene_for()
    folded = tuple(Folded("exhausted", "evt_" + "é" * 600 + str(i), 0, None) for i in range(5))
    message = digest_message(Digest(StormKey("ws", "dst"), folded, 5), scene, LINKS)
    body = text_of(parse(message))  # parse checks every field is within 2000 characters
    assert "more" in body

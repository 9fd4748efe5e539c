"""A destination's ``ordering``: read, stored, patched, shown; a FIFO destination whose
retries could outlive the topics' retention is refused (services/portal/ordering.py)."""

from __future__ import annotations

import dataclasses
from typing import Any

import fastavro
import pytest
from signet_sdk.contract.fields import FieldErrors

from services.portal.ordering import FIFO_MAX_RETRY_SPAN_SECONDS, retry_span_seconds
from services.portal.views import destination_view
from signet.records import codec
from signet.records.codec import DEFAULT_SCHEMA_DIR
from signet.records.model import Destination, RetryPolicy, WorkspaceCommand, WorkspaceConfig
from tests.services.portal.destination_bodies import create, patch, webhook


def refusal(call: Any) -> dict[str, tuple[str, str]]:
    with pytest.raises(FieldErrors) as caught:
        call()
    return {e.field: (e.code.value, e.message) for e in caught.value.errors}


def test_ordering_defaults_to_none_and_fifo_is_stored_and_shown() -> None:
    assert create(webhook()).destination.ordering == "none"
    fifo = create(webhook(ordering="fifo")).destination
    assert fifo.ordering == "fifo"
    assert destination_view(fifo).model_dump(mode="json")["ordering"] == "fifo"


def test_an_unknown_ordering_is_a_choice_error() -> None:
    errors = refusal(lambda: create(webhook(ordering="lifo")))
    assert errors["ordering"][0] == "choice"


def test_slack_channels_have_no_ordering() -> None:
    slack = {"type": "slack", "name": "A", "ordering": "fifo"}
    slack["webhook_url"] = "https://hooks.slack.com/services/T000/B000/XXXXXXXXXXXXXXXXXXXXXXXX"
    assert "ordering" in refusal(lambda: create(slack))


def test_the_default_schedule_fits_inside_the_retention() -> None:
    # 5 s … 12 h, 12 h: about 35 hours, 42 with the largest jitter.
    assert 30 * 3600 < retry_span_seconds(None) < FIFO_MAX_RETRY_SPAN_SECONDS


def test_a_fifo_destination_whose_retries_outlive_the_topics_is_refused() -> None:
    long = {"max_attempts": 50}  # the default delays, 12 h repeated: ~20 days
    code, message = refusal(lambda: create(webhook(ordering="fifo", retry_policy=long)))[
        "retry_policy"
    ]
    assert code == "invalid" and "84 hours" in message
    # The same policy is fine without ordering, and with an age limit that ends it in time.
    assert create(webhook(retry_policy=long)).destination.ordering == "none"
    bounded = {"max_attempts": 50, "max_age_seconds": 2 * 24 * 3600}
    assert create(webhook(ordering="fifo", retry_policy=bounded)).destination.ordering == "fifo"


def test_a_patch_is_judged_with_the_stored_fields() -> None:
    long = create(webhook(retry_policy={"max_attempts": 50})).destination
    assert "retry_policy" in refusal(lambda: patch(long, {"ordering": "fifo"}))
    fifo = create(webhook(ordering="fifo")).destination
    assert "retry_policy" in refusal(lambda: patch(fifo, {"retry_policy": {"max_attempts": 50}}))
    assert patch(fifo, {"ordering": "none"}).ordering == "none"
    assert patch(fifo, {"name": "B"}).ordering == "fifo"  # kept when not named


def test_null_ordering_is_refused_on_patch() -> None:
    fifo = create(webhook(ordering="fifo")).destination
    assert refusal(lambda: patch(fifo, {"ordering": None}))["ordering"][0] == "required"


def _before_ordering(destination: Destination) -> dict[str, Any]:
    fields = dataclasses.asdict(destination)
    del fields["ordering"]
    return fields


def test_config_and_commands_written_before_ordering_still_decode() -> None:
    destination = dataclasses.replace(
        create(webhook(retry_policy={"max_attempts": 3})).destination,
        rate_limit_per_second=2.0,
    )
    assert destination.retry_policy == RetryPolicy(max_attempts=3)
    config = WorkspaceConfig("ws_1", 4, "Shop", "production", 1, 6, [], [destination], ["c"])
    old_config = codec.default_codec().encode_with(
        _history("signet.WorkspaceConfig.v3.avsc"),
        dataclasses.asdict(config) | {"destinations": [_before_ordering(destination)]},
    )
    assert codec.decode(old_config, WorkspaceConfig) == config  # ordering reads as "none"
    command = WorkspaceCommand("cmd_2", "ws_1", "put_destination", 6, destination=destination)
    old_command = codec.default_codec().encode_with(
        _history("signet.WorkspaceCommand.v4.avsc"),
        dataclasses.asdict(command) | {"destination": _before_ordering(destination)},
    )
    assert codec.decode(old_command, WorkspaceCommand) == command
    fifo = dataclasses.replace(destination, ordering="fifo")
    again = codec.decode(
        codec.encode(dataclasses.replace(config, destinations=[fifo])), WorkspaceConfig
    )
    assert again.destinations == [fifo]


def _history(file_name: str) -> Any:
    return fastavro.schema.load_schema(str(DEFAULT_SCHEMA_DIR / "history" / file_name))

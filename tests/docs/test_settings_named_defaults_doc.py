"""Wherever a doc states a setting's default beside its name, it is the code's.

The forms read, and whose setting a stated default is judged against, are those of
``tests/docs/named_defaults.py``; a value after a name that no form reads fails here
instead of going unchecked. Every mismatch is reported, with its file and line.
"""

from __future__ import annotations

from tests.docs.doc_text import Document, document, documents
from tests.docs.named_defaults import VALUE_AFTER, describe, stated_defaults, whose
from tests.docs.settings_index import settings_named, states_default


def test_every_default_stated_with_a_setting_s_name_is_the_code_s() -> None:
    wrong: list[str] = []
    read = 0
    for doc in documents():
        for stated in stated_defaults(doc):
            read += 1
            candidates = whose(stated)
            if not candidates:
                wrong.append(f"{stated.where}: {stated.env} has no default: not a setting")
                continue
            # One line per distinct default: a common setting is in every class.
            differing = {
                repr(s.default): s for s in candidates if not states_default(s, stated.value)
            }
            for setting in differing.values():
                wrong.append(
                    f"{stated.where}: {stated.env} stated {stated.value!r}, "
                    f"code: {describe(setting)}"
                )
    assert read >= 40, f"only {read} stated defaults read: has the parser stopped matching?"
    assert not wrong, "defaults the docs state that are not the code's:\n" + "\n".join(wrong)


def test_every_value_written_after_a_setting_s_name_is_read() -> None:
    """A value after a name the parser cannot read (a new unit, a new phrasing) fails
    here instead of going unchecked."""
    unread: list[str] = []
    for doc in documents():
        parsed = {(s.offset, s.env) for s in stated_defaults(doc)}
        for found in VALUE_AFTER.finditer(doc.prose):
            if (found.start(), found["env"]) not in parsed:
                unread.append(f"{doc.where(found.start())}: {found.group(0)!r}")
    assert not unread, "a value after a setting's name that is not read:\n" + "\n".join(unread)


def test_the_parser_reads_each_form_the_docs_use() -> None:
    """One example of each form, as the docs write it, read to the value the docs mean."""
    doc = Document(
        document("docs/operations.md").path,
        "| setting | default | what it does |\n|---|---|---|\n"
        "| `SIGNET_KAFKA_FATAL_GRACE_SECONDS` | 60 | how long |\n\n"
        "`SIGNET_DISABLE_AFTER_FAILING_SECONDS`\n(5 days) and `SIGNET_RETRY_HOLD_CAPACITY`\n"
        "(10,000), `SIGNET_FETCH_WAIT_MAX_MS`, 20 ms by\ndefault; (`SIGNET_EVENT_LOOP`, "
        "default `uvloop`) (`SIGNET_TOPIC_PREFIX`, `signet.` by default) "
        "`SIGNET_CONSUMER_SESSION_TIMEOUT_SECONDS`,\n10 s for the dispatcher; "
        "200 000 keys (`SIGNET_IDEMPOTENCY_CACHE_SIZE`; 4 MiB ahead\n"
        "(`SIGNET_CONSUMER_PREFETCH_KBYTES`; 8082 (`SIGNET_METRICS_PORT`)\n",
    )
    read = {(s.env, s.value) for s in stated_defaults(doc)}
    assert read == {
        ("SIGNET_KAFKA_FATAL_GRACE_SECONDS", "60"),
        ("SIGNET_DISABLE_AFTER_FAILING_SECONDS", "5 days"),
        ("SIGNET_RETRY_HOLD_CAPACITY", "10,000"),
        ("SIGNET_FETCH_WAIT_MAX_MS", "20 ms"),
        ("SIGNET_EVENT_LOOP", "uvloop"),
        ("SIGNET_TOPIC_PREFIX", "signet."),
        ("SIGNET_CONSUMER_SESSION_TIMEOUT_SECONDS", "10 s"),
        ("SIGNET_IDEMPOTENCY_CACHE_SIZE", "200 000"),
        ("SIGNET_CONSUMER_PREFETCH_KBYTES", "4 MiB"),
        ("SIGNET_METRICS_PORT", "8082"),
    }, read
    # …and judged as meant: units converted, a wrong unit or number refused.
    grace = settings_named("SIGNET_KAFKA_FATAL_GRACE_SECONDS")[0]
    assert states_default(grace, "60") and states_default(grace, "1 min")
    assert not states_default(grace, "60 ms") and not states_default(grace, "61")
    prefetch = settings_named("SIGNET_CONSUMER_PREFETCH_KBYTES")[0]
    assert states_default(prefetch, "4 MiB") and not states_default(prefetch, "4 KiB")
    loop = settings_named("SIGNET_EVENT_LOOP")[0]
    assert states_default(loop, "`uvloop`") and not states_default(loop, "asyncio")
    insecure = settings_named("SIGNET_ALLOW_INSECURE_DESTINATIONS")[0]
    assert states_default(insecure, "`false`") and not states_default(insecure, "true")
    mechanism = settings_named("SIGNET_KAFKA_SASL_MECHANISM")[0]  # None: unset
    assert states_default(mechanism, "unset") and states_default(mechanism, "empty")
    assert not states_default(mechanism, "PLAIN")

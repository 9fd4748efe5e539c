"""The settings README.md and docs/*.md name, and the defaults they state, are the code's.

- Every ``SIGNET_*`` name anywhere in the docs is a field of a settings class in
  ``signet/settings.py``, a name some code reads from the environment itself, or a
  placeholder a command's help shows (``tests/docs/settings_index.py`` collects all three
  from the code).
- Wherever a doc states a setting's default, it is the code's. The forms the docs use are
  read wherever they appear: a settings table's ``default`` column
  (``| `SIGNET_X` | 5 | … |``), the value after the name (```SIGNET_X` (5 s)``,
  ```SIGNET_X`, 20 ms by default``, ```SIGNET_X`, default `uvloop```) and the value
  before it (``8082 (`SIGNET_METRICS_PORT`)``, ``a 20 ms wait (`SIGNET_FETCH_WAIT_MAX_MS`)``).
  A name shared by several processes is judged against the processes its table row,
  paragraph or section names (or the document's opening sentence, when it names one),
  else against every process that has it. Defaults stated without the
  setting's name ("5 s to connect") are listed in :data:`STATED`, each with the code it
  states; a line that speaks of a default with a number in it must be read by one of
  these, or be in :data:`NOT_OURS` with the reason.
- A settings table describes each setting in words of its own name.

Every mismatch is reported, with its file and line.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from pydantic_settings import BaseSettings
from signet_sdk.signing.base import DEFAULT_TOLERANCE_SECONDS

from services.dispatcher.consumer import DeliveryConsumer
from services.dispatcher.limits import SLOW_SECONDS, STUCK_SECONDS
from services.dispatcher.schedule import Step, release_at, step_at_release, tier_for
from services.portal.rotation import DEFAULT_OVERLAP_SECONDS
from services.router.apply import APPLIED_COMMANDS_KEPT
from signet.kafka.compacted_view import FETCH_WAIT_MAX_MS as CONFIG_VIEW_FETCH_WAIT_MAX_MS
from signet.kafka.topics import RETRY_TIERS_SECONDS, tier_label
from signet.runner import GC_THRESHOLDS
from signet.settings import (
    DEFAULT_RETRY_DELAYS_SECONDS,
    AlerterSettings,
    DevStackSettings,
    DispatcherSettings,
    IngestSettings,
    PortalSettings,
    RouterSettings,
)
from tests.docs.doc_text import (
    INLINE_CODE,
    NUMBER,
    QUANTITY,
    Document,
    Quantity,
    document,
    documents,
    quantity,
    same,
)
from tests.docs.settings_index import (
    ENV_NAME,
    FIELD_UNITS,
    Setting,
    code_defaults,
    names_read_directly,
    numeric_default,
    placeholder_names,
    process_words,
    settings,
    settings_classes,
    settings_named,
    states_default,
)

NAMED = r"`(?P<env>SIGNET_[A-Z0-9_]+)`"
# The value after the name: "(5 s)", ", 5 s)", "(2048, the same…", ", 20 ms by default",
# ", 10 s for the dispatcher", ", default `uvloop`", ", `signet.` by default".
AFTER = re.compile(
    NAMED
    + r"\s*(?:\(|,|\s+defaults\s+to)\s*(?:"
    + rf"(?:default\s+)?(?P<quantity>{QUANTITY})(?=\s*[),;]|\s+by\s+default|\s+for\s)"
    + r"|default\s+`(?P<literal>[^`\n]*)`"
    + r"|`(?P<by_default>[^`\n]*)`\s+by\s+default)"
)
# The value before the name: "8082 (`SIGNET_METRICS_PORT`)", "4 MiB ahead\n(`SIGNET_…`;".
BEFORE = re.compile(rf"(?P<quantity>{QUANTITY})(?:[ \t]+[a-z]+)?\s*\(\s*{NAMED}\s*[);]")
# Where a paragraph ends: a blank line, a list item, a table row.
PARAGRAPH = re.compile(r"\n(?=\s*\n|\s*(?:[-*+]|\d+\.)\s|\s*\|)")
# What looks like a value after a name: every such place must be read by AFTER.
VALUE_AFTER = re.compile(NAMED + rf"\s*[(,]\s*(?:default\b|{NUMBER})")


@dataclass(slots=True, frozen=True)
class StatedDefault:
    """A default a doc states for a named setting, and where."""

    doc: Document
    offset: int
    env: str
    value: str

    @property
    def where(self) -> str:
        return self.doc.where(self.offset)

    def contexts(self) -> list[str]:
        """What may say whose setting this is, nearest first: the table row it sits in
        or its paragraph (a list item is one), its section's heading, and the document's
        opening sentence when that names one process ("How the dispatcher …")."""
        doc, found = self.doc, []
        line = doc.line_text(doc.line(self.offset))
        if line.lstrip().startswith("|"):
            found.append(line.strip().strip("|").split("|")[0])
        else:
            starts = [m.end() for m in PARAGRAPH.finditer(doc.prose, 0, self.offset)]
            start = starts[-1] if starts else 0
            end = PARAGRAPH.search(doc.prose, self.offset)
            found.append(doc.prose[start : end.start() if end else None])
        found.append(doc.heading_at(self.offset))
        opening = [*doc.prose.split("\n\n"), ""][1].split(". ")[0]
        if len([c for c in settings_classes() if names_process(opening, c)]) == 1:
            found.append(opening)
        return found


def stated_defaults(doc: Document) -> Iterator[StatedDefault]:
    prose = doc.prose
    for found in AFTER.finditer(prose):
        value = found["quantity"] or found["literal"] or found["by_default"] or ""
        yield StatedDefault(doc, found.start(), found["env"], value)
    for found in BEFORE.finditer(prose):
        yield StatedDefault(doc, found.start("env") - 1, found["env"], found["quantity"])
    for table in doc.tables():
        column = table.column("default")
        if column is None:
            continue
        for row in table.rows:
            named = re.fullmatch(NAMED, row.cells[0])
            if named and column < len(row.cells):
                offset = prose.index(row.cells[0], doc.offset_of_line(row.line))
                yield StatedDefault(doc, offset, named["env"], row.cells[column])


def names_process(text: str, cls: type[BaseSettings]) -> bool:
    return any(re.search(rf"\b{re.escape(w)}\b", text.lower()) for w in process_words(cls))


def whose(stated: StatedDefault) -> list[Setting]:
    """The settings a stated default speaks of: those of the processes its nearest
    context names (:meth:`StatedDefault.contexts`), else every process that has it."""
    candidates = settings_named(stated.env)
    for context in stated.contexts():
        named = [s for s in candidates if names_process(context, s.owner)]
        if named:
            return named
    return candidates


def describe(setting: Setting) -> str:
    value = setting.default
    unit = next((suffix for suffix in FIELD_UNITS if setting.field.endswith(suffix)), "")
    return f"{setting} = {value!r}{' (' + unit.lstrip('_') + ')' if unit else ''}"


# -- 1. names -------------------------------------------------------------------------------


def test_every_signet_name_in_the_docs_is_one_the_code_reads() -> None:
    known = {s.env for s in settings()} | names_read_directly() | placeholder_names()
    unknown = [
        f"{doc.where(found.start())}: {found.group(0)}"
        for doc in documents()
        for found in ENV_NAME.finditer(doc.text)
        if found.group(0) not in known
    ]
    assert not unknown, "not a setting nor a name the code reads:\n" + "\n".join(unknown)


def test_the_code_s_names_are_collected() -> None:
    """The collectors find what they are for, so an empty set cannot pass the test above."""
    assert "SIGNET_LISTEN_SECRET" in names_read_directly()  # signet/cli.py, through a constant
    assert "SIGNET_NAME" in placeholder_names()  # bench's --set metavar
    envs = {s.env for s in settings()}
    assert {"SIGNET_KAFKA_BOOTSTRAP", "SIGNET_MAX_IN_FLIGHT", "SIGNET_WEB_PORT"} <= envs


# -- 2. defaults stated with the setting's name -----------------------------------------


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


# -- 3. defaults stated without the setting's name --------------------------------------


def default(cls: type[BaseSettings], field: str) -> object:
    return code_defaults(cls)[field]


@dataclass(slots=True, frozen=True)
class Stated:
    """A phrase of ``doc`` stating, in its groups, values of the code.

    Each group is a quantity ("5 s", "4 KiB", "11", "five") compared in base units
    (seconds, bytes, counts) with the matching entry of ``code``, or text compared as
    it is when the code gives a string. ``about``: the doc rounds ("about 35 hours"),
    so a relative difference up to this is right."""

    doc: str
    pattern: str
    code: Callable[[], tuple[float | str, ...]]
    about: float = 0.0


def port_row(service: str, cls: type[BaseSettings], field: str) -> Stated:
    return Stated(
        "README.md",
        rf"\| `services/{service}` \|[^|\n]*\| (\d+)(?: \(health\))? \|",
        lambda: (numeric_default(cls, field),),
    )


STATED: tuple[Stated, ...] = (
    # docs/delivery.md
    Stated(
        "docs/delivery.md",
        r"Timeouts: (\d+ s) to connect, (\d+ s) in total per attempt by default",
        lambda: (
            numeric_default(DispatcherSettings, "connect_timeout_seconds"),
            numeric_default(DispatcherSettings, "request_timeout_seconds"),
        ),
    ),
    Stated(
        "docs/delivery.md",
        r"The first (\d+ KiB) of the response body",
        lambda: (numeric_default(DispatcherSettings, "response_excerpt_bytes"),),
    ),
    Stated(
        "docs/delivery.md",
        r"attempt `max_attempts` \((\d+) by default\)",
        lambda: (1 + len(DEFAULT_RETRY_DELAYS_SECONDS),),
    ),
    Stated(
        "docs/delivery.md",
        r"So (\d+) attempts over about (\d+ hours)",
        lambda: (1 + len(DEFAULT_RETRY_DELAYS_SECONDS), float(sum(DEFAULT_RETRY_DELAYS_SECONDS))),
        about=0.05,
    ),
    Stated(
        "docs/delivery.md",
        r"\(about (\d+ hours) by default",
        lambda: (float(sum(DEFAULT_RETRY_DELAYS_SECONDS)),),
        about=0.05,
    ),
    Stated(
        "docs/delivery.md",
        r"one poll batch \((\d+)\) per\s+partition",
        lambda: (inspect.signature(DeliveryConsumer.__init__).parameters["batch_size"].default,),
    ),
    Stated(
        "docs/delivery.md",
        r"window — ([\d,]+) retries per second per partition by default",
        lambda: (
            numeric_default(DispatcherSettings, "retry_hold_capacity") / RETRY_TIERS_SECONDS[0],
        ),
    ),
    Stated(
        "docs/delivery.md",
        r"due after the platform schedule's first delay \((\d+ s) ±(\d+ %)\)",
        lambda: (
            float(DEFAULT_RETRY_DELAYS_SECONDS[0]),
            numeric_default(DispatcherSettings, "retry_jitter"),
        ),
    ),
    Stated(
        "docs/delivery.md",
        r"a request running longer than (\d+ s) raises it",
        lambda: (STUCK_SECONDS,),
    ),
    Stated(
        "docs/delivery.md",
        r"\*\*Answer fast\*\* \(well within (\d+ s)\)",
        lambda: (numeric_default(DispatcherSettings, "request_timeout_seconds"),),
    ),
    # docs/workspace-api.md (not edited here: its owner fixes what fails)
    Stated(
        "docs/workspace-api.md",
        r"`overlap_seconds` \(0\u2013\d+, default\s+(\d+)\)",
        lambda: (float(DEFAULT_OVERLAP_SECONDS),),
    ),
    Stated(
        "docs/workspace-api.md",
        r"an empty body generates a secret with a (\d+ h) overlap",
        lambda: (float(DEFAULT_OVERLAP_SECONDS),),
    ),
    # docs/receiving-webhooks.md
    Stated(
        "docs/receiving-webhooks.md",
        r"within the destination's timeout \((\d+ s) by default\)",
        lambda: (numeric_default(DispatcherSettings, "request_timeout_seconds"),),
    ),
    Stated(
        "docs/receiving-webhooks.md",
        r"for the\s+overlap you chose \((\d+ h) by default\)",
        lambda: (float(DEFAULT_OVERLAP_SECONDS),),
    ),
    Stated(
        "docs/receiving-webhooks.md",
        r"timestamp is more than \*\*(\d+ minutes)\*\* from your clock",
        lambda: (float(DEFAULT_TOLERANCE_SECONDS),),
    ),
    Stated(
        "docs/receiving-webhooks.md",
        r"as long as retries run: about (\d+ hours) on\s+the default schedule",
        lambda: (float(sum(DEFAULT_RETRY_DELAYS_SECONDS)),),
        about=0.05,
    ),
    # docs/operations.md
    Stated(
        "docs/operations.md",
        r"\| ingest \| `python -m services\.ingest` \| (\d+) `http`",
        lambda: (numeric_default(IngestSettings, "port"),),
    ),
    Stated(
        "docs/operations.md",
        r"\| portal \| `python -m services\.portal` \| (\d+) `http`",
        lambda: (numeric_default(PortalSettings, "port"),),
    ),
    Stated(
        "docs/operations.md",
        r"\| router \| `python -m services\.router` \| (\d+) `metrics`",
        lambda: (numeric_default(RouterSettings, "web_port"),),
    ),
    Stated(
        "docs/operations.md",
        r"\| dispatcher \| `python -m services\.dispatcher` \| (\d+) `metrics`",
        lambda: (numeric_default(DispatcherSettings, "metrics_port"),),
    ),
    Stated(
        "docs/operations.md",
        r"\| alerter \| `python -m services\.alerter` \| (\d+) `metrics`",
        lambda: (numeric_default(AlerterSettings, "metrics_port"),),
    ),
    Stated(
        "docs/operations.md",
        r"\((\d+)\) requests open, (\d+) per destination; throughput ≈ in-flight ÷ mean "
        r"latency \((\d+) ÷",
        lambda: (
            numeric_default(DispatcherSettings, "max_in_flight"),
            numeric_default(DispatcherSettings, "max_in_flight_per_destination"),
            numeric_default(DispatcherSettings, "max_in_flight"),
        ),
    ),
    Stated(
        "docs/operations.md",
        r"\(`SIGNET_FETCH_WAIT_MAX_MS`\), the config views with (\d+ ms)",
        lambda: (CONFIG_VIEW_FETCH_WAIT_MAX_MS / 1000,),
    ),
    Stated(
        "docs/operations.md",
        r"`SIGNET_LOG_CONSUMER_GROUP`\): `([\w.-]+)` \(deliveries and every retry tier\),\s+"
        r"`([\w.-]+)` \(outcomes\), `([\w.-]+)` \(deliveries and outcomes\) and the router's\s+"
        r"Faust group `([\w.-]+)`",
        lambda: (
            str(default(DispatcherSettings, "consumer_group")),
            str(default(AlerterSettings, "consumer_group")),
            str(default(PortalSettings, "log_consumer_group")),
            f"{default(RouterSettings, 'topic_prefix')}router",  # services/router/streams.py
        ),
    ),
    Stated(
        "docs/operations.md",
        r"`signet up` runs every service on its default port \((\d+), (\d+), (\d+), (\d+), "
        r"(\d+)",
        lambda: (
            numeric_default(DevStackSettings, "ingest_port"),
            numeric_default(DevStackSettings, "portal_port"),
            numeric_default(DevStackSettings, "dispatcher_metrics_port"),
            numeric_default(DevStackSettings, "alerter_metrics_port"),
            numeric_default(DevStackSettings, "router_web_port"),
        ),
    ),
    Stated(
        "docs/operations.md",
        r"polling of its (\d+) partitions \(deliveries and (\w+)\s+retry tiers, (\d+) each\)",
        lambda: (
            numeric_default(DispatcherSettings, "deliveries_partitions")
            * (1 + len(RETRY_TIERS_SECONDS)),
            len(RETRY_TIERS_SECONDS),
            numeric_default(DispatcherSettings, "deliveries_partitions"),
        ),
    ),
    Stated(
        "docs/operations.md",
        r"circuit breaker opens after (\w+) failures",
        lambda: (numeric_default(DispatcherSettings, "breaker_failure_threshold"),),
    ),
    Stated(
        "docs/operations.md",
        r"the\s+(\d+-minute) storm window",
        lambda: (numeric_default(AlerterSettings, "storm_window_seconds"),),
    ),
    # README.md: the services table's port column
    *(
        port_row(service, cls, field)
        for service, cls, field in (
            ("ingest", IngestSettings, "port"),
            ("router", RouterSettings, "web_port"),
            ("dispatcher", DispatcherSettings, "metrics_port"),
            ("portal", PortalSettings, "port"),
            ("alerter", AlerterSettings, "metrics_port"),
        )
    ),
    # docs/getting-started.md: the dev stack's ports
    Stated(
        "docs/getting-started.md",
        r"Port (\d+) or (\d+) taken\?",
        lambda: (
            numeric_default(DevStackSettings, "ingest_port"),
            numeric_default(DevStackSettings, "portal_port"),
        ),
    ),
    Stated(
        "docs/getting-started.md",
        r"`port (\d+) \(ingest port\) is taken`",
        lambda: (numeric_default(DevStackSettings, "ingest_port"),),
    ),
    # docs/benchmarks.md: the defaults the figures were measured at
    Stated(
        "docs/benchmarks.md",
        r"at the dispatcher's per-destination concurrency \((\d+)\)",
        lambda: (numeric_default(DispatcherSettings, "max_in_flight_per_destination"),),
    ),
    Stated(
        "docs/benchmarks.md",
        r"waiting for the destination's (\d+) slots",
        lambda: (numeric_default(DispatcherSettings, "max_in_flight_per_destination"),),
    ),
    Stated(
        "docs/benchmarks.md",
        r"The config views wait (\d+ ms)\s+instead",
        lambda: (CONFIG_VIEW_FETCH_WAIT_MAX_MS / 1000,),
    ),
    Stated(
        "docs/benchmarks.md",
        r"collect every ([\d ,]+?)\s+allocations",
        lambda: (float(GC_THRESHOLDS[0]),),
    ),
    Stated(
        "docs/benchmarks.md",
        r"without the (\d+) tier partitions",
        lambda: (
            numeric_default(DispatcherSettings, "deliveries_partitions") * len(RETRY_TIERS_SECONDS),
        ),
    ),
    # docs/architecture.md
    Stated(
        "docs/architecture.md",
        r"an in-memory cache \((\d+ h), bounded\)",
        lambda: (numeric_default(IngestSettings, "idempotency_ttl_seconds"),),
    ),
    Stated(
        "docs/architecture.md",
        r"the snapshot keeps the last (\d+) ids in `applied_commands`",
        lambda: (float(APPLIED_COMMANDS_KEPT),),
    ),
    Stated(
        "docs/architecture.md",
        r"its requests take `SLOW_SECONDS`, (\d+ s), or more",
        lambda: (SLOW_SECONDS,),
    ),
    Stated(
        "docs/architecture.md",
        r"`SIGNET_FETCH_WAIT_MAX_MS` \(\d+ ms\) for the router and the dispatcher, (\d+ ms) "
        r"for the\s+`ConfigView`",
        lambda: (CONFIG_VIEW_FETCH_WAIT_MAX_MS / 1000,),
    ),
)


def judge(entry: Stated) -> Iterator[str]:
    """Every way ``entry`` is wrong: its phrase gone, or a value not the code's."""
    doc = document(entry.doc)
    found = re.search(entry.pattern, doc.prose)
    if found is None:
        yield f"{entry.doc}: no longer says /{entry.pattern}/ (update STATED)"
        return
    expected = entry.code()
    if len(found.groups()) != len(expected):
        yield f"{doc.where(found.start())}: {len(found.groups())} values, {len(expected)} in code"
        return
    for index, (text, code) in enumerate(zip(found.groups(), expected, strict=True), 1):
        where = doc.where(found.start(index))
        if isinstance(code, str):
            if text != code:
                yield f"{where}: says {text!r}, code: {code!r}"
            continue
        stated = quantity(text)
        if not same(stated.value, float(code), tolerance=max(entry.about, 1e-9)):
            code_quantity = Quantity(float(code), stated.dimension)
            yield f"{where}: says {text!r} ({stated}), code: {code_quantity}"


def test_defaults_stated_without_a_setting_s_name_are_the_code_s() -> None:
    wrong = [problem for entry in STATED for problem in judge(entry)]
    assert not wrong, "\n".join(wrong)


# Where the default retry schedule is shown: the delays (and the spread, if given).
SCHEDULE = {
    "docs/delivery.md": r"^\| delay \(±(?P<spread>[^)]*)\) \|(?P<delays>.*)\|$",
    "docs/receiving-webhooks.md": r"retried: after (?P<delays>[^(]*?) \(±(?P<spread>[^)]*)\)",
    "docs/architecture.md": r"the default delays are (?P<delays>[^(]*?) "
    r"\(`DEFAULT_RETRY_DELAYS_SECONDS`",
}


def test_the_retry_schedule_the_docs_show_is_the_default() -> None:
    """The schedule appears three times (delivery.md's table, receiving-webhooks.md's and
    architecture.md's prose): each must be the default delays and jitter."""
    assert code_defaults(DispatcherSettings)["retry_delays_seconds"] == (
        DEFAULT_RETRY_DELAYS_SECONDS
    )
    jitter = numeric_default(DispatcherSettings, "retry_jitter")
    header = re.search(r"^\| after attempt \|(.*)\|$", document("docs/delivery.md").prose, re.M)
    assert header, "docs/delivery.md: the schedule table is gone"
    wrong = []
    if [int(n) for n in header.group(1).split("|")] != list(
        range(1, len(DEFAULT_RETRY_DELAYS_SECONDS) + 1)
    ):
        wrong.append(f"docs/delivery.md: after attempts {header.group(1)}")
    for name, pattern in SCHEDULE.items():
        doc = document(name)
        found = re.search(pattern, doc.prose, re.M)
        if found is None:
            wrong.append(f"{name}: the schedule is gone (update SCHEDULE)")
            continue
        cells = [c for c in re.split(r"\s*\|\s*|,\s*|\s+and\s+", found["delays"].strip()) if c]
        stated = [quantity(cell).value for cell in cells]
        where = doc.where(found.start())
        if stated != [float(d) for d in DEFAULT_RETRY_DELAYS_SECONDS]:
            wrong.append(f"{where}: {cells}, code: {DEFAULT_RETRY_DELAYS_SECONDS} s")
        spread = found.groupdict().get("spread")
        if spread is not None and not same(quantity(spread).value, jitter):
            wrong.append(f"{where}: ±{spread}, code: retry_jitter = {jitter}")
    assert not wrong, "\n".join(wrong)


# -- 4. every default the docs speak of is read -----------------------------------------

# Lines that speak of a default with a number, and are no setting's default of ours.
NOT_OURS: tuple[tuple[str, str, str], ...] = (
    ("docs/benchmarks.md", r"librdkafka's default is 64 MiB", "librdkafka's own default"),
    ("docs/operations.md", r"`500` \(librdkafka's", "librdkafka's own default"),
    (
        "docs/benchmarks.md",
        r"2026-11-27 \(the second session that day\), at the defaults",
        "a date",
    ),
    (
        "docs/benchmarks.md",
        r"500 events/s \(20\S\), 20 s each, at the defaults",
        "a measured set-up",
    ),
    ("docs/benchmarks.md", r"^\| `bench\.(e2e|soak)` \|", "a benchmark command's options"),
    ("docs/delivery.md", r"p99 0\.05 s late with the default hold", "a measurement"),
    ("docs/delivery.md", r"for 20 s per phase, on loopback \(2-core", "a measured set-up"),
    ("docs/receiving-webhooks.md", r"`standard-webhooks` \(default\)", "the default scheme"),
    ("docs/operations.md", r"^\| `OTEL_", "OpenTelemetry's own variables and defaults"),
)
DEFAULT_WORD = re.compile(r"\bdefaults?\b", re.I)


def covered_lines() -> dict[str, set[int]]:
    """The lines each doc's defaults are read on: named, :data:`STATED`, :data:`SCHEDULE`,
    :data:`NOT_OURS`."""
    lines: dict[str, set[int]] = {doc.name: set() for doc in documents()}

    def cover(doc: Document, start: int, end: int) -> None:
        lines[doc.name].update(range(doc.line(start), doc.line(end) + 1))

    for doc in documents():
        for stated in stated_defaults(doc):
            cover(doc, stated.offset, stated.offset + len(stated.env) + 40)
    for entry in STATED:
        doc = document(entry.doc)
        for found in re.finditer(entry.pattern, doc.prose):
            cover(doc, found.start(), found.end())
    for name, pattern in SCHEDULE.items():
        doc = document(name)
        for found in re.finditer(pattern, doc.prose, re.M):
            cover(doc, found.start(), found.end())
    for name, pattern, _ in NOT_OURS:
        doc = document(name)
        for found in re.finditer(pattern, doc.prose, re.M):
            cover(doc, found.start(), found.end())
    return lines


def test_every_default_with_a_number_is_read() -> None:
    """A line that says "default" and holds a number states a default: it must be read
    by one of the checks above, or be listed as not ours, so none is added unchecked."""
    covered = covered_lines()
    unread = []
    for doc in documents():
        for number, line in enumerate(doc.prose.splitlines(), 1):
            text = INLINE_CODE.sub(
                lambda m: m.group(0) if "`" not in m.group(0)[1:-1] else "", line
            )
            if (
                DEFAULT_WORD.search(text)
                and re.search(NUMBER, text)
                and number not in covered[doc.name]
            ):
                unread.append(f"{doc.name}:{number}: {line.strip()}")
    assert not unread, "a default no test reads (add it to STATED or NOT_OURS):\n" + "\n".join(
        unread
    )


def test_every_not_ours_entry_still_matches() -> None:
    gone = [
        f"{name}: /{pattern}/"
        for name, pattern, _ in NOT_OURS
        if not re.search(pattern, document(name).prose, re.M)
    ]
    assert not gone, "NOT_OURS entries that match nothing any more:\n" + "\n".join(gone)


# -- 5. settings tables ---------------------------------------------------------------------

UNIT_WORDS = {suffix.lstrip("_") for suffix in FIELD_UNITS} | {"max", "min"}


def test_a_settings_table_describes_each_setting_in_its_own_words() -> None:
    """In a table with a ``setting`` column, each row's description shares a word stem
    with the setting's name (units aside): swapping two rows, or describing a setting
    under another's name, fails."""
    wrong, rows = [], 0
    for doc in documents():
        for table in doc.tables():
            if table.column("setting") is None:
                continue
            for row in table.rows:
                named = re.fullmatch(NAMED, row.cells[table.column("setting") or 0])
                if not named:
                    wrong.append(f"{doc.name}:{row.line}: no `SIGNET_*` setting: {row.cells}")
                    continue
                rows += 1
                stems = {
                    word[:5]
                    for word in named["env"].removeprefix("SIGNET_").lower().split("_")
                    if word not in UNIT_WORDS and len(word) > 2
                }
                description = row.cells[-1].lower()
                if not any(stem in description for stem in stems):
                    wrong.append(
                        f"{doc.name}:{row.line}: {named['env']} described as {row.cells[-1]!r}"
                    )
    assert rows, "no settings table found"
    assert not wrong, "\n".join(wrong)


# -- 6. the retry tiers -----------------------------------------------------------------


def test_the_retry_tiers_the_docs_name_are_the_code_s() -> None:
    labels = [tier_label(seconds) for seconds in RETRY_TIERS_SECONDS]
    delivery = re.search(
        r"never in a sleeping task: `signet\.retry\.(\w+)`((?:,\s*`\.\w+`)+)",
        document("docs/delivery.md").prose,
    )
    architecture = re.search(
        r"The tiers are ((?:`\w+`,?\s*)+)\s*\(`RETRY_TIERS_SECONDS`\)",
        document("docs/architecture.md").prose,
    )
    assert delivery and architecture, "a list of the tiers is gone"
    assert [delivery.group(1), *re.findall(r"`\.(\w+)`", delivery.group(2))] == labels
    assert re.findall(r"`(\w+)`", architecture.group(1)) == labels


def tier_path(delay_seconds: int, *, late_ms: int = 5) -> list[int]:
    """The tiers a retry due in ``delay_seconds`` waits on, as ``schedule.py`` moves it:
    each step happens ``late_ms`` after the one before could (a produce, a poll)."""
    due, now = delay_seconds * 1000, late_ms
    path = [tier_for((due - now) / 1000)]
    while True:
        now = release_at(due, now, path[-1]) + late_ms
        step, tier = step_at_release(due, now)
        if step is not Step.HOP:
            assert step is Step.HOLD, step  # the last few seconds wait in memory
            return path
        path.append(tier)


def test_the_hop_examples_are_what_the_dispatcher_does() -> None:
    """docs/delivery.md walks a 25 s and an 11 h retry through the tiers; the paths are
    those ``tier_for`` and ``step_at_release`` take, whatever the few ms of lateness."""
    prose = document("docs/delivery.md").prose
    short = re.search(
        r"a (\d+ s)\s+retry waits (\d+ s) on `retry\.\w+` (\w+) times \((\w+) hops\)", prose
    )
    long = re.search(r"an?\s+(\d+ h) retry goes ([^,]+?),\s+then memory", prose)
    assert short and long, "docs/delivery.md: the hop examples are gone"
    waits = int(quantity(short.group(3)).value)
    short_path = [int(quantity(short.group(2)).value)] * waits
    long_path: list[int] = []
    for step in re.split(r"\s*\+\s*", long.group(2).strip()):
        amount, _, times = step.partition(" \N{MULTIPLICATION SIGN} ")
        long_path += [int(quantity(amount).value)] * int(times or 1)
    for late_ms in (1, 5, 200):
        path = tier_path(int(quantity(short.group(1)).value), late_ms=late_ms)
        assert (path, len(path) - 1) == (short_path, quantity(short.group(4)).value), (
            f"docs/delivery.md: {short.group(0)!r}, code: the tiers {path}"
        )
        path = tier_path(int(quantity(long.group(1)).value), late_ms=late_ms)
        assert path == long_path, f"docs/delivery.md: {long.group(0)!r}, code: the tiers {path}"

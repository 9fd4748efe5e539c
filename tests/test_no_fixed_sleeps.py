"""No sleep of a fixed length in the tests unless it is on the list below, with its reason.

A fixed sleep used to wait for something ("sleep 0.5 so the consumer has caught up") is
either longer than needed or, on a busy machine, too short: wait with
``tests/eventually.py`` instead (``eventually`` for what must happen, ``never`` for what
must not). What stays is time that is itself the scenario: a broker frozen for 20 s, a
load paced at ten events a second, a supervisor's restart delay, a sampling period. Each
such sleep is listed here with the function it is in and why it is not synchronisation,
so a new one cannot slip in unnoticed.

What counts, read from the syntax tree: a call of ``sleep`` (``asyncio.sleep``,
``time.sleep``, a ``sleep`` imported by name, ...), ``loop.call_later`` or Playwright's
``wait_for_timeout`` whose length is a constant: a number, a module constant (an
UPPER_CASE name, or one assigned a constant at module level), or arithmetic on them.
``asyncio.sleep(0)`` counts too: a yield to the event loop is not a wait, but it can
stand in for one, so it is listed like the others.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import pytest

TESTS = Path(__file__).parent
ROOT = TESTS.parent
SLEEPS = frozenset({"sleep"})
TIMERS = frozenset({"call_later", "wait_for_timeout"})
LENGTH_KEYWORDS = ("delay", "seconds", "secs", "timeout")
NOT_YET_AUDITED = "not yet audited (owned by another change)"


@dataclass(slots=True, frozen=True)
class Allowed:
    """``count`` fixed sleeps in ``function`` of ``path`` (relative to the repository)."""

    path: str
    function: str
    reason: str
    count: int = 1


YIELD = (
    "sleep(0): one turn of the event loop, so the tasks just created run to their first"
    " await (deterministic: no time passes), not a wait for time"
)

ALLOWED: tuple[Allowed, ...] = (
    # -- time that is the scenario ---------------------------------------------------------
    Allowed(
        "tests/faults/test_dispatcher_stall.py",
        "test_a_stall_mid_backlog_sends_little_twice",
        "the 1 s window the delivery rate is measured over, and the 20 s stall itself",
        count=2,
    ),
    Allowed(
        "tests/faults/test_producers.py",
        "test_a_fenced_direct_producer_is_replaced_and_failed_events_emit_again",
        "the broker stays frozen for FREEZE_SECONDS: the stall is the behaviour under test",
    ),
    Allowed(
        "tests/faults/test_router_stall.py",
        "test_the_router_heals_after_5_s_and_30_s_stalls_and_loses_nothing",
        "STEADY_SECONDS of normal flow before and after the stalls: the scenario",
        count=2,
    ),
    Allowed(
        "tests/faults/test_router_stall.py",
        "EventStream._send",
        "the load's back-off before sending an event again (pacing the load generator)",
    ),
    Allowed(
        "tests/faults/test_router_stall.py",
        "Readiness.run",
        "the period of a sampler recording /readyz over time: the samples are the data",
    ),
    Allowed(
        "tests/faults/test_stack_stall.py",
        "Load._emit_http",
        "the HTTP client's back-off before a retry and the pace of the load generator",
        count=2,
    ),
    Allowed(
        "tests/faults/test_stack_stall.py",
        "supervise",
        "a supervisor's delay before restarting the killed dispatcher, as signet up has",
    ),
    Allowed(
        "tests/faults/test_stack_stall.py",
        "test_every_service_heals_from_stalls_and_loses_nothing",
        "load before the first stall, 2 s of failures so retries pile up in the tiers, and"
        " load after the recovery: the scenario's phases, nothing is waited for",
        count=3,
    ),
    Allowed(
        "tests/faults/test_stack_stall.py",
        "test_every_service_heals_from_stalls_and_loses_nothing.kill_the_dispatcher",
        "the SIGKILL comes 5 s further into the 30 s stall, on purpose",
    ),
    Allowed(
        "tests/e2e/test_crash_safety.py",
        "test_kill_9_of_any_service_mid_load_loses_no_accepted_event.worker",
        "the load generator's pace, and its back-off while the ingest restarts",
        count=2,
    ),
    Allowed(
        "tests/services/dispatcher/test_retry_hold.py",
        "_watch",
        "the period of a sampler of the held-retries gauge: its peak is the measurement",
    ),
    Allowed(
        "tests/deploy/prometheus_server.py",
        "PrometheusServer.start",
        "the poll period of a synchronous start-up wait with a deadline (eventually is async)",
    ),
    # -- a yield, not a wait ---------------------------------------------------------------
    Allowed("tests/services/alerter/test_slack.py", "Waits.__call__", YIELD),
    Allowed(
        "tests/services/dispatcher/test_limits.py",
        "test_a_full_queue_refuses_more_and_waiting_holds_no_global_slot",
        YIELD,
    ),
    Allowed("tests/services/dispatcher/test_limits.py", "Requests.start", YIELD),
    Allowed("tests/services/dispatcher/test_limits.py", "Requests.finish", YIELD),
    Allowed(
        "tests/services/dispatcher/test_limits.py",
        "test_a_delivery_leaves_the_queue_after_waiting_the_whole_budget",
        YIELD,
    ),
    Allowed(
        "tests/services/ingest/test_auth_unit.py",
        "test_a_key_the_view_learns_during_the_wait_is_accepted",
        "the key is learnt 50 ms into the 5 s wait: a timer is how 'during the wait' is said",
    ),
    Allowed(
        "tests/services/ingest/test_idempotency_cache.py",
        "test_a_cancelled_waiter_does_not_cancel_the_first",
        YIELD,
    ),
    Allowed(
        "tests/services/ingest/test_idempotency_cache.py",
        "test_a_failed_first_fails_its_waiters_and_the_key_can_be_retried",
        YIELD,
    ),
    Allowed(
        "tests/services/ingest/test_idempotency_cache.py",
        "test_concurrent_duplicates_wait_for_the_first",
        YIELD,
    ),
    Allowed(
        "tests/services/ingest/test_process.py",
        "test_serves_then_drains_the_request_in_flight_on_sigterm",
        "the broker stays frozen 1 s after SIGTERM: a shutdown that waits less fails the"
        " held request (the fault's length is the scenario)",
    ),
    Allowed(
        "tests/services/portal/delivery_log/test_store_queries.py",
        "test_waiting_for_the_next_outcome",
        YIELD + ": the waiter is waiting when the outcome is written, the case under test",
    ),
)


@dataclass(slots=True, frozen=True)
class FixedSleep:
    path: str
    function: str
    line: int
    call: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line} in {self.function}: {self.call}"


def _is_constant(node: ast.expr, constants: set[str]) -> bool:
    match node:
        case ast.Constant(value=bool()):
            return False
        case ast.Constant(value=int() | float()):
            return True
        case ast.Name(id=name):
            return name in constants or name.isupper()
        case ast.Attribute(attr=attr):  # module.CONSTANT
            return attr.isupper()
        case ast.UnaryOp(operand=operand):
            return _is_constant(operand, constants)
        case ast.BinOp(left=left, right=right):
            return _is_constant(left, constants) and _is_constant(right, constants)
        case _:
            return False


def _module_constants(tree: ast.Module) -> set[str]:
    """Names the module binds, at its top level, to a constant expression."""
    constants: set[str] = set()
    for statement in tree.body:
        if isinstance(statement, ast.Assign):
            targets, value = statement.targets, statement.value
        elif isinstance(statement, ast.AnnAssign) and statement.value is not None:
            targets, value = [statement.target], statement.value
        else:
            continue
        if _is_constant(value, constants):
            constants |= {t.id for t in targets if isinstance(t, ast.Name)}
    return constants


def _length(call: ast.Call) -> ast.expr | None:
    """The argument that says how long the call waits."""
    if call.args:
        return call.args[0]
    return next((k.value for k in call.keywords if k.arg in LENGTH_KEYWORDS), None)


def _sleep_names(tree: ast.Module) -> frozenset[str]:
    """``sleep`` and what the module imports it as (``from time import sleep as pause``)."""
    aliases = {
        alias.asname
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
        if alias.name in SLEEPS and alias.asname
    }
    return SLEEPS | aliases


def _waits(call: ast.Call, sleeps: frozenset[str]) -> bool:
    match call.func:
        case ast.Name(id=name):
            return name in sleeps
        case ast.Attribute(attr=name):
            return name in SLEEPS or name in TIMERS
        case _:
            return False


class _Finder(ast.NodeVisitor):
    def __init__(self, source: str, path: str, tree: ast.Module) -> None:
        self.source = source
        self.path = path
        self.constants = _module_constants(tree)
        self.sleeps = _sleep_names(tree)
        self.scope: list[str] = []
        self.found: list[FixedSleep] = []

    def _enter(self, node: ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self.scope.append(node.name)
        self.generic_visit(node)
        self.scope.pop()

    visit_ClassDef = visit_FunctionDef = visit_AsyncFunctionDef = _enter

    def visit_Call(self, node: ast.Call) -> None:
        length = _length(node)
        if (
            _waits(node, self.sleeps)
            and length is not None
            and _is_constant(length, self.constants)
        ):
            call = ast.get_source_segment(self.source, node) or ast.dump(node)
            function = ".".join(self.scope) or "<module>"
            self.found.append(FixedSleep(self.path, function, node.lineno, call))
        self.generic_visit(node)


def fixed_sleeps(source: str, path: str) -> list[FixedSleep]:
    """The fixed sleeps in one module's source."""
    tree = ast.parse(source, filename=path)
    finder = _Finder(source, path, tree)
    finder.visit(tree)
    return finder.found


def all_fixed_sleeps() -> dict[tuple[str, str], list[FixedSleep]]:
    """Every fixed sleep under tests/, by (path, enclosing function)."""
    found: dict[tuple[str, str], list[FixedSleep]] = defaultdict(list)
    for file in sorted(TESTS.rglob("*.py")):
        path = file.relative_to(ROOT).as_posix()
        source = file.read_text(encoding="utf-8")
        if not any(name in source for name in SLEEPS | TIMERS):
            continue  # no such call can be in it: skip parsing it
        for sleep in fixed_sleeps(source, path):
            found[sleep.path, sleep.function].append(sleep)
    return found


def test_every_fixed_sleep_is_on_the_list() -> None:
    allowed = {(a.path, a.function): a for a in ALLOWED}
    unlisted: list[str] = []
    for key, sleeps in all_fixed_sleeps().items():
        entry = allowed.get(key)
        if entry is None:
            unlisted += [f"  {sleep}" for sleep in sleeps]
        elif len(sleeps) > entry.count:
            unlisted += [f"  {sleep}  (listed: {entry.count} here)" for sleep in sleeps]
    if unlisted:
        pytest.fail(
            "fixed sleeps not on the list of tests/test_no_fixed_sleeps.py:\n"
            + "\n".join(unlisted)
            + "\nWait for the condition with tests/eventually.py (eventually, or never for a"
            " negative check); if the time itself is the behaviour under test, list it there"
            " with the reason, and say why beside the sleep.",
            pytrace=False,
        )


def test_the_list_names_only_sleeps_that_are_there() -> None:
    found = all_fixed_sleeps()
    stale = []
    for entry in ALLOWED:
        there = len(found.get((entry.path, entry.function), []))
        if entry.reason == NOT_YET_AUDITED and there <= entry.count:
            continue  # its owners may be taking sleeps out right now: fewer is progress
        if there != entry.count:
            stale.append(f"  {entry.path} {entry.function}: listed {entry.count}, found {there}")
    if stale:
        pytest.fail("entries that no longer match the code:\n" + "\n".join(stale), pytrace=False)


def test_every_entry_says_why() -> None:
    keys = [(a.path, a.function) for a in ALLOWED]
    assert len(keys) == len(set(keys)), "one entry per function"
    assert all(len(a.reason) > 15 and a.count >= 1 for a in ALLOWED)


# -- the finder itself ------------------------------------------------------------------

FOUND = """
import asyncio, time
from asyncio import sleep
from time import sleep as pause
PAUSE = 0.5
HALF = PAUSE / 2

async def waits(loop, page, settings):
    await asyncio.sleep(0.5)
    time.sleep(PAUSE)
    await sleep(HALF)
    await asyncio.sleep(settings.PACE_SECONDS * 2)
    await asyncio.sleep(delay=1)
    await asyncio.sleep(0)
    loop.call_later(0.05, print)
    await page.wait_for_timeout(500)
    pause(1)

class Load:
    def run(self):
        time.sleep(-(1 + 2))
"""

NOT_FOUND = """
import asyncio
pace = compute()

async def waits(interval, reply, deadline, now, task):
    await asyncio.sleep(interval)
    await asyncio.sleep(reply.delay_seconds)
    await asyncio.sleep(max(0.0, deadline - now()))
    await asyncio.sleep(pace)
    await asyncio.wait_for(task, 5)
    async with asyncio.timeout(1):
        pass
    call_later(1, print)
    asyncio.sleep
"""


def test_the_finder_sees_constant_sleeps_in_every_form() -> None:
    found = fixed_sleeps(FOUND, "example.py")
    assert [(s.function, s.call) for s in found] == [
        ("waits", "asyncio.sleep(0.5)"),
        ("waits", "time.sleep(PAUSE)"),
        ("waits", "sleep(HALF)"),
        ("waits", "asyncio.sleep(settings.PACE_SECONDS * 2)"),
        ("waits", "asyncio.sleep(delay=1)"),
        ("waits", "asyncio.sleep(0)"),
        ("waits", "loop.call_later(0.05, print)"),
        ("waits", "page.wait_for_timeout(500)"),
        ("waits", "pause(1)"),
        ("Load.run", "time.sleep(-(1 + 2))"),
    ]
    assert str(found[0]) == "example.py:9 in waits: asyncio.sleep(0.5)"


def test_the_finder_lets_computed_and_bounded_waits_be() -> None:
    assert fixed_sleeps(NOT_FOUND, "example.py") == []


@pytest.mark.parametrize("snippet", ["time.sleep(True)", "asyncio.sleep('1')"])
def test_what_is_not_a_length_is_not_counted(snippet: str) -> None:
    assert fixed_sleeps(snippet, "example.py") == []

"""Wire the dev stack together: broker → topics → keys → saved setup → services → ready.

:class:`DevStack` is what ``signet up`` runs in the foreground and what ``signet demo``
and tests can run in-process. ``start`` returns once every service answers ``/readyz``;
``stop`` (idempotent, also after a failed or cancelled start) stops the services, then
the copy of the setup (a last save), then the broker, and releases the state directory.

With the embedded broker, which forgets its topics, the setup (every compacted topic)
is put back before any service starts (``restore.py``) and kept current while the stack
runs (``recorder.py``); ``fresh`` starts without it. A real Kafka keeps its own topics:
then neither runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import time
from collections.abc import Mapping
from types import TracebackType

from signet.backoff import Backoff
from signet.dev.broker import EmbeddedBroker
from signet.dev.devstack.banner import walkthrough_script
from signet.dev.devstack.info import StackInfo
from signet.dev.devstack.output import StackConsole
from signet.dev.devstack.ports import resolve_ports
from signet.dev.devstack.recorder import SAVE_BOUND_SECONDS, ConfigRecorder
from signet.dev.devstack.restore import RestoreReport, restore_setup
from signet.dev.devstack.services import (
    EMBED_HOST_STATE_FILE,
    RECEIVER_PATH,
    StackPlan,
    embed_host_port,
    service_specs,
    url,
)
from signet.dev.devstack.snapshot import SNAPSHOT_FILE
from signet.dev.devstack.state import WALKTHROUGH_FILE, StackKeys, StateDir
from signet.dev.devstack.supervisor import RestartPolicy, Supervisor, die_with_parent
from signet.errors import BrokerError, ConfigurationError, SignetError
from signet.kafka.topics import EnsureReport, Topics, ensure_topics
from signet.security.secrets import MasterKeyRing
from signet.settings import DevStackSettings

logger = logging.getLogger(__name__)

BROKER_LOG = "broker.log"
BROKER_WATCH_SECONDS = 0.5
RECORDER_CATCH_UP_SECONDS = 10.0


def copartition_mismatch(report: EnsureReport, topics: Topics) -> dict[str, tuple[int, int]]:
    """Mismatches on the topics that must share a partition count
    (docs/architecture.md#topics)."""
    names = (topics.events, topics.workspace_commands, topics.workspace_config)
    return {n: report.partition_mismatch[n] for n in names if n in report.partition_mismatch}


class DevStack:
    def __init__(
        self,
        settings: DevStackSettings,
        console: StackConsole,
        *,
        base_env: Mapping[str, str] | None = None,
        fresh: bool = False,
    ) -> None:
        """``fresh``: with the embedded broker, forget the previous run's setup."""
        self._settings = settings
        self._fresh = fresh
        self._console = console
        self._base_env = dict(os.environ if base_env is None else base_env)
        self._state = StateDir(settings.state_dir)
        self._broker: EmbeddedBroker | None = None
        self._recorder: ConfigRecorder | None = None
        self._supervisor: Supervisor | None = None
        self._info: StackInfo | None = None
        self._stopped = False

    @property
    def info(self) -> StackInfo:
        if self._info is None:
            raise RuntimeError("the stack is not running")
        return self._info

    async def start(self) -> StackInfo:
        if self._info is not None:
            return self._info
        began = time.monotonic()
        settings, state = self._settings, self._state
        state.prepare()
        state.lock()
        plan = resolve_ports(settings)
        for note in plan.notes:
            logger.warning("%s", note)
        bootstrap = settings.kafka_bootstrap or self._start_broker(plan.ports.broker)
        self._write_runtime()
        await self._ensure_topics(bootstrap)
        keys = state.keys(settings)
        for name in keys.generated:
            logger.info("generated %s in %s (kept across restarts)", name, state.root)
        restore = await self._keep_setup(bootstrap, keys) if self._broker else None
        if self._fresh and self._broker is None:
            logger.warning(
                "--fresh changes nothing with SIGNET_KAFKA_BOOTSTRAP: that Kafka keeps its "
                "own topics"
            )
        stack_plan = StackPlan(
            settings, plan.ports, keys, bootstrap, state.data_dir, state_dir=state.root
        )
        self._supervisor = Supervisor(
            service_specs(stack_plan, self._base_env),
            self._console,
            restarts=RestartPolicy(
                backoff=Backoff(
                    initial_seconds=settings.restart_initial_delay_seconds,
                    max_seconds=settings.restart_max_delay_seconds,
                ),
                max_attempts=settings.restart_max_attempts,
                stable_seconds=settings.restart_stable_seconds,
            ),
            ready_timeout=settings.ready_timeout_seconds,
            stop_timeout=settings.stop_timeout_seconds,
            on_change=self._write_runtime,
        )
        await self._supervisor.start()
        if self._recorder is not None and not await self._recorder.wait_caught_up(
            RECORDER_CATCH_UP_SECONDS
        ):
            logger.warning("the copy of the setup has not caught up with the topics yet")
        receiver_port = plan.ports.receiver or settings.receiver_port
        host_port = embed_host_port(plan.ports)
        info = StackInfo(
            ingest_url=url(settings.host, plan.ports.ingest),
            portal_url=url(settings.host, plan.ports.portal),
            bootstrap=bootstrap,
            embedded_broker=self._broker is not None,
            operator_key=keys.operator_key,
            receiver_url=url("127.0.0.1", receiver_port, RECEIVER_PATH),
            receiver_secret=keys.receiver_secret,
            receiver_running=plan.ports.receiver is not None,
            state_dir=state.root,
            ready_seconds=time.monotonic() - began,
            broker_log=state.data_dir / BROKER_LOG if self._broker else None,
            walkthrough_path=state.root / WALKTHROUGH_FILE,
            embed_host_url=url("127.0.0.1", host_port) if host_port is not None else None,
            restore=restore,
        )
        state.write_private(WALKTHROUGH_FILE, walkthrough_script(info))
        self._info = info
        self._write_runtime()
        return info

    def _start_broker(self, port: int | None) -> str:
        if port is None:
            raise ConfigurationError("no broker port and no SIGNET_KAFKA_BOOTSTRAP")
        self._state.reset_data()
        logger.info(
            "the embedded broker starts empty: events and the delivery log of a previous "
            "run are not kept (local data in %s was reset with them)",
            self._state.data_dir,
        )
        broker = EmbeddedBroker(
            port, log_path=self._state.data_dir / BROKER_LOG, preexec_fn=die_with_parent()
        )
        self._broker = broker
        # Blocking (bounded by its own timeout) and on purpose on this thread: the kernel
        # ties the broker's death signal to the thread that spawned it.
        broker.start()
        logger.info(
            "broker listening on %s (Tansu, memory storage, pid %s)", broker.bootstrap, broker.pid
        )
        return broker.bootstrap

    async def _keep_setup(self, bootstrap: str, keys: StackKeys) -> RestoreReport:
        """Put the saved setup back (or forget it: ``fresh``), then keep a copy of every
        change; before any service starts, so none of them sees the topics empty."""
        settings = self._settings.model_copy(update={"kafka_bootstrap": bootstrap})
        path = self._state.root / SNAPSHOT_FILE
        ring = MasterKeyRing.parse(keys.master_keys)
        report = await asyncio.to_thread(
            restore_setup,
            settings,
            path,
            fresh=self._fresh,
            master_key_ids=set(ring.keys),
            # It names a workspace of the saved setup: --fresh forgets it with the setup.
            companions=(self._state.root / EMBED_HOST_STATE_FILE,),
        )
        recorder = ConfigRecorder(settings, path)
        await recorder.start()
        self._recorder = recorder
        logger.info("keeping the setup in %s (every change within %.0fs)", path, SAVE_BOUND_SECONDS)
        return report

    async def _ensure_topics(self, bootstrap: str) -> None:
        settings = self._settings.model_copy(update={"kafka_bootstrap": bootstrap})
        report = await asyncio.to_thread(ensure_topics, settings)
        logger.info(
            "topics: %d created, %d already there (prefix %s)",
            len(report.created),
            len(report.existing),
            settings.topic_prefix,
        )
        for name, (want, have) in report.partition_mismatch.items():
            logger.warning("topic %s has %d partitions; settings say %d", name, have, want)
        if bad := copartition_mismatch(report, Topics.from_settings(settings)):
            raise ConfigurationError(
                f"co-partitioned topics disagree with SIGNET_PARTITIONS: {sorted(bad)}; "
                "set SIGNET_PARTITIONS to their count or use another SIGNET_TOPIC_PREFIX"
            )

    def _write_runtime(self) -> None:
        """``stack.json``: pids and URLs of what runs now (no secrets)."""
        supervisor, info = self._supervisor, self._info
        self._state.write_runtime(
            {
                "pid": os.getpid(),
                "broker": {
                    "bootstrap": self._broker.bootstrap if self._broker else None,
                    "pid": self._broker.pid if self._broker else None,
                },
                "ingest_url": info.ingest_url if info else None,
                "portal_url": info.portal_url if info else None,
                "receiver_url": info.receiver_url if info else None,
                "ready": info is not None,
                "services": supervisor.snapshot() if supervisor else {},
            }
        )

    async def failed(self) -> SignetError:
        """Resolves when the stack cannot go on: a service gave up, or the broker died."""
        if self._supervisor is None:
            raise RuntimeError("the stack is not running")
        waits: list[asyncio.Task[SignetError]] = [asyncio.create_task(self._supervisor.failed())]
        if self._broker is not None:
            waits.append(asyncio.create_task(self._broker_died(self._broker)))
        try:
            done, _ = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in waits:
                task.cancel()
            await asyncio.gather(*waits, return_exceptions=True)
        return done.pop().result()

    async def _broker_died(self, broker: EmbeddedBroker) -> SignetError:
        # Popen offers no awaitable exit, and the broker is not ours to reap: poll it.
        while True:
            code = broker.returncode
            if code is not None:
                log_path = self._state.data_dir / BROKER_LOG
                return BrokerError(f"the embedded broker exited with code {code}; see {log_path}")
            await asyncio.sleep(BROKER_WATCH_SECONDS)

    async def stop(self) -> None:
        """Services first (they drain against a live broker), then the broker; idempotent."""
        if self._stopped:
            return
        self._stopped = True
        try:
            if self._supervisor is not None:
                await self._supervisor.stop()
        finally:
            try:
                if self._recorder is not None:
                    # After the services (their last changes are on the topics), before
                    # the broker (the last save reads up to the topics' ends).
                    await self._recorder.stop()
            finally:
                if self._broker is not None:
                    await asyncio.to_thread(self._broker.stop)
                    logger.info("broker stopped")
                self._state.remove_runtime()
                self._state.unlock()

    def kill_now(self) -> None:
        """SIGKILL every child and the broker at once (the second Ctrl-C)."""
        if self._supervisor is not None:
            self._supervisor.kill_now()
        if self._broker is not None and self._broker.pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._broker.pid, signal.SIGKILL)

    async def __aenter__(self) -> DevStack:
        try:
            await self.start()
        except BaseException:
            await self.stop()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

"""An in-memory view of every workspace's configuration, followed from Kafka.

The router is the only writer of ``workspace-config`` (its Faust table changelog). Every
other service reads all partitions from the beginning and follows them, keeping the
newest snapshot per workspace, plus the indexes its hot path needs (publishable-key hash
→ workspace, destination id → workspace). ``wait_for`` gives the portal read-your-writes.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, TopicPartition

from signet.errors import BrokerError, CodecError
from signet.kafka.topics import Topics, consumer_client_config
from signet.records import codec
from signet.records.model import Destination, PublishableKey, WorkspaceConfig
from signet.runner import request_restart
from signet.settings import CommonSettings

logger = logging.getLogger(__name__)


FETCH_WAIT_MAX_MS = 50


@dataclass(slots=True, frozen=True)
class KeyMatch:
    workspace_id: str
    key: PublishableKey


class ConfigView:
    """Follows ``workspace-config`` in a background thread; read from the event loop."""

    def __init__(self, settings: CommonSettings, *, poll_seconds: float = 0.1) -> None:
        self._topic = Topics.from_settings(settings).workspace_config
        self._conf = {
            **consumer_client_config(settings),
            "group.id": f"signet-config-view-{uuid.uuid4().hex}",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
            "auto.offset.reset": "earliest",
            # On a broker that answers a fetch only at its deadline (Tansu), how late a
            # config change is seen; librdkafka's 500 ms would be every read-your-write's.
            "fetch.wait.max.ms": FETCH_WAIT_MAX_MS,
        }
        self._poll_seconds = poll_seconds
        self._workspaces: dict[str, WorkspaceConfig] = {}
        self._keys: dict[str, KeyMatch] = {}
        self._destinations: dict[str, str] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._caught_up = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._changed: asyncio.Condition | None = None
        self.undecodable = 0

    # -- lifecycle ---------------------------------------------------------------------

    async def start(self) -> None:
        if self._thread is not None:
            return
        self._loop = asyncio.get_running_loop()
        self._changed = asyncio.Condition()
        self._stopping.clear()
        consumer = Consumer(self._conf)
        try:
            metadata = await asyncio.to_thread(consumer.list_topics, self._topic, 10)
        except Exception as exc:
            consumer.close()
            raise BrokerError(f"cannot read metadata of {self._topic}: {exc}") from exc
        topic = metadata.topics.get(self._topic)
        if topic is None or topic.error is not None or not topic.partitions:
            consumer.close()
            raise BrokerError(f"topic {self._topic} does not exist; run `signet topics ensure`")
        partitions = [TopicPartition(self._topic, p, OFFSET_BEGINNING) for p in topic.partitions]
        consumer.assign(partitions)
        self._thread = threading.Thread(
            target=self._follow, args=(consumer, len(partitions)), name="config-view", daemon=True
        )
        self._thread.start()

    async def stop(self) -> None:
        thread = self._thread
        if thread is None:
            return
        self._stopping.set()
        await asyncio.to_thread(thread.join)
        self._thread = None

    async def __aenter__(self) -> ConfigView:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- reads -------------------------------------------------------------------------

    @property
    def ready(self) -> bool:
        """True once everything on the topic at start-up has been read."""
        return self._caught_up.is_set()

    async def wait_ready(self, timeout: float = 30.0) -> None:
        if not await asyncio.to_thread(self._caught_up.wait, timeout):
            raise BrokerError(f"config view did not catch up with {self._topic} in {timeout}s")

    def workspace(self, workspace_id: str) -> WorkspaceConfig | None:
        return self._workspaces.get(workspace_id)

    def workspaces(self) -> list[WorkspaceConfig]:
        return list(self._workspaces.values())

    def key_by_hash(self, sha256_hex: str) -> KeyMatch | None:
        return self._keys.get(sha256_hex)

    def destination(self, destination_id: str) -> tuple[WorkspaceConfig, Destination] | None:
        workspace_id = self._destinations.get(destination_id)
        config = self._workspaces.get(workspace_id) if workspace_id else None
        found = config.destination(destination_id) if config else None
        return (config, found) if config and found else None

    async def wait_for(self, predicate: Callable[[], bool], timeout: float) -> bool:
        """Wait until ``predicate()`` holds after some update; False on timeout."""
        if self._changed is None:
            raise RuntimeError("ConfigView.start() first")
        async with self._changed:
            try:
                await asyncio.wait_for(self._changed.wait_for(predicate), timeout)
            except TimeoutError:
                return False
        return True

    async def wait_for_command(self, workspace_id: str, command_id: str, timeout: float) -> bool:
        def applied() -> bool:
            config = self._workspaces.get(workspace_id)
            return config is not None and command_id in config.applied_commands

        return await self.wait_for(applied, timeout)

    # -- the follower thread -----------------------------------------------------------

    def _follow(self, consumer: Consumer, partition_count: int) -> None:
        at_end: set[int] = set()
        try:
            while not self._stopping.is_set():
                messages = consumer.consume(500, self._poll_seconds)
                changed = False
                for msg in messages:
                    err = msg.error()
                    if err is not None:
                        if err.code() == KafkaError._PARTITION_EOF:
                            at_end.add(msg.partition() or 0)
                        elif err.fatal():
                            # A dead client: the process restarts and reads the topic anew.
                            request_restart(f"config view: {err.str()}")
                        else:
                            logger.warning("config view: %s", err.str())
                        continue
                    changed |= self._apply(msg.key(), msg.value())
                if not self._caught_up.is_set() and len(at_end) >= partition_count:
                    self._caught_up.set()
                    changed = True
                if changed:
                    self._notify()
        finally:
            consumer.close()

    def _apply(self, key: bytes | None, value: bytes | None) -> bool:
        if value is None:  # tombstone: the workspace was deleted
            workspace_id = key.decode() if key else ""
            with self._lock:
                self._unindex(workspace_id)
                self._workspaces.pop(workspace_id, None)
            return True
        try:
            config = codec.decode(value, WorkspaceConfig)
        except CodecError as exc:
            self.undecodable += 1
            logger.error("config view: skipped an undecodable snapshot: %s", exc)
            return False
        with self._lock:
            current = self._workspaces.get(config.workspace_id)
            if current is not None and current.version >= config.version:
                return False  # an older snapshot replayed from the log
            self._unindex(config.workspace_id)
            self._workspaces[config.workspace_id] = config
            for key_record in config.publishable_keys:
                self._keys[key_record.sha256] = KeyMatch(config.workspace_id, key_record)
            for destination in config.destinations:
                self._destinations[destination.id] = config.workspace_id
        return True

    def _unindex(self, workspace_id: str) -> None:
        old = self._workspaces.get(workspace_id)
        if old is None:
            return
        for key_record in old.publishable_keys:
            self._keys.pop(key_record.sha256, None)
        for destination in old.destinations:
            self._destinations.pop(destination.id, None)

    def _notify(self) -> None:
        loop, changed = self._loop, self._changed
        if loop is None or changed is None or loop.is_closed():
            return

        async def notify_all() -> None:
            async with changed:
                changed.notify_all()

        asyncio.run_coroutine_threadsafe(notify_all(), loop)

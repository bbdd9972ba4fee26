"""The engine: every piece of broker state, owned by one event loop (DESIGN.md §2).

`Engine` only composes the subsystems and opens and closes them in order; each
subsystem owns its own state and files under its own folder of the data dir:

    <data_dir>/kafka/   topics, partition logs, producer state   (engine/log)
    <data_dir>/groups/  consumer groups and committed offsets   (engine/groups)
    <data_dir>/amqp/    vhosts, exchanges, queues, bindings, messages (engine/messaging)
    <data_dir>/txn/     transactional ids and their transactions   (engine/txn)

With `data_dir=None` every subsystem uses its memory backend and nothing persists.
Engine methods are synchronous and never await while mutating state.
"""

from __future__ import annotations

from pathlib import Path

from engine.clock import Clock, SystemClock
from engine.durability import FsyncPolicy, Syncer
from engine.groups import GroupCoordinator
from engine.settings import EngineSettings
from engine.bridge.forwarder import Forwarder
from engine.messaging import Messaging
from engine.pressure import Pressure
from engine.topics import TopicRegistry
from engine.txn import TransactionCoordinator


class Engine:
    def __init__(
        self,
        *,
        data_dir: Path | None,
        settings: EngineSettings = EngineSettings(),
        clock: Clock | None = None,
    ) -> None:
        self.data_dir = data_dir
        self.settings = settings
        self.clock: Clock = clock or SystemClock()
        # Group-committed fsyncs for every subsystem's files (--fsync); memory storage has
        # nothing to sync.
        self.durability = Syncer(
            settings.fsync if data_dir is not None else FsyncPolicy.NEVER, interval_ms=settings.fsync_interval_ms
        )
        # Resource alarms (low on disk or memory), raised by gateway/pressure.py and by
        # storage writes that find no space; the wire layers push publishers back on them.
        self.pressure = Pressure()
        # Subsystems are created in open(), after the data dir is known to be usable.
        self.groups: GroupCoordinator | None = None
        self.txn: TransactionCoordinator | None = None
        self.topics = TopicRegistry(self)

    def subdir(self, name: str) -> Path | None:
        """A subsystem's own folder in the data dir, or None for memory storage."""
        if self.data_dir is None:
            return None
        path = self.data_dir / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def open(self) -> None:
        """Recovers every subsystem from disk (or starts empty in memory)."""
        self.groups = GroupCoordinator.for_engine(self)
        self.messaging = Messaging(self.subdir("amqp"), clock=self.clock, syncer=self.durability)
        self.messaging.topics = self.topics  # stream queues are topics (engine/messaging/stream_queue.py)
        # Topics first: recovered stream queues and their bindings refer to them.
        self.topics.open()
        self.messaging.open()
        # Last: recovery completes or aborts transactions by writing markers into the
        # partitions and offsets into the groups.
        self.txn = TransactionCoordinator.for_engine(self)
        # Kafka → AMQP: committed records of every topic to amq.kafka (docs/cross-protocol.md)
        self.bridge = Forwarder(self)
        self.bridge.start()

    def close(self) -> None:
        """Flushes and closes every subsystem; safe to call twice."""
        if self.txn is not None:
            self.txn.close()
        if self.groups is not None:
            self.groups.close()
        if getattr(self, "bridge", None) is not None:
            self.bridge.close()
            self.bridge = None
        if getattr(self, "messaging", None) is not None:
            self.messaging.close()
            self.messaging = None
        self.topics.close()
        # Last: the subsystems' final writes and deferred closes are synced here.
        self.durability.close()

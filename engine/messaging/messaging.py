"""The messaging subsystem: vhosts, their durable definitions, and queue storage.

Owns `<data dir>/amqp/`:

    definitions.log            durable exchanges, queues, bindings (engine/messaging/definitions.py)
    queues/<queue id>/*.seg    message records per queue (engine/messaging/segments.py)
    tx.journal                 the intent of a tx.commit being applied (engine/messaging/txlog.py)

At `open()` the definitions are replayed, every durable queue recovers its persistent
messages, and the folders of queues that are not durable (left by the last run) are
removed: transient queues and non-persistent messages do not survive a restart, as in
RabbitMQ. With no directory (the engine's memory backend) nothing touches the disk.

`sync()` writes every store with appended records to the OS (one write per dirty
segment). The wire layer calls it after handling a batch of input and before sending the
publisher confirms for that batch: many appends, one write, then all their acks
(DESIGN.md §2, group commit).

Timers of the queues (head-of-queue expiry, `x-expires`) run on the engine clock through
one `Deadlines` heap (engine/groups/timers.py): armed on the event loop when one runs,
driven by hand with `run_due()` in tests on a FakeClock.

`headers_decoder` is the one piece of a wire format the engine may need: a function from
a message's raw properties to its headers table, used when a dead-lettered message is
routed through a headers exchange (the publish path gets the headers from the wire
directly). The AMQP service installs it; without it such routing sees no headers.
"""

from __future__ import annotations

import logging
import uuid
from pathlib import Path
from typing import Any, Callable, Mapping

from engine.clock import Clock, SystemClock
from engine.groups.timers import Deadlines
from engine.messaging.definitions import Definitions, FileDefinitions, MemoryDefinitions
from engine.messaging.errors import NotFound, Reason, fail
from engine.messaging.exchange import Exchange
from engine.messaging.fields import table_from_json
from engine.messaging.queue import DEFAULT_RAM_BUDGET, Queue
from engine.durability import Syncer
from engine.messaging.segments import QueueStore, remove_tree
from engine.messaging.txlog import FAULT, TxLog, encode_intent
from engine.messaging.stream_queue import TOPIC_STREAM_ARGUMENTS, StreamQueue, is_stream as _is_stream
from engine.bridge.names import add_kafka_exchange
from engine.messaging.types import ExchangeType, Message
from engine.messaging.vhost import VHost

log = logging.getLogger("mqgateway.messaging")
DEFAULT_VHOST = "/"


class Messaging:
    def __init__(
        self,
        directory: Path | None,
        *,
        clock: Clock | None = None,
        ram_budget_per_queue: int = DEFAULT_RAM_BUDGET,
        syncer: Syncer | None = None,
    ) -> None:
        self.directory = directory
        # engine.durability: every file written here is tracked by it (--fsync), and the wire
        # layer waits for it before a publisher confirm or tx.commit-ok.
        self.syncer = syncer or Syncer()
        self.clock = clock or SystemClock()
        self.ram_budget_per_queue = ram_budget_per_queue
        self.vhosts: dict[str, VHost] = {}
        self._definitions: Definitions = MemoryDefinitions()
        self._dirty: list[QueueStore] = []
        self.txlog = TxLog(directory, self.syncer)
        self._recovering = False
        self._deadlines = Deadlines(self.clock, self._due)
        self.headers_decoder: Callable[[bytes], Mapping | None] | None = None
        # engine.topics, set by the Engine: the storage of stream queues (engine/messaging/stream_queue.py)
        self.topics = None
        # set by the AMQP wire: (exchange, routing key, properties) -> (record headers, record key)
        self.record_encoder: Callable | None = None
        # set by the AMQP wire: (record, topic, partition) -> AMQP properties (engine/bridge/forwarder.py)
        self.record_renderer: Callable | None = None

    # -- lifecycle ----------------------------------------------------------------------

    def open(self) -> None:
        self.vhosts[DEFAULT_VHOST] = VHost(DEFAULT_VHOST, self)
        add_kafka_exchange(self.vhosts[DEFAULT_VHOST])  # before recovery: bindings to it come back
        if self.directory is None:
            return
        self._definitions = FileDefinitions(self.directory, self.syncer)
        self._recovering = True
        self.txlog.load()
        try:
            self._recover(self._definitions.load())
        finally:
            self._recovering = False

    def _recover(self, changes: list[dict[str, Any]]) -> None:
        keep: set[str] = set()
        for change in changes:
            vhost = self.vhosts.get(change["vhost"])
            if vhost is None:
                vhost = self.vhosts[change["vhost"]] = VHost(change["vhost"], self)
            op = change["op"]
            if op == "exchange":
                vhost.exchanges[change["name"]] = Exchange(
                    change["name"], ExchangeType(change["type"]), durable=True,
                    auto_delete=change["auto_delete"], internal=change["internal"],
                    arguments=table_from_json(change["arguments"]),
                )
            elif op == "queue":
                queue = self.new_queue(vhost, change["name"], durable=True, auto_delete=change["auto_delete"],
                                       owner=None, arguments=table_from_json(change["arguments"]),
                                       queue_id=change["id"])
                if getattr(queue, "type_is_stream", False) and self.topics is not None \
                        and self.topics.get(queue.name) is None:
                    continue  # its topic was deleted by a Kafka client: the stream went with it
                vhost.queues[queue.name] = queue
                keep.add(queue.id)
                if queue.store is not None:
                    queue.delivered_seq = queue.store.load_delivered()
                    for entry, message in self.txlog.replay(queue, queue.store.recover()):
                        queue.restore(entry, message)
            elif op == "bind":
                source = vhost.exchanges.get(change["source"])
                if change["kind"] == "queue":
                    dest = vhost.queues.get(change["destination"]) or self.topic_queue(vhost, change["destination"])
                else:
                    dest = vhost.exchanges.get(change["destination"])
                if source is not None and dest is not None:
                    vhost._bind(source, dest, change["routing_key"], table_from_json(change["arguments"]))
        queues_dir = self.directory / "queues"
        if queues_dir.is_dir():
            for child in queues_dir.iterdir():
                if child.name not in keep:
                    remove_tree(child)
                    self.syncer.created(queues_dir)
        self.sync()  # what replaying an interrupted tx.commit appended, before the journal empties
        self.txlog.recovered()
        for vhost in self.vhosts.values():
            for queue in vhost.queues.values():
                queue.recovered()
        recovered = sum(q.message_count for v in self.vhosts.values() for q in v.queues.values())
        log.info("messaging: recovered %d queues, %d messages", len(keep), recovered)

    def close(self) -> None:
        self._deadlines.close()
        self.sync()
        for vhost in self.vhosts.values():
            for queue in vhost.queues.values():
                if queue.store is not None:
                    queue.store.close()
        self.txlog.close()
        self._definitions.close()

    # -- used by vhosts -----------------------------------------------------------------

    def record(self, change: dict[str, Any]) -> None:
        if not self._recovering:
            self._definitions.record(change)

    def new_queue(self, vhost: VHost, name: str, *, durable: bool, auto_delete: bool, owner: object | None,
                  arguments, queue_id: str | None = None) -> Queue:
        queue_id = queue_id or uuid.uuid4().hex
        if _is_stream(arguments):
            return StreamQueue(name, vhost=vhost.name, durable=durable, arguments=arguments, topics=self.topics,
                               clock=self.clock, queue_id=queue_id, host=vhost,
                               encoder=self.record_encoder)
        store = None
        if self.directory is not None:
            store = QueueStore(self.directory / "queues" / queue_id, self._mark_dirty, self.syncer)
        return Queue(name, vhost=vhost.name, durable=durable, auto_delete=auto_delete, owner=owner,
                     arguments=arguments, store=store, ram_budget=self.ram_budget_per_queue, queue_id=queue_id,
                     on_unused=vhost.delete_queue, host=vhost)

    def topic_queue(self, vhost: VHost, name: str):
        """The stream queue a Kafka topic is in vhost `/` (issue 7), made on first use; else None."""
        if vhost.name != DEFAULT_VHOST or self.topics is None or self.topics.get(name) is None:
            return None
        queue = vhost.queues.get(name)
        if queue is None:
            queue = vhost.queues[name] = StreamQueue(
                name, vhost=vhost.name, durable=True, arguments=TOPIC_STREAM_ARGUMENTS, topics=self.topics,
                clock=self.clock, queue_id=uuid.uuid4().hex, host=vhost)
        return queue

    # -- timers -------------------------------------------------------------------------

    def schedule(self, queue: Queue, kind: str, delay_ms: float) -> None:
        self._deadlines.at(self.clock.monotonic() + max(delay_ms, 0.0) / 1000.0, (queue, kind))

    def _due(self, key) -> None:
        queue, kind = key
        queue.on_timer(kind)

    def run_due(self) -> None:
        """Runs the queue timers that are due on the engine clock (tests, after FakeClock.advance)."""
        self._deadlines.run_due()

    def headers_source(self, message: Message):
        decoder = self.headers_decoder
        if decoder is None:
            return None
        return lambda: decoder(message.properties)

    def _mark_dirty(self, store: QueueStore) -> None:
        self._dirty.append(store)

    # -- used by the wire layers --------------------------------------------------------

    def vhost(self, name: str) -> VHost:
        vhost = self.vhosts.get(name)
        if vhost is None:
            raise fail(NotFound, Reason.NO_VHOST, vhost=name)
        return vhost

    def sync(self) -> None:
        """Hands every appended record to the OS; call before confirming those appends."""
        if not self._dirty:
            return
        dirty, self._dirty = self._dirty, []
        failure: OSError | None = None
        for store in dirty:
            try:
                store.flush()
            except OSError as err:
                failure = err
                store.mark_dirty()  # still holds what it could not write: retried by the next sync
        if failure is not None:
            raise failure

    def tx_commit(self, published: list, settled: list, apply: Callable[[], None]) -> None:
        """One AMQP tx.commit, all-or-nothing across a crash (engine/messaging/txlog.py).

        `published`: (queue, entry, message) of every publish of the commit, already enqueued
        (in memory only: nothing is written before `sync`); `settled`: (queue, entry) of every
        ack and reject without requeue, still to be applied by `apply`. On return the commit
        is durable (in the OS); an OSError means it may be only in the journal."""
        intent = encode_intent(published, settled) if self.directory is not None else None
        if intent is not None:
            self.txlog.write_intent(intent)
            if FAULT.point:
                FAULT.hit("after-intent", [])
        apply()
        if intent is not None and FAULT.point:
            FAULT.hit("mid-flush", [q.store for q, _e, _m in published[:1] if q.store is not None])
        self.sync()
        if intent is not None:
            self.txlog.done()

    def owner_closed(self, owner: object) -> None:
        for vhost in self.vhosts.values():
            vhost.owner_closed(owner)

"""Kafka → AMQP: every committed record of every topic, published to `amq.kafka` (issue 7).

For each topic partition the forwarder keeps a position (the next offset to forward) and follows
the partition's last stable offset: it reads whole batches below it (read_committed, as a Kafka
consumer with isolation.level=read_committed would), skips control batches and the batches of
aborted transactions (the partition's aborted-transaction index, KIP-98), decompresses the rest
(engine/log/record_codec.py) and publishes each record to the topic exchange `amq.kafka` of vhost
`/` with the topic name as routing key. How a record becomes AMQP properties is the wire's
business (`Messaging.record_renderer`, set by amqp_wire/service.py; docs/cross-protocol.md).

Positions are persisted in `<data_dir>/bridge/positions.json` (written to a temporary file,
fsynced, renamed over the old one) at most every `PERSIST_INTERVAL_S` and at close, and only
after the queues that took the forwarded messages were synced: a restart resumes from the last
persisted position, so nothing is skipped and a record is delivered more than once only if it
was forwarded after the last persist (at-least-once). A partition never seen before is forwarded
from its log start offset.

Records that an AMQP client published into a stream through `amq.kafka` itself are not forwarded
again (a loop breaker behind the bind-time refusal of engine/bridge/names.py).

The forwarder works on the event loop: appends wake it through `PartitionLog.watch`, and a scan
every `SCAN_INTERVAL_S` picks up new topics. Without a running loop (engine unit tests) it only
forwards when `pump_all()` is called.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from pathlib import Path

from engine.bridge.names import KAFKA_EXCHANGE
from engine.errors import OffsetOutOfRange
from engine.log.record_codec import decode_records, iter_batches
from engine.messaging.types import Message
from engine.types import TopicPartition

log = logging.getLogger(__name__)

READ_BYTES = 1 << 20
SCAN_INTERVAL_S = 0.2
PERSIST_INTERVAL_S = 0.1
RECORDS_PER_TURN = 5000  # then the loop gets a turn before the forwarder goes on
_LOOP_MARK = b"amq.kafka"


class Forwarder:
    def __init__(self, engine) -> None:
        self._engine = engine
        self._dir: Path | None = engine.subdir("bridge")
        self.positions: dict[TopicPartition, int] = {}
        self._watching: dict[TopicPartition, object] = {}
        self._pending: set[TopicPartition] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._scan_timer = None
        self._persist_timer = None
        self._dirty = False
        self._closed = False
        self.forwarded = 0  # counter for metrics
        self._load()

    # -- positions ------------------------------------------------------------------------

    def _load(self) -> None:
        if self._dir is None:
            return
        path = self._dir / "positions.json"
        if not path.exists():
            return
        try:
            raw = json.loads(path.read_text())
        except (OSError, ValueError) as err:
            log.error("bridge: cannot read %s (%s): forwarding restarts from each log start", path, err)
            return
        for item in raw.get("positions", []):
            self.positions[TopicPartition(topic=item["topic"], partition=int(item["partition"]))] = int(item["offset"])

    def persist(self) -> None:
        self._persist_timer = None
        if not self._dirty or self._dir is None:
            self._dirty = False
            return
        messaging = self._engine.messaging
        if messaging is not None:
            messaging.sync()  # what was forwarded is in its queues' files before the position moves
        data = json.dumps({"positions": [
            {"topic": tp.topic, "partition": tp.partition, "offset": offset}
            for tp, offset in sorted(self.positions.items(), key=lambda kv: (kv[0].topic, kv[0].partition))]})
        path = self._dir / "positions.json"
        tmp = path.with_suffix(".tmp")
        with open(tmp, "w") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
        self._dirty = False

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> None:
        try:
            self._loop = asyncio.get_running_loop()
        except RuntimeError:
            self._loop = None
        if self._loop is not None:
            self._scan_timer = self._loop.call_soon(self._scan)

    def close(self) -> None:
        self._closed = True
        for timer in (self._scan_timer, self._persist_timer):
            if timer is not None:
                timer.cancel()
        for tp, callback in list(self._watching.items()):
            try:
                self._engine.topics.partition(tp).unwatch(callback)
            except Exception:  # noqa: BLE001 - the topic may be gone
                pass
        self._watching.clear()
        try:
            self.persist()
        except OSError as err:
            log.error("bridge: cannot persist positions at close: %s", err)

    def _scan(self) -> None:
        self._scan_timer = None
        if self._closed:
            return
        try:
            self.pump_all()
        finally:
            if self._loop is not None and not self._closed:
                self._scan_timer = self._loop.call_later(SCAN_INTERVAL_S, self._scan)

    # -- forwarding ----------------------------------------------------------------------

    def pump_all(self) -> None:
        topics = self._engine.topics
        live = set()
        for topic in topics:
            for index, partition in enumerate(topic.partitions):
                tp = TopicPartition(topic=topic.name, partition=index)
                live.add(tp)
                if tp not in self._watching:
                    self._pump(tp, partition)
        for tp in [tp for tp in self.positions if tp not in live]:
            del self.positions[tp]  # a deleted topic: a new one of the same name starts afresh
            self._dirty = True

    def _woken(self, tp: TopicPartition) -> None:
        self._watching.pop(tp, None)
        if self._closed:
            return
        if self._loop is None:
            self._pump_tp(tp)
            return
        if not self._pending:
            self._loop.call_soon(self._drain_pending)
        self._pending.add(tp)

    def _drain_pending(self) -> None:
        pending, self._pending = self._pending, set()
        for tp in pending:
            self._pump_tp(tp)

    def _pump_tp(self, tp: TopicPartition) -> None:
        try:
            partition = self._engine.topics.partition(tp)
        except Exception:  # noqa: BLE001 - deleted meanwhile
            return
        self._pump(tp, partition)

    def _pump(self, tp: TopicPartition, partition) -> None:
        messaging = self._engine.messaging
        renderer = getattr(messaging, "record_renderer", None) if messaging is not None else None
        if renderer is None or partition.deleted:
            return
        vhost = messaging.vhosts.get("/")
        exchange = vhost.exchanges.get(KAFKA_EXCHANGE) if vhost is not None else None
        if exchange is None:
            return
        position = max(self.positions.get(tp, partition.log_start_offset), partition.log_start_offset)
        start = position
        budget = RECORDS_PER_TURN
        while budget > 0:
            stable = partition.last_stable_offset
            if position >= stable:
                break
            if not exchange.router.has_bindings():
                # Nothing is bound: publishing would drop every record unrouted (as RabbitMQ drops
                # a publish to an exchange without bindings), so skip the decoding too.
                position = stable
                break
            try:
                data = partition.read(position, READ_BYTES, max_offset=stable)
            except OffsetOutOfRange:
                position = partition.log_start_offset
                continue
            if not data:
                break
            aborted = None
            for header, raw in iter_batches(data):
                if header.next_offset <= position:
                    continue
                if header.is_control:
                    position = header.next_offset
                    continue
                if header.is_transactional:
                    if aborted is None:
                        aborted = partition.aborted_transactions(position, data)
                    if any(t.producer_id == header.producer_id and t.first_offset <= header.base_offset <= t.last_offset
                           for t in aborted):
                        position = header.next_offset
                        continue
                for record in decode_records(header, raw):
                    if record.offset < position:
                        continue
                    if dict(record.headers).get("x-amqp-exchange") == _LOOP_MARK:
                        continue
                    props = renderer(record, tp.topic, tp.partition)
                    message = Message(KAFKA_EXCHANGE, tp.topic, props, record.value or b"", True)
                    vhost.publish(exchange, tp.topic, message, messaging.headers_source(message))
                    self.forwarded += 1
                    budget -= 1
                position = header.next_offset
        if position != start or tp not in self.positions:
            self.positions[tp] = position
            self._dirty = True
            self._schedule_persist()
        callback = lambda tp=tp: self._woken(tp)  # noqa: E731
        self._watching[tp] = callback
        if budget <= 0 and self._loop is not None:
            # A backlog (after a restart, or a burst): yield the loop, then go on (DESIGN.md §2).
            self._loop.call_soon(callback)
        else:
            partition.watch(callback)

    def _schedule_persist(self) -> None:
        if self._loop is None:
            return
        if self._persist_timer is None:
            self._persist_timer = self._loop.call_later(PERSIST_INTERVAL_S, self._persist_safely)

    def _persist_safely(self) -> None:
        try:
            self.persist()
        except OSError as err:
            self._persist_timer = None
            log.error("bridge: cannot persist positions (will retry): %s", err)
            self._schedule_persist()

"""A RabbitMQ stream queue (`x-queue-type=stream`) stored as a Log (DESIGN.md §2).

Naming: a stream queue `q` of vhost `/` *is* the one-partition Kafka topic `q` (engine.topics);
the same name on both sides, so a Kafka client sees every AMQP stream of vhost `/` as a topic
and an AMQP client sees every Kafka topic as a stream queue (issue 7). Streams of other vhosts
are topics named `<vhost>/<name>`... not served: only vhost `/` may declare streams here (a
documented limit, docs/amqp.md). A topic that already exists (made by Kafka, any partition
count) is adopted: AMQP publishes go to partition 0 (or, keyed, to the key's partition), and an
AMQP consumer reads every partition (each with its own cursor; per-partition order holds, the
partitions are interleaved round robin; deliveries of a multi-partition topic also carry
`x-kafka-partition`, docs/cross-protocol.md).

Declare arguments map to topic configs (rabbit_stream_queue:declare → osiris retention):
`x-max-length-bytes` → `retention.bytes`, `x-max-age` → `retention.ms`,
`x-stream-max-segment-size-bytes` → `segment.bytes`.

Publishing appends one record per message (to partition 0, or with an `x-kafka-key` header to
the partition Kafka's default partitioner picks for that key, engine/bridge/murmur2.py) (engine/log/record_codec.py): value = body, and the
headers the wire layer computed (`Message.properties` is the AMQP property list; the record keeps
it whole under `x-amqp-properties` so AMQP consumers get it back byte for byte, see
docs/cross-protocol.md for the Kafka-visible mapping). The append is written before the publish
returns, so a publisher confirm sent afterwards covers it.

Consuming (rabbit_stream_queue:consume, docs/streams.md): each consumer has its own cursor per
partition, started by `x-stream-offset` (first | last | next | an offset | a timestamp in seconds
| an interval like "1h"; default next), each form applied to each partition (an integer offset is
that offset in every partition, clamped to the partition's range); deliveries are `StreamEntry`s carrying the record's offset
(the wire adds the `x-stream-offset` header); acks only give credit back, nothing is removed.
Consumers read committed data only (up to the last stable offset; control batches and aborted
transactional batches are skipped). A consumer at the end waits with `PartitionLog.watch`.
"""

from __future__ import annotations

import re
from collections import deque
from typing import Callable, Mapping

from engine.errors import EngineError, NotFound, OffsetOutOfRange, PreconditionFailed
from engine.bridge.murmur2 import partition_for
from engine.log.record_codec import Record, build_batch, decode_records, iter_batches
from engine.messaging.arguments import QueueConfig
from engine.messaging.fields import INTEGER_KINDS, Field, FieldKind
from engine.messaging.types import Entry, Message
from engine.topics import validate_name

READ_BYTES = 1 << 20
_INTERVAL = re.compile(r"^([0-9]+)([YMDhms])$")
_UNIT_MS = {"Y": 365 * 86_400_000, "M": 30 * 86_400_000, "D": 86_400_000, "h": 3_600_000, "m": 60_000, "s": 1000}
PROPERTIES_HEADER = "x-amqp-properties"
FILTER_VALUE_HEADER = "x-stream-filter-value"  # the AMQP header (so the record header) a publisher filters by
TOPIC_STREAM_ARGUMENTS = {"x-queue-type": Field(FieldKind.LONGSTR, b"stream")}


class StreamEntry(Entry):
    """One delivery of a stream record: the record itself rides along for the wire to render.

    `partition` is the record's partition when the topic has more than one, else None (a
    one-partition stream delivers exactly as RabbitMQ's, with no partition header)."""

    __slots__ = ("record", "partition")

    def __init__(self, record: Record, partition: int | None = None) -> None:
        super().__init__(record.offset, None, len(record.value or b""))
        self.record = record
        self.partition = partition


def stream_configs(arguments: Mapping[str, Field]) -> dict[str, str]:
    """Topic configs for a stream's declare arguments."""
    configs: dict[str, str] = {}
    field = arguments.get("x-max-length-bytes")
    if field is not None and field.kind in INTEGER_KINDS:
        configs["retention.bytes"] = str(int(field.value))
    field = arguments.get("x-max-age")
    if field is not None and field.kind is FieldKind.LONGSTR:
        match = _INTERVAL.match(bytes(field.value).decode("utf-8", "replace"))
        if match:
            configs["retention.ms"] = str(int(match.group(1)) * _UNIT_MS[match.group(2)])
    field = arguments.get("x-stream-max-segment-size-bytes")
    if field is not None and field.kind in INTEGER_KINDS and field.value > 0:
        configs["segment.bytes"] = str(max(int(field.value), 14))
    return configs


class _Part:
    """One consumer's position in one partition."""

    __slots__ = ("index", "offset", "pending", "waiting")

    def __init__(self, index: int, offset: int) -> None:
        self.index = index
        self.offset = offset  # next offset to read from the log
        self.pending: deque[Record] = deque()  # decoded, not yet delivered
        self.waiting = False  # at the end of the partition: woken by its watch


class _Cursor:
    __slots__ = ("consumer", "parts", "spec", "turn", "filters", "match_unfiltered")

    def __init__(self, consumer, parts: list[_Part], spec, filters: frozenset[bytes] | None,
                 match_unfiltered: bool) -> None:
        self.consumer = consumer
        self.parts = parts
        self.spec = spec  # x-stream-offset, for partitions added to the topic later
        self.turn = 0  # round robin over the partitions
        self.filters = filters  # x-stream-filter values; None: no filtering
        self.match_unfiltered = match_unfiltered  # x-stream-match-unfiltered

    def wants(self, record: Record) -> bool:
        """Stream filtering (RabbitMQ 3.13+, docs/streams.md "Filtering"): a record whose
        `x-stream-filter-value` is one of the consumer's `x-stream-filter` values, or that has
        none when `x-stream-match-unfiltered` is true. RabbitMQ filters whole chunks with a Bloom
        filter, so its consumers may also get other messages; we filter each record exactly."""
        for name, value in record.headers:
            if name == FILTER_VALUE_HEADER:
                return value is not None and value in self.filters
        return self.match_unfiltered


class StreamQueue:
    """Duck-types engine.messaging.queue.Queue for the vhost, the router and the wire."""

    type_is_stream = True

    def __init__(self, name: str, *, vhost: str, durable: bool, arguments: Mapping[str, Field], topics,
                 clock, queue_id: str = "", host=None, encoder: Callable | None = None) -> None:
        self.name = name
        self.vhost = vhost
        self.durable = durable
        self.auto_delete = False
        self.owner = None
        self.arguments = dict(arguments)
        self.config = QueueConfig.parse(self.arguments)
        self.type = self.config.type
        self.id = queue_id
        self.store = None
        self.deleted = False
        self.had_consumer = False
        self.exclusive_consumer = None
        self.unacked_count = 0
        self.published = self.delivered = self.acked = 0
        self._topics = topics
        self._clock = clock
        self._host = host
        self._encoder = encoder
        self._cursors: dict[int, _Cursor] = {}
        self._watches: dict[int, Callable] = {}  # partition index → its registered watch callback
        self._log = None
        if topics is not None and topics.get(name) is None:
            try:
                validate_name(name)
            except EngineError as err:
                # The stream is a topic of the same name (module docstring): Kafka's name rules apply.
                raise PreconditionFailed(f"stream queue name '{name}' is not a valid topic name: {err}") from None

    def __repr__(self) -> str:
        return f"<StreamQueue {self.name!r}>"

    # -- the log --------------------------------------------------------------------------

    @property
    def log(self):
        log = self._log
        if log is None or log.deleted:
            topic = self._topics.get(self.name)
            if topic is None:
                if log is not None and not self.deleted:
                    # The topic was deleted by a Kafka client: the queue goes with it (never resurrected).
                    self._log = None
                    if self._host is not None:
                        self._host.delete_queue(self)
                    self.deleted = True
                    raise NotFound(f"stream queue '{self.name}' was deleted with its topic")
                topic = self._topics.create(self.name, partitions=1, configs=stream_configs(self.arguments))
            log = self._log = topic.partitions[0]
        return log

    def partitions(self) -> list:
        """Every partition of the topic (partition 0 first), through `log` for the deletion rules."""
        first = self.log
        topic = self._topics.get(self.name) if self._topics is not None else None
        if topic is None or len(topic.partitions) <= 1:
            return [first]
        return list(topic.partitions)

    @property
    def message_count(self) -> int:
        return sum(log.high_watermark - log.log_start_offset for log in self.partitions())

    @property
    def consumer_count(self) -> int:
        return len(self._cursors)

    @property
    def consumers(self) -> tuple:
        return tuple(c.consumer for c in self._cursors.values())

    # -- publishing -----------------------------------------------------------------------

    def enqueue(self, message: Message) -> Entry | None:
        key, headers = self.record_of(message)
        log = self.log
        if key is not None:
            # Kafka's default partitioner, so per-key order holds beside Kafka producers (issue 7)
            topic = self._topics.get(self.name)
            if topic is not None and len(topic.partitions) > 1:
                log = topic.partitions[partition_for(key, len(topic.partitions))]
        log.append(build_batch([(key, message.body, headers)], timestamp_ms=self._clock.now_ms()))
        self.published += 1
        return _APPENDED

    def record_of(self, message: Message) -> tuple[bytes | None, tuple]:
        """(record key, record headers) for a message, as the wire's encoder maps them."""
        encoder: Callable | None = self._encoder or getattr(getattr(self._host, "_messaging", None),
                                                             "record_encoder", None)
        if encoder is None:
            return None, ((PROPERTIES_HEADER, message.properties),)
        headers, key = encoder(message.exchange, message.routing_key, message.properties)
        return key, tuple(headers)

    def append_records(self, records: list[tuple[bytes | None, bytes | None, tuple]]):
        """Appends ready-made records (the AMQP → Kafka bridge) to partition 0."""
        return self.log.append(build_batch(records, timestamp_ms=self._clock.now_ms()))

    # -- consuming ------------------------------------------------------------------------

    def start_offset(self, spec: Field | None, log=None) -> int:
        log = self.log if log is None else log
        first, end = log.log_start_offset, log.high_watermark
        if spec is None:
            return end
        if spec.kind in (FieldKind.LONGSTR, FieldKind.BINARY):
            # validated at basic.consume (arguments.check_consumer_arguments): first | last |
            # next in any string kind, else an interval
            text = bytes(spec.value).decode("utf-8", "replace")
            if text == "first":
                return first
            if text == "next":
                return end
            if text == "last":
                return self._last_batch_start(log, first, end)
            match = _INTERVAL.match(text)
            if match:
                since = self._clock.now_ms() - int(match.group(1)) * _UNIT_MS[match.group(2)]
                return self._offset_at(log, since)
            return end
        if spec.kind is FieldKind.TIMESTAMP:
            return self._offset_at(log, int(spec.value) * 1000)
        if spec.kind in INTEGER_KINDS:
            return min(max(int(spec.value), first), end)
        return end

    @staticmethod
    def _offset_at(log, timestamp_ms: int) -> int:
        found = log.offset_for_timestamp(timestamp_ms)
        return log.high_watermark if found is None else found.offset

    @staticmethod
    def _last_batch_start(log, first: int, end: int) -> int:
        # RabbitMQ's `last` is the first message of the last chunk; ours is the last batch.
        if end <= first:
            return end
        data = log.read(end - 1, READ_BYTES)
        for header, _raw in iter_batches(data):
            return max(header.base_offset, first)
        return end - 1

    def add_consumer(self, consumer, *, exclusive: bool, offset: Field | None = None,
                     arguments: Mapping[str, Field] | None = None) -> None:
        spec = offset if offset is not None else getattr(consumer, "stream_offset", None)
        if arguments is None:
            arguments = getattr(consumer, "stream_arguments", None) or {}
        filters, match_unfiltered = filter_spec(arguments)
        parts = [_Part(i, self.start_offset(spec, log)) for i, log in enumerate(self.partitions())]
        self._cursors[id(consumer)] = _Cursor(consumer, parts, spec, filters, match_unfiltered)
        self.had_consumer = True

    def remove_consumer(self, consumer) -> None:
        self._cursors.pop(id(consumer), None)
        if not self._cursors and self._watches and not self.deleted:
            try:
                logs = self.partitions()
            except NotFound:
                return  # the topic was deleted under it: its consumers were told
            for index, callback in self._watches.items():
                if index < len(logs):
                    logs[index].unwatch(callback)
            self._watches.clear()

    def dispatch(self) -> None:
        if self.deleted:
            return
        logs = self.partitions()
        for cursor in list(self._cursors.values()):
            self._serve(cursor, logs)

    def _serve(self, cursor: _Cursor, logs: list) -> None:
        consumer = cursor.consumer
        parts = cursor.parts
        while len(parts) < len(logs):
            # partitions added to the topic since (Kafka CreatePartitions): read them from their start
            parts.append(_Part(len(parts), logs[len(parts)].log_start_offset))
        multi = len(logs) > 1
        count = len(parts)
        idle = 0  # partitions in a row with nothing to give
        while consumer.has_credit() and idle < count:
            part = parts[cursor.turn % count]
            cursor.turn += 1
            if not part.pending and not self._fill(part, logs[part.index]):
                idle += 1
                continue
            idle = 0
            record = part.pending.popleft()
            if cursor.filters is not None and not cursor.wants(record):
                continue
            self.delivered += 1
            self.unacked_count += 1
            consumer.deliver(self, StreamEntry(record, part.index if multi else None), _NO_MESSAGE)
            if id(consumer) not in self._cursors:
                return

    def _fill(self, cursor: _Part, log) -> bool:
        while True:
            stable = log.last_stable_offset
            if cursor.offset < log.log_start_offset:
                cursor.offset = log.log_start_offset  # retention removed what it had not read
            if cursor.offset >= stable:
                if not cursor.waiting:
                    cursor.waiting = True
                    self._watch(cursor.index, log)
                return False
            try:
                data = log.read(cursor.offset, READ_BYTES, max_offset=stable)
            except OffsetOutOfRange:
                cursor.offset = log.log_start_offset
                continue
            if not data:
                return False
            aborted = None
            for header, raw in iter_batches(data):
                if header.next_offset <= cursor.offset:
                    continue
                if header.is_control:
                    cursor.offset = header.next_offset
                    continue
                if header.is_transactional:
                    if aborted is None:
                        aborted = _aborted_ranges(log, cursor.offset, data)
                    if _is_aborted(aborted, header):
                        cursor.offset = header.next_offset
                        continue
                for record in decode_records(header, raw):
                    if record.offset >= cursor.offset:
                        cursor.pending.append(record)
                cursor.offset = header.next_offset
            if cursor.pending:
                return True

    def _watch(self, index: int, log) -> None:
        # one watch per partition for all consumers (PartitionLog.watch fires once)
        if index in self._watches:
            return
        callback = self._watches[index] = lambda: self._appended(index)
        log.watch(callback)

    def _appended(self, index: int) -> None:
        self._watches.pop(index, None)
        for cursor in self._cursors.values():
            if index < len(cursor.parts):
                cursor.parts[index].waiting = False
        try:
            self.dispatch()
        except NotFound:
            pass  # the topic was deleted (the watch fires on deletion too): consumers were told

    # -- settling: acks are credit only ---------------------------------------------------

    def ack(self, entry: Entry) -> None:
        self.unacked_count -= 1
        self.acked += 1

    discard = ack

    def requeue(self, entries) -> None:
        # rabbit_stream_queue: rejects/nacks settle, nothing goes back (the log is immutable)
        for _ in entries:
            self.unacked_count -= 1

    # -- what the classic paths ask of every queue ---------------------------------------

    def touch(self) -> None:
        # declared (or passively looked up): the topic exists from now on, for Kafka clients too
        if not self.deleted and self._topics is not None:
            self.log

    def recovered(self) -> None:
        pass

    def on_timer(self, kind: str) -> None:
        pass

    def delete(self) -> int:
        topic = self._topics.get(self.name)
        count = 0
        if topic is not None and not self.deleted:
            count = sum(p.high_watermark - p.log_start_offset for p in topic.partitions)
        self.deleted = True
        self._watches.clear()
        cursors, self._cursors = self._cursors, {}
        for cursor in cursors.values():
            cursor.consumer.queue_deleted(self)
        if self._topics.get(self.name) is not None:
            self._topics.delete(self.name)
        self._log = None
        return count


def filter_spec(arguments: Mapping[str, Field]) -> tuple[frozenset[bytes] | None, bool]:
    """(x-stream-filter values or None, x-stream-match-unfiltered), read as
    rabbit_stream_queue:filter_spec/1 does: a longstr or an array (its longstr members); any
    other value means no filter; match-unfiltered is a bool, default false."""
    field = arguments.get("x-stream-filter")
    filters = None
    if field is not None and field.kind is FieldKind.LONGSTR:
        filters = frozenset((bytes(field.value),))
    elif field is not None and field.kind is FieldKind.ARRAY:
        filters = frozenset(bytes(item.value) for item in field.value
                            if isinstance(item, Field) and item.kind is FieldKind.LONGSTR)
    unfiltered = arguments.get("x-stream-match-unfiltered")
    match_unfiltered = bool(unfiltered is not None and unfiltered.kind is FieldKind.BOOL and unfiltered.value)
    return filters, match_unfiltered


def _aborted_ranges(log, offset: int, data) -> list:
    try:
        return list(log.aborted_transactions(offset, data))
    except Exception:  # noqa: BLE001 - an index problem must not stop delivery of plain data
        return []


def _is_aborted(aborted: list, header) -> bool:
    for txn in aborted:
        if txn.producer_id == header.producer_id and txn.first_offset <= header.base_offset <= txn.last_offset:
            return True
    return False


class _Appended(Entry):
    __slots__ = ()


_APPENDED = _Appended(0, None, 0)
_NO_MESSAGE = Message("", "", b"", b"")


def is_stream(arguments: Mapping[str, Field]) -> bool:
    field = arguments.get("x-queue-type")
    return field is not None and field.kind is FieldKind.LONGSTR and bytes(field.value) == b"stream"

"""The AMQP transaction journal: tx.commit all-or-nothing across queues and across kill -9.

Owns `<amqp dir>/tx.journal`. One commit (engine/messaging/messaging.py `tx_commit`,
called by the AMQP channel on tx.commit) goes:

1. the buffered publishes are routed and enqueued in memory: their records go to their
   queues' append buffers (engine/messaging/segments.py), nothing reaches a file yet, and
   nothing reaches a socket either (the wire sends at the end of the input batch);
2. one *intent* record naming the whole commit is written to the journal with one
   `write` — every persistent message that landed in a durable queue (the queue's id and
   the segment record, sequence number included) and every settled delivery whose record
   is on disk (queue id, sequence number). This write is the commit point;
3. the acks (and rejects without requeue) are applied: their records are marked removed;
4. every queue store is flushed (`Messaging.sync`);
5. the journal is truncated to zero: nothing is pending any more;
6. only then does the wire send tx.commit-ok.

Recovery (`load`, before the definitions are replayed, and `replay` for each durable queue
while it recovers) re-applies every intent still in the journal, idempotently: a published
record whose sequence number the queue's segments did not give back is appended again (with
the same sequence number, in order), a settled record that is still live is removed. Then
the stores are flushed and the journal truncated (`recovered`), before anything is served.
An intent cut short (a length or CRC that does not check) is a commit that never reached
its commit point: nothing of it reached a file (step 1 writes nothing, step 3 runs later),
so ignoring it leaves "none". Sequence numbers are unique within one run of a queue, and
the journal is emptied at every start, so a replayed intent never names someone else's
record.

Record format (big-endian), repeated:

    4   length L of what follows the CRC
    4   CRC-32 of those L bytes
    4   number of publishes P, then P times:
        2  queue id length, queue id (UTF-8), then one segment record (self-delimiting:
           its own u32 length first; segments.py `encode_record`, state live-persistent)
    4   number of settlements A, then A times:
        2  queue id length, queue id, 8  sequence number

Durability: the journal is written to the OS (page cache) before anything is applied, so
it survives a process crash. It is tracked by the engine's Syncer like the queue segments
(engine/durability.py): under `--fsync always` the wire sends tx.commit-ok only after a
round fsynced the journal and the segments. That round syncs them together, so a power loss
*during* it can keep some of the commit's records without its intent (all-or-nothing across
a power loss would need an fsync of the intent before step 3; not done). Not
covered: copies dead-lettered by a reject inside the commit (ordinary publishes made while
applying), stream-queue targets (Kafka logs, written at once), `drop-head` overflow caused by
a transactional publish, and a failure to write the journal itself (the connection is closed
with 541 and the commit's publishes stay in memory, like a failed store write).
"""

from __future__ import annotations

import logging
import os
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

from engine.durability import Syncer
from engine.messaging.arguments import QueueType
from engine.messaging.segments import LIVE_PERSISTENT, decode_record, encode_record
from engine.messaging.types import CheckedEntry, Entry, Message

if TYPE_CHECKING:
    from engine.messaging.queue import Queue

log = logging.getLogger("mqgateway.messaging")

JOURNAL_FILE = "tx.journal"
_HEAD = struct.Struct(">II")
_U16 = struct.Struct(">H")
_U32 = struct.Struct(">I")
_U64 = struct.Struct(">Q")


@dataclass(slots=True, kw_only=True)
class PendingIntent:
    """What the journal still holds for one queue: records to have, records not to have."""

    publishes: dict[int, bytes] = field(default_factory=dict)  # seq -> segment record
    settled: set[int] = field(default_factory=set)


def encode_intent(published: Iterable[tuple["Queue", Entry, Message]],
                  settled: Iterable[tuple["Queue", Entry]]) -> bytes | None:
    """The intent record of one commit, or None when it touches nothing on disk."""
    parts: list[bytes] = []
    count = 0
    for queue, entry, message in published:
        if not _on_disk_queue(queue) or not (message.persistent or queue.type is QueueType.QUORUM):
            continue
        qid = queue.id.encode()
        parts += (_U16.pack(len(qid)), qid, encode_record(entry, message, LIVE_PERSISTENT))
        count += 1
    acks: list[bytes] = []
    for queue, entry in settled:
        if not _on_disk_queue(queue) or entry.segment is None:
            continue
        qid = queue.id.encode()
        acks += (_U16.pack(len(qid)), qid, _U64.pack(entry.seq))
    if not count and not acks:
        return None
    body = b"".join((_U32.pack(count), *parts, _U32.pack(len(acks) // 3), *acks))
    return _HEAD.pack(len(body), zlib.crc32(body)) + body


def _on_disk_queue(queue) -> bool:
    return getattr(queue, "store", None) is not None and queue.durable and not queue.deleted


def decode_intents(data: bytes) -> dict[str, PendingIntent]:
    """Every whole intent in `data`, merged per queue id; a torn or corrupt tail is ignored."""
    pending: dict[str, PendingIntent] = {}
    pos = 0
    while pos + 8 <= len(data):
        length, crc = _HEAD.unpack_from(data, pos)
        body = data[pos + 8: pos + 8 + length]
        if len(body) < length or zlib.crc32(body) != crc:
            break
        pos += 8 + length
        try:
            _decode_body(body, pending)
        except (struct.error, ValueError, UnicodeDecodeError):
            break  # a CRC-valid record we cannot read: written by something else; stop there
    return pending


def _decode_body(body: bytes, pending: dict[str, PendingIntent]) -> None:
    at = 0
    (count,) = _U32.unpack_from(body, at)
    at += 4
    for _ in range(count):
        qid, at = _queue_id(body, at)
        (length,) = _U32.unpack_from(body, at)
        record = body[at: at + 4 + length]
        at += 4 + length
        _state, seq, message, _expires = decode_record(record)
        if message is None:
            raise ValueError("bad segment record in intent")
        pending.setdefault(qid, PendingIntent()).publishes[seq] = record
    (count,) = _U32.unpack_from(body, at)
    at += 4
    for _ in range(count):
        qid, at = _queue_id(body, at)
        (seq,) = _U64.unpack_from(body, at)
        at += 8
        pending.setdefault(qid, PendingIntent()).settled.add(seq)


def _queue_id(body: bytes, at: int) -> tuple[str, int]:
    (n,) = _U16.unpack_from(body, at)
    at += 2
    return body[at: at + n].decode(), at + n


class Fault:
    """A crash injected into the n-th journaled commit, for the kill -9 tests only.

    `MQGW_FAULT_TX_COMMIT=<point>:<n>` (unset in production): the process exits at once with
    no clean-up, like kill -9, at `after-intent` (the journal written, nothing applied) or
    `mid-flush` (the acks applied and the first target queue's records written, the others
    not)."""

    def __init__(self, spec: str | None) -> None:
        self.point, self.left = "", 0
        if spec:
            point, _, n = spec.partition(":")
            self.point, self.left = point, int(n or 1)

    def hit(self, point: str, flush_first: list) -> None:
        if self.point != point:
            return
        self.left -= 1
        if self.left > 0:
            return
        for store in flush_first:
            store.flush()
        os._exit(137)


FAULT = Fault(os.environ.get("MQGW_FAULT_TX_COMMIT"))


class TxLog:
    """The journal file (None directory: the memory backend, where a crash loses everything anyway)."""

    def __init__(self, directory: Path | None, syncer: Syncer | None = None) -> None:
        self.path = None if directory is None else directory / JOURNAL_FILE
        self.syncer = syncer or Syncer()
        self._fd = -1
        self._handle = None
        self._size = 0
        self.pending: dict[str, PendingIntent] = {}

    # -- recovery -----------------------------------------------------------------------

    def load(self) -> None:
        """Reads the intents a crash left (call before the queues recover)."""
        if self.path is None:
            return
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return
        self.pending = decode_intents(data)
        if self.pending:
            log.info("messaging: re-applying %d queues' part of an interrupted tx.commit", len(self.pending))

    def replay(self, queue: "Queue", recovered: Iterable[tuple[Entry, Message]]) -> Iterable[tuple[Entry, Message]]:
        """A recovering queue's entries with the pending intents applied (missing published
        records appended again, settled ones removed), in sequence order."""
        intent = self.pending.pop(queue.id, None)
        if intent is None or queue.store is None:
            return recovered
        store = queue.store
        # The whole scan first: removing while the store still counts a segment's live
        # records would let it drop a segment it has not finished reading.
        recovered = list(recovered)
        kept: list[tuple[Entry, Message]] = []
        seen: set[int] = set()
        for entry, message in recovered:
            seen.add(entry.seq)
            if entry.seq in intent.settled:
                store.remove(entry)
            else:
                kept.append((entry, message))
        for seq, record in intent.publishes.items():
            if seq in seen or seq in intent.settled:
                continue
            _state, _seq, message, expires = decode_record(record)
            assert message is not None  # checked by decode_intents
            entry = CheckedEntry(seq, message, len(message.body))
            entry.expires = expires
            store.append(entry, message, True)
            kept.append((entry, message))
        kept.sort(key=lambda pair: pair[0].seq)
        return kept

    def recovered(self) -> None:
        """Recovery applied and flushed every intent: the journal starts empty."""
        if self.path is None:
            return
        self.pending.clear()
        self._open()
        os.ftruncate(self._fd, 0)
        self._handle.written()
        self._size = 0

    # -- commits ------------------------------------------------------------------------

    def write_intent(self, intent: bytes) -> None:
        """The commit point: the whole intent handed to the OS with one write."""
        if self.path is None:
            return
        self._open()
        view = memoryview(intent)
        written = 0
        while written < len(view):
            written += os.write(self._fd, view[written:])
        self._size += written
        self._handle.written()

    def done(self) -> None:
        """Everything the journal holds is applied and flushed."""
        if self._fd >= 0 and self._size:
            os.ftruncate(self._fd, 0)
            self._handle.written()
            self._size = 0

    def _open(self) -> None:
        if self._fd < 0:
            assert self.path is not None
            self.path.parent.mkdir(parents=True, exist_ok=True)
            existed = self.path.exists()
            self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            self._handle = self.syncer.track(self._fd, str(self.path))
            if not existed:
                self.syncer.created(self.path.parent)

    def close(self) -> None:
        if self._fd >= 0:
            self._handle.close()
            self._handle = None
            self._fd = -1


def publish_collecting(vhost, exchange, routing_key: str, message: Message, headers,
                       published: list) -> bool:
    """`VHost.publish` for a committing transaction: also collects (queue, entry, message) of
    every queue that took the message, for the intent. False when it routed nowhere."""
    if message.cc or message.bcc:
        queues = vhost.route_keys(exchange, message.routing_keys, headers)
    else:
        queues = vhost.route(exchange, routing_key, headers)
    for queue in queues:
        entry = queue.enqueue(message)
        if entry is not None:
            published.append((queue, entry, message))
    return bool(queues)

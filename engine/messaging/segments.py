"""Message records of one queue on disk: append-only segment files with in-place removal.

Each queue that keeps anything on disk owns a folder `<amqp dir>/queues/<queue id>/` of
segment files named by a 16-digit sequence number (`0000000000000001.seg`). A segment is
a run of records:

    offset  size  field
    0       4     length L of the rest of the record (big-endian u32)
    4       1     state: 0x01 persistent and live, 0x00 transient (paged out only),
                  0x80 removed (acked, purged, or discarded)
    5       4     CRC-32 of bytes 9 .. 4+L
    9       8     the entry's sequence number in its queue (u64)
    17      2     exchange name length E, then E bytes (UTF-8)
    19+E    2     routing key length R, then R bytes
    ..      4     properties length P, then P bytes (the raw content-header property list)
    ..      rest  body

Removing a record rewrites its one state byte where it lies (`os.pwrite`), so no separate
ack journal has to be compacted against the records. A segment whose records are all
removed is deleted once it is no longer the one being appended to. Recovery reads every
segment in order and keeps the persistent live records; a record whose length or CRC does
not check (a write cut short) ends that segment's scan.

Appends go to a per-segment buffer that `flush()` writes with one `pwrite`; the owner
(engine/messaging/messaging.py) flushes every dirty store before a publisher confirm is
sent, so a confirmed persistent message is in the page cache and survives kill -9. Sync to
the platter (fsync) is the `fsync` policy's business (issue 8).
"""

from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path
from typing import Callable, Iterator

from engine.messaging.types import Entry, Message

SEGMENT_BYTES = 8 * 1024 * 1024
LIVE_PERSISTENT = 0x01
LIVE_TRANSIENT = 0x00
REMOVED = 0x80
_HEAD = struct.Struct(">IBI")  # length, state, crc
_SEQ_EX = struct.Struct(">QH")
_U16 = struct.Struct(">H")
_U32 = struct.Struct(">I")
_STATE_REMOVED = bytes([REMOVED])


class Segment:
    __slots__ = ("number", "path", "fd", "size", "pending", "live")

    def __init__(self, number: int, path: Path, size: int = 0) -> None:
        self.number = number
        self.path = path
        self.fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        self.size = size  # bytes already written to the file
        self.pending = bytearray()  # appended, not yet written
        self.live = 0

    @property
    def end(self) -> int:
        return self.size + len(self.pending)

    def flush(self) -> None:
        pending = self.pending
        if not pending:
            return
        view = memoryview(pending)
        written = 0
        while written < len(view):
            written += os.pwrite(self.fd, view[written:], self.size + written)
        view.release()
        self.size += written
        pending.clear()

    def mark_removed(self, offset: int) -> None:
        if offset >= self.size:
            self.pending[offset - self.size + 4] = REMOVED
        else:
            os.pwrite(self.fd, _STATE_REMOVED, offset + 4)

    def read(self, offset: int) -> bytes:
        if offset >= self.size:
            start = offset - self.size
            (length,) = _U32.unpack_from(self.pending, start)
            return bytes(self.pending[start: start + 4 + length])
        head = os.pread(self.fd, 4, offset)
        (length,) = _U32.unpack(head)
        return head + os.pread(self.fd, length, offset + 4)

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def encode_record(seq: int, message: Message, state: int) -> bytes:
    ex = message.exchange.encode()
    rk = message.routing_key.encode()
    props = message.properties
    rest = b"".join((
        _SEQ_EX.pack(seq, len(ex)), ex, _U16.pack(len(rk)), rk, _U32.pack(len(props)), props, message.body,
    ))
    return _HEAD.pack(len(rest) + 5, state, zlib.crc32(rest)) + rest


def decode_record(record: bytes | memoryview) -> tuple[int, int, Message | None]:
    """(state, seq, message) of one whole record; message None when it does not check."""
    length, state, crc = _HEAD.unpack_from(record, 0)
    rest = memoryview(record)[9: 4 + length]
    if zlib.crc32(rest) != crc:
        return state, 0, None
    seq, ex_len = _SEQ_EX.unpack_from(rest, 0)
    pos = 10
    exchange = bytes(rest[pos: pos + ex_len]).decode()
    pos += ex_len
    (rk_len,) = _U16.unpack_from(rest, pos)
    pos += 2
    routing_key = bytes(rest[pos: pos + rk_len]).decode()
    pos += rk_len
    (p_len,) = _U32.unpack_from(rest, pos)
    pos += 4
    properties = bytes(rest[pos: pos + p_len])
    body = bytes(rest[pos + p_len:])
    return state, seq, Message(exchange, routing_key, properties, body, persistent=state == LIVE_PERSISTENT)


class QueueStore:
    """The segment files of one queue."""

    def __init__(self, directory: Path, on_dirty: Callable[["QueueStore"], None]) -> None:
        self.directory = directory
        self._on_dirty = on_dirty
        self._segments: dict[int, Segment] = {}
        self._current: Segment | None = None
        self._dirty = False

    # -- writing ------------------------------------------------------------------------

    def append(self, entry: Entry, message: Message, persistent: bool) -> None:
        record = encode_record(entry.seq, message, LIVE_PERSISTENT if persistent else LIVE_TRANSIENT)
        seg = self._current
        if seg is None or seg.end + len(record) > SEGMENT_BYTES and seg.end > 0:
            seg = self._roll()
        entry.segment = seg
        entry.offset = seg.end
        seg.pending += record
        seg.live += 1
        if not self._dirty:
            self._dirty = True
            self._on_dirty(self)

    def remove(self, entry: Entry) -> None:
        seg = entry.segment
        if seg is None or seg.fd < 0:
            return
        entry.segment = None
        seg.mark_removed(entry.offset)
        seg.live -= 1
        if seg.live <= 0 and seg is not self._current:
            self._drop(seg)

    def read(self, entry: Entry) -> Message:
        seg = entry.segment
        assert seg is not None, "a paged-out entry always has a record"
        state, _seq, message = decode_record(seg.read(entry.offset))
        if message is None:
            raise OSError(f"corrupt record at {seg.path}:{entry.offset}")
        return message

    def flush(self) -> None:
        self._dirty = False
        for seg in self._segments.values():
            seg.flush()

    def _roll(self) -> Segment:
        self.directory.mkdir(parents=True, exist_ok=True)
        number = (max(self._segments) + 1) if self._segments else 1
        old = self._current
        seg = Segment(number, self.directory / f"{number:016d}.seg")
        self._segments[number] = seg
        self._current = seg
        if old is not None and old.live <= 0:
            self._drop(old)
        return seg

    def _drop(self, seg: Segment) -> None:
        self._segments.pop(seg.number, None)
        seg.pending.clear()
        seg.close()
        try:
            seg.path.unlink()
        except FileNotFoundError:
            pass

    # -- lifecycle ----------------------------------------------------------------------

    def recover(self) -> Iterator[tuple[Entry, Message]]:
        """Yields (entry, message) for every persistent live record, oldest segment first."""
        if not self.directory.is_dir():
            return
        numbers = sorted(int(p.stem) for p in self.directory.glob("*.seg") if p.stem.isdigit())
        for number in numbers:
            path = self.directory / f"{number:016d}.seg"
            data = path.read_bytes()
            seg = Segment(number, path, size=len(data))
            self._segments[number] = seg
            pos = 0
            end = len(data)
            while pos + 9 <= end:
                (length,) = _U32.unpack_from(data, pos)
                if length < 5 + 10 or pos + 4 + length > end:
                    break
                state, seq, message = decode_record(memoryview(data)[pos: pos + 4 + length])
                if message is None:
                    break
                if state == LIVE_PERSISTENT:
                    entry = Entry(seq, message, len(message.body))
                    entry.segment = seg
                    entry.offset = pos
                    seg.live += 1
                    yield entry, message
                elif state == LIVE_TRANSIENT:
                    seg.mark_removed(pos)  # paged-out transient messages do not survive a restart
                pos += 4 + length
            if pos < end:
                os.ftruncate(seg.fd, pos)  # a torn tail: later appends start clean
                seg.size = pos
            self._current = seg
        for seg in list(self._segments.values()):
            if seg.live <= 0 and seg is not self._current:
                self._drop(seg)

    def close(self) -> None:
        self.flush()
        for seg in self._segments.values():
            seg.close()
        self._segments.clear()
        self._current = None

    def destroy(self) -> None:
        """Deletes every file of this queue (queue.delete, or a transient queue at start-up)."""
        for seg in self._segments.values():
            seg.close()
        self._segments.clear()
        self._current = None
        remove_tree(self.directory)


def remove_tree(directory: Path) -> None:
    if not directory.is_dir():
        return
    for child in directory.iterdir():
        if child.is_dir():
            remove_tree(child)
        else:
            child.unlink(missing_ok=True)
    try:
        directory.rmdir()
    except OSError:
        pass

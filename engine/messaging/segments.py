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
    17      2     exchange name length E (bit 15: an extension follows the name), then E bytes (UTF-8)
    [19+E   4     extension length X, then X bytes of JSON, only when bit 15 was set]
    ..      2     routing key length R, then R bytes
    ..      4     properties length P, then P bytes (the raw content-header property list)
    ..      rest  body

The extension carries what the engine knows about the message beyond its protocol bytes,
only for messages that have any (exchange names are at most 255 bytes, so bit 15 of their
length is free and old records read unchanged): `e` the entry's expiry (wall-clock ms),
`p` priority, `t` the message's own TTL, `cc` / `bcc` sender-selected keys, `d` the
dead-letter history (engine/messaging/deaths.py).

Beside the segments, `delivered` holds the highest sequence number ever delivered from
the queue (u64, rewritten in place when it moved, at flush time): recovered messages at
or below it come back with `redelivered` set, as a classic queue's index does
(`rabbit_queue_index` journals deliveries). Deliveries are in sequence order except for
requeued messages (already below the mark) and priority queues (where the mark may
flag a message that was not delivered yet: redelivered is a hint, AMQP 0-9-1 §1.8.3.2).

Removing a record rewrites its one state byte where it lies (`os.pwrite`), so no separate
ack journal has to be compacted against the records. A segment whose records are all
removed is deleted once it is no longer the one being appended to. Recovery reads every
segment in order and keeps the persistent live records; a record whose length or CRC does
not check (a write cut short) ends that segment's scan.

Appends go to a per-segment buffer that `flush()` writes with one `pwrite`; the owner
(engine/messaging/messaging.py) flushes every dirty store before a publisher confirm is
sent, so a confirmed persistent message is in the page cache and survives kill -9. Sync to
the platter is the `--fsync` policy's business (engine/durability.py): every file here is
tracked by the engine's Syncer (`written()` after each write, its handle closes the fd),
and creating or removing a segment or a queue folder reports the directory, so a confirm
that waits for `after_sync` covers the records, their removal marks and the file names.
"""

from __future__ import annotations

import json
import os
import struct
import zlib
from pathlib import Path
from typing import Callable, Iterator

from engine.durability import Syncer
from engine.messaging.deaths import Deaths
from engine.messaging.types import CheckedEntry, Entry, Message, make_message

SEGMENT_BYTES = 8 * 1024 * 1024
LIVE_PERSISTENT = 0x01
LIVE_TRANSIENT = 0x00
REMOVED = 0x80
_HEAD = struct.Struct(">IBI")  # length, state, crc
_SEQ_EX = struct.Struct(">QH")
_U16 = struct.Struct(">H")
_U32 = struct.Struct(">I")
_STATE_REMOVED = bytes([REMOVED])
_U64 = struct.Struct(">Q")
EXTENDED = 0x8000
DELIVERED_FILE = "delivered"


class Segment:
    __slots__ = ("number", "path", "fd", "handle", "size", "pending", "live")

    def __init__(self, number: int, path: Path, syncer: Syncer, size: int = 0) -> None:
        self.number = number
        self.path = path
        self.fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        self.handle = syncer.track(self.fd, str(path))  # owns the fd from here on
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
        try:
            while written < len(view):
                written += os.pwrite(self.fd, view[written:], self.size + written)
        except OSError:
            # Disk full or failing: the records stay pending (the next flush writes them
            # again from the same place); a part that did get written is cut off.
            try:
                os.ftruncate(self.fd, self.size)
            except OSError:
                pass
            raise
        finally:
            view.release()
        self.size += written
        pending.clear()
        self.handle.written()

    def mark_removed(self, offset: int) -> None:
        if offset >= self.size:
            self.pending[offset - self.size + 4] = REMOVED
        else:
            os.pwrite(self.fd, _STATE_REMOVED, offset + 4)
            self.handle.written()

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
            self.handle.close()  # closes the fd once a pending fsync of it is done
            self.fd = -1


def _extension(entry: Entry, message: Message) -> bytes:
    ext: dict = {}
    if entry.expires:
        ext["e"] = entry.expires
    if message.priority:
        ext["p"] = message.priority
    if message.expiration_ms is not None:
        ext["t"] = message.expiration_ms
    if message.cc:
        ext["cc"] = list(message.cc)
    if message.bcc:
        ext["bcc"] = list(message.bcc)
    if message.deaths is not None:
        ext["d"] = message.deaths.to_json()
    return json.dumps(ext, separators=(",", ":")).encode() if ext else b""


def encode_record(entry: Entry, message: Message, state: int) -> bytes:
    ex = message.exchange.encode()
    rk = message.routing_key.encode()
    props = message.properties
    ext = b""
    if entry.expires or message.priority or message.expiration_ms is not None or message.cc or message.bcc \
            or message.deaths is not None:
        ext = _extension(entry, message)
    if ext:
        head = b"".join((_SEQ_EX.pack(entry.seq, len(ex) | EXTENDED), ex, _U32.pack(len(ext)), ext))
    else:
        head = b"".join((_SEQ_EX.pack(entry.seq, len(ex)), ex))
    rest = b"".join((head, _U16.pack(len(rk)), rk, _U32.pack(len(props)), props, message.body))
    return _HEAD.pack(len(rest) + 5, state, zlib.crc32(rest)) + rest


def decode_record(record: bytes | memoryview) -> tuple[int, int, Message | None, int]:
    """(state, seq, message, expires) of one whole record; message None when it does not check."""
    length, state, crc = _HEAD.unpack_from(record, 0)
    rest = memoryview(record)[9: 4 + length]
    if zlib.crc32(rest) != crc:
        return state, 0, None, 0
    seq, ex_len = _SEQ_EX.unpack_from(rest, 0)
    pos = 10
    ext: dict = {}
    if ex_len & EXTENDED:
        ex_len &= ~EXTENDED
        exchange = bytes(rest[pos: pos + ex_len]).decode()
        pos += ex_len
        (x_len,) = _U32.unpack_from(rest, pos)
        pos += 4
        ext = json.loads(bytes(rest[pos: pos + x_len]))
        pos += x_len
    else:
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
    if not ext:
        return state, seq, Message(exchange, routing_key, properties, body, state == LIVE_PERSISTENT), 0
    message = make_message(exchange, routing_key, properties, body, state == LIVE_PERSISTENT, ext.get("p", 0),
                           ext.get("t"), tuple(ext.get("cc", ())), tuple(ext.get("bcc", ())),
                           Deaths.from_json(ext["d"]) if "d" in ext else None)
    return state, seq, message, ext.get("e", 0)


class QueueStore:
    """The segment files of one queue."""

    def __init__(self, directory: Path, on_dirty: Callable[["QueueStore"], None], syncer: Syncer | None = None) -> None:
        self.directory = directory
        self.syncer = syncer or Syncer()
        self._on_dirty = on_dirty
        self._segments: dict[int, Segment] = {}
        self._current: Segment | None = None
        self._dirty = False
        self._delivered = 0  # highest sequence number delivered
        self._delivered_written = 0
        self._delivered_fd = -1
        self._delivered_handle = None

    # -- writing ------------------------------------------------------------------------

    def append(self, entry: Entry, message: Message, persistent: bool) -> None:
        record = encode_record(entry, message, LIVE_PERSISTENT if persistent else LIVE_TRANSIENT)
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

    def mark_dirty(self) -> None:
        if not self._dirty:
            self._dirty = True
            self._on_dirty(self)

    def note_delivered(self, seq: int) -> None:
        """Entries up to `seq` have been delivered; written with the next flush."""
        self._delivered = seq
        if not self._dirty:
            self._dirty = True
            self._on_dirty(self)

    def load_delivered(self) -> int:
        try:
            data = (self.directory / DELIVERED_FILE).read_bytes()
        except OSError:
            return 0
        if len(data) < 8:
            return 0
        self._delivered = self._delivered_written = _U64.unpack_from(data)[0]
        return self._delivered

    def read(self, entry: Entry) -> Message:
        seg = entry.segment
        assert seg is not None, "a paged-out entry always has a record"
        state, _seq, message, _expires = decode_record(seg.read(entry.offset))
        if message is None:
            raise OSError(f"corrupt record at {seg.path}:{entry.offset}")
        return message

    def flush(self) -> None:
        self._dirty = False
        for seg in self._segments.values():
            seg.flush()
        if self._delivered != self._delivered_written and self._segments:
            if self._delivered_fd < 0:
                path = self.directory / DELIVERED_FILE
                existed = path.exists()
                self._delivered_fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
                self._delivered_handle = self.syncer.track(self._delivered_fd, str(path))
                if not existed:
                    self.syncer.created(self.directory)
            os.pwrite(self._delivered_fd, _U64.pack(self._delivered), 0)
            self._delivered_handle.written()
            self._delivered_written = self._delivered

    def _close_delivered(self) -> None:
        if self._delivered_fd >= 0:
            self._delivered_handle.close()
            self._delivered_handle = None
            self._delivered_fd = -1

    def _roll(self) -> Segment:
        if not self._segments and not self.directory.is_dir():
            self.directory.mkdir(parents=True, exist_ok=True)
            self.syncer.created(self.directory.parent)
        number = (max(self._segments) + 1) if self._segments else 1
        old = self._current
        seg = Segment(number, self.directory / f"{number:016d}.seg", self.syncer)
        self.syncer.created(self.directory)
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
            return
        self.syncer.created(self.directory)

    # -- lifecycle ----------------------------------------------------------------------

    def recover(self) -> Iterator[tuple[Entry, Message]]:
        """Yields (entry, message) for every persistent live record, oldest segment first."""
        if not self.directory.is_dir():
            return
        numbers = sorted(int(p.stem) for p in self.directory.glob("*.seg") if p.stem.isdigit())
        for number in numbers:
            path = self.directory / f"{number:016d}.seg"
            data = path.read_bytes()
            seg = Segment(number, path, self.syncer, size=len(data))
            self._segments[number] = seg
            pos = 0
            end = len(data)
            while pos + 9 <= end:
                (length,) = _U32.unpack_from(data, pos)
                if length < 5 + 10 or pos + 4 + length > end:
                    break
                try:
                    state, seq, message, expires = decode_record(memoryview(data)[pos: pos + 4 + length])
                except (ValueError, UnicodeDecodeError, struct.error):
                    message = None
                if message is None:
                    break
                if state == LIVE_PERSISTENT:
                    entry = CheckedEntry(seq, message, len(message.body))
                    entry.expires = expires
                    entry.segment = seg
                    entry.offset = pos
                    seg.live += 1
                    yield entry, message
                elif state == LIVE_TRANSIENT:
                    seg.mark_removed(pos)  # paged-out transient messages do not survive a restart
                pos += 4 + length
            if pos < end:
                os.ftruncate(seg.fd, pos)  # a torn tail: later appends start clean
                seg.handle.written()
                seg.size = pos
            self._current = seg
        for seg in list(self._segments.values()):
            if seg.live <= 0 and seg is not self._current:
                self._drop(seg)

    def close(self) -> None:
        self.flush()
        self._close_delivered()
        for seg in self._segments.values():
            seg.close()
        self._segments.clear()
        self._current = None

    def destroy(self) -> None:
        """Deletes every file of this queue (queue.delete, or a transient queue at start-up)."""
        self._close_delivered()
        for seg in self._segments.values():
            seg.close()
        self._segments.clear()
        self._current = None
        if self.directory.is_dir():
            remove_tree(self.directory)
            self.syncer.created(self.directory.parent)


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

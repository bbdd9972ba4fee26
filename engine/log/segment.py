"""One log segment: a run of stored batches from `base_offset`, with its sparse indexes.

A partition's log is a list of segments; only the last (active) one is appended to. A
segment keeps, like Kafka's LogSegment, two sparse indexes so a read or a timestamp
lookup starts near its target instead of at the segment's start:

- the offset index maps the base offset of a batch to its byte position, one entry
  per INDEX_INTERVAL_BYTES of log (Kafka's index.interval.bytes, 4096);
- the time index maps the largest timestamp seen so far to the base offset of the
  batch that raised it (entries are monotonic in both fields), at the same interval,
  plus one final entry when the segment is rolled or closed so its maximum is exact.

Both live in memory as arrays. The files backend (`FileData`) keeps them beside the
segment, written at roll and close and by the periodic flush, so after a crash an
index may lack its newest entries (never wrong ones: recovery rebuilds any index that
is shorter than a whole entry, unordered, or points past the data):

    <base offset, 20 digits>.log        the batches, back to back, exactly as served
    <base offset, 20 digits>.index      big-endian (uint32 offset - base, uint32 position) pairs
    <base offset, 20 digits>.timeindex  big-endian (int64 timestamp, uint32 offset - base) pairs
    <base offset, 20 digits>.txnindex   aborted transactions whose marker is here (txn_index.py),
                                        appended as each ABORT marker is; absent if none

The memory backend (`MemoryData`) holds the same bytes in a bytearray and persists no
index. Both are driven through the `SegmentData` protocol, so the partition logic above
them is written once.
"""

from __future__ import annotations

import bisect
import os
import struct
from array import array
from dataclasses import replace
from pathlib import Path
from typing import Protocol

from engine.durability import Syncer
from engine.errors import StorageError
from engine.log.batch import HEADER_SIZE, LOG_OVERHEAD, MAGIC_V2, BatchHeader, header_at, scan

INDEX_INTERVAL_BYTES = 4096
_IOV_MAX = 1000

_INDEX_ENTRY = struct.Struct(">II")
_TIME_ENTRY = struct.Struct(">qI")
_PREFIX = struct.Struct(">qii")  # baseOffset, batchLength, partitionLeaderEpoch
_LOCATE = struct.Struct(">qi")
_LAST_DELTA = struct.Struct(">i")


def segment_name(base_offset: int) -> str:
    return f"{base_offset:020d}"


class SegmentData(Protocol):
    """Where a segment's bytes live."""

    size: int

    def write(self, pieces: list) -> None: ...

    def pread(self, position: int, length: int) -> bytes: ...

    def truncate(self, size: int) -> None: ...

    def save_indexes(self, index: bytes, time_index: bytes, *, replace: bool) -> None: ...

    def load_indexes(self) -> tuple[bytes, bytes] | None: ...

    def append_txn_index(self, data: bytes) -> None:
        # Unbuffered append, like the log itself: once written it survives kill -9. The fd
        # stays open and tracked, so the ABORT marker's answer waits for this entry too.
        if self._txn_sync is None:
            path = self._txn_index_path()
            created = not path.exists()
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            self._txn_sync = self._syncer.track(fd, str(path))
            if created:
                self._syncer.created(path.parent)
        view = memoryview(data)
        while view:
            view = view[os.write(self._txn_sync.fd, view):]
        self._txn_sync.written()

    def load_txn_index(self) -> bytes: ...

    def flush(self) -> None: ...

    def close(self) -> None: ...

    def delete(self) -> None: ...


class MemoryData:
    __slots__ = ("_buffer", "size")

    def __init__(self) -> None:
        self._buffer = bytearray()
        self.size = 0

    def write(self, pieces: list) -> None:
        buffer = self._buffer
        for piece in pieces:
            buffer += piece
        self.size = len(buffer)

    def pread(self, position: int, length: int) -> bytes:
        with memoryview(self._buffer) as view:
            return bytes(view[position : position + length])

    def truncate(self, size: int) -> None:
        del self._buffer[size:]
        self.size = len(self._buffer)

    def save_indexes(self, index: bytes, time_index: bytes, *, replace: bool) -> None:
        pass

    def load_indexes(self) -> tuple[bytes, bytes] | None:
        return None

    def append_txn_index(self, data: bytes) -> None:
        pass  # nothing is recovered from memory

    def load_txn_index(self) -> bytes:
        return b""

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass

    def delete(self) -> None:
        self._buffer = bytearray()
        self.size = 0


class FileData:
    """A segment file appended with writev and read with pread: one syscall per append or read.

    The `.log` and `.txnindex` fds are tracked by the engine's syncer (engine/durability.py),
    so under `--fsync always` a produce answer waits until its batches are on disk and under
    `interval` they are synced within the interval. The offset and time indexes are not:
    recovery rebuilds whatever they lack from the log itself.
    """

    __slots__ = ("path", "_fd", "_sync", "_syncer", "_txn_sync", "size")

    def __init__(self, path: Path, syncer: Syncer | None = None) -> None:
        self.path = path
        self._syncer = syncer or Syncer()
        created = not path.exists()
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
        self._sync = self._syncer.track(self._fd, str(path))
        self._txn_sync = None  # the .txnindex, opened at its first append
        self.size = os.fstat(self._fd).st_size
        if created:
            # A rolled (or first) segment: its directory entry must reach the disk too, or
            # a power loss could keep the folder without the file its synced data is in.
            self._syncer.created(path.parent)

    def write(self, pieces: list) -> None:
        total = 0
        for start in range(0, len(pieces), _IOV_MAX):
            chunk = pieces[start : start + _IOV_MAX]
            want = sum(len(p) for p in chunk)
            written = os.writev(self._fd, chunk)
            while written < want:  # a short write (disk nearly full, signal): finish it
                rest = b"".join(bytes(p) for p in chunk)[written:]
                written += os.write(self._fd, rest)
            total += want
        self.size += total
        self._sync.written()

    def pread(self, position: int, length: int) -> bytes:
        return os.pread(self._fd, length, position)

    def truncate(self, size: int) -> None:
        os.ftruncate(self._fd, size)
        self.size = size
        self._sync.written()  # the new size is what a later fdatasync must make durable

    def _index_paths(self) -> tuple[Path, Path]:
        stem = self.path.with_suffix("")
        return stem.with_name(stem.name + ".index"), stem.with_name(stem.name + ".timeindex")

    def save_indexes(self, index: bytes, time_index: bytes, *, replace: bool) -> None:
        for path, data in zip(self._index_paths(), (index, time_index)):
            if replace:
                tmp = path.with_name(path.name + ".tmp")
                tmp.write_bytes(data)
                os.replace(tmp, path)
            elif data:
                with open(path, "ab") as file:
                    file.write(data)

    def load_indexes(self) -> tuple[bytes, bytes] | None:
        try:
            index_path, time_path = self._index_paths()
            return index_path.read_bytes(), time_path.read_bytes()
        except OSError:
            return None

    def _txn_index_path(self) -> Path:
        stem = self.path.with_suffix("")
        return stem.with_name(stem.name + ".txnindex")

    def append_txn_index(self, data: bytes) -> None:
        # Unbuffered append, like the log itself: once written it survives kill -9.
        fd = os.open(self._txn_index_path(), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)

    def load_txn_index(self) -> bytes:
        try:
            return self._txn_index_path().read_bytes()
        except FileNotFoundError:
            return b""

    def flush(self) -> None:
        os.fsync(self._fd)

    def close(self) -> None:
        # The handles own the fds: one with unsynced writes is closed after the round that
        # syncs it (engine/durability.py), so the syncer never fsyncs a reused descriptor.
        if self._fd >= 0:
            self._sync.close()
            self._fd = -1
        if self._txn_sync is not None:
            self._txn_sync.close()
            self._txn_sync = None

    def delete(self) -> None:
        self.close()
        for path in (self.path, *self._index_paths(), self._txn_index_path()):
            try:
                path.unlink()
            except FileNotFoundError:
                pass
        self._syncer.created(self.path.parent)


class Segment:
    """The batches from `base_offset` up to `next_offset`, and where each is."""

    __slots__ = (
        "base_offset", "next_offset", "data", "max_timestamp", "offset_of_max_timestamp",
        "_index_offsets", "_index_positions", "_time_stamps", "_time_offsets",
        "_bytes_since_index", "_saved_index", "_saved_time", "_replace_indexes", "created_ms",
    )

    def __init__(self, base_offset: int, data: SegmentData, created_ms: int = 0) -> None:
        self.base_offset = base_offset
        self.next_offset = base_offset
        self.data = data
        self.max_timestamp = -1
        self.offset_of_max_timestamp = -1
        self._index_offsets = array("q")
        self._index_positions = array("q")
        self._time_stamps = array("q")
        self._time_offsets = array("q")
        self._bytes_since_index = INDEX_INTERVAL_BYTES  # the first batch is always indexed
        self._saved_index = 0  # entries already in the index files (appended from there on)
        self._saved_time = 0
        self._replace_indexes = True
        self.created_ms = created_ms

    @property
    def size(self) -> int:
        return self.data.size

    @property
    def is_empty(self) -> bool:
        return self.next_offset == self.base_offset

    # -- appending ---------------------------------------------------------------------
    def append(self, source, headers: list[BatchHeader], base_offsets: list[int]) -> None:
        """Writes the batches of `source` (validated) with their new base offsets, in one write.

        Only the first 16 bytes of each batch (baseOffset, batchLength,
        partitionLeaderEpoch) are rebuilt; the rest is handed to the kernel as a slice of
        the request's own buffer (writev), so the bytes are copied once, into the file.
        If the write fails, the segment is cut back to where it was and StorageError raised.
        """
        pieces: list = []
        view = memoryview(source)
        for header, base_offset in zip(headers, base_offsets):
            start = header.position
            pieces.append(_PREFIX.pack(base_offset, header.size - LOG_OVERHEAD, 0))
            pieces.append(view[start + 16 : start + header.size])
        position = self.data.size
        try:
            self.data.write(pieces)
        except OSError as exc:
            try:
                self.data.truncate(position)
            except OSError:
                pass
            raise StorageError(f"cannot append to segment {self.base_offset}: {exc}") from exc
        for header, base_offset in zip(headers, base_offsets):
            self._track(base_offset, base_offset + header.last_offset_delta, header.max_timestamp,
                        position, header.size)
            position += header.size

    def _track(self, base_offset: int, last_offset: int, max_timestamp: int, position: int, size: int) -> None:
        if self._bytes_since_index >= INDEX_INTERVAL_BYTES:
            self._index_offsets.append(base_offset)
            self._index_positions.append(position)
            self._bytes_since_index = 0
            if self.max_timestamp >= 0 and (not self._time_offsets or self._time_stamps[-1] < self.max_timestamp):
                self._time_stamps.append(self.max_timestamp)
                self._time_offsets.append(self.offset_of_max_timestamp)
        self._bytes_since_index += size
        if max_timestamp > self.max_timestamp:
            self.max_timestamp = max_timestamp
            self.offset_of_max_timestamp = base_offset
        self.next_offset = last_offset + 1

    # -- reading -----------------------------------------------------------------------
    def _batch_at(self, position: int) -> tuple[int, int, int]:
        """(base offset, size, last offset) of the batch stored at `position`."""
        raw = self.data.pread(position, 27)
        base_offset, length = _LOCATE.unpack_from(raw, 0)
        (last_delta,) = _LAST_DELTA.unpack_from(raw, 23)
        return base_offset, length + LOG_OVERHEAD, base_offset + last_delta

    def position_of(self, offset: int) -> int | None:
        """Byte position of the batch containing `offset` (or the first after it), None past the end."""
        if offset >= self.next_offset:
            return None
        slot = bisect.bisect_right(self._index_offsets, offset) - 1
        position = self._index_positions[slot] if slot >= 0 else 0
        end = self.data.size
        while position < end:
            _, size, last_offset = self._batch_at(position)
            if last_offset >= offset:
                return position
            position += size
        return None

    def read(self, position: int, max_bytes: int, *, min_one: bool = True, end: int | None = None) -> bytes:
        """Whole batches from `position`: at least one (KIP-74), then as many as fit in max_bytes.

        `end` (a batch boundary) stops the read early: read_committed fetches stop at the
        batch holding the last stable offset.
        """
        if end is None:
            end = self.data.size
        elif position >= end:
            return b""
        _, first_size, _ = self._batch_at(position)
        if first_size > max_bytes and not min_one:
            return b""
        limit = min(end, position + max(max_bytes, first_size))
        if limit < end:
            # Walk to the last batch boundary within the limit, starting from the index
            # entry nearest below it rather than from `position`.
            slot = bisect.bisect_right(self._index_positions, limit) - 1
            boundary = max(position, self._index_positions[slot] if slot >= 0 else position)
            while True:
                _, size, _ = self._batch_at(boundary)
                if boundary + size > limit:
                    break
                boundary += size
            limit = max(boundary, position + first_size)
        return self.data.pread(position, limit - position)

    def headers(self, position: int = 0):
        """Every batch header from `position` on (reads in chunks; for recovery and lookups)."""
        end = self.data.size
        while position < end:
            raw = self.data.pread(position, HEADER_SIZE)
            if len(raw) < HEADER_SIZE:
                return
            header = replace(header_at(raw, 0), position=position)
            yield header
            position += header.size

    def time_index_floor(self, timestamp: int) -> int:
        """A position from which a scan for the first batch with max timestamp >= `timestamp` may start."""
        slot = bisect.bisect_left(self._time_stamps, timestamp) - 1
        if slot < 0:
            return 0
        # Every batch before the entry's offset has a smaller max timestamp than the entry.
        offset = self._time_offsets[slot]
        found = self.position_of(offset)
        return 0 if found is None else found

    # -- maintenance -------------------------------------------------------------------
    def save_indexes(self, *, final: bool = False) -> None:
        """Writes the index entries not yet on disk; `final` adds the exact maximum timestamp."""
        base = self.base_offset
        index_from = 0 if self._replace_indexes else self._saved_index
        time_from = 0 if self._replace_indexes else self._saved_time
        index = b"".join(_INDEX_ENTRY.pack(self._index_offsets[i] - base, self._index_positions[i])
                         for i in range(index_from, len(self._index_offsets)))
        stamps = [(self._time_stamps[i], self._time_offsets[i]) for i in range(time_from, len(self._time_stamps))]
        last_stamp = self._time_stamps[-1] if len(self._time_stamps) else -1
        if final and self.max_timestamp > last_stamp:
            stamps.append((self.max_timestamp, self.offset_of_max_timestamp))
        time_index = b"".join(_TIME_ENTRY.pack(t, o - base) for t, o in stamps)
        if index or time_index or self._replace_indexes:
            self.data.save_indexes(index, time_index, replace=self._replace_indexes)
        self._saved_index = len(self._index_offsets)
        self._saved_time = len(self._time_stamps)
        self._replace_indexes = False
        if final and self.max_timestamp > last_stamp:
            # Keep memory and disk alike, so later appends continue the same sequence.
            self._time_stamps.append(self.max_timestamp)
            self._time_offsets.append(self.offset_of_max_timestamp)
            self._saved_time += 1

    def load_indexes(self) -> bool:
        """Takes the persisted indexes if they are sound; False means: rebuild by scanning."""
        loaded = self.data.load_indexes()
        if loaded is None:
            return False
        index, time_index = loaded
        if len(index) % _INDEX_ENTRY.size or len(time_index) % _TIME_ENTRY.size or not index:
            return False
        base = self.base_offset
        offsets, positions = array("q"), array("q")
        for rel, pos in _INDEX_ENTRY.iter_unpack(index):
            if positions and (pos <= positions[-1] or base + rel <= offsets[-1]):
                return False
            offsets.append(base + rel)
            positions.append(pos)
        if positions[0] != 0 or positions[-1] + HEADER_SIZE > self.data.size:
            return False
        stamps, stamp_offsets = array("q"), array("q")
        for ts, rel in _TIME_ENTRY.iter_unpack(time_index):
            if stamps and (ts <= stamps[-1] or base + rel < stamp_offsets[-1]):
                return False
            stamps.append(ts)
            stamp_offsets.append(base + rel)
        # The index must agree with the data it points at.
        if self._batch_at(positions[-1])[0] != offsets[-1]:
            return False
        self._index_offsets, self._index_positions = offsets, positions
        self._time_stamps, self._time_offsets = stamps, stamp_offsets
        if len(stamps):
            self.max_timestamp = stamps[-1]
            self.offset_of_max_timestamp = stamp_offsets[-1]
        return True

    def recover(self, *, trusted_indexes: bool, check_crc: bool) -> int:
        """Rebuilds this segment's state from its bytes; truncates a torn or corrupt tail.

        With trusted indexes, scanning starts at the last indexed batch; otherwise at the
        start. Returns the number of bytes truncated.
        """
        start = 0
        if trusted_indexes and len(self._index_positions):
            start = self._index_positions[-1]
            # Re-derive the tail's entries from the scan below.
            self._index_offsets.pop()
            self._index_positions.pop()
        else:
            self._index_offsets, self._index_positions = array("q"), array("q")
            self._time_stamps, self._time_offsets = array("q"), array("q")
            self.max_timestamp = -1
            self.offset_of_max_timestamp = -1
        self._bytes_since_index = INDEX_INTERVAL_BYTES
        size = self.data.size
        truncated = 0
        position = start
        chunk_bytes = 8 * 1024 * 1024
        while position < size:
            raw = self.data.pread(position, max(chunk_bytes, HEADER_SIZE))
            headers, valid = scan(raw, 0, check_crc=check_crc)
            if not headers:
                # The chunk may hold one batch larger than itself: read exactly that batch.
                if len(raw) >= HEADER_SIZE and raw[16] == MAGIC_V2:
                    whole = header_at(raw, 0).size
                    if whole > len(raw) and position + whole <= size:
                        raw = self.data.pread(position, whole)
                        headers, valid = scan(raw, 0, check_crc=check_crc)
                if not headers:
                    break
            for header in headers:
                if header.base_offset < self.next_offset and self.next_offset != self.base_offset:
                    headers = []
                    break
                self._track(header.base_offset, header.last_offset, header.max_timestamp,
                            position + header.position, header.size)
            if not headers:
                break
            position += valid
        if position < size:
            truncated = size - position
            self.data.truncate(position)
        self._replace_indexes = True
        return truncated

    def roll_off(self) -> None:
        """This segment stops being the active one: its indexes become final."""
        self.save_indexes(final=True)

    def close(self) -> None:
        self.save_indexes(final=True)
        self.data.close()

    def delete(self) -> None:
        self.data.delete()

"""The aborted-transaction index of a partition: which offset ranges read_committed must drop.

Kafka keeps, beside each segment, a `.txnindex` of the transactions aborted by a marker in
that segment (TransactionIndex.java); a read_committed Fetch lists the entries that overlap
the returned range, and the consumer drops those producers' records from `first_offset` on
until it meets their ABORT marker. We keep the same entries and the same file format:

    <base offset, 20 digits>.txnindex   entries back to back, each 34 bytes big-endian:
        version:int16 (0)  producerId:int64  firstOffset:int64  lastOffset:int64
        lastStableOffset:int64

`last_offset` is the offset of the ABORT marker, `last_stable_offset` the partition's last
stable offset right after that marker was appended. An entry is appended to the file when
the marker is appended (only aborts write one: a commit costs the index nothing), and the
file goes when its segment is deleted. On recovery entries past the end of the recovered
log are dropped and markers after the producer-state snapshot are replayed
(partition.py), so the index never lists an abort the log does not hold.

Lookups follow Kafka's LocalLog.collectAbortedTransactions: every entry with
`last_offset >= fetch offset` and `first_offset < upper bound` (the offset after the
fetched data), scanning in marker order and stopping at the first entry whose
`last_stable_offset` reaches the upper bound: no later abort can have started below it.
"""

from __future__ import annotations

import bisect
import struct
from dataclasses import dataclass

ENTRY = struct.Struct(">hqqqq")
_VERSION = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class AbortedTxn:
    producer_id: int
    first_offset: int
    last_offset: int
    last_stable_offset: int

    def encode(self) -> bytes:
        return ENTRY.pack(_VERSION, self.producer_id, self.first_offset, self.last_offset, self.last_stable_offset)


def decode(data: bytes) -> list[AbortedTxn]:
    """The whole, well-formed entries of an index file (a torn last entry is ignored)."""
    entries = []
    for offset in range(0, len(data) - ENTRY.size + 1, ENTRY.size):
        version, producer_id, first, last, lso = ENTRY.unpack_from(data, offset)
        if version != _VERSION or first > last:
            break
        entries.append(AbortedTxn(producer_id=producer_id, first_offset=first, last_offset=last,
                                  last_stable_offset=lso))
    return entries


class AbortedIndex:
    """The partition's entries in marker order (markers are appended in offset order)."""

    __slots__ = ("_entries", "_last_offsets")

    def __init__(self) -> None:
        self._entries: list[AbortedTxn] = []
        self._last_offsets: list[int] = []

    def __bool__(self) -> bool:
        return bool(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self):
        return iter(self._entries)

    def add(self, entry: AbortedTxn) -> bool:
        """Adds an entry unless one for the same marker exists (recovery replays markers); False if known."""
        index = bisect.bisect_left(self._last_offsets, entry.last_offset)
        if index < len(self._entries) and self._last_offsets[index] == entry.last_offset:
            return False
        self._entries.insert(index, entry)
        self._last_offsets.insert(index, entry.last_offset)
        return True

    def has_after(self, offset: int) -> bool:
        """Whether some abort marker is at or after `offset` (a cheap test before a lookup)."""
        return bool(self._last_offsets) and self._last_offsets[-1] >= offset

    def overlapping(self, start_offset: int, upper_offset: int) -> list[AbortedTxn]:
        found = []
        for index in range(bisect.bisect_left(self._last_offsets, start_offset), len(self._entries)):
            entry = self._entries[index]
            if entry.first_offset < upper_offset:
                found.append(entry)
            if entry.last_stable_offset >= upper_offset:
                break
        return found

    def drop_below(self, offset: int) -> None:
        """Forgets entries whose marker is below `offset` (their segment was deleted)."""
        index = bisect.bisect_left(self._last_offsets, offset)
        if index:
            del self._entries[:index]
            del self._last_offsets[:index]

    def drop_from(self, offset: int) -> None:
        """Forgets entries whose marker is at or after `offset` (not in the recovered log)."""
        index = bisect.bisect_left(self._last_offsets, offset)
        del self._entries[index:]
        del self._last_offsets[index:]

    def clear(self) -> None:
        self._entries.clear()
        self._last_offsets.clear()

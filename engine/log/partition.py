"""One partition's log: offsets, appends, reads, timestamp lookups, retention, recovery.

Owns the list of segments (segment.py) over a `PartitionStorage` (storage.py), the
partition's producer state (producer_state.py: idempotence and open transactions) and its
aborted-transaction index (txn_index.py). Everything here is synchronous and runs on the
engine's event loop; a long-polling reader registers a callback with `watch()` that the
next append calls (DESIGN.md §2: the engine never awaits, waiting is a future the engine
resolves).

Offsets (Kafka's vocabulary): `log_start_offset` is the first offset still readable
(raised by retention and DeleteRecords), `high_watermark` the next offset to be written
(a single replica: everything appended is committed), `last_stable_offset` the first
offset of the oldest open transaction, or the high watermark when none is open (KIP-98).
read_committed consumers (librdkafka and kafkajs by default) read only below it, so it
must be exact: a transaction's marker (`write_marker`, from engine/txn) moves it on.
"""

from __future__ import annotations

import bisect
import copy
import logging
from dataclasses import dataclass
from typing import Callable

from engine.errors import CorruptRecord, DuplicateSequence, OffsetOutOfRange, RecordTooLarge
from engine.log import batch as batches
from engine.log.control import ControlType, control_type, marker_batch
from engine.log.producer_state import ProducerState
from engine.log.records import record_timestamps
from engine.log.segment import Segment
from engine.log.txn_index import AbortedIndex, AbortedTxn, decode as decode_txn_index
from engine.log.storage import PartitionStorage
from engine.topic_config import TopicConfig
from engine.types import TopicPartition

log = logging.getLogger("mqgateway.log")

_LOG_START = "log-start-offset"
_PRODUCERS = "producer-state.json"
# Relative offsets and positions in the index files are uint32 (segment.py).
_MAX_SEGMENT_OFFSETS = 2**31 - 1


@dataclass(frozen=True, slots=True, kw_only=True)
class AppendResult:
    base_offset: int
    last_offset: int
    log_append_time_ms: int = -1  # -1: CreateTime topics (the only kind served)
    log_start_offset: int
    duplicate: bool = False  # an idempotent retry answered with its original offsets


@dataclass(frozen=True, slots=True, kw_only=True)
class TimestampOffset:
    offset: int
    timestamp: int


class PartitionLog:
    def __init__(
        self,
        tp: TopicPartition,
        *,
        storage: PartitionStorage,
        config: TopicConfig,
        now_ms: Callable[[], int],
    ) -> None:
        self.tp = tp
        self.config = config
        self._storage = storage
        self._now_ms = now_ms
        self._segments: list[Segment] = []
        self._bases: list[int] = []
        self.log_start_offset = 0
        self.producers = ProducerState()
        self.aborted = AbortedIndex()
        self._unsaved_aborted: list[tuple[Segment, AbortedTxn]] = []
        self._producers_at = 0  # offset up to which producer state was last snapshotted
        self._watchers: list[Callable[[], None]] = []
        self.deleted = False
        # Cheap counters for metrics later (DESIGN.md §1).
        self.appended_batches = 0
        self.appended_bytes = 0

    # -- offsets -----------------------------------------------------------------------
    @property
    def high_watermark(self) -> int:
        return self._segments[-1].next_offset if self._segments else self.log_start_offset

    @property
    def last_stable_offset(self) -> int:
        if not self.producers.ongoing:
            return self.high_watermark
        # An open transaction whose start DeleteRecords removed still holds the LSO, but
        # never below what can be read.
        return max(min(self.producers.ongoing.values()), self.log_start_offset)

    @property
    def size_bytes(self) -> int:
        return sum(s.size for s in self._segments)

    # -- lifecycle ---------------------------------------------------------------------
    def open(self) -> None:
        """Recovers the segments on storage (or starts empty)."""
        bases = self._storage.segment_bases()
        text = self._storage.read_state(_LOG_START)
        stored_start = int(text) if text and text.strip().lstrip("-").isdigit() else 0
        for i, base in enumerate(bases):
            segment = Segment(base, self._storage.open_segment(base), created_ms=self._now_ms())
            last = i == len(bases) - 1
            trusted = segment.load_indexes()
            truncated = segment.recover(trusted_indexes=trusted, check_crc=last)
            if truncated:
                log.warning("%s: truncated a torn tail of %d bytes from segment %d", self.tp, truncated, base)
            if self._segments and segment.base_offset < self._segments[-1].next_offset:
                # A segment starting inside its predecessor cannot come from this log's own
                # appends; keep the older data and remove the file, so a later roll to that
                # base offset starts a clean file.
                log.warning("%s: removing segment %d, which overlaps the one before it", self.tp, base)
                segment.delete()
                continue
            if segment.is_empty and not last and segment.size == 0:
                segment.delete()
                continue
            segment.save_indexes()
            self._segments.append(segment)
        if not self._segments:
            base = max(stored_start, 0)
            self._segments.append(Segment(base, self._storage.open_segment(base), created_ms=self._now_ms()))
        self._bases = [s.base_offset for s in self._segments]
        self.log_start_offset = min(max(stored_start, self._segments[0].base_offset), self.high_watermark)
        self._recover_aborted()
        self._recover_producers()

    def _recover_aborted(self) -> None:
        for segment in self._segments:
            for entry in decode_txn_index(segment.data.load_txn_index()):
                if segment.base_offset <= entry.last_offset < segment.next_offset:
                    self.aborted.add(entry)

    def _recover_producers(self) -> None:
        text = self._storage.read_state(_PRODUCERS)
        start = self.log_start_offset
        if text:
            try:
                state, covered = ProducerState.from_json(text)
                if covered <= self.high_watermark:
                    self.producers, start = state, max(covered, start)
            except (ValueError, KeyError, TypeError):
                log.warning("%s: unreadable producer state snapshot; rebuilding from the log", self.tp)
        for segment in self._segments:
            if segment.next_offset <= start:
                continue
            position = segment.position_of(start) if start > segment.base_offset else 0
            if position is None:
                continue
            for header in segment.headers(position):
                if header.base_offset < start or header.producer_id < 0:
                    continue
                if header.is_control:
                    self._replay_marker(segment, header)
                else:
                    self.producers.update(header, header.base_offset)
        self._producers_at = self.high_watermark

    def _replay_marker(self, segment: Segment, header) -> None:
        """A marker after the producer-state snapshot: close its transaction, index it if an abort."""
        kind = control_type(header, segment.data.pread(header.position, header.size))
        if kind is None:
            return
        first = self.producers.complete_txn(header.producer_id, header.producer_epoch, coordinator_epoch=0)
        if kind is ControlType.ABORT and first is not None:
            # Entries appended after the crash-free prefix were already loaded; add() skips those.
            self.aborted.add(AbortedTxn(producer_id=header.producer_id, first_offset=first,
                                        last_offset=header.base_offset,
                                        last_stable_offset=self._stable_after(header.base_offset)))

    def flush(self) -> None:
        """Makes indexes and producer state current on storage (the periodic tick and close)."""
        if self._segments:
            self._segments[-1].save_indexes()
        if self._unsaved_aborted:
            self._save_aborted()
            if self._unsaved_aborted:
                return  # a snapshot past an unsaved abort would stop recovery from replaying it
        if self._producers_at != self.high_watermark:
            self._storage.write_state(_PRODUCERS, self.producers.to_json(self.high_watermark))
            self._producers_at = self.high_watermark

    def close(self) -> None:
        self.flush()
        for segment in self._segments:
            segment.close()
        self._notify()

    def delete(self) -> None:
        """Removes the partition and its files (topic deletion)."""
        self.deleted = True
        for segment in self._segments:
            segment.delete()
        self._segments = []
        self.aborted.clear()
        self._storage.destroy()
        self._notify()

    # -- appending ---------------------------------------------------------------------
    def append(self, records: bytes) -> AppendResult:
        """Validates and appends a produce request's batches for this partition.

        Raises CorruptRecord, UnsupportedRecordFormat, RecordTooLarge,
        InvalidProducerEpoch, OutOfOrderSequence. An idempotent retry is not an error
        to the caller: it gets the original offsets with `duplicate=True`.
        """
        if self.deleted:
            raise CorruptRecord("partition deleted")
        headers = batches.validate(records)
        limit = self.config.max_message_bytes
        for header in headers:
            if header.size > limit:
                raise RecordTooLarge(f"batch of {header.size} bytes exceeds max.message.bytes {limit}")
        # Producer checks first, for every batch, so a rejected request appends nothing;
        # the new state is kept only once the bytes are written.
        staged = None
        if any(h.producer_id >= 0 for h in headers):
            if len(headers) == 1:
                try:
                    self.producers.check(headers[0])
                except DuplicateSequence as dup:
                    return AppendResult(base_offset=dup.base_offset, last_offset=dup.last_offset,
                                        log_start_offset=self.log_start_offset, duplicate=True)
            else:
                first = headers[0]
                if any(h.is_transactional != first.is_transactional or h.producer_id != first.producer_id
                       for h in headers):
                    # The produce path vets a transaction's batches by the first one alone.
                    raise CorruptRecord("the batches of one produce request disagree on producer or transaction")
                staged = copy.deepcopy(self.producers)
                next_offset = self.high_watermark
                for header in headers:
                    if header.producer_id >= 0:
                        staged.check(header)
                        staged.update(header, next_offset)
                    next_offset += header.last_offset_delta + 1
        base_offsets, next_offset = self._write(records, headers)
        if staged is not None:
            self.producers = staged
        elif headers[0].producer_id >= 0:
            self.producers.update(headers[0], base_offsets[0])
        self._notify()
        return AppendResult(base_offset=base_offsets[0], last_offset=next_offset - 1,
                            log_start_offset=self.log_start_offset)

    def _write(self, records, headers: list) -> tuple[list[int], int]:
        """Puts validated batches at the end of the log (rolling first if needed): their base offsets."""
        total = sum(h.size for h in headers)
        active = self._segments[-1]
        last_delta = sum(h.last_offset_delta + 1 for h in headers)
        if not active.is_empty and (
            active.size + total > self.config.segment_bytes
            or self.high_watermark + last_delta - active.base_offset > _MAX_SEGMENT_OFFSETS
        ):
            active = self._roll()
        base_offsets = []
        offset = active.next_offset
        for header in headers:
            base_offsets.append(offset)
            offset += header.last_offset_delta + 1
        active.append(records, headers, base_offsets)
        self.appended_batches += len(headers)
        self.appended_bytes += total
        return base_offsets, offset

    # -- transaction markers -----------------------------------------------------------
    def write_marker(self, *, producer_id: int, producer_epoch: int, commit: bool,
                     coordinator_epoch: int = 0) -> int:
        """Appends a COMMIT or ABORT marker for `producer_id` (control.py); returns its offset.

        Raises InvalidProducerEpoch for an epoch older than the producer's here, and
        StorageError if the write fails (nothing changes then). An ABORT that closes an
        open transaction adds its range to the aborted-transaction index.
        """
        if self.deleted:
            raise CorruptRecord("partition deleted")
        self.producers.check_marker(producer_id, producer_epoch)
        batch = marker_batch(producer_id=producer_id, producer_epoch=producer_epoch,
                             control_type=ControlType.COMMIT if commit else ControlType.ABORT,
                             coordinator_epoch=coordinator_epoch, timestamp_ms=self._now_ms())
        (offset,), _ = self._write(batch, [batches.header_at(batch, 0)])
        first = self.producers.complete_txn(producer_id, producer_epoch, coordinator_epoch=coordinator_epoch)
        if not commit and first is not None:
            entry = AbortedTxn(producer_id=producer_id, first_offset=first, last_offset=offset,
                               last_stable_offset=self._stable_after(offset))
            self.aborted.add(entry)
            self._unsaved_aborted.append((self._segments[-1], entry))
            self._save_aborted()
        self._notify()
        return offset

    def _save_aborted(self) -> None:
        """Appends index entries not yet on storage; a failure is retried at the next flush."""
        while self._unsaved_aborted:
            segment, entry = self._unsaved_aborted[0]
            if segment in self._segments:
                try:
                    segment.data.append_txn_index(entry.encode())
                except OSError as exc:
                    log.error("%s: cannot append to the transaction index (will retry): %s", self.tp, exc)
                    return
            self._unsaved_aborted.pop(0)

    def _stable_after(self, marker_offset: int) -> int:
        first = self.producers.first_unstable_offset
        return marker_offset + 1 if first is None else first

    def aborted_transactions(self, start_offset: int, records) -> list[AbortedTxn]:
        """Aborted transactions overlapping the batches `records` read from `start_offset` (Fetch)."""
        if not self.aborted.has_after(start_offset) or not records:
            return []
        return self.aborted.overlapping(start_offset, batches.next_offset_after(records))

    def _roll(self) -> Segment:
        old = self._segments[-1]
        old.roll_off()
        base = old.next_offset
        segment = Segment(base, self._storage.open_segment(base), created_ms=self._now_ms())
        self._segments.append(segment)
        self._bases.append(base)
        # A snapshot per roll bounds how much log recovery must read for producer state.
        if not self._unsaved_aborted:
            self._storage.write_state(_PRODUCERS, self.producers.to_json(self.high_watermark))
            self._producers_at = self.high_watermark
        return segment

    # -- long-poll ---------------------------------------------------------------------
    def watch(self, callback: Callable[[], None]) -> None:
        """Calls `callback` once, at the next append (or deletion/close)."""
        self._watchers.append(callback)

    def unwatch(self, callback: Callable[[], None]) -> None:
        try:
            self._watchers.remove(callback)
        except ValueError:
            pass

    def _notify(self) -> None:
        if self._watchers:
            watchers, self._watchers = self._watchers, []
            for callback in watchers:
                callback()

    # -- reading -----------------------------------------------------------------------
    def _segment_for(self, offset: int) -> int:
        return max(bisect.bisect_right(self._bases, offset) - 1, 0)

    def read(self, offset: int, max_bytes: int, *, min_one: bool = True, max_offset: int | None = None) -> bytes:
        """Whole batches from the one containing `offset`, up to max_bytes.

        With `min_one` (KIP-74: the first partition of a fetch) at least one batch is
        returned however large; without it a first batch above max_bytes gives nothing.
        `max_offset` (read_committed: the last stable offset) ends the read before the
        batch that holds it. Empty at the high watermark (or at/after `max_offset`);
        OffsetOutOfRange below the log start or above the high watermark.
        """
        hwm = self.high_watermark
        if offset < self.log_start_offset or offset > hwm:
            raise OffsetOutOfRange(f"offset {offset} is outside [{self.log_start_offset}, {hwm}] of {self.tp}")
        if offset == hwm:
            return b""
        if max_offset is not None and max_offset < hwm:
            return self._read_below(offset, max_bytes, min_one, max_offset)
        index = self._segment_for(offset)
        segments = self._segments
        while index < len(segments):
            segment = segments[index]
            position = segment.position_of(offset)
            if position is not None:
                return segment.read(position, max_bytes, min_one=min_one)
            index += 1  # offset falls in a gap at the end of a segment: the next one has it
            if index < len(segments):
                offset = max(offset, segments[index].base_offset)
        return b""

    def _read_below(self, offset: int, max_bytes: int, min_one: bool, max_offset: int) -> bytes:
        if offset >= max_offset:
            return b""
        index = self._segment_for(offset)
        segments = self._segments
        while index < len(segments):
            segment = segments[index]
            position = segment.position_of(offset)
            if position is not None:
                # The last stable offset is always the base offset of a batch (the first
                # batch of a transaction), so the batch before it ends exactly there.
                end = segment.position_of(max_offset) if max_offset < segment.next_offset else None
                return segment.read(position, max_bytes, min_one=min_one, end=end)
            index += 1
            if index < len(segments):
                offset = max(offset, segments[index].base_offset)
                if offset >= max_offset:
                    break
        return b""

    def offset_for_timestamp(self, timestamp_ms: int) -> TimestampOffset | None:
        """The first record whose timestamp is >= `timestamp_ms` (Kafka's ListOffsets by time)."""
        for segment in self._segments:
            if segment.max_timestamp < timestamp_ms or segment.next_offset <= self.log_start_offset:
                continue
            start = segment.time_index_floor(timestamp_ms)
            for header in segment.headers(start):
                if header.max_timestamp < timestamp_ms or header.next_offset <= self.log_start_offset:
                    continue
                found = self._first_record_at_or_after(segment, header, timestamp_ms)
                if found is not None:
                    return found
        return None

    def _first_record_at_or_after(self, segment: Segment, header, timestamp_ms: int) -> TimestampOffset | None:
        raw = segment.data.pread(header.position, header.size)
        log_append_time = bool(header.attributes & batches.ATTR_LOG_APPEND_TIME)
        try:
            for offset, timestamp in record_timestamps(header, raw):
                if log_append_time:
                    timestamp = header.max_timestamp
                if timestamp >= timestamp_ms and offset >= self.log_start_offset:
                    return TimestampOffset(offset=offset, timestamp=timestamp)
        except Exception as exc:  # noqa: BLE001 — records the CRC accepted but we cannot decode
            # Answer at batch granularity rather than fail the lookup (the producer's CRC
            # covered these bytes, so this is a codec we read differently, not corruption).
            log.warning("%s: cannot decode records of batch %d for a timestamp lookup: %s",
                        self.tp, header.base_offset, exc)
            return TimestampOffset(offset=max(header.base_offset, self.log_start_offset),
                                   timestamp=header.max_timestamp)
        return None

    def max_timestamp_offset(self) -> TimestampOffset | None:
        """The record with the largest timestamp (ListOffsets -3, KIP-734); the earliest such on ties."""
        best: Segment | None = None
        for segment in self._segments:
            if segment.max_timestamp >= 0 and segment.next_offset > self.log_start_offset:
                if best is None or segment.max_timestamp > best.max_timestamp:
                    best = segment
        if best is None:
            return None
        position = best.position_of(max(best.offset_of_max_timestamp, self.log_start_offset))
        if position is None:
            return None
        for header in best.headers(position):
            if header.max_timestamp == best.max_timestamp:
                found = self._first_record_at_or_after(best, header, best.max_timestamp)
                if found is not None:
                    return found
        return None

    # -- removal -----------------------------------------------------------------------
    def delete_records(self, before_offset: int) -> int:
        """Advances the log start offset (DeleteRecords); -1 means the high watermark."""
        hwm = self.high_watermark
        if before_offset == -1:
            before_offset = hwm
        if before_offset < 0 or before_offset > hwm:
            raise OffsetOutOfRange(f"offset {before_offset} is outside [0, {hwm}] of {self.tp}")
        if before_offset > self.log_start_offset:
            self._set_log_start(before_offset)
            self._drop_segments_below(before_offset)
        return self.log_start_offset

    def _set_log_start(self, offset: int) -> None:
        self.log_start_offset = offset
        self._storage.write_state(_LOG_START, str(offset))
        self.producers.truncate_before(offset)

    def _drop_segments_below(self, offset: int) -> None:
        """Deletes whole segments that end at or before `offset` (never the active one)."""
        while len(self._segments) > 1 and self._segments[1].base_offset <= offset:
            self._segments.pop(0).delete()
            self._bases.pop(0)
        self.aborted.drop_below(self._segments[0].base_offset)

    def enforce_retention(self, now_ms: int) -> int:
        """Deletes whole old segments past retention.ms or retention.bytes; returns how many.

        As Kafka (UnifiedLog.deleteOldSegments): a segment expires by time when its
        largest record timestamp is older than retention.ms; by size while the log
        without it is still at least retention.bytes. If every segment qualifies, an
        empty segment is rolled first so the log keeps its end offset.
        """
        config = self.config
        count = 0
        if config.retention_ms >= 0:
            count = self._delete_while(lambda s: 0 <= s.max_timestamp < now_ms - config.retention_ms
                                       or (s.max_timestamp < 0 and not s.is_empty
                                           and s.created_ms < now_ms - config.retention_ms))
        if config.retention_bytes >= 0:
            excess = [self.size_bytes - config.retention_bytes]

            def too_big(segment: Segment) -> bool:
                if excess[0] - segment.size >= 0 and not segment.is_empty:
                    excess[0] -= segment.size
                    return True
                return False

            count += self._delete_while(too_big)
        return count

    def _delete_while(self, predicate: Callable[[Segment], bool]) -> int:
        doomed = 0
        for segment in self._segments:
            if segment.is_empty or not predicate(segment):
                break
            doomed += 1
        if not doomed:
            return 0
        if doomed == len(self._segments):
            self._roll()
        for _ in range(doomed):
            self._segments.pop(0).delete()
            self._bases.pop(0)
        self.aborted.drop_below(self._segments[0].base_offset)
        start = self._segments[0].base_offset
        if start > self.log_start_offset:
            self._set_log_start(start)
        return doomed

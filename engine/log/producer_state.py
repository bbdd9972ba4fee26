"""Producer state of one partition: the last batches of each producer id, and open transactions.

Follows Kafka's ProducerStateManager / ProducerAppendInfo (KIP-98, KIP-360):

- a batch whose producer id, epoch, first and last sequence equal one of the last
  five batches of that producer is a retry: the log answers with the original offsets
  and does not append (DuplicateSequence);
- an epoch older than the producer's current one is fenced (InvalidProducerEpoch);
- a newer epoch must start at sequence 0; the same epoch must continue at last + 1
  (wrapping after 2**31 - 1); anything else is OutOfOrderSequence. A producer the
  partition has no state for (new, or its batches removed by retention) may start at
  any sequence, as in Kafka.

Transactions (KIP-98, Kafka's ProducerStateManager): the first transactional batch of a
producer opens its transaction in this partition at that batch's offset (`ongoing`); the
COMMIT or ABORT marker the coordinator writes closes it. A marker carries the
coordinator's view of the producer's epoch: an epoch newer than the partition's fences the
old one here too (its later batches get InvalidProducerEpoch), and an older one is refused.
The partition's last stable offset is the smallest first offset in `ongoing` (partition.py).

The state is rebuilt from batch headers on recovery and can be snapshotted so only the
batches after the snapshot need reading. Snapshot format (JSON, one object):
`{"offset": <next offset covered>, "producers": {"<pid>": [epoch, [[first_seq, last_seq,
base_offset, last_offset, timestamp], ...], coordinator_epoch]}, "ongoing": {"<pid>":
first_offset}}` (`coordinator_epoch` and `ongoing` are absent in snapshots written before
transactions existed, and read as -1 and empty).
"""

from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass, field

from engine.errors import DuplicateSequence, InvalidProducerEpoch, OutOfOrderSequence
from engine.log.batch import ATTR_CONTROL, ATTR_TRANSACTIONAL, NO_SEQUENCE, BatchHeader

BATCHES_RETAINED = 5  # Kafka's ProducerStateEntry.NUM_BATCHES_TO_RETAIN
_MAX_SEQUENCE = 2**31 - 1


@dataclass(slots=True)
class _BatchMeta:
    first_seq: int
    last_seq: int
    base_offset: int
    last_offset: int
    timestamp: int


@dataclass(slots=True)
class ProducerEntry:
    epoch: int
    batches: deque = field(default_factory=lambda: deque(maxlen=BATCHES_RETAINED))
    coordinator_epoch: int = -1  # of the last marker written for this producer (DescribeProducers)

    @property
    def last_seq(self) -> int:
        return self.batches[-1].last_seq if self.batches else NO_SEQUENCE

    @property
    def last_timestamp(self) -> int:
        return self.batches[-1].timestamp if self.batches else -1


def _in_sequence(last_seq: int, next_seq: int) -> bool:
    return next_seq == last_seq + 1 or (next_seq == 0 and last_seq == _MAX_SEQUENCE)


class ProducerState:
    def __init__(self) -> None:
        self.producers: dict[int, ProducerEntry] = {}
        # producer id -> first offset of its open transaction in this partition
        self.ongoing: dict[int, int] = {}

    def check(self, header: BatchHeader) -> None:
        """Raises DuplicateSequence, InvalidProducerEpoch or OutOfOrderSequence for this batch."""
        entry = self.producers.get(header.producer_id)
        if entry is None:
            return
        epoch = header.producer_epoch
        if epoch < entry.epoch:
            raise InvalidProducerEpoch(
                f"epoch {epoch} of producer {header.producer_id} is older than the current {entry.epoch}")
        if header.base_sequence == NO_SEQUENCE:
            return
        if epoch == entry.epoch:
            for meta in entry.batches:
                if meta.first_seq == header.base_sequence and meta.last_seq == header.last_sequence:
                    raise DuplicateSequence(meta.base_offset, meta.last_offset)
            if entry.batches and not _in_sequence(entry.last_seq, header.base_sequence):
                raise OutOfOrderSequence(
                    f"sequence {header.base_sequence} of producer {header.producer_id} after {entry.last_seq}")
        elif header.base_sequence != 0:
            raise OutOfOrderSequence(
                f"producer {header.producer_id} starts epoch {epoch} at sequence {header.base_sequence}, not 0")

    def update(self, header: BatchHeader, base_offset: int) -> None:
        """Records an appended batch (header positions/offsets as stored)."""
        if header.producer_id < 0:
            return
        entry = self.producers.get(header.producer_id)
        if entry is None or header.producer_epoch > entry.epoch:
            entry = ProducerEntry(epoch=header.producer_epoch)
            self.producers[header.producer_id] = entry
        if header.base_sequence != NO_SEQUENCE:
            entry.batches.append(_BatchMeta(
                header.base_sequence, header.last_sequence, base_offset,
                base_offset + header.last_offset_delta, header.max_timestamp))
        if (header.attributes & (ATTR_TRANSACTIONAL | ATTR_CONTROL)) == ATTR_TRANSACTIONAL \
                and header.producer_id not in self.ongoing:
            self.ongoing[header.producer_id] = base_offset

    def check_marker(self, producer_id: int, producer_epoch: int) -> None:
        """Raises InvalidProducerEpoch for a marker older than the producer's epoch here."""
        entry = self.producers.get(producer_id)
        if entry is not None and producer_epoch < entry.epoch:
            raise InvalidProducerEpoch(
                f"marker epoch {producer_epoch} of producer {producer_id} is older than the current {entry.epoch}")

    def complete_txn(self, producer_id: int, producer_epoch: int, *, coordinator_epoch: int) -> int | None:
        """A marker for this producer was appended: returns the first offset of the transaction it closed.

        None if the producer had no open transaction here (a partition added to the
        transaction but never written, or a marker written again on recovery).
        """
        entry = self.producers.get(producer_id)
        if entry is None or producer_epoch > entry.epoch:
            # Kafka's ProducerAppendInfo.appendEndTxnMarker: a bumped epoch starts afresh,
            # so the fenced epoch's sequence numbers no longer count.
            entry = ProducerEntry(epoch=producer_epoch)
            self.producers[producer_id] = entry
        entry.coordinator_epoch = coordinator_epoch
        return self.ongoing.pop(producer_id, None)

    @property
    def first_unstable_offset(self) -> int | None:
        ongoing = self.ongoing
        if not ongoing:
            return None
        return min(ongoing.values())

    def to_json(self, offset: int) -> str:
        return json.dumps({
            "offset": offset,
            "producers": {
                str(pid): [e.epoch, [[m.first_seq, m.last_seq, m.base_offset, m.last_offset, m.timestamp]
                                     for m in e.batches], e.coordinator_epoch]
                for pid, e in self.producers.items()
            },
            "ongoing": {str(pid): first for pid, first in self.ongoing.items()},
        })

    @classmethod
    def from_json(cls, text: str) -> tuple["ProducerState", int]:
        raw = json.loads(text)
        state = cls()
        for pid, saved in raw["producers"].items():
            entry = ProducerEntry(epoch=int(saved[0]))
            for first, last, base, last_off, ts in saved[1]:
                entry.batches.append(_BatchMeta(first, last, base, last_off, ts))
            if len(saved) > 2:
                entry.coordinator_epoch = int(saved[2])
            state.producers[int(pid)] = entry
        state.ongoing = {int(pid): int(first) for pid, first in raw.get("ongoing", {}).items()}
        return state, int(raw["offset"])

    def truncate_before(self, log_start_offset: int) -> None:
        """Forgets producers whose every retained batch is below the log start (Kafka's expiry on deletion).

        A producer with an open transaction here is kept: its marker is still to come.
        """
        for pid in [p for p, e in self.producers.items()
                    if e.batches and e.batches[-1].last_offset < log_start_offset and p not in self.ongoing]:
            del self.producers[pid]

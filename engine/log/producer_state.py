"""Idempotent-producer state of one partition: the last batches of each producer id.

Follows Kafka's ProducerStateManager / ProducerAppendInfo (KIP-98, KIP-360):

- a batch whose producer id, epoch, first and last sequence equal one of the last
  five batches of that producer is a retry: the log answers with the original offsets
  and does not append (DuplicateSequence);
- an epoch older than the producer's current one is fenced (InvalidProducerEpoch);
- a newer epoch must start at sequence 0; the same epoch must continue at last + 1
  (wrapping after 2**31 - 1); anything else is OutOfOrderSequence. A producer the
  partition has no state for (new, or its batches removed by retention) may start at
  any sequence, as in Kafka.

The state is rebuilt from batch headers on recovery and can be snapshotted so only the
batches after the snapshot need reading. Snapshot format (JSON, one object):
`{"offset": <next offset covered>, "producers": {"<pid>": [epoch, [[first_seq, last_seq,
base_offset, last_offset, timestamp], ...]]}}`.

Transactions (issue 6) will add the first offset of an ongoing transaction per producer
here; `last_stable_offset` of the partition is then the smallest of those.
"""

from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass, field

from engine.errors import DuplicateSequence, InvalidProducerEpoch, OutOfOrderSequence
from engine.log.batch import NO_SEQUENCE, BatchHeader

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

    @property
    def last_seq(self) -> int:
        return self.batches[-1].last_seq if self.batches else NO_SEQUENCE


def _in_sequence(last_seq: int, next_seq: int) -> bool:
    return next_seq == last_seq + 1 or (next_seq == 0 and last_seq == _MAX_SEQUENCE)


class ProducerState:
    def __init__(self) -> None:
        self.producers: dict[int, ProducerEntry] = {}

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

    def to_json(self, offset: int) -> str:
        return json.dumps({
            "offset": offset,
            "producers": {
                str(pid): [e.epoch, [[m.first_seq, m.last_seq, m.base_offset, m.last_offset, m.timestamp]
                                     for m in e.batches]]
                for pid, e in self.producers.items()
            },
        })

    @classmethod
    def from_json(cls, text: str) -> tuple["ProducerState", int]:
        raw = json.loads(text)
        state = cls()
        for pid, (epoch, metas) in raw["producers"].items():
            entry = ProducerEntry(epoch=int(epoch))
            for first, last, base, last_off, ts in metas:
                entry.batches.append(_BatchMeta(first, last, base, last_off, ts))
            state.producers[int(pid)] = entry
        return state, int(raw["offset"])

    def truncate_before(self, log_start_offset: int) -> None:
        """Forgets producers whose every retained batch is below the log start (Kafka's expiry on deletion)."""
        for pid in [p for p, e in self.producers.items() if e.batches and e.batches[-1].last_offset < log_start_offset]:
            del self.producers[pid]

"""One transactional id's state and its transitions, as Kafka's TransactionMetadata (KIP-98, KIP-360).

    Empty ──AddPartitions/AddOffsets──> Ongoing ──EndTxn(commit)──> PrepareCommit ──markers──> CompleteCommit
      ^                                   │    └──EndTxn(abort), timeout, fence──> PrepareAbort ──markers──> CompleteAbort
      └──────── InitProducerId (epoch + 1) from Empty or Complete*; Complete* ──AddPartitions──> Ongoing

Each transition is computed here without I/O; the coordinator journals the result before
anyone is answered (journal.py). Epochs follow Kafka's prepareIncrementProducerEpoch:
without an expected epoch (a new producer instance) the epoch is bumped and the previous
one forgotten, which fences every older instance; with one (KIP-360, InitProducerId v3+
from a producer recovering from an error) a matching current epoch is bumped and
remembered as `last_producer_epoch`, a matching last epoch is a retry answered with the
current one, anything else is fenced. An epoch at 32766 or above is exhausted: the next
InitProducerId rotates to a new producer id at epoch 0.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from engine.txn.errors import ProducerFenced
from engine.txn.types import TxnState
from engine.types import TopicPartition

NO_PRODUCER_ID = -1
NO_PRODUCER_EPOCH = -1
_MAX_EPOCH = 32767


def is_epoch_exhausted(epoch: int) -> bool:
    # Kafka's TransactionMetadata.isEpochExhausted: Short.MaxValue - 1, leaving one epoch
    # for fencing the last producer.
    return epoch >= _MAX_EPOCH - 1


@dataclass(slots=True, kw_only=True)
class TransactionMetadata:
    transactional_id: str
    producer_id: int
    last_producer_id: int = NO_PRODUCER_ID
    producer_epoch: int = NO_PRODUCER_EPOCH
    last_producer_epoch: int = NO_PRODUCER_EPOCH
    timeout_ms: int
    state: TxnState = TxnState.EMPTY
    partitions: set[TopicPartition] = field(default_factory=set)
    groups: set[str] = field(default_factory=set)
    # While Prepare*: the partitions whose marker is still to be written.
    pending_markers: set[TopicPartition] = field(default_factory=set)
    start_ms: int = -1
    update_ms: int = -1

    # -- checks ----------------------------------------------------------------------------------
    def accepts_producer(self, producer_id: int, producer_epoch: int) -> bool:
        """KIP-360: may a producer that names this id and epoch re-initialise (else it is fenced)?"""
        return (
            self.producer_epoch == NO_PRODUCER_EPOCH
            or producer_id == self.producer_id
            or (producer_id == self.last_producer_id and is_epoch_exhausted(producer_epoch))
        )

    # -- transitions (no I/O) -------------------------------------------------------------------
    def bump_epoch(self, *, timeout_ms: int, expected_epoch: int | None, now_ms: int) -> None:
        """InitProducerId from an idle state: the next epoch, and a fresh, empty transaction."""
        if expected_epoch is None:
            self.producer_epoch, self.last_producer_epoch = self.producer_epoch + 1, NO_PRODUCER_EPOCH
        elif self.producer_epoch == NO_PRODUCER_EPOCH or expected_epoch == self.producer_epoch:
            self.producer_epoch, self.last_producer_epoch = self.producer_epoch + 1, self.producer_epoch
        elif expected_epoch == self.last_producer_epoch:
            pass  # a retry of a bump whose answer was lost: answer the current epoch again
        else:
            raise ProducerFenced(f"epoch {expected_epoch} of {self.transactional_id!r} is neither the current "
                                 f"{self.producer_epoch} nor the previous {self.last_producer_epoch}")
        self._reset(timeout_ms=timeout_ms, now_ms=now_ms)

    def rotate_producer_id(self, new_producer_id: int, *, timeout_ms: int, remember_epoch: bool, now_ms: int) -> None:
        """InitProducerId with the epoch exhausted: a new producer id at epoch 0."""
        self.last_producer_id = self.producer_id
        self.last_producer_epoch = self.producer_epoch if remember_epoch else NO_PRODUCER_EPOCH
        self.producer_id = new_producer_id
        self.producer_epoch = 0
        self._reset(timeout_ms=timeout_ms, now_ms=now_ms)

    def _reset(self, *, timeout_ms: int, now_ms: int) -> None:
        self.timeout_ms = timeout_ms
        self.state = TxnState.EMPTY
        self.partitions = set()
        self.groups = set()
        self.pending_markers = set()
        self.start_ms = -1
        self.update_ms = now_ms

    def fence_epoch(self) -> None:
        """The coordinator aborts this producer's transaction (timeout, or a new instance): bump past it."""
        self.producer_epoch = min(self.producer_epoch + 1, _MAX_EPOCH)
        self.last_producer_epoch = NO_PRODUCER_EPOCH

    def add(self, partitions: set[TopicPartition] = frozenset(), groups: set[str] = frozenset(), *, now_ms: int) -> bool:
        """Adds partitions or a group; returns True if this began the transaction (it was idle)."""
        began = self.state.is_idle
        if began:
            self.start_ms = now_ms
            self.partitions = set()
            self.groups = set()
        self.state = TxnState.ONGOING
        self.partitions |= partitions
        self.groups |= groups
        self.update_ms = now_ms
        return began

    def prepare(self, *, commit: bool, now_ms: int) -> None:
        self.state = TxnState.PREPARE_COMMIT if commit else TxnState.PREPARE_ABORT
        self.pending_markers = set(self.partitions)
        self.update_ms = now_ms

    def complete(self, *, now_ms: int) -> None:
        self.state = TxnState.COMPLETE_COMMIT if self.state is TxnState.PREPARE_COMMIT else TxnState.COMPLETE_ABORT
        self.partitions = set()
        self.groups = set()
        self.pending_markers = set()
        self.update_ms = now_ms

    # -- journal form (journal.py) -----------------------------------------------------------------
    def to_record(self) -> dict:
        return {
            "type": "txn",
            "id": self.transactional_id,
            "pid": self.producer_id,
            "last_pid": self.last_producer_id,
            "epoch": self.producer_epoch,
            "last_epoch": self.last_producer_epoch,
            "timeout_ms": self.timeout_ms,
            "state": self.state.value,
            "partitions": sorted([tp.topic, tp.partition] for tp in self.partitions),
            "groups": sorted(self.groups),
            "pending": sorted([tp.topic, tp.partition] for tp in self.pending_markers),
            "start_ms": self.start_ms,
            "update_ms": self.update_ms,
        }

    @classmethod
    def from_record(cls, record: dict) -> "TransactionMetadata":
        return cls(
            transactional_id=str(record["id"]),
            producer_id=int(record["pid"]),
            last_producer_id=int(record["last_pid"]),
            producer_epoch=int(record["epoch"]),
            last_producer_epoch=int(record["last_epoch"]),
            timeout_ms=int(record["timeout_ms"]),
            state=TxnState(record["state"]),
            partitions={TopicPartition(topic=t, partition=int(p)) for t, p in record["partitions"]},
            groups={str(g) for g in record["groups"]},
            pending_markers={TopicPartition(topic=t, partition=int(p)) for t, p in record["pending"]},
            start_ms=int(record["start_ms"]),
            update_ms=int(record["update_ms"]),
        )

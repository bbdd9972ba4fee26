"""Boundary values of the transaction coordinator (DESIGN.md §3): frozen, slotted, keyword-only."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from engine.types import TopicPartition


class TxnState(enum.Enum):
    """Kafka's TransactionState; the values are the names DescribeTransactions and ListTransactions show."""

    EMPTY = "Empty"
    ONGOING = "Ongoing"
    PREPARE_COMMIT = "PrepareCommit"
    PREPARE_ABORT = "PrepareAbort"
    COMPLETE_COMMIT = "CompleteCommit"
    COMPLETE_ABORT = "CompleteAbort"
    # Kafka's two transient states: never stored here (expiry removes an id outright, and an
    # epoch fence goes straight to PrepareAbort), but valid names in a ListTransactions filter.
    DEAD = "Dead"
    PREPARE_EPOCH_FENCE = "PrepareEpochFence"

    @property
    def is_preparing(self) -> bool:
        return self in (TxnState.PREPARE_COMMIT, TxnState.PREPARE_ABORT)

    @property
    def is_idle(self) -> bool:
        """No transaction open or completing: a new one may begin."""
        return self in (TxnState.EMPTY, TxnState.COMPLETE_COMMIT, TxnState.COMPLETE_ABORT)


class TxnResult(enum.Enum):
    COMMIT = "commit"
    ABORT = "abort"


@dataclass(frozen=True, slots=True, kw_only=True)
class TransactionDescription:
    """DescribeTransactions: one transactional id as the coordinator holds it."""

    transactional_id: str
    state: TxnState
    producer_id: int
    producer_epoch: int
    timeout_ms: int
    start_time_ms: int  # when the last transaction began; -1 after InitProducerId
    # While Ongoing, every partition in the transaction; while Prepare*, those still waiting
    # for their marker (Kafka's DescribeTransactions).
    partitions: tuple[TopicPartition, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class TransactionListing:
    """ListTransactions: one transactional id, its producer id and state."""

    transactional_id: str
    producer_id: int
    state: TxnState

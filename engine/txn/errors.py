"""Errors of the transaction coordinator, named after Kafka's own (the protocol is Kafka's, KIP-98).

kafka_wire/errors.py maps each to its ErrorCode. Fencing has two faces: the coordinator
path says ProducerFenced (PRODUCER_FENCED, KIP-588; older request versions get
INVALID_PRODUCER_EPOCH, which the handlers pick), while a partition refusing a stale
epoch raises engine.errors.InvalidProducerEpoch.
"""

from __future__ import annotations

from engine.errors import EngineError


class TxnError(EngineError):
    """Base of every error the transaction coordinator raises on purpose."""


class ConcurrentTransactions(TxnError):
    """The transaction is completing (markers not all written yet); retry shortly."""


class ProducerFenced(TxnError):
    """A newer producer (or the coordinator, on timeout) has bumped this transactional id's epoch."""


class InvalidProducerIdMapping(TxnError):
    """The transactional id is unknown, or mapped to another producer id."""


class InvalidTxnState(TxnError):
    """The request does not fit the transaction's state (EndTxn of no transaction, produce outside one)."""


class InvalidTransactionTimeout(TxnError):
    """transaction.timeout.ms is not in (0, transaction.max.timeout.ms]."""


class TransactionalIdNotFound(TxnError):
    """DescribeTransactions of an id the coordinator does not know."""


class InvalidRegularExpression(TxnError):
    """ListTransactions with a transactional-id pattern that does not compile."""

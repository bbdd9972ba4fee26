"""Kafka transactions (KIP-98): the transaction coordinator, as engine state (DESIGN.md §2).

`engine.txn` is a TransactionCoordinator (coordinator.py); its boundary values are in
types.py, its errors in errors.py, one transactional id's state machine in metadata.py and
its on-disk format in journal.py. The partition side — markers, last stable offset,
aborted-transaction index — lives with the logs (engine/log/control.py, txn_index.py,
producer_state.py, partition.py).
"""

from engine.txn.config import TxnConfig
from engine.txn.coordinator import TransactionCoordinator
from engine.txn.types import TransactionDescription, TransactionListing, TxnResult, TxnState

__all__ = ["TransactionCoordinator", "TransactionDescription", "TransactionListing", "TxnConfig", "TxnResult",
           "TxnState"]

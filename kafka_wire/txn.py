"""What the transaction handlers (k22, k24-k26, k28, k65, k66) share: their error codes.

Two readings differ from the general table (kafka_wire/errors.py), as in Kafka's KafkaApis:
- PRODUCER_FENCED exists from InitProducerId v4, AddPartitionsToTxn v2, AddOffsetsToTxn v2
  and EndTxn v2 on (KIP-588); older versions answer INVALID_PRODUCER_EPOCH, which their
  clients already treat as "fenced".
- A failed write of the coordinator's state is NOT_COORDINATOR (TransactionStateManager
  maps log append failures so), which clients retry after looking the coordinator up again.
"""

from __future__ import annotations

from kio.schema.errors import ErrorCode

from engine.errors import StorageError
from engine.txn.errors import ProducerFenced
from kafka_wire.errors import error_code_for

_COORDINATOR = {StorageError: ErrorCode.not_coordinator}
_COORDINATOR_PRE_KIP_588 = {StorageError: ErrorCode.not_coordinator, ProducerFenced: ErrorCode.invalid_producer_epoch}


def txn_error_code(exc: BaseException, *, producer_fenced_supported: bool = True) -> ErrorCode:
    return error_code_for(exc, _COORDINATOR if producer_fenced_supported else _COORDINATOR_PRE_KIP_588)

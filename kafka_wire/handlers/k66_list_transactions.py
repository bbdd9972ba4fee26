"""ListTransactions (key 66), versions 0–2: the transactional ids this coordinator holds (KIP-664).

Filters, all optional and combined: states (Kafka's state names; names it does not know
come back in unknown_state_filters and match nothing), producer ids, v1 a minimum
duration (KIP-994: only transactions open at least that long), v2 a transactional-id
regular expression (KIP-1152; one that does not compile is INVALID_REGULAR_EXPRESSION).
"""

from __future__ import annotations

from kio.schema.errors import ErrorCode

from engine.errors import EngineError
from engine.txn import TxnState
from kafka_wire.admin import response_classes
from kafka_wire.common import NO_THROTTLE
from kafka_wire.registry import ApiKey, handles
from kafka_wire.txn import txn_error_code

_STATES = {s.value: s for s in TxnState}


@handles(ApiKey.LIST_TRANSACTIONS, 0, 2)
def list_transactions(ctx, request):
    schema = response_classes(ctx)
    unknown = tuple(name for name in request.state_filters if name not in _STATES)
    states = frozenset(_STATES[name] for name in request.state_filters if name in _STATES)
    if request.state_filters and not states:
        return schema.ListTransactionsResponse(throttle_time=NO_THROTTLE, error_code=ErrorCode.none,
                                               unknown_state_filters=unknown, transaction_states=())
    try:
        listed = ctx.engine.txn.list_transactions(
            states=states, producer_ids=frozenset(request.producer_id_filters),
            min_duration_ms=getattr(request, "duration_filter", -1),
            pattern=getattr(request, "transactional_id_pattern", None))
    except EngineError as exc:
        return schema.ListTransactionsResponse(throttle_time=NO_THROTTLE, error_code=txn_error_code(exc),
                                               unknown_state_filters=unknown, transaction_states=())
    return schema.ListTransactionsResponse(
        throttle_time=NO_THROTTLE, error_code=ErrorCode.none, unknown_state_filters=unknown,
        transaction_states=tuple(schema.TransactionState(transactional_id=t.transactional_id,
                                                         producer_id=t.producer_id, transaction_state=t.state.value)
                                 for t in listed))

"""The one table from engine errors to Kafka error codes (DESIGN.md §3).

Handlers catch `EngineError` around each engine call and answer `error_code_for(exc)` in
the per-partition (or per-topic) error field. The table is looked up along the
exception's MRO, so a subclass added later (say `InvalidPartitions(InvalidArgument)`)
maps as its base until it gets a row of its own. An error outside the table is a bug:
it becomes UNKNOWN_SERVER_ERROR and is logged by `error_code_for`.

Some Kafka codes depend on the API, not only on the error (NotFound is
UNKNOWN_TOPIC_OR_PARTITION for topics but GROUP_ID_NOT_FOUND for groups): a handler
that needs the other reading passes `overrides`.
"""

from __future__ import annotations

import logging
from typing import Mapping

from kio.schema.errors import ErrorCode

from engine import errors as e
from engine.groups import errors as g
from engine.topics import InvalidPartitions
from engine.txn import errors as t

log = logging.getLogger("mqgateway.kafka")

ERROR_CODES: dict[type[BaseException], ErrorCode] = {
    e.NotFound: ErrorCode.unknown_topic_or_partition,
    e.AlreadyExists: ErrorCode.topic_already_exists,
    e.InvalidName: ErrorCode.invalid_topic_exception,
    e.InvalidConfig: ErrorCode.invalid_config,
    InvalidPartitions: ErrorCode.invalid_partitions,
    e.InvalidArgument: ErrorCode.invalid_request,
    e.OffsetOutOfRange: ErrorCode.offset_out_of_range,
    e.CorruptRecord: ErrorCode.corrupt_message,
    e.UnsupportedRecordFormat: ErrorCode.unsupported_for_message_format,
    e.RecordTooLarge: ErrorCode.message_too_large,
    e.DuplicateSequence: ErrorCode.duplicate_sequence_number,
    e.OutOfOrderSequence: ErrorCode.out_of_order_sequence_number,
    e.InvalidProducerEpoch: ErrorCode.invalid_producer_epoch,
    e.UnknownProducerId: ErrorCode.unknown_producer_id,
    e.StorageError: ErrorCode.kafka_storage_error,
    e.PreconditionFailed: ErrorCode.invalid_request,
    e.AccessRefused: ErrorCode.topic_authorization_failed,
    e.ResourceLocked: ErrorCode.invalid_request,
    OSError: ErrorCode.kafka_storage_error,
    # The group coordinator (engine/groups/errors.py).
    g.InvalidGroupId: ErrorCode.invalid_group_id,
    g.InvalidSessionTimeout: ErrorCode.invalid_session_timeout,
    g.CoordinatorNotAvailable: ErrorCode.coordinator_not_available,
    g.InconsistentGroupProtocol: ErrorCode.inconsistent_group_protocol,
    g.UnknownMember: ErrorCode.unknown_member_id,
    g.IllegalGeneration: ErrorCode.illegal_generation,
    g.RebalanceInProgress: ErrorCode.rebalance_in_progress,
    g.FencedInstanceId: ErrorCode.fenced_instance_id,
    g.MemberIdRequired: ErrorCode.member_id_required,
    g.GroupNotEmpty: ErrorCode.non_empty_group,
    g.GroupNotFound: ErrorCode.group_id_not_found,
    g.GroupSubscribedToTopic: ErrorCode.group_subscribed_to_topic,
    g.OffsetMetadataTooLarge: ErrorCode.offset_metadata_too_large,
    g.UnstableOffsetCommit: ErrorCode.unstable_offset_commit,
    # The transaction coordinator (engine/txn/errors.py). ProducerFenced is answered as
    # INVALID_PRODUCER_EPOCH by request versions older than KIP-588 (kafka_wire/txn.py).
    t.ConcurrentTransactions: ErrorCode.concurrent_transactions,
    t.ProducerFenced: ErrorCode.producer_fenced,
    t.InvalidProducerIdMapping: ErrorCode.invalid_producer_id_mapping,
    t.InvalidTxnState: ErrorCode.invalid_txn_state,
    t.InvalidTransactionTimeout: ErrorCode.invalid_transaction_timeout,
    t.TransactionalIdNotFound: ErrorCode.transactional_id_not_found,
    t.InvalidRegularExpression: ErrorCode.invalid_regular_expression,
}


def error_code_for(exc: BaseException, overrides: Mapping[type[BaseException], ErrorCode] | None = None) -> ErrorCode:
    for kind in type(exc).__mro__:
        if overrides and kind in overrides:
            return overrides[kind]
        code = ERROR_CODES.get(kind)
        if code is not None:
            if kind is OSError:
                log.error("storage error: %s", exc)
            return code
    log.error("unexpected error mapped to UNKNOWN_SERVER_ERROR", exc_info=exc)
    return ErrorCode.unknown_server_error

"""Transaction requests of any version for the raw-socket handler tests (k22, k24-k28, k61-k66)."""

from __future__ import annotations

import importlib
from datetime import timedelta

from kafka_wire.build import make
from tests.kafka_wire.kafka_requests import produce


def schema(api: str, version: int):
    return importlib.import_module(f"kio.schema.{api}.v{version}.request")


def init_producer_id(version: int, transactional_id: str | None, *, timeout_ms: int = 60_000,
                     producer_id: int = -1, producer_epoch: int = -1):
    m = schema("init_producer_id", version)
    return make(m.InitProducerIdRequest, transactional_id=transactional_id,
                transaction_timeout=timedelta(milliseconds=timeout_ms), producer_id=producer_id,
                producer_epoch=producer_epoch)


def add_partitions(version: int, transactional_id: str, producer_id: int, producer_epoch: int,
                   partitions: dict[str, list[int]]):
    m = schema("add_partitions_to_txn", version)
    return m.AddPartitionsToTxnRequest(
        v3_and_below_transactional_id=transactional_id, v3_and_below_producer_id=producer_id,
        v3_and_below_producer_epoch=producer_epoch,
        v3_and_below_topics=tuple(m.AddPartitionsToTxnTopic(name=t, partitions=tuple(ps)) for t, ps in partitions.items()))


def add_offsets(version: int, transactional_id: str, producer_id: int, producer_epoch: int, group_id: str):
    m = schema("add_offsets_to_txn", version)
    return m.AddOffsetsToTxnRequest(transactional_id=transactional_id, producer_id=producer_id,
                                    producer_epoch=producer_epoch, group_id=group_id)


def end_txn(version: int, transactional_id: str, producer_id: int, producer_epoch: int, committed: bool):
    m = schema("end_txn", version)
    return m.EndTxnRequest(transactional_id=transactional_id, producer_id=producer_id, producer_epoch=producer_epoch,
                           committed=committed)


def txn_offset_commit(version: int, transactional_id: str, producer_id: int, producer_epoch: int, group_id: str,
                      offsets: dict[str, dict[int, int]], *, member_id: str = "", generation_id: int = -1):
    m = schema("txn_offset_commit", version)
    topics = tuple(
        m.TxnOffsetCommitRequestTopic(name=t, partitions=tuple(
            make(m.TxnOffsetCommitRequestPartition, partition_index=p, committed_offset=o, committed_leader_epoch=-1,
                 committed_metadata="")
            for p, o in ps.items()))
        for t, ps in offsets.items())
    return make(m.TxnOffsetCommitRequest, transactional_id=transactional_id, group_id=group_id,
                producer_id=producer_id, producer_epoch=producer_epoch, generation_id=generation_id,
                member_id=member_id, group_instance_id=None, topics=topics)


def offset_fetch(version: int, group_id: str, topic: str, partitions: list[int], *, require_stable: bool = False):
    m = schema("offset_fetch", version)
    return make(m.OffsetFetchRequest, group_id=group_id, require_stable=require_stable,
                topics=(make(m.OffsetFetchRequestTopic, name=topic, partition_indexes=tuple(partitions)),))


def txn_produce(version: int, transactional_id: str | None, topic: str, records: bytes, *, partition: int = 0):
    request = produce(version, topic, records, partition=partition)
    return type(request)(transactional_id=transactional_id, acks=request.acks, timeout=request.timeout,
                         topic_data=request.topic_data)

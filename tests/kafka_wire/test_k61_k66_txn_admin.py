"""DescribeProducers (61), DescribeTransactions (65) and ListTransactions (66) over a raw socket."""

from __future__ import annotations

import importlib

import pytest
from kio.schema.errors import ErrorCode

from kafka_wire.build import make
from tests.kafka_wire.groupraw import unique
from tests.kafka_wire.rawkafka import RawKafka
from tests.kafka_wire.test_k01_fetch import topic_with
from tests.kafka_wire.test_k24_k28_transactions import Txn


@pytest.fixture
def kafka(server):
    with RawKafka(server.kafka_bootstrap) as connection:
        yield connection


def request(api: str, version: int):
    return importlib.import_module(f"kio.schema.{api}.v{version}.request")


def test_describe_producers_shows_open_transactions(kafka):
    topic = topic_with(kafka)
    txn = Txn(kafka, 3)
    txn.add({topic: [0]})
    txn.produce(topic, [b"a", b"b"])
    m = request("describe_producers", 0)
    response = kafka.send(m.DescribeProducersRequest(topics=(
        m.TopicRequest(name=topic, partition_indexes=(0, 5)), m.TopicRequest(name="no-such", partition_indexes=(0,)))))
    known, unknown = response.topics
    ok, missing = known.partitions
    assert (ok.error_code, missing.error_code) == (ErrorCode.none, ErrorCode.unknown_topic_or_partition)
    assert unknown.partitions[0].error_code == ErrorCode.unknown_topic_or_partition
    (producer,) = ok.active_producers
    assert (producer.producer_id, producer.producer_epoch, producer.last_sequence) == (txn.pid, txn.epoch, 1)
    assert (producer.current_txn_start_offset, producer.coordinator_epoch) == (0, -1)
    txn.end(commit=True)
    (producer,) = kafka.send(m.DescribeProducersRequest(topics=(
        m.TopicRequest(name=topic, partition_indexes=(0,)),))).topics[0].partitions[0].active_producers
    assert (producer.current_txn_start_offset, producer.coordinator_epoch) == (-1, 0)


def test_describe_transactions(kafka):
    topic = topic_with(kafka)
    txn = Txn(kafka, 3)
    txn.add({topic: [0]})
    m = request("describe_transactions", 0)
    found, missing, empty = kafka.send(m.DescribeTransactionsRequest(
        transactional_ids=(txn.tid, unique("nobody"), ""))).transaction_states
    assert (found.error_code, found.transaction_state, found.producer_id, found.producer_epoch) == (
        ErrorCode.none, "Ongoing", txn.pid, txn.epoch)
    assert found.transaction_timeout.total_seconds() == 60
    assert found.transaction_start_time.timestamp() > 1_700_000_000
    assert [(t.topic, t.partitions) for t in found.topics] == [(topic, (0,))]
    assert missing.error_code == ErrorCode.transactional_id_not_found
    assert empty.error_code == ErrorCode.invalid_request
    txn.end(commit=False)
    (after,) = kafka.send(m.DescribeTransactionsRequest(transactional_ids=(txn.tid,))).transaction_states
    assert (after.transaction_state, after.topics) == ("CompleteAbort", ())


@pytest.mark.parametrize("version", [0, 1, 2])
def test_list_transactions_with_filters(kafka, version):
    topic = topic_with(kafka)
    prefix = unique("lt")
    open_txn = Txn(kafka, 3, f"{prefix}-open")
    open_txn.add({topic: [0]})
    idle = Txn(kafka, 3, f"{prefix}-idle")
    m = request("list_transactions", version)

    def listed(**filters):
        response = kafka.send(make(m.ListTransactionsRequest, **{"state_filters": (), "producer_id_filters": (),
                                                                 **filters}))
        names = {t.transactional_id: t.transaction_state for t in response.transaction_states
                 if t.transactional_id.startswith(prefix)}
        return response.error_code, tuple(response.unknown_state_filters), names

    assert listed() == (ErrorCode.none, (), {open_txn.tid: "Ongoing", idle.tid: "Empty"})
    assert listed(state_filters=("Ongoing", "Bogus")) == (ErrorCode.none, ("Bogus",), {open_txn.tid: "Ongoing"})
    assert listed(state_filters=("Bogus",)) == (ErrorCode.none, ("Bogus",), {})
    assert listed(producer_id_filters=(idle.pid,)) == (ErrorCode.none, (), {idle.tid: "Empty"})
    if version >= 1:
        assert listed(duration_filter=0)[2] == {open_txn.tid: "Ongoing"}
        assert listed(duration_filter=3_600_000)[2] == {}
    if version >= 2:
        assert listed(transactional_id_pattern=f"^{prefix}-i")[2] == {idle.tid: "Empty"}
        assert listed(transactional_id_pattern="(")[0] == ErrorCode.invalid_regular_expression

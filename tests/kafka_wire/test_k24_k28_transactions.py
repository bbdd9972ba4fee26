"""AddPartitionsToTxn, AddOffsetsToTxn, EndTxn and TxnOffsetCommit v0–3 over a raw socket, with the
transactional Produce, read_committed Fetch, ListOffsets and OffsetFetch require_stable they drive."""

from __future__ import annotations

import time

import pytest
from kio.schema.errors import ErrorCode

from tests.engine.txn.helpers import txn_batch
from tests.kafka_wire.groupraw import unique
from tests.kafka_wire.kafka_requests import fetch, list_offsets
from tests.kafka_wire.rawkafka import RawKafka
from tests.kafka_wire.test_k01_fetch import topic_with
from tests.kafka_wire.txnraw import (
    add_offsets,
    add_partitions,
    end_txn,
    init_producer_id,
    offset_fetch,
    txn_offset_commit,
    txn_produce,
)

VERSIONS = range(0, 4)


@pytest.fixture
def kafka(server):
    with RawKafka(server.kafka_bootstrap) as connection:
        yield connection


class Txn:
    """One transactional producer over the raw connection, at one version of the txn APIs."""

    def __init__(self, kafka, version: int, tid: str | None = None) -> None:
        self.kafka, self.version = kafka, version
        self.tid = tid or unique("tx")
        got = kafka.send(init_producer_id(min(version + 1, 4), self.tid))
        assert got.error_code == ErrorCode.none
        self.pid, self.epoch = got.producer_id, got.producer_epoch
        self.sequence = 0

    def add(self, partitions: dict[str, list[int]], **kw) -> dict[tuple[str, int], ErrorCode]:
        response = self.kafka.send(add_partitions(self.version, self.tid, kw.get("pid", self.pid),
                                                  kw.get("epoch", self.epoch), partitions))
        return {(t.name, p.partition_index): p.partition_error_code
                for t in response.results_by_topic_v3_and_below for p in t.results_by_partition}

    def produce(self, topic: str, values: list[bytes], *, partition: int = 0, epoch: int | None = None,
                produce_version: int = 8, timestamp: int = 1_700_000_000_000):
        records = txn_batch(values, producer_id=self.pid, producer_epoch=self.epoch if epoch is None else epoch,
                            base_sequence=self.sequence, timestamp=timestamp)
        (response,) = self.kafka.send(txn_produce(produce_version, self.tid, topic, records, partition=partition)).responses
        (result,) = response.partition_responses
        if result.error_code == ErrorCode.none:
            self.sequence += len(values)
        return result

    def end(self, commit: bool, **kw) -> ErrorCode:
        return self.kafka.send(end_txn(self.version, self.tid, self.pid, kw.get("epoch", self.epoch), commit)).error_code


def fenced_code(version: int) -> ErrorCode:
    """KIP-588: PRODUCER_FENCED from v2 of AddPartitions/AddOffsets/EndTxn; INVALID_PRODUCER_EPOCH before."""
    return ErrorCode.producer_fenced if version >= 2 else ErrorCode.invalid_producer_epoch


def fetched(kafka, topic: str, offset: int, *, isolation: int, version: int = 12):
    (t,) = kafka.send(fetch(version, [(topic, 0, offset)], isolation_level=isolation)).responses
    (p,) = t.partitions
    return p


@pytest.mark.parametrize("version", VERSIONS)
def test_commit_and_abort_through_the_wire(kafka, version):
    topic = topic_with(kafka)
    txn = Txn(kafka, version)
    assert txn.add({topic: [0]}) == {(topic, 0): ErrorCode.none}
    assert txn.produce(topic, [b"c0", b"c1"]).error_code == ErrorCode.none
    p = fetched(kafka, topic, 0, isolation=1)
    assert (p.high_watermark, p.last_stable_offset, p.records) == (2, 0, b"")
    assert fetched(kafka, topic, 0, isolation=0).records != b""
    assert txn.end(commit=True) == ErrorCode.none
    assert txn.end(commit=True) == ErrorCode.none  # a retry: idempotent
    assert txn.end(commit=False) == ErrorCode.invalid_txn_state
    p = fetched(kafka, topic, 0, isolation=1)
    assert (p.high_watermark, p.last_stable_offset, p.aborted_transactions) == (3, 3, ())
    assert txn.add({topic: [0]}) == {(topic, 0): ErrorCode.none}
    assert txn.produce(topic, [b"a0"]).error_code == ErrorCode.none  # offset 3
    assert txn.end(commit=False) == ErrorCode.none  # marker at 4
    for fetch_version in (4, 12):
        p = fetched(kafka, topic, 0, isolation=1, version=fetch_version)
        assert p.last_stable_offset == 5
        assert [(a.producer_id, a.first_offset) for a in p.aborted_transactions] == [(txn.pid, 3)]
        assert fetched(kafka, topic, 0, isolation=0, version=fetch_version).aborted_transactions is None
    # The aborted range is listed only for reads that overlap it.
    assert fetched(kafka, topic, 5, isolation=1).aborted_transactions == ()


@pytest.mark.parametrize("version", VERSIONS)
def test_add_partitions_errors(kafka, version):
    topic = topic_with(kafka)
    txn = Txn(kafka, version)
    assert txn.add({topic: [0, 7], "no-such-topic": [0]}) == {
        (topic, 0): ErrorCode.operation_not_attempted, (topic, 7): ErrorCode.unknown_topic_or_partition,
        ("no-such-topic", 0): ErrorCode.unknown_topic_or_partition}
    assert set(txn.add({topic: [0]}, pid=txn.pid + 1000).values()) == {ErrorCode.invalid_producer_id_mapping}
    assert set(txn.add({topic: [0]}, epoch=txn.epoch + 1).values()) == {fenced_code(version)}
    assert txn.end(commit=True) == ErrorCode.invalid_txn_state  # nothing was added: no transaction
    assert txn.end(commit=True, epoch=txn.epoch - 1) == fenced_code(version)


@pytest.mark.parametrize("produce_version", [3, 8, 9, 11])
def test_transactional_produce_needs_the_partition_added_and_the_current_epoch(kafka, produce_version):
    topic = topic_with(kafka)
    txn = Txn(kafka, 3)
    assert txn.produce(topic, [b"early"], produce_version=produce_version).error_code == ErrorCode.invalid_txn_state
    txn.add({topic: [0]})
    assert txn.produce(topic, [b"ok"], produce_version=produce_version).error_code == ErrorCode.none
    zombie_epoch = txn.epoch
    newer = Txn(kafka, 3, txn.tid)  # fences: the open transaction is aborted
    assert newer.epoch == zombie_epoch + 2
    result = txn.produce(topic, [b"zombie"], epoch=zombie_epoch, produce_version=produce_version)
    assert result.error_code == ErrorCode.invalid_producer_epoch
    p = fetched(kafka, topic, 0, isolation=1)
    assert p.last_stable_offset == p.high_watermark == 2  # "ok" and its ABORT marker
    assert [a.first_offset for a in p.aborted_transactions] == [0]


@pytest.mark.parametrize("version", VERSIONS)
def test_offsets_in_a_transaction_are_unstable_until_it_commits(kafka, version):
    topic = topic_with(kafka)
    group = unique("g")
    txn = Txn(kafka, version)
    early = kafka.send(txn_offset_commit(version, txn.tid, txn.pid, txn.epoch, group, {topic: {0: 5}}))
    assert early.topics[0].partitions[0].error_code == ErrorCode.invalid_txn_state
    assert kafka.send(add_offsets(version, txn.tid, txn.pid, txn.epoch, group)).error_code == ErrorCode.none
    stale = kafka.send(add_offsets(version, txn.tid, txn.pid, txn.epoch + 1, group)).error_code
    assert stale == fenced_code(version)
    response = kafka.send(txn_offset_commit(version, txn.tid, txn.pid, txn.epoch, group, {topic: {0: 5}, "nope": {0: 1}}))
    codes = {(t.name, p.partition_index): p.error_code for t in response.topics for p in t.partitions}
    assert codes == {(topic, 0): ErrorCode.none, ("nope", 0): ErrorCode.unknown_topic_or_partition}
    fenced = kafka.send(txn_offset_commit(version, txn.tid, txn.pid, txn.epoch + 1, group, {topic: {0: 6}}))
    assert fenced.topics[0].partitions[0].error_code == ErrorCode.invalid_producer_epoch
    (t,) = kafka.send(offset_fetch(7, group, topic, [0], require_stable=True)).topics
    assert t.partitions[0].error_code == ErrorCode.unstable_offset_commit
    (t,) = kafka.send(offset_fetch(7, group, topic, [0])).topics
    assert (t.partitions[0].error_code, t.partitions[0].committed_offset) == (ErrorCode.none, -1)
    assert txn.end(commit=True) == ErrorCode.none
    (t,) = kafka.send(offset_fetch(7, group, topic, [0], require_stable=True)).topics
    assert (t.partitions[0].error_code, t.partitions[0].committed_offset) == (ErrorCode.none, 5)


def test_txn_offset_commit_v3_checks_the_member_it_names(kafka):
    topic = topic_with(kafka)
    group = unique("g")
    txn = Txn(kafka, 3)
    kafka.send(add_offsets(3, txn.tid, txn.pid, txn.epoch, group))
    kafka.send(txn_offset_commit(3, txn.tid, txn.pid, txn.epoch, group, {topic: {0: 1}}))  # the group exists now
    response = kafka.send(txn_offset_commit(3, txn.tid, txn.pid, txn.epoch, group, {topic: {0: 2}},
                                            member_id="not-a-member"))
    assert response.topics[0].partitions[0].error_code == ErrorCode.unknown_member_id
    response = kafka.send(txn_offset_commit(3, txn.tid, txn.pid, txn.epoch, group, {topic: {0: 2}}, generation_id=9))
    assert response.topics[0].partitions[0].error_code == ErrorCode.illegal_generation


@pytest.mark.parametrize("version", [2, 7])
def test_list_offsets_latest_is_the_last_stable_offset_for_read_committed(kafka, version):
    topic = topic_with(kafka)
    kafka.produce(topic, 0, [b"plain"])  # timestamped now
    later = int(time.time() * 1000) + 60_000
    txn = Txn(kafka, 3)
    txn.add({topic: [0]})
    txn.produce(topic, [b"open"], timestamp=later)

    def latest(isolation: int) -> int:
        (t,) = kafka.send(list_offsets(version, topic, -1, isolation_level=isolation)).topics
        return t.partitions[0].offset

    assert (latest(0), latest(1)) == (2, 1)

    def by_time(isolation: int) -> int:
        (t,) = kafka.send(list_offsets(version, topic, later - 1, isolation_level=isolation)).topics
        return t.partitions[0].offset

    # A timestamp lookup under read_committed does not find the open record either.
    assert (by_time(0), by_time(1)) == (1, -1)
    txn.end(commit=True)
    assert (latest(0), latest(1)) == (3, 3)

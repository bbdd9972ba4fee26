"""The transaction coordinator on the memory backend with a FakeClock: ids, epochs, the state machine."""

from __future__ import annotations

import pytest

from engine.errors import InvalidArgument, InvalidProducerEpoch, StorageError
from engine.groups.types import OffsetCommitEntry
from engine.txn import TxnResult, TxnState
from engine.txn.errors import (
    ConcurrentTransactions,
    InvalidProducerIdMapping,
    InvalidRegularExpression,
    InvalidTransactionTimeout,
    InvalidTxnState,
    ProducerFenced,
    TransactionalIdNotFound,
)
from tests.engine.txn.helpers import Producer, batches_in, control_key, memory_engine, tp, txn_batch


@pytest.fixture
def engine():
    engine, clock = memory_engine()
    engine.fake_clock = clock
    yield engine
    engine.close()


def markers(engine, partition) -> list[tuple[int, int, int]]:
    """(offset, producer epoch, type) of every marker in a partition."""
    data = engine.topics.partition(partition).read(0, 1 << 24)
    return [(b["base"], b["epoch"], control_key(b["bytes"])[1]) for b in batches_in(data) if b["control"]]


def test_init_producer_id_keeps_the_id_and_bumps_the_epoch(engine):
    first = engine.txn.init_producer_id("app", timeout_ms=60_000)
    second = engine.txn.init_producer_id("app", timeout_ms=60_000)
    other = engine.txn.init_producer_id("other", timeout_ms=60_000)
    idempotent = engine.txn.init_producer_id(None, timeout_ms=0)
    assert (first.producer_epoch, second.producer_epoch) == (0, 1)
    assert first.producer_id == second.producer_id
    assert len({first.producer_id, other.producer_id, idempotent.producer_id}) == 3
    assert idempotent.producer_epoch == 0


@pytest.mark.parametrize("timeout_ms", [0, -1, 900_001])
def test_transaction_timeout_is_validated(engine, timeout_ms):
    with pytest.raises(InvalidTransactionTimeout):
        engine.txn.init_producer_id("app", timeout_ms=timeout_ms)
    assert engine.txn.init_producer_id("app", timeout_ms=900_000).producer_epoch == 0


def test_empty_transactional_id_and_half_a_producer_are_invalid(engine):
    with pytest.raises(InvalidArgument):
        engine.txn.init_producer_id("", timeout_ms=1000)
    with pytest.raises(InvalidArgument):
        engine.txn.init_producer_id("app", timeout_ms=1000, producer_id=5)


def test_commit_moves_through_the_states_and_writes_markers_everywhere(engine):
    p = Producer(engine, "app")
    assert engine.txn.state_of("app") is TxnState.EMPTY
    p.add(tp("out", 0), tp("out", 1))
    assert engine.txn.state_of("app") is TxnState.ONGOING
    p.send(tp("out", 0), b"a", b"b")
    assert engine.topics.partition(tp("out", 0)).last_stable_offset == 0
    p.end(commit=True)
    assert engine.txn.state_of("app") is TxnState.COMPLETE_COMMIT
    # A COMMIT marker in each partition, even the one never written to (as Kafka).
    assert markers(engine, tp("out", 0)) == [(2, p.epoch, 1)]
    assert markers(engine, tp("out", 1)) == [(0, p.epoch, 1)]
    log = engine.topics.partition(tp("out", 0))
    assert log.last_stable_offset == log.high_watermark == 3
    assert not log.aborted


def test_abort_indexes_the_transaction(engine):
    p = Producer(engine, "app")
    p.add(tp("out"))
    p.send(tp("out"), b"a")
    p.send(tp("out"), b"b")
    p.end(commit=False)
    log = engine.topics.partition(tp("out"))
    assert [(e.producer_id, e.first_offset, e.last_offset) for e in log.aborted] == [(p.producer_id, 0, 2)]
    assert markers(engine, tp("out")) == [(2, p.epoch, 0)]
    assert engine.txn.state_of("app") is TxnState.COMPLETE_ABORT


def test_end_txn_is_idempotent_and_checks_the_state(engine):
    p = Producer(engine, "app")
    with pytest.raises(InvalidTxnState):
        p.end(commit=True)  # Empty: nothing to end
    p.add(tp("out"))
    p.end(commit=True)
    p.end(commit=True)  # a retry after a lost answer
    assert len(markers(engine, tp("out"))) == 1
    with pytest.raises(InvalidTxnState):
        p.end(commit=False)
    p.add(tp("out"))
    p.end(commit=False)
    p.end(commit=False)
    with pytest.raises(InvalidTxnState):
        p.end(commit=True)


def test_requests_must_name_the_current_producer_id_and_epoch(engine):
    p = Producer(engine, "app")
    with pytest.raises(InvalidProducerIdMapping):
        engine.txn.add_partitions("nobody", producer_id=p.producer_id, producer_epoch=p.epoch, partitions=[tp("out")])
    with pytest.raises(InvalidProducerIdMapping):
        engine.txn.add_partitions("app", producer_id=p.producer_id + 100, producer_epoch=p.epoch, partitions=[tp("out")])
    with pytest.raises(ProducerFenced):
        engine.txn.add_partitions("app", producer_id=p.producer_id, producer_epoch=p.epoch + 1, partitions=[tp("out")])
    with pytest.raises(ProducerFenced):
        engine.txn.end_txn("app", producer_id=p.producer_id, producer_epoch=p.epoch - 1, result=TxnResult.COMMIT)


def test_produce_needs_the_partition_in_the_open_transaction(engine):
    p = Producer(engine, "app")
    with pytest.raises(InvalidTxnState):
        p.send(tp("out"), b"too early")
    p.add(tp("out", 0))
    with pytest.raises(InvalidTxnState):
        p.send(tp("out", 1), b"not added")
    p.send(tp("out", 0), b"fine")
    with pytest.raises(InvalidProducerIdMapping):
        engine.txn.verify_produce(None, producer_id=p.producer_id, producer_epoch=p.epoch, partition=tp("out"))
    with pytest.raises(InvalidProducerEpoch):
        engine.txn.verify_produce("app", producer_id=p.producer_id, producer_epoch=p.epoch + 1, partition=tp("out"))


def test_a_new_instance_fences_the_zombie_and_aborts_its_transaction(engine):
    zombie = Producer(engine, "app")
    zombie.add(tp("out"))
    zombie.send(tp("out"), b"half done")
    fresh = Producer(engine, "app")
    # The zombie's transaction was aborted under epoch + 1; the new instance has epoch + 2.
    assert fresh.producer_id == zombie.producer_id
    assert fresh.epoch == zombie.epoch + 2
    assert markers(engine, tp("out")) == [(1, zombie.epoch + 1, 0)]
    log = engine.topics.partition(tp("out"))
    assert log.last_stable_offset == log.high_watermark
    assert [(e.first_offset, e.last_offset) for e in log.aborted] == [(0, 1)]
    # Every path refuses the zombie.
    with pytest.raises(ProducerFenced):
        zombie.add(tp("out", 1))
    with pytest.raises(ProducerFenced):
        zombie.end(commit=True)
    with pytest.raises(InvalidProducerEpoch):
        engine.txn.verify_produce("app", producer_id=zombie.producer_id, producer_epoch=zombie.epoch,
                                  partition=tp("out"))
    with pytest.raises(InvalidProducerEpoch):  # and the partition itself, were a batch to get there
        engine.topics.partition(tp("out")).append(
            txn_batch([b"late"], producer_id=zombie.producer_id, producer_epoch=zombie.epoch, base_sequence=1))
    fresh.add(tp("out"))
    fresh.send(tp("out"), b"new")
    fresh.end()


def test_kip_360_epoch_bump_retry_and_fencing(engine):
    p = Producer(engine, "app")
    pid, epoch = p.producer_id, p.epoch
    bumped = engine.txn.init_producer_id("app", timeout_ms=60_000, producer_id=pid, producer_epoch=epoch)
    assert (bumped.producer_id, bumped.producer_epoch) == (pid, epoch + 1)
    # The answer got lost and the producer retries with the epoch it had: same answer.
    again = engine.txn.init_producer_id("app", timeout_ms=60_000, producer_id=pid, producer_epoch=epoch)
    assert again == bumped
    # A producer named by an epoch that is neither current nor previous is fenced.
    engine.txn.init_producer_id("app", timeout_ms=60_000)  # a new instance: epoch + 2, previous forgotten
    with pytest.raises(ProducerFenced):
        engine.txn.init_producer_id("app", timeout_ms=60_000, producer_id=pid, producer_epoch=epoch + 1)
    with pytest.raises(ProducerFenced):
        engine.txn.init_producer_id("app", timeout_ms=60_000, producer_id=pid + 50, producer_epoch=0)


def test_an_exhausted_epoch_rotates_the_producer_id(engine):
    p = Producer(engine, "app")
    engine.txn._txns["app"].producer_epoch = 32765
    nearly = engine.txn.init_producer_id("app", timeout_ms=60_000)
    assert (nearly.producer_id, nearly.producer_epoch) == (p.producer_id, 32766)
    rotated = engine.txn.init_producer_id("app", timeout_ms=60_000)
    assert rotated.producer_id != p.producer_id and rotated.producer_epoch == 0


def test_a_transaction_past_its_timeout_is_aborted_and_its_producer_fenced(engine):
    clock = engine.fake_clock
    p = Producer(engine, "app", timeout_ms=5_000)
    p.add(tp("out"))
    p.send(tp("out"), b"slow")
    clock.advance(4_999)
    engine.txn.run_due()
    assert engine.txn.state_of("app") is TxnState.ONGOING
    clock.advance(1)
    engine.txn.run_due()
    assert engine.txn.state_of("app") is TxnState.COMPLETE_ABORT
    log = engine.topics.partition(tp("out"))
    assert log.last_stable_offset == log.high_watermark and len(log.aborted) == 1
    assert markers(engine, tp("out")) == [(1, p.epoch + 1, 0)]
    assert (engine.txn.timed_out, engine.txn.aborted, engine.txn.committed) == (1, 1, 0)
    with pytest.raises(ProducerFenced):
        p.end(commit=True)
    # A later transaction of a new instance gets its own, full timeout.
    p.init()
    p.add(tp("out"))
    clock.advance(4_000)
    engine.txn.run_due()
    assert engine.txn.state_of("app") is TxnState.ONGOING
    p.end()
    assert engine.txn.abort_timed_out() == 0


class FailingWrites:
    """Makes a partition's marker writes fail like a full disk until `healed`."""

    def __init__(self, log) -> None:
        self.log = log
        self.original = log.write_marker
        log.write_marker = self.write_marker
        self.healed = False

    def write_marker(self, **kwargs):
        if not self.healed:
            raise StorageError("disk full")
        return self.original(**kwargs)


def test_concurrent_transactions_while_markers_cannot_be_written(engine):
    p = Producer(engine, "app")
    p.add(tp("out", 0), tp("out", 1))
    p.send(tp("out", 0), b"a")
    failing = FailingWrites(engine.topics.partition(tp("out", 1)))
    p.end(commit=True)  # answered: the decision is journaled, the markers follow
    assert engine.txn.state_of("app") is TxnState.PREPARE_COMMIT
    assert engine.txn.describe("app").partitions == (tp("out", 1),)  # only the one still due
    with pytest.raises(ConcurrentTransactions):
        p.end(commit=True)
    with pytest.raises(InvalidTxnState):
        p.end(commit=False)
    with pytest.raises(ConcurrentTransactions):
        p.add(tp("out", 0))
    with pytest.raises(ConcurrentTransactions):
        engine.txn.init_producer_id("app", timeout_ms=60_000)
    failing.healed = True
    engine.fake_clock.advance(1_000)
    engine.txn.run_due()
    assert engine.txn.state_of("app") is TxnState.COMPLETE_COMMIT
    assert len(markers(engine, tp("out", 0))) == len(markers(engine, tp("out", 1))) == 1
    p.end(commit=True)


def test_transactional_offsets_are_visible_only_on_commit(engine):
    groups = engine.groups
    p = Producer(engine, "app")
    offsets = [OffsetCommitEntry(partition=tp("in", 0), offset=42, metadata="m")]
    with pytest.raises(InvalidTxnState):  # AddOffsetsToTxn comes first
        engine.txn.txn_offset_commit("app", producer_id=p.producer_id, producer_epoch=p.epoch, group_id="g",
                                     offsets=offsets)
    engine.txn.add_offsets("app", producer_id=p.producer_id, producer_epoch=p.epoch, group_id="g")
    outcome = engine.txn.txn_offset_commit("app", producer_id=p.producer_id, producer_epoch=p.epoch, group_id="g",
                                           offsets=offsets)
    assert outcome == {tp("in", 0): None}
    (fetched,) = groups.fetch_offsets("g", [tp("in", 0)], require_stable=True)
    assert fetched.unstable and fetched.offset == -1
    (fetched,) = groups.fetch_offsets("g", [tp("in", 0)])
    assert fetched.offset == -1
    p.end(commit=True)
    (fetched,) = groups.fetch_offsets("g", [tp("in", 0)], require_stable=True)
    assert (fetched.offset, fetched.metadata, fetched.unstable) == (42, "m", False)
    # An aborted transaction's offsets never show.
    engine.txn.add_offsets("app", producer_id=p.producer_id, producer_epoch=p.epoch, group_id="g")
    engine.txn.txn_offset_commit("app", producer_id=p.producer_id, producer_epoch=p.epoch, group_id="g",
                                 offsets=[OffsetCommitEntry(partition=tp("in", 0), offset=99)])
    p.end(commit=False)
    (fetched,) = groups.fetch_offsets("g", [tp("in", 0)], require_stable=True)
    assert fetched.offset == 42


def test_txn_offset_commit_checks(engine):
    p = Producer(engine, "app")
    engine.txn.add_offsets("app", producer_id=p.producer_id, producer_epoch=p.epoch, group_id="g")
    outcome = engine.txn.txn_offset_commit(
        "app", producer_id=p.producer_id, producer_epoch=p.epoch, group_id="g",
        offsets=[OffsetCommitEntry(partition=tp("in", 0), offset=1, metadata="x" * 5000),
                 OffsetCommitEntry(partition=tp("nope", 0), offset=1),
                 OffsetCommitEntry(partition=tp("in", 1), offset=1)])
    assert [type(outcome[k]).__name__ for k in (tp("in", 0), tp("nope", 0))] == ["OffsetMetadataTooLarge", "NotFound"]
    assert outcome[tp("in", 1)] is None
    # KIP-447 group checks apply to what the client names (the group exists now, without members).
    named = [OffsetCommitEntry(partition=tp("in", 1), offset=2)]
    outcome = engine.txn.txn_offset_commit("app", producer_id=p.producer_id, producer_epoch=p.epoch, group_id="g",
                                           member_id="someone", offsets=named)
    assert type(outcome[tp("in", 1)]).__name__ == "UnknownMember"
    outcome = engine.txn.txn_offset_commit("app", producer_id=p.producer_id, producer_epoch=p.epoch, group_id="g",
                                           generation_id=5, offsets=named)
    assert type(outcome[tp("in", 1)]).__name__ == "IllegalGeneration"
    with pytest.raises(InvalidProducerEpoch):
        engine.txn.txn_offset_commit("app", producer_id=p.producer_id, producer_epoch=p.epoch + 1, group_id="g",
                                     offsets=[])


def test_describe_and_list(engine):
    clock = engine.fake_clock
    a = Producer(engine, "a-1")
    b = Producer(engine, "b-1", timeout_ms=30_000)
    b.add(tp("out", 1))
    clock.advance(10_000)
    described = engine.txn.describe("b-1")
    assert (described.state, described.producer_id, described.producer_epoch, described.timeout_ms) == (
        TxnState.ONGOING, b.producer_id, b.epoch, 30_000)
    assert described.partitions == (tp("out", 1),)
    assert described.start_time_ms == clock.now_ms() - 10_000
    assert engine.txn.describe("a-1").start_time_ms == -1
    with pytest.raises(TransactionalIdNotFound):
        engine.txn.describe("zzz")
    everything = engine.txn.list_transactions()
    assert [(t.transactional_id, t.state) for t in everything] == [("a-1", TxnState.EMPTY), ("b-1", TxnState.ONGOING)]
    assert [t.transactional_id for t in engine.txn.list_transactions(states=frozenset({TxnState.ONGOING}))] == ["b-1"]
    assert [t.transactional_id for t in engine.txn.list_transactions(producer_ids=frozenset({a.producer_id}))] == ["a-1"]
    assert [t.transactional_id for t in engine.txn.list_transactions(min_duration_ms=10_000)] == ["b-1"]
    assert engine.txn.list_transactions(min_duration_ms=10_001) == ()
    assert [t.transactional_id for t in engine.txn.list_transactions(pattern="^a-")] == ["a-1"]
    with pytest.raises(InvalidRegularExpression):
        engine.txn.list_transactions(pattern="(")


def test_idle_transactional_ids_expire(engine):
    clock = engine.fake_clock
    Producer(engine, "idle")
    busy = Producer(engine, "busy")
    busy.add(tp("out"))
    clock.advance(7 * 24 * 3600 * 1000)
    engine.txn.expire_transactional_ids()
    assert engine.txn.state_of("idle") is None
    assert engine.txn.state_of("busy") is TxnState.ONGOING

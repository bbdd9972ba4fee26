"""After a crash a transaction is completed or aborted, never half-applied (files backend, no close = kill -9)."""

from __future__ import annotations

import pytest

from engine import Engine
from engine.clock import FakeClock
from engine.groups.types import OffsetCommitEntry
from engine.txn import TransactionCoordinator, TxnState
from engine.txn.errors import ProducerFenced
from engine.txn.journal import MemoryJournal
from tests.engine.txn.helpers import Producer, batches_in, control_key, memory_engine, tp, txn_batch
from tests.engine.txn.test_coordinator import FailingWrites


def files_engine(path, clock) -> Engine:
    engine = Engine(data_dir=path, clock=clock)
    engine.open()
    for name in ("in", "out"):
        if engine.topics.get(name) is None:
            engine.topics.create(name, partitions=2)
    return engine


def marker_types(engine, partition) -> list[int]:
    data = engine.topics.partition(partition).read(0, 1 << 24)
    return [control_key(b["bytes"])[1] for b in batches_in(data) if b["control"]]


def committed_values(engine, partition) -> list[int]:
    """Offsets of the data batches a read_committed consumer hands over: below the LSO, not aborted."""
    log = engine.topics.partition(partition)
    data = log.read(0, 1 << 24, max_offset=log.last_stable_offset)
    aborted = [(e.producer_id, e.first_offset, e.last_offset) for e in log.aborted]
    return [b["base"] for b in batches_in(data) if not b["control"]
            and not any(pid == b["producer_id"] and first <= b["base"] < last for pid, first, last in aborted)]


def test_an_open_transaction_is_aborted_after_a_crash(tmp_path):
    clock = FakeClock()
    before = files_engine(tmp_path, clock)
    p = Producer(before, "app")
    p.add(tp("out", 0), tp("out", 1))
    p.send(tp("out", 0), b"a")
    p.send(tp("out", 1), b"b")
    assert before.topics.partition(tp("out", 0)).last_stable_offset == 0
    # kill -9: nothing is closed or flushed.
    after = files_engine(tmp_path, clock)
    assert after.txn.state_of("app") is TxnState.COMPLETE_ABORT
    for partition in (tp("out", 0), tp("out", 1)):
        log = after.topics.partition(partition)
        assert log.last_stable_offset == log.high_watermark == 2
        assert marker_types(after, partition) == [0]
        assert [(e.producer_id, e.first_offset) for e in log.aborted] == [(p.producer_id, 0)]
        assert committed_values(after, partition) == []
    # The producer of before the crash is fenced; a new instance carries on.
    p.engine = after
    with pytest.raises(ProducerFenced):
        p.add(tp("out", 0))
    q = Producer(after, "app")
    assert q.producer_id == p.producer_id and q.epoch == p.epoch + 2
    after.close()


def test_a_prepared_commit_is_completed_after_a_crash(tmp_path):
    clock = FakeClock()
    before = files_engine(tmp_path, clock)
    p = Producer(before, "app")
    p.add(tp("out", 0), tp("out", 1))
    before.txn.add_offsets("app", producer_id=p.producer_id, producer_epoch=p.epoch, group_id="g")
    p.send(tp("out", 0), b"a")
    p.send(tp("out", 1), b"b")
    before.txn.txn_offset_commit("app", producer_id=p.producer_id, producer_epoch=p.epoch, group_id="g",
                                 offsets=[OffsetCommitEntry(partition=tp("in", 0), offset=7)])
    FailingWrites(before.topics.partition(tp("out", 1)))
    p.end(commit=True)
    assert before.txn.state_of("app") is TxnState.PREPARE_COMMIT
    assert marker_types(before, tp("out", 0)) == [1] and marker_types(before, tp("out", 1)) == []
    assert before.groups.fetch_offsets("g", [tp("in", 0)])[0].offset == -1  # offsets wait for the markers
    # kill -9 mid-commit.
    after = files_engine(tmp_path, clock)
    assert after.txn.state_of("app") is TxnState.COMPLETE_COMMIT
    assert marker_types(after, tp("out", 0)) == [1]  # not written twice
    assert marker_types(after, tp("out", 1)) == [1]
    for partition in (tp("out", 0), tp("out", 1)):
        log = after.topics.partition(partition)
        assert log.last_stable_offset == log.high_watermark and not log.aborted
        assert committed_values(after, partition) == [0]
    assert after.groups.fetch_offsets("g", [tp("in", 0)], require_stable=True)[0].offset == 7
    # A producer that lost the EndTxn answer retries it and hears success.
    p.engine = after
    p.end(commit=True)
    after.close()
    # And once more after a clean restart: nothing changes.
    again = files_engine(tmp_path, clock)
    assert marker_types(again, tp("out", 1)) == [1]
    assert again.groups.fetch_offsets("g", [tp("in", 0)])[0].offset == 7
    again.close()


def test_a_completed_transaction_and_the_id_mapping_survive(tmp_path):
    clock = FakeClock()
    before = files_engine(tmp_path, clock)
    p = Producer(before, "app")
    p.add(tp("out"))
    p.send(tp("out"), b"a")
    p.end()
    after = files_engine(tmp_path, clock)
    assert after.txn.state_of("app") is TxnState.COMPLETE_COMMIT
    assert committed_values(after, tp("out")) == [0]
    q = Producer(after, "app")
    assert (q.producer_id, q.epoch) == (p.producer_id, p.epoch + 1)
    after.close()


def test_an_open_transaction_no_coordinator_owns_is_aborted_at_start(tmp_path):
    clock = FakeClock()
    before = files_engine(tmp_path, clock)
    log = before.topics.partition(tp("out"))
    log.append(txn_batch([b"orphan"], producer_id=999, producer_epoch=3, base_sequence=0))
    assert log.last_stable_offset == 0
    after = files_engine(tmp_path, clock)
    log = after.topics.partition(tp("out"))
    assert log.last_stable_offset == log.high_watermark == 2
    assert [(e.producer_id, e.first_offset) for e in log.aborted] == [(999, 0)]
    after.close()


def test_the_journal_is_compacted_on_start(tmp_path):
    clock = FakeClock()
    before = files_engine(tmp_path, clock)
    p = Producer(before, "app")
    for _ in range(50):
        p.add(tp("out"))
        p.send(tp("out"), b"x")
        p.end()
    journal = tmp_path / "txn" / "transactions.journal"
    grown = journal.stat().st_size
    before.close()
    after = files_engine(tmp_path, clock)
    assert journal.stat().st_size < grown / 10
    assert after.txn.state_of("app") is TxnState.COMPLETE_COMMIT
    after.close()


def test_memory_journal_restart_completes_what_was_prepared():
    engine, clock = memory_engine()
    journal = MemoryJournal(keep=True)

    def coordinator() -> TransactionCoordinator:
        c = TransactionCoordinator(
            clock=clock, allocate_producer_id=lambda: engine.topics.producer_ids.init_producer_id().producer_id,
            journal=journal, topics=lambda: engine.topics, groups=lambda: engine.groups)
        c.open()
        return c

    engine.txn = coordinator()
    p = Producer(engine, "app")
    p.add(tp("out"))
    p.send(tp("out"), b"a")
    FailingWrites(engine.topics.partition(tp("out")))
    p.end(commit=False)
    assert engine.txn.state_of("app") is TxnState.PREPARE_ABORT
    engine.topics.partition(tp("out")).write_marker = type(engine.topics.partition(tp("out"))).write_marker.__get__(
        engine.topics.partition(tp("out")))
    engine.txn = coordinator()
    assert engine.txn.state_of("app") is TxnState.COMPLETE_ABORT
    assert marker_types(engine, tp("out")) == [0]

"""Random interleavings of producers, fences, timeouts and coordinator restarts never break read_committed.

Hypothesis drives several transactional producers (some sharing a transactional id, so
they fence each other) through init / add / send / commit / abort, with clock jumps past
transaction timeouts and coordinator restarts over the same journal in between. After every
step, for every partition:
- every open transaction in the log belongs to an Ongoing transaction of the coordinator
  that holds the partition (no hanging transaction can hold the last stable offset), and
- the last stable offset is the first offset of the oldest transaction still open there
  (the high watermark when none is), and
- what a read_committed reader gets (batches below the LSO, minus the aborted ranges) is
  exactly the batches of committed transactions below the LSO, in offset order.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.errors import EngineError
from engine.txn import TransactionCoordinator, TxnState
from engine.txn.journal import MemoryJournal
from tests.engine.txn.helpers import Producer, batches_in, memory_engine, tp

PARTITIONS = [tp("out", 0), tp("out", 1)]
IDS = ["a", "b"]

# "send" is a client's AddPartitionsToTxn then Produce; with add=False it skips the first
# (a misbehaving client, which the coordinator must refuse).
instance = st.integers(0, 2)
actions = st.lists(st.one_of(
    st.tuples(st.just("init"), instance),
    st.tuples(st.just("send"), instance, st.sampled_from(PARTITIONS), st.booleans() | st.just(True)),
    st.tuples(st.just("send"), instance, st.sampled_from(PARTITIONS), st.just(True)),
    st.tuples(st.just("end"), instance, st.booleans()),
    st.tuples(st.just("time"), st.integers(0, 3_000)),
    st.tuples(st.just("restart"),),
), max_size=30)


def visible(engine, partition) -> list[int]:
    log = engine.topics.partition(partition)
    data = log.read(0, 1 << 24, max_offset=log.last_stable_offset) if log.high_watermark else b""
    aborted = [(e.producer_id, e.first_offset, e.last_offset) for e in log.aborted]
    return [b["base"] for b in batches_in(data) if not b["control"]
            and not any(pid == b["producer_id"] and first <= b["base"] < last for pid, first, last in aborted)]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(actions)
def test_read_committed_sees_exactly_the_committed_transactions(steps):
    engine, clock = memory_engine()
    journal = MemoryJournal(keep=True)

    def new_coordinator() -> TransactionCoordinator:
        coordinator = TransactionCoordinator(
            clock=clock, allocate_producer_id=lambda: engine.topics.producer_ids.init_producer_id().producer_id,
            journal=journal, topics=lambda: engine.topics, groups=lambda: engine.groups)
        coordinator.open()
        return coordinator

    engine.txn = new_coordinator()
    # Three producer instances; instances 0 and 2 share transactional id "a".
    producers: list[Producer | None] = [None, None, None]
    open_batches: dict[int, list[tuple]] = {0: [], 1: [], 2: []}  # instance -> [(partition, base offset)]
    committed: set[tuple] = set()

    def settle(committer: int | None = None) -> None:
        """Decides the fate of every instance's open batches from the coordinator's state."""
        for instance, batches in open_batches.items():
            p = producers[instance]
            if not batches or p is None:
                continue
            meta = engine.txn._txns.get(p.transactional_id)
            still_open = (meta is not None and meta.state is TxnState.ONGOING and meta.producer_id == p.producer_id
                          and meta.producer_epoch == p.epoch)
            if still_open:
                continue
            if instance == committer:
                committed.update(batches)
            open_batches[instance] = []

    for step in steps:
        kind = step[0]
        committer = None
        try:
            if kind == "init":
                instance = step[1]
                if producers[instance] is None:
                    producers[instance] = Producer(engine, IDS[instance % 2], timeout_ms=2_000)
                else:
                    producers[instance].init()
            elif kind in ("send", "end") and producers[step[1]] is not None:
                p = producers[step[1]]
                if kind == "send":
                    if step[3]:
                        p.add(step[2])
                    result = p.send(step[2], b"v")
                    open_batches[step[1]].append((step[2], result.base_offset))
                else:
                    p.end(commit=step[2])
                    committer = step[1] if step[2] else None
            elif kind == "time":
                clock.advance(step[1])
                engine.txn.run_due()
            elif kind == "restart":
                engine.txn = new_coordinator()
        except EngineError:
            pass
        settle(committer)
        for partition in PARTITIONS:
            log = engine.topics.partition(partition)
            owned = {m.producer_id for m in engine.txn._txns.values()
                     if m.state is TxnState.ONGOING and partition in m.partitions}
            assert set(log.producers.ongoing) <= owned, "an open transaction the coordinator does not own"
            # The last stable offset is the first offset of the oldest transaction still open.
            still_open = [offset for batches in open_batches.values() for p, offset in batches if p == partition]
            lso = min(still_open, default=log.high_watermark)
            assert log.last_stable_offset == lso
            expected = sorted(offset for p, offset in committed if p == partition and offset < lso)
            assert visible(engine, partition) == expected
    engine.close()

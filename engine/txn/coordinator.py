"""The transaction coordinator: transactional ids, their producer ids and epochs, and each transaction.

    engine.txn.init_producer_id(tid, timeout_ms=, producer_id=-1, producer_epoch=-1) -> ProducerIdAndEpoch
    engine.txn.add_partitions(tid, producer_id=, producer_epoch=, partitions=)       AddPartitionsToTxn
    engine.txn.add_offsets(tid, producer_id=, producer_epoch=, group_id=)             AddOffsetsToTxn
    engine.txn.txn_offset_commit(tid, ..., group_id=, offsets=) -> {tp: error|None}   TxnOffsetCommit
    engine.txn.end_txn(tid, producer_id=, producer_epoch=, result=TxnResult.COMMIT)   EndTxn
    engine.txn.verify_produce(tid, producer_id=, producer_epoch=, partition=)          Produce of a txn batch
    engine.txn.describe(tid) / list_transactions(...)                                  operators' tools
    engine.txn.abort_timed_out()                                                       also on a timer

The rules are Kafka's TransactionCoordinator (KIP-98; KIP-360 epoch bumps; KIP-588
PRODUCER_FENCED), with one simplification a single node allows: the markers are written
into the partitions (engine/log/control.py) in the same call that moves the transaction
to PrepareCommit/PrepareAbort, so EndTxn answers once the transaction is complete and a
read_committed consumer sees a commit as soon as the producer does. Only if a marker
cannot be written (a storage error) does the transaction stay in Prepare*, answering
CONCURRENT_TRANSACTIONS, as Kafka does while its markers are in flight, until a retry
completes it.

Fencing: InitProducerId bumps the id's epoch; an Ongoing transaction of the previous
epoch is first aborted with the epoch bumped once more (its ABORT markers carry it, so
the partitions refuse the zombie's later batches with INVALID_PRODUCER_EPOCH), and the
new producer gets the epoch after that (what Kafka hands out after its
CONCURRENT_TRANSACTIONS retry). A transaction open longer than its transaction.timeout.ms
is aborted the same way.

Produce: a transactional batch is accepted only from the id's current producer id and
epoch, in an Ongoing transaction that already holds the partition (Kafka 3.6+, KIP-890
part 1), so no batch can ever open a transaction the coordinator does not know about.

Durability (journal.py): every transition is journaled before it is answered or acted
on. After a restart a Prepare* transaction is completed (markers again where still
open, transactional offsets applied or dropped), an Ongoing one is aborted with its epoch
bumped (its producer is fenced and must re-initialise), and any partition still holding an
open transaction the coordinator does not own is closed with an ABORT marker, so no last
stable offset can stay stuck and no aborted record ever becomes visible.
"""

from __future__ import annotations

import logging
import re
from typing import Any, Callable, Iterable, Sequence

from engine.errors import InvalidArgument, InvalidProducerEpoch, NotFound, StorageError
from engine.groups.timers import Deadlines
from engine.groups.types import OffsetCommitEntry
from engine.producers import ProducerIdAndEpoch
from engine.txn.config import TxnConfig
from engine.txn.errors import (
    ConcurrentTransactions,
    InvalidProducerIdMapping,
    InvalidRegularExpression,
    InvalidTransactionTimeout,
    InvalidTxnState,
    ProducerFenced,
    TransactionalIdNotFound,
)
from engine.txn.journal import FileJournal, MemoryJournal, TxnJournal
from engine.txn.metadata import NO_PRODUCER_EPOCH, NO_PRODUCER_ID, TransactionMetadata, is_epoch_exhausted
from engine.txn.types import TransactionDescription, TransactionListing, TxnResult, TxnState
from engine.types import TopicPartition

log = logging.getLogger("mqgateway.txn")

# The single node's coordinator epoch: markers carry it (EndTransactionMarker) and
# DescribeProducers reports it.
COORDINATOR_EPOCH = 0
_EXPIRY_KEY = ("expire",)


class TransactionCoordinator:
    def __init__(
        self,
        *,
        clock,
        allocate_producer_id: Callable[[], int],
        config: TxnConfig = TxnConfig(),
        journal: TxnJournal | None = None,
        topics: Callable[[], Any] = lambda: None,
        groups: Callable[[], Any] = lambda: None,
    ) -> None:
        self._clock = clock
        self._allocate = allocate_producer_id
        self._config = config
        self._journal: TxnJournal = journal or MemoryJournal()
        # engine.topics and engine.groups, looked up when needed.
        self._topics = topics
        self._groups = groups
        self._txns: dict[str, TransactionMetadata] = {}
        # Offsets of each open transaction's TxnOffsetCommits, by transactional id, as
        # journaled: (group, entries) in commit order. Re-staged after a restart.
        self._staged: dict[str, list[tuple[str, list[OffsetCommitEntry]]]] = {}
        self._deadlines = Deadlines(clock, self._due)
        self._closed = False
        # Cheap counters for metrics later (DESIGN.md §1).
        self.committed = 0
        self.aborted = 0
        self.timed_out = 0
        self.fenced = 0

    @classmethod
    def for_engine(cls, engine) -> "TransactionCoordinator":
        """Built by Engine.open() after topics and groups: files under <data_dir>/txn, or memory."""
        config = TxnConfig()
        directory = engine.subdir("txn")
        journal: TxnJournal = (
            MemoryJournal() if directory is None
            else FileJournal(directory, compact_min_bytes=config.compact_min_bytes, compact_ratio=config.compact_ratio,
                             syncer=engine.durability)
        )
        coordinator = cls(
            clock=engine.clock,
            allocate_producer_id=lambda: engine.topics.producer_ids.init_producer_id().producer_id,
            config=config,
            journal=journal,
            topics=lambda: getattr(engine, "topics", None),
            groups=lambda: getattr(engine, "groups", None),
        )
        coordinator.open()
        return coordinator

    # -- lifecycle ----------------------------------------------------------------------------------
    def open(self) -> None:
        """Recovers from the journal and settles every transaction a crash may have left behind."""
        for record in self._journal.load():
            try:
                self._replay(record)
            except (KeyError, TypeError, ValueError) as exc:
                log.error("txn journal: unusable record %r (%s); skipped", record, exc)
        for meta in list(self._txns.values()):
            if meta.state.is_preparing:
                log.info("completing transaction %r (%s) left by the last run", meta.transactional_id, meta.state.value)
                self._restage_offsets(meta)
                meta.pending_markers = self._open_in_partitions(meta, meta.pending_markers)
                self._complete(meta)
            elif meta.state is TxnState.ONGOING:
                log.info("aborting transaction %r left open by the last run", meta.transactional_id)
                self._staged.pop(meta.transactional_id, None)
                meta.fence_epoch()
                self._prepare_and_complete(meta, commit=False, recovering=True)
        self._abort_orphans()
        self._compact()
        self._deadlines.at(self._clock.monotonic() + self._config.id_expiration_check_interval_ms / 1000, _EXPIRY_KEY)

    def _replay(self, record: dict) -> None:
        kind = record["type"]
        tid = record["id"]
        if kind == "txn":
            meta = TransactionMetadata.from_record(record)
            self._txns[tid] = meta
            if meta.state.is_idle:
                self._staged.pop(tid, None)
        elif kind == "offsets":
            entries = [OffsetCommitEntry(partition=TopicPartition(topic=t, partition=int(p)), offset=int(o),
                                         leader_epoch=int(e), metadata=m)
                       for t, p, o, e, m in record["offsets"]]
            self._staged.setdefault(tid, []).append((str(record["group"]), entries))
        elif kind == "deleted":
            self._txns.pop(tid, None)
            self._staged.pop(tid, None)
        else:
            raise ValueError(f"unknown record type {kind!r}")

    def _restage_offsets(self, meta: TransactionMetadata) -> None:
        groups = self._groups()
        if groups is None:
            return
        for group_id, entries in self._staged.get(meta.transactional_id, []):
            groups.stage_transactional_offsets(group_id, producer_id=meta.producer_id, offsets=entries)

    def _open_in_partitions(self, meta: TransactionMetadata, partitions: Iterable[TopicPartition]) -> set[TopicPartition]:
        """The partitions where this producer's transaction is still open (a marker is still due)."""
        topics = self._topics()
        if topics is None:
            return set(partitions)
        still_open = set()
        for tp in partitions:
            try:
                if meta.producer_id in topics.partition(tp).producers.ongoing:
                    still_open.add(tp)
            except NotFound:
                pass
        return still_open

    def _abort_orphans(self) -> None:
        """Closes open transactions in partitions that no Ongoing transaction of ours holds."""
        topics = self._topics()
        if topics is None:
            return
        owned = {(m.producer_id, tp) for m in self._txns.values() if m.state is TxnState.ONGOING for tp in m.partitions}
        for topic in topics:
            for log_ in topic.partitions:
                for producer_id in list(log_.producers.ongoing):
                    if (producer_id, log_.tp) in owned:
                        continue
                    entry = log_.producers.producers.get(producer_id)
                    epoch = entry.epoch if entry is not None else 0
                    log.warning("%s: aborting an open transaction of producer %d that no coordinator state owns",
                                log_.tp, producer_id)
                    try:
                        log_.write_marker(producer_id=producer_id, producer_epoch=epoch, commit=False,
                                          coordinator_epoch=COORDINATOR_EPOCH)
                    except (StorageError, InvalidProducerEpoch) as exc:
                        log.error("%s: cannot abort the orphaned transaction: %s", log_.tp, exc)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._deadlines.close()
        self._journal.close()

    def run_due(self) -> None:
        """Runs the timers that are due on the engine clock (tests call it after FakeClock.advance)."""
        self._deadlines.run_due()

    def _due(self, key) -> None:
        kind = key[0]
        if kind == "expire":
            self.expire_transactional_ids()
            self._deadlines.at(self._clock.monotonic() + self._config.id_expiration_check_interval_ms / 1000,
                               _EXPIRY_KEY)
            return
        meta = self._txns.get(key[1])
        if meta is None:
            return
        if kind == "timeout":
            _, _, producer_id, epoch, start_ms = key
            if (meta.state is TxnState.ONGOING and meta.producer_id == producer_id
                    and meta.producer_epoch == epoch and meta.start_ms == start_ms):
                self._abort_timed_out(meta)
        elif kind == "markers" and meta.state.is_preparing:
            self._complete(meta)

    # -- persistence -----------------------------------------------------------------------------
    def _store(self, meta: TransactionMetadata) -> None:
        self._journal.append(meta.to_record())
        if self._journal.should_compact():
            self._compact()

    def _compact(self) -> None:
        try:
            self._journal.compact(self._live_records())
        except StorageError as exc:
            log.error("txn journal compaction failed: %s", exc)

    def _live_records(self) -> Iterable[dict]:
        for tid, meta in self._txns.items():
            yield meta.to_record()
            if not meta.state.is_idle:
                for group_id, entries in self._staged.get(tid, []):
                    yield _offsets_record(meta, group_id, entries)

    def _store_or_restore(self, meta: TransactionMetadata, previous: dict) -> None:
        """Journals `meta`; if the write fails, puts the in-memory state back and re-raises."""
        try:
            self._store(meta)
        except StorageError:
            restored = TransactionMetadata.from_record(previous)
            self._txns[meta.transactional_id] = restored
            raise

    # -- InitProducerId ------------------------------------------------------------------------------
    def init_producer_id(self, transactional_id: str | None, *, timeout_ms: int,
                         producer_id: int = NO_PRODUCER_ID, producer_epoch: int = NO_PRODUCER_EPOCH) -> ProducerIdAndEpoch:
        if transactional_id is None:
            # An idempotent producer: always a fresh id, whatever it asks for (Kafka).
            return ProducerIdAndEpoch(producer_id=self._allocate(), producer_epoch=0)
        if not transactional_id:
            raise InvalidArgument("transactional id must not be empty")
        if (producer_id == NO_PRODUCER_ID) != (producer_epoch == NO_PRODUCER_EPOCH):
            raise InvalidArgument("producer id and epoch must both be given or both be -1")
        if not 0 < timeout_ms <= self._config.max_timeout_ms:
            raise InvalidTransactionTimeout(
                f"transaction timeout {timeout_ms} ms is not in (0, {self._config.max_timeout_ms}]")
        expected = None if producer_id == NO_PRODUCER_ID else ProducerIdAndEpoch(
            producer_id=producer_id, producer_epoch=producer_epoch)
        now = self._clock.now_ms()
        meta = self._txns.get(transactional_id)
        if meta is None:
            meta = TransactionMetadata(transactional_id=transactional_id, producer_id=self._allocate(),
                                       timeout_ms=timeout_ms, update_ms=now)
            self._txns[transactional_id] = meta
            previous = None
        else:
            previous = meta.to_record()
        if expected is not None and not meta.accepts_producer(expected.producer_id, expected.producer_epoch):
            raise ProducerFenced(f"producer id {expected.producer_id} does not own {transactional_id!r}")
        if meta.state.is_preparing:
            raise ConcurrentTransactions(f"transaction {transactional_id!r} is completing")
        if meta.state is TxnState.ONGOING:
            # Fence the previous instance: abort its transaction under a bumped epoch.
            self.fenced += 1
            meta.fence_epoch()
            try:
                self._prepare_and_complete(meta, commit=False)
            except StorageError:
                self._txns[transactional_id] = TransactionMetadata.from_record(previous)
                raise
            meta = self._txns[transactional_id]
            if meta.state.is_preparing:
                raise ConcurrentTransactions(f"transaction {transactional_id!r} is being aborted")
            previous = meta.to_record()
        if is_epoch_exhausted(meta.producer_epoch) and (expected is None or expected.producer_epoch == meta.producer_epoch):
            meta.rotate_producer_id(self._allocate(), timeout_ms=timeout_ms, remember_epoch=expected is not None,
                                    now_ms=now)
        else:
            expected_epoch = None if expected is None else expected.producer_epoch
            meta.bump_epoch(timeout_ms=timeout_ms, expected_epoch=expected_epoch, now_ms=now)
        try:
            self._store(meta)
        except StorageError:
            if previous is None:
                del self._txns[transactional_id]
            else:
                self._txns[transactional_id] = TransactionMetadata.from_record(previous)
            raise
        self._staged.pop(transactional_id, None)
        return ProducerIdAndEpoch(producer_id=meta.producer_id, producer_epoch=meta.producer_epoch)

    # -- AddPartitionsToTxn / AddOffsetsToTxn ------------------------------------------------------------
    def _owned(self, transactional_id: str, producer_id: int, producer_epoch: int) -> TransactionMetadata:
        """The id's metadata if this producer id and epoch own it (the checks every client request makes)."""
        if not transactional_id:
            raise InvalidArgument("transactional id must not be empty")
        meta = self._txns.get(transactional_id)
        if meta is None or meta.producer_id != producer_id:
            raise InvalidProducerIdMapping(f"producer id {producer_id} is not mapped to {transactional_id!r}")
        if meta.producer_epoch != producer_epoch:
            raise ProducerFenced(f"epoch {producer_epoch} of {transactional_id!r} is not the current "
                                 f"{meta.producer_epoch}")
        return meta

    def add_partitions(self, transactional_id: str, *, producer_id: int, producer_epoch: int,
                       partitions: Iterable[TopicPartition]) -> None:
        meta = self._owned(transactional_id, producer_id, producer_epoch)
        self._add(meta, partitions=set(partitions))

    def add_offsets(self, transactional_id: str, *, producer_id: int, producer_epoch: int, group_id: str) -> None:
        meta = self._owned(transactional_id, producer_id, producer_epoch)
        self._add(meta, groups={group_id})

    def _add(self, meta: TransactionMetadata, *, partitions: set[TopicPartition] = frozenset(),
             groups: set[str] = frozenset()) -> None:
        if meta.state.is_preparing:
            raise ConcurrentTransactions(f"transaction {meta.transactional_id!r} is completing")
        if meta.state is TxnState.ONGOING and partitions <= meta.partitions and groups <= meta.groups:
            return  # Kafka answers at once when nothing is new
        previous = meta.to_record()
        began = meta.add(partitions, groups, now_ms=self._clock.now_ms())
        self._store_or_restore(meta, previous)
        if began:
            self._staged.pop(meta.transactional_id, None)
            self._deadlines.at(self._clock.monotonic() + meta.timeout_ms / 1000,
                               ("timeout", meta.transactional_id, meta.producer_id, meta.producer_epoch, meta.start_ms))

    # -- TxnOffsetCommit -------------------------------------------------------------------------------
    def txn_offset_commit(
        self,
        transactional_id: str,
        *,
        producer_id: int,
        producer_epoch: int,
        group_id: str,
        member_id: str = "",
        generation_id: int = -1,
        group_instance_id: str | None = None,
        offsets: Sequence[OffsetCommitEntry],
    ) -> dict[TopicPartition, Exception | None]:
        """Holds the offsets in the group until the transaction ends; the outcome per partition.

        Raises (for the whole request) InvalidProducerIdMapping, InvalidProducerEpoch (a
        fenced epoch: TxnOffsetCommit 0-3 has no PRODUCER_FENCED), or InvalidTxnState when
        no transaction holding the group (AddOffsetsToTxn) is open.
        """
        try:
            meta = self._owned(transactional_id, producer_id, producer_epoch)
        except ProducerFenced as exc:
            raise InvalidProducerEpoch(str(exc)) from None
        if meta.state is not TxnState.ONGOING or group_id not in meta.groups:
            raise InvalidTxnState(f"group {group_id!r} is not in an open transaction of {transactional_id!r}")
        groups = self._groups()
        outcome = groups.check_transactional_offsets(
            group_id, member_id=member_id, generation_id=generation_id, group_instance_id=group_instance_id,
            offsets=offsets)
        accepted = [e for e in offsets if outcome.get(e.partition) is None]
        if accepted:
            self._journal.append(_offsets_record(meta, group_id, accepted))
            self._staged.setdefault(transactional_id, []).append((group_id, accepted))
            groups.stage_transactional_offsets(group_id, producer_id=meta.producer_id, offsets=accepted)
        return outcome

    # -- EndTxn ----------------------------------------------------------------------------------------
    def end_txn(self, transactional_id: str, *, producer_id: int, producer_epoch: int, result: TxnResult) -> None:
        meta = self._owned(transactional_id, producer_id, producer_epoch)
        commit = result is TxnResult.COMMIT
        state = meta.state
        if state is TxnState.ONGOING:
            self._prepare_and_complete(meta, commit=commit)
            return
        if state is (TxnState.COMPLETE_COMMIT if commit else TxnState.COMPLETE_ABORT):
            return  # a retry of an EndTxn whose answer was lost
        if state is (TxnState.PREPARE_COMMIT if commit else TxnState.PREPARE_ABORT):
            raise ConcurrentTransactions(f"transaction {transactional_id!r} is completing")
        raise InvalidTxnState(f"cannot {result.value} transaction {transactional_id!r} in state {state.value}")

    def _prepare_and_complete(self, meta: TransactionMetadata, *, commit: bool, recovering: bool = False) -> None:
        previous = meta.to_record()
        meta.prepare(commit=commit, now_ms=self._clock.now_ms())
        if recovering:
            # Only partitions still holding the transaction need a marker.
            meta.pending_markers = self._open_in_partitions(meta, meta.pending_markers)
        self._store_or_restore(meta, previous)
        self._complete(meta)

    def _complete(self, meta: TransactionMetadata) -> None:
        """Writes the markers still due, then the offsets, then CompleteCommit/CompleteAbort."""
        commit = meta.state is TxnState.PREPARE_COMMIT
        topics = self._topics()
        for tp in sorted(meta.pending_markers):
            try:
                if topics is not None:
                    topics.partition(tp).write_marker(producer_id=meta.producer_id, producer_epoch=meta.producer_epoch,
                                                      commit=commit, coordinator_epoch=COORDINATOR_EPOCH)
            except NotFound:
                pass  # the topic was deleted: nothing left to mark (Kafka drops such markers)
            except InvalidProducerEpoch as exc:
                log.error("%s: marker for %r refused: %s", tp, meta.transactional_id, exc)
            except StorageError as exc:
                log.error("%s: cannot write the %s marker of %r (retrying): %s", tp,
                          "COMMIT" if commit else "ABORT", meta.transactional_id, exc)
                self._deadlines.at(self._clock.monotonic() + self._config.marker_retry_ms / 1000,
                                   ("markers", meta.transactional_id))
                return
            meta.pending_markers.discard(tp)
        groups = self._groups()
        if groups is not None and meta.groups:
            try:
                groups.complete_transactional_offsets(meta.producer_id, commit=commit)
            except StorageError as exc:
                log.error("transaction %r: cannot store its offsets (retrying): %s", meta.transactional_id, exc)
                self._deadlines.at(self._clock.monotonic() + self._config.marker_retry_ms / 1000,
                                   ("markers", meta.transactional_id))
                return
        meta.complete(now_ms=self._clock.now_ms())
        if commit:
            self.committed += 1
        else:
            self.aborted += 1
        self._staged.pop(meta.transactional_id, None)
        try:
            self._store(meta)
        except StorageError as exc:
            # The markers and offsets are in place; after a restart the journal's Prepare*
            # record completes the transaction again, which changes nothing.
            log.error("transaction %r: cannot journal its completion: %s", meta.transactional_id, exc)

    # -- timeouts and expiry -------------------------------------------------------------------------
    def abort_timed_out(self) -> int:
        """Aborts every Ongoing transaction older than its timeout (the timer does this too)."""
        now = self._clock.now_ms()
        aborted = 0
        for meta in list(self._txns.values()):
            if meta.state is TxnState.ONGOING and meta.start_ms + meta.timeout_ms <= now:
                self._abort_timed_out(meta)
                aborted += 1
        return aborted

    def _abort_timed_out(self, meta: TransactionMetadata) -> None:
        log.info("aborting transaction %r of producer %d: open longer than %d ms",
                 meta.transactional_id, meta.producer_id, meta.timeout_ms)
        previous = meta.to_record()
        self.timed_out += 1
        meta.fence_epoch()
        try:
            self._prepare_and_complete(meta, commit=False)
        except StorageError as exc:
            self._txns[meta.transactional_id] = TransactionMetadata.from_record(previous)
            log.error("cannot abort timed-out transaction %r: %s", meta.transactional_id, exc)

    def expire_transactional_ids(self) -> int:
        """Forgets ids idle for transactional.id.expiration.ms (Kafka's removeExpiredTransactionalIds)."""
        now = self._clock.now_ms()
        expired = [t for t, m in self._txns.items()
                   if m.state.is_idle and m.update_ms + self._config.id_expiration_ms <= now]
        for tid in expired:
            try:
                self._journal.append({"type": "deleted", "id": tid})
            except StorageError as exc:
                log.error("cannot expire transactional id %r: %s", tid, exc)
                break
            del self._txns[tid]
        return len(expired)

    # -- Produce -----------------------------------------------------------------------------------
    def verify_produce(self, transactional_id: str | None, *, producer_id: int, producer_epoch: int,
                       partition: TopicPartition) -> None:
        """May this producer append a transactional batch to `partition` now? Raises if not.

        Errors as Kafka's produce-path verification (AddPartitionsToTxnManager): a fenced
        epoch is INVALID_PRODUCER_EPOCH, a partition outside the open transaction
        INVALID_TXN_STATE.
        """
        meta = self._txns.get(transactional_id) if transactional_id else None
        if meta is None or meta.producer_id != producer_id:
            raise InvalidProducerIdMapping(f"producer id {producer_id} is not mapped to {transactional_id!r}")
        if meta.producer_epoch != producer_epoch:
            raise InvalidProducerEpoch(f"epoch {producer_epoch} of {transactional_id!r} is not the current "
                                       f"{meta.producer_epoch}")
        if meta.state is not TxnState.ONGOING or partition not in meta.partitions:
            raise InvalidTxnState(f"{partition} is not in an open transaction of {transactional_id!r}")

    # -- operators' tools ------------------------------------------------------------------------------
    def describe(self, transactional_id: str) -> TransactionDescription:
        if not transactional_id:
            raise InvalidArgument("transactional id must not be empty")
        meta = self._txns.get(transactional_id)
        if meta is None:
            raise TransactionalIdNotFound(f"no transactional id {transactional_id!r}")
        partitions = meta.pending_markers if meta.state.is_preparing else meta.partitions
        return TransactionDescription(
            transactional_id=transactional_id, state=meta.state, producer_id=meta.producer_id,
            producer_epoch=meta.producer_epoch, timeout_ms=meta.timeout_ms,
            start_time_ms=meta.start_ms,
            partitions=tuple(sorted(partitions)),
        )

    def list_transactions(self, *, states: frozenset[TxnState] = frozenset(), producer_ids: frozenset[int] = frozenset(),
                          min_duration_ms: int = -1, pattern: str | None = None) -> tuple[TransactionListing, ...]:
        """ListTransactions: every id, or those matching all the filters given (KIP-664, KIP-994, KIP-1152)."""
        try:
            regex = re.compile(pattern) if pattern else None
        except re.error as exc:
            raise InvalidRegularExpression(f"transactional id pattern {pattern!r}: {exc}") from None
        now = self._clock.now_ms()
        listed = []
        for tid, meta in sorted(self._txns.items()):
            if states and meta.state not in states:
                continue
            if producer_ids and meta.producer_id not in producer_ids:
                continue
            if min_duration_ms >= 0 and (meta.state.is_idle or now - meta.start_ms < min_duration_ms):
                continue
            if regex is not None and not regex.search(tid):
                continue
            listed.append(TransactionListing(transactional_id=tid, producer_id=meta.producer_id, state=meta.state))
        return tuple(listed)

    # -- for tests -----------------------------------------------------------------------------------
    def state_of(self, transactional_id: str) -> TxnState | None:
        meta = self._txns.get(transactional_id)
        return None if meta is None else meta.state


def _offsets_record(meta: TransactionMetadata, group_id: str, entries: Iterable[OffsetCommitEntry]) -> dict:
    return {
        "type": "offsets",
        "id": meta.transactional_id,
        "pid": meta.producer_id,
        "group": group_id,
        "offsets": [[e.partition.topic, e.partition.partition, e.offset, e.leader_epoch, e.metadata]
                    for e in entries],
    }

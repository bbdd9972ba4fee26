"""engine/durability.py: the group-commit syncer, with real files and a disk made slow or failing on purpose."""

from __future__ import annotations

import asyncio
import errno
import os
import threading

import pytest

import engine.durability as durability
from engine.durability import FsyncPolicy, Syncer
from engine.errors import StorageError


def _open(tmp_path, name: str) -> int:
    return os.open(tmp_path / name, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)


class RecordingDisk:
    """Stands in for os.fsync: records the fds, and can hold a round until released."""

    def __init__(self) -> None:
        self.synced: list[int] = []
        self.paths: list[str] = []  # what each synced fd named, for tests through the engine
        self.gate: threading.Event | None = None
        self.entered = threading.Event()
        self.fail: OSError | None = None

    def __call__(self, fd: int) -> None:
        self.entered.set()
        if self.gate is not None:
            self.gate.wait(10)
        if self.fail is not None:
            raise self.fail
        os.fstat(fd)  # a closed descriptor would raise EBADF here
        self.synced.append(fd)
        self.paths.append(os.readlink(f"/proc/self/fd/{fd}"))


@pytest.fixture
def disk(monkeypatch) -> RecordingDisk:
    recording = RecordingDisk()
    monkeypatch.setattr(durability, "_fsync", recording)
    monkeypatch.setattr(durability, "_fdatasync", recording)
    return recording


def test_never_tracks_nothing_and_nobody_waits(tmp_path, disk):
    syncer = Syncer(FsyncPolicy.NEVER)
    handle = syncer.track(_open(tmp_path, "a"), "a")
    os.write(handle.fd, b"x")
    handle.written()
    assert syncer.seq == 0 and syncer.barrier() is None
    called = []
    syncer.after_sync(lambda: called.append(1))
    assert called == [1]
    fd = handle.fd
    handle.close()
    with pytest.raises(OSError):
        os.fstat(fd)
    syncer.close()
    assert disk.synced == []


async def test_always_one_round_acknowledges_every_write_made_before_it(tmp_path, disk):
    syncer = Syncer(FsyncPolicy.ALWAYS)
    a, b = syncer.track(_open(tmp_path, "a"), "a"), syncer.track(_open(tmp_path, "b"), "b")
    waiters = []
    for i in range(50):
        handle = a if i % 2 else b
        os.write(handle.fd, b"record")
        handle.written()
        waiters.append(syncer.barrier())
    assert all(w is not None for w in waiters)
    await asyncio.gather(*waiters)
    # Group commit: the first waiter starts a round, the 49 writes behind it share the next one.
    assert syncer.rounds <= 2 and syncer.fsyncs <= 3
    assert syncer.synced_seq == syncer.seq == 50
    assert syncer.barrier() is None  # nothing outstanding
    a.close(), b.close()
    syncer.close()


async def test_barrier_since_mark_does_not_wait_for_other_writers_when_it_wrote_nothing(tmp_path, disk):
    syncer = Syncer(FsyncPolicy.ALWAYS)
    handle = syncer.track(_open(tmp_path, "a"), "a")
    mark = syncer.seq
    assert syncer.barrier(since=mark) is None
    handle.written()  # somebody else's write
    assert syncer.barrier(since=syncer.seq) is None  # a request that wrote nothing itself
    await syncer.barrier(since=mark)
    handle.close()
    syncer.close()


async def test_writes_during_a_round_wait_for_the_next_one(tmp_path, disk):
    syncer = Syncer(FsyncPolicy.ALWAYS)
    handle = syncer.track(_open(tmp_path, "a"), "a")
    disk.gate = threading.Event()
    handle.written()
    first = syncer.barrier()
    await asyncio.get_running_loop().run_in_executor(None, disk.entered.wait, 5)
    handle.written()  # arrives while the first round is inside fsync
    second = syncer.barrier()
    await asyncio.sleep(0.05)
    assert not first.done() and not second.done()
    disk.gate.set()
    await first
    await second
    assert syncer.rounds == 2
    handle.close()
    syncer.close()


async def test_a_closed_handle_keeps_its_fd_until_its_writes_are_synced(tmp_path, disk):
    syncer = Syncer(FsyncPolicy.ALWAYS)
    handle = syncer.track(_open(tmp_path, "a"), "a")
    disk.gate = threading.Event()
    handle.written()
    waiter = syncer.barrier()
    await asyncio.get_running_loop().run_in_executor(None, disk.entered.wait, 5)
    fd = handle.fd
    handle.close()  # the owner is done while the worker is about to fsync it
    os.fstat(fd)  # still open
    disk.gate.set()
    await waiter
    assert disk.synced == [fd]
    with pytest.raises(OSError):
        os.fstat(fd)
    syncer.close()


async def test_an_fsync_failure_is_final(tmp_path, disk):
    syncer = Syncer(FsyncPolicy.ALWAYS)
    handle = syncer.track(_open(tmp_path, "a"), "a")
    disk.fail = OSError(errno.EIO, "Input/output error")
    handle.written()
    with pytest.raises(StorageError, match="Input/output error"):
        await syncer.barrier()
    disk.fail = None  # a retried fsync could "succeed" without the lost pages: never trust it
    handle.written()
    with pytest.raises(StorageError):
        await syncer.barrier()
    errors = []
    syncer.after_sync(lambda: errors.append("acked"), on_error=errors.append)
    assert len(errors) == 1 and isinstance(errors[0], StorageError)
    handle.close()
    syncer.close()


async def test_after_sync_runs_callbacks_in_order_once_durable(tmp_path, disk):
    syncer = Syncer(FsyncPolicy.ALWAYS)
    handle = syncer.track(_open(tmp_path, "a"), "a")
    done = []
    for i in range(3):
        handle.written()
        syncer.after_sync(lambda i=i: done.append(i))
    assert done == []
    await syncer.barrier() if syncer.barrier() else None
    for _ in range(20):
        if len(done) == 3:
            break
        await asyncio.sleep(0.01)
    assert done == [0, 1, 2] and disk.synced
    handle.close()
    syncer.close()


async def test_interval_syncs_in_the_background_and_never_holds_an_ack(tmp_path, disk):
    syncer = Syncer(FsyncPolicy.INTERVAL, interval_ms=30)
    handle = syncer.track(_open(tmp_path, "a"), "a")
    handle.written()
    assert syncer.barrier() is None
    for _ in range(100):
        if syncer.synced_seq == syncer.seq:
            break
        await asyncio.sleep(0.01)
    assert syncer.synced_seq == 1 and disk.synced == [handle.fd]
    handle.close()
    syncer.close()


async def test_directory_entries_are_synced_with_the_round(tmp_path, disk):
    syncer = Syncer(FsyncPolicy.ALWAYS)
    (tmp_path / "new.log").write_bytes(b"")
    syncer.created(tmp_path)
    await syncer.barrier()
    assert len(disk.synced) == 1  # the directory's own fd
    syncer.close()


def test_close_syncs_what_is_left_without_a_loop(tmp_path, disk):
    syncer = Syncer(FsyncPolicy.ALWAYS)
    handle = syncer.track(_open(tmp_path, "a"), "a")
    handle.written()
    fd = handle.fd
    handle.close()
    syncer.close()
    assert disk.synced == [fd] and syncer.synced_seq == syncer.seq
    with pytest.raises(OSError):
        os.fstat(fd)


async def test_group_journal_answers_wait_for_the_fsync(tmp_path, disk):
    """The groups journal is plugged in: a commit under `always` is on disk before its answer."""
    from engine import Engine, EngineSettings
    from engine.groups.types import OffsetCommitEntry
    from engine.types import TopicPartition

    engine = Engine(data_dir=tmp_path, settings=EngineSettings(fsync=FsyncPolicy.ALWAYS))
    engine.open()
    try:
        tp = TopicPartition(topic="t", partition=0)
        engine.topics.create("t", partitions=1)
        await engine.durability.barrier()  # the topic's new folders
        disk.synced.clear()
        disk.paths.clear()
        mark = engine.durability.seq
        outcome = engine.groups.commit_offsets("g", member_id="", generation_id=-1,
                                               offsets=[OffsetCommitEntry(partition=tp, offset=5)])
        assert outcome == {tp: None}
        waiter = engine.durability.barrier(since=mark)
        assert waiter is not None and not waiter.done()
        await waiter
        assert len(disk.synced) == 1 and disk.paths[0].endswith("groups.journal")
    finally:
        engine.close()
    reopened = Engine(data_dir=tmp_path)
    reopened.open()
    try:
        assert reopened.groups.fetch_offsets("g", [tp])[0].offset == 5
    finally:
        reopened.close()


def _engine(tmp_path, policy=FsyncPolicy.ALWAYS):
    from engine import Engine, EngineSettings

    engine = Engine(data_dir=tmp_path, settings=EngineSettings(fsync=policy))
    engine.open()
    return engine


async def test_produce_waits_for_the_segment_fsync(tmp_path, disk):
    """The Kafka log is plugged in: an append under `always` leaves a barrier that is released
    only by the round that fsyncs the segment (the wire layer answers after it: kafka_wire/session.py)."""
    from tests.engine.log.batches import build_batch

    engine = _engine(tmp_path)
    try:
        partition = engine.topics.create("t", partitions=1).partitions[0]
        created = engine.durability.barrier()
        assert created is not None  # topics/t and its partition folder are new entries
        await created
        assert any(p.endswith("/topics") for p in disk.paths)
        disk.synced.clear()
        disk.paths.clear()
        disk.gate = threading.Event()
        mark = engine.durability.seq
        partition.append(build_batch([b"a", b"b"]))
        waiter = engine.durability.barrier(since=mark)
        assert waiter is not None
        await asyncio.sleep(0.05)
        assert not waiter.done()  # the disk holds the fsync, so nothing is acknowledged
        disk.gate.set()
        await asyncio.wait_for(waiter, 5)
        assert [os.path.basename(p) for p in disk.paths] == ["00000000000000000000.log"]
        # Nothing written since: the next request waits for nobody.
        assert engine.durability.barrier(since=engine.durability.seq) is None
    finally:
        disk.gate = None
        engine.close()


async def test_rolled_segments_state_files_and_aborts_are_synced(tmp_path, disk, monkeypatch):
    """A roll syncs the new segment and its folder; state files are fsynced before their
    rename; the .txnindex stays open and tracked."""
    from tests.engine.log.batches import build_batch

    engine = _engine(tmp_path)
    renamed_after_fsync = []
    real_fsync, real_replace = os.fsync, os.replace
    fsynced: list[str] = []

    def spy_fsync(fd):
        fsynced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real_fsync(fd)

    def spy_replace(src, dst):
        renamed_after_fsync.append((os.path.basename(dst), str(src) in fsynced))
        real_replace(src, dst)

    try:
        topic = engine.topics.create("t", partitions=1, configs={"segment.bytes": "1024"})
        partition = topic.partitions[0]
        await engine.durability.barrier()
        disk.paths.clear()
        monkeypatch.setattr(os, "fsync", spy_fsync)
        monkeypatch.setattr(os, "replace", spy_replace)
        for i in range(4):
            partition.append(build_batch([b"%d" % i * 600]))
        partition.delete_records(1)
        await engine.durability.barrier()
        logs = sorted({os.path.basename(p) for p in disk.paths if p.endswith(".log")})
        assert len(logs) >= 2, disk.paths  # the rolled segments are synced, not only the first
        folder = str(tmp_path / "kafka" / "topics" / "t" / "0")
        assert folder in disk.paths  # their directory entries too
        states = {name: synced for name, synced in renamed_after_fsync if not name.endswith("index")}
        assert states.get("log-start-offset") is True and states.get("producer-state.json") is True, renamed_after_fsync
    finally:
        monkeypatch.undo()
        engine.close()


async def test_txn_journal_is_tracked(tmp_path, disk):
    from engine.txn.journal import FileJournal

    syncer = Syncer(FsyncPolicy.ALWAYS)
    journal = FileJournal(tmp_path, compact_min_bytes=1 << 20, compact_ratio=2, syncer=syncer)
    assert journal.load() == []
    disk.paths.clear()
    mark = syncer.seq
    journal.append({"type": "deleted", "id": "x"})
    await syncer.barrier(since=mark)
    assert [os.path.basename(p) for p in disk.paths] == ["transactions.journal"]
    journal.close()
    syncer.close()
    again = FileJournal(tmp_path, compact_min_bytes=1 << 20, compact_ratio=2)
    assert again.load() == [{"type": "deleted", "id": "x"}]
    again.close()

"""`--fsync always`: a Kafka answer to a write waits for its group commit, and nothing else does."""

from __future__ import annotations

import asyncio
import os
import struct
import threading

import pytest

import engine.durability as durability
from gateway.broker import Broker
from gateway.config import Config, FsyncPolicy, HostPort
from kafka_wire.build import make
from tests.kafka_wire.groupraw import schema
from tests.engine.log.batches import build_batch
from tests.kafka_wire.kafka_requests import metadata, produce
from tests.reliability.support import kafka_frame


def offset_commit(group: str, topic: str, offset: int):
    m = schema("offset_commit", 8)
    return make(
        m.OffsetCommitRequest, group_id=group, generation_id_or_member_epoch=-1, member_id="", group_instance_id=None,
        topics=(m.OffsetCommitRequestTopic(name=topic, partitions=(
            make(m.OffsetCommitRequestPartition, partition_index=0, committed_offset=offset, committed_leader_epoch=-1,
                 committed_metadata=""),)),),
    )


class GatedDisk:
    def __init__(self) -> None:
        self.gate = threading.Event()
        self.calls = 0
        self.paths: list[str] = []  # what each synced fd named

    def __call__(self, fd: int) -> None:
        self.calls += 1
        self.paths.append(os.readlink(f"/proc/self/fd/{fd}"))
        self.gate.wait(10)


@pytest.fixture
def disk(monkeypatch) -> GatedDisk:
    gated = GatedDisk()
    monkeypatch.setattr(durability, "_fsync", gated)
    monkeypatch.setattr(durability, "_fdatasync", gated)
    return gated


async def _started_broker(data_dir, policy: FsyncPolicy) -> Broker:
    broker = Broker(Config(data_dir=data_dir, fsync=policy, kafka=HostPort(host="127.0.0.1", port=0),
                           amqp=HostPort(host="127.0.0.1", port=0)))
    await broker.start()
    return broker


async def _answer(reader: asyncio.StreamReader, timeout: float) -> bytes:
    size = struct.unpack(">i", await asyncio.wait_for(reader.readexactly(4), timeout))[0]
    return await asyncio.wait_for(reader.readexactly(size), timeout)


@pytest.mark.parametrize("policy", [FsyncPolicy.ALWAYS, FsyncPolicy.NEVER])
async def test_offset_commit_is_answered_only_once_durable(tmp_path, disk, policy):
    broker = await _started_broker(tmp_path, policy)
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", broker.kafka_port)
        other_reader, other_writer = await asyncio.open_connection("127.0.0.1", broker.kafka_port)
        disk.gate.set()  # auto-creating "t" syncs its new folders, which the answer waits for
        writer.write(kafka_frame(metadata(12, ["t"]), correlation_id=1))
        await _answer(reader, 5)
        disk.gate.clear()
        disk.calls = 0
        writer.write(kafka_frame(offset_commit("g", "t", 42), correlation_id=2))
        if policy is FsyncPolicy.ALWAYS:
            with pytest.raises(asyncio.TimeoutError):
                await _answer(reader, 0.3)  # the disk holds the fsync, so the commit is not acknowledged
            assert disk.calls >= 1
            # A request that wrote nothing is not held behind somebody else's fsync.
            other_writer.write(kafka_frame(metadata(12, ["t"]), correlation_id=3))
            assert (await _answer(other_reader, 2))[:4] == (3).to_bytes(4, "big")
            disk.gate.set()
        frame = await _answer(reader, 5)
        assert frame[:4] == (2).to_bytes(4, "big")
        if policy is FsyncPolicy.NEVER:
            assert disk.calls == 0  # the journal's own close-time fsync does not go through the syncer
        writer.close()
        other_writer.close()
    finally:
        disk.gate.set()
        await broker.stop()


@pytest.mark.parametrize("policy", [FsyncPolicy.ALWAYS, FsyncPolicy.NEVER])
async def test_produce_is_answered_only_once_the_segment_is_synced(tmp_path, disk, policy):
    """The segment fds are tracked (engine/log/segment.py): an acks=all produce under `always`
    is answered after the fsync of the segment it was appended to, and at once under `never`."""
    broker = await _started_broker(tmp_path, policy)
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", broker.kafka_port)
        disk.gate.set()
        writer.write(kafka_frame(metadata(12, ["p"]), correlation_id=1))
        await _answer(reader, 5)
        disk.gate.clear()
        disk.paths.clear()
        writer.write(kafka_frame(produce(9, "p", build_batch([b"durable"])), correlation_id=2))
        if policy is FsyncPolicy.ALWAYS:
            with pytest.raises(asyncio.TimeoutError):
                await _answer(reader, 0.3)  # held until the segment's fsync returns
            assert [p for p in disk.paths if p.endswith("00000000000000000000.log")], disk.paths
            disk.gate.set()
        frame = await _answer(reader, 5)
        assert frame[:4] == (2).to_bytes(4, "big")
        if policy is FsyncPolicy.NEVER:
            assert disk.paths == []
        writer.close()
    finally:
        disk.gate.set()
        await broker.stop()

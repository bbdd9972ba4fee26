"""Publisher confirms and tx.commit-ok under `--fsync`: a real engine on a temp dir, a fake Link.

Under `always` the ack of a persistent publish must leave only after the fsync round that
covers its segment record has ended (engine/durability.py); under `never` it leaves in the
same batch as before, with no fsync at all. The fsync itself is replaced by a spy that can
hold the round back, so "not yet acked while the fsync runs" is observed, not assumed.
"""

from __future__ import annotations

import asyncio
import os
import threading

import pytest
from pamqp import commands, frame as pframe
from pamqp.body import ContentBody
from pamqp.header import ContentHeader

import engine.durability as durability
from amqp_wire.frames import build
from amqp_wire.service import AmqpService, AmqpSettings
from engine import Engine
from engine.durability import FsyncPolicy
from engine.settings import EngineSettings
from tests.amqp_wire.test_connection import FakeLink, method


class FsyncSpy:
    """Stands in for fdatasync: records which file each call synced and its size then, and
    blocks every call while `hold` is clear."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []
        self.hold = threading.Event()
        self.hold.set()
        self.fail = False

    def __call__(self, fd: int) -> None:
        self.hold.wait(5)
        if self.fail:
            raise OSError(5, "Input/output error")
        self.calls.append((os.readlink(f"/proc/self/fd/{fd}"), os.fstat(fd).st_size))
        os.fdatasync(fd)

    def synced(self, suffix: str) -> list[int]:
        return [size for path, size in self.calls if path.endswith(suffix)]


@pytest.fixture
def spy(monkeypatch):
    spy = FsyncSpy()
    monkeypatch.setattr(durability, "_fdatasync", spy)
    return spy


def persistent(channel: int, routing_key: str, body: bytes) -> bytes:
    data = method(channel, build(commands.Basic.Publish, exchange="", routing_key=routing_key))
    data += pframe.marshal(ContentHeader(0, len(body), commands.Basic.Properties(delivery_mode=2)), channel)
    return data + pframe.marshal(ContentBody(body), channel)


async def _until(predicate, timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.005)


async def _settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


class Client:
    """One opened connection with channel 1 and a durable queue `q`."""

    def __init__(self, tmp_path, policy: FsyncPolicy) -> None:
        self.engine = Engine(data_dir=tmp_path, settings=EngineSettings(fsync=policy))
        self.engine.open()
        self.link = FakeLink()
        self.session = AmqpService(self.engine, AmqpSettings()).new_session(self.link)
        self.frames: list = []

    async def open(self, mode) -> None:
        s = self.session
        s.data_received(b"AMQP\x00\x00\x09\x01")
        s.data_received(method(0, build(commands.Connection.StartOk, client_properties={}, mechanism="PLAIN",
                                        response="\x00guest\x00guest", locale="en_US")))
        s.data_received(method(0, build(commands.Connection.TuneOk, channel_max=2047, frame_max=131072,
                                        heartbeat=0)))
        s.data_received(method(0, build(commands.Connection.Open, virtual_host="/")))
        s.data_received(method(1, build(commands.Channel.Open)))
        s.data_received(method(1, build(commands.Queue.Declare, queue="q", durable=True)))
        s.data_received(method(1, build(mode)))
        await _settle()
        await _until(lambda: self.seen("Queue.DeclareOk") and self.seen(mode.name + "Ok"))
        self.frames.clear()

    def seen(self, name: str) -> list:
        self.frames += self.link.frames()
        return [m for _, m in self.frames if getattr(m, "name", None) == name]

    def close(self) -> None:
        self.engine.close()


async def test_always_confirm_waits_for_the_fsync_of_the_segment(tmp_path, spy):
    client = Client(tmp_path, FsyncPolicy.ALWAYS)
    try:
        await client.open(commands.Confirm.Select)
        spy.hold.clear()  # the fsync round starts, and stays in the fsync
        client.session.data_received(persistent(1, "q", b"x" * 100) + persistent(1, "q", b"y" * 100))
        await asyncio.sleep(0.1)
        assert not client.seen("Basic.Ack"), "acked before the fsync ended"
        assert not spy.synced(".seg")
        spy.hold.set()
        await _until(lambda: client.seen("Basic.Ack"))
        (ack,) = client.seen("Basic.Ack")
        assert (ack.delivery_tag, ack.multiple) == (2, True)
        # The round that released the ack synced the segment holding both records.
        sizes = spy.synced(".seg")
        assert sizes and max(sizes) >= 200
        assert client.engine.durability.synced_seq >= 1
    finally:
        client.close()


async def test_always_confirms_only_up_to_the_publishes_the_round_covers(tmp_path, spy):
    client = Client(tmp_path, FsyncPolicy.ALWAYS)
    try:
        await client.open(commands.Confirm.Select)
        spy.hold.clear()
        client.session.data_received(persistent(1, "q", b"a"))
        await asyncio.sleep(0.05)  # its round is in the fsync now
        client.session.data_received(persistent(1, "q", b"b"))  # waits for the next round
        await asyncio.sleep(0.05)
        assert not client.seen("Basic.Ack")
        spy.hold.set()
        await _until(lambda: len(client.seen("Basic.Ack")) == 2)
        assert [(a.delivery_tag, a.multiple) for a in client.seen("Basic.Ack")] == [(1, False), (2, False)]
    finally:
        client.close()


async def test_always_tx_commit_ok_waits_for_the_fsync(tmp_path, spy):
    client = Client(tmp_path, FsyncPolicy.ALWAYS)
    try:
        await client.open(commands.Tx.Select)
        spy.hold.clear()
        client.session.data_received(persistent(1, "q", b"t" * 50) + method(1, build(commands.Tx.Commit)))
        await asyncio.sleep(0.1)
        assert not client.seen("Tx.CommitOk")
        spy.hold.set()
        await _until(lambda: client.seen("Tx.CommitOk"))
        assert spy.synced(".seg") and spy.synced("tx.journal")
    finally:
        client.close()


async def test_never_confirms_in_the_same_batch_without_fsync(tmp_path, spy):
    client = Client(tmp_path, FsyncPolicy.NEVER)
    try:
        await client.open(commands.Confirm.Select)
        client.session.data_received(persistent(1, "q", b"x"))
        await asyncio.sleep(0)  # one tick: the writer's flush
        assert [a.delivery_tag for a in client.seen("Basic.Ack")] == [1]
        assert spy.calls == [] and client.engine.durability.rounds == 0
    finally:
        client.close()


async def test_failed_fsync_nacks_and_closes_the_connection(tmp_path, spy):
    client = Client(tmp_path, FsyncPolicy.ALWAYS)
    try:
        await client.open(commands.Confirm.Select)
        spy.fail = True
        client.session.data_received(persistent(1, "q", b"x"))
        await _until(lambda: client.seen("Connection.Close"))
        assert not client.seen("Basic.Ack")
        (nack,) = client.seen("Basic.Nack")
        assert nack.delivery_tag == 1
        (close,) = client.seen("Connection.Close")
        assert close.reply_code == 541
    finally:
        client.engine.durability._failed = None  # let close() sync what is left
        spy.fail = False
        client.close()

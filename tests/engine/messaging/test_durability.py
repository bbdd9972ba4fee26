"""The files backend: definitions and persistent messages across a restart, bounded memory.

These use a temporary data dir (the thing under test is the disk format) and a fake clock.
"""

from __future__ import annotations

from engine.clock import FakeClock
from engine.messaging import ExchangeSpec, Messaging, QueueSpec
from engine.messaging.fields import longstr

from tests.engine.messaging.conftest import Recorder, msg


def open_messaging(path, **kw) -> Messaging:
    m = Messaging(path, clock=FakeClock(), **kw)
    m.open()
    return m


def crash(m: Messaging) -> None:
    """What kill -9 leaves: whatever was synced; nothing flushed at close."""
    m.sync()
    m._definitions.close()


def test_definitions_and_persistent_messages_survive(tmp_path):
    m = open_messaging(tmp_path)
    v = m.vhost("/")
    v.exchange_declare(ExchangeSpec(name="dx", type="topic", durable=True,
                                    arguments={"alternate-exchange": longstr("ae")}), passive=False)
    v.exchange_declare(ExchangeSpec(name="tx", type="fanout"), passive=False)
    v.queue_declare(QueueSpec(name="dq", durable=True), passive=False, owner=None)
    v.queue_declare(QueueSpec(name="tq"), passive=False, owner=None)
    v.queue_bind("dq", "dx", "a.#", {}, owner=None)
    v.queue_bind("tq", "dx", "a.#", {}, owner=None)
    v.exchange_bind("tx", "dx", "#", {})  # transient destination: not durable
    for i in range(10):
        v.publish(v.exchanges["dx"], "a.b", msg(b"p%d" % i, persistent=True))
    v.publish(v.exchanges["dx"], "a.b", msg(b"transient", persistent=False))
    q = v.queues["dq"]
    acked, _ = q.get(no_ack=False)
    q.ack(acked)
    crash(m)

    m2 = open_messaging(tmp_path)
    v2 = m2.vhost("/")
    assert set(v2.queues) == {"dq"}
    assert "tx" not in v2.exchanges and v2.exchanges["dx"].alternate == "ae"
    q2 = v2.queues["dq"]
    bodies = []
    while (got := q2.get(no_ack=True)) is not None:
        bodies.append(got[1].body)
    assert bodies == [b"p%d" % i for i in range(1, 10)]
    # the binding came back: routing still works
    assert [x.name for x in v2.route(v2.exchanges["dx"], "a.z", None)] == ["dq"]
    m2.close()


def test_unsynced_appends_are_not_promised(tmp_path):
    m = open_messaging(tmp_path)
    v = m.vhost("/")
    v.queue_declare(QueueSpec(name="dq", durable=True), passive=False, owner=None)
    v.publish(v.exchanges[""], "dq", msg(b"synced", persistent=True))
    m.sync()
    v.publish(v.exchanges[""], "dq", msg(b"never synced", persistent=True))
    m._definitions.close()  # crash without sync
    m2 = open_messaging(tmp_path)
    assert m2.vhost("/").queues["dq"].message_count == 1
    m2.close()


def test_deleted_queue_leaves_no_files_and_no_definition(tmp_path):
    m = open_messaging(tmp_path)
    v = m.vhost("/")
    v.queue_declare(QueueSpec(name="dq", durable=True), passive=False, owner=None)
    v.publish(v.exchanges[""], "dq", msg(b"x", persistent=True))
    m.sync()
    v.queue_delete("dq", owner=None, if_unused=False, if_empty=False)
    m.close()
    m2 = open_messaging(tmp_path)
    assert "dq" not in m2.vhost("/").queues
    assert not any((tmp_path / "queues").iterdir())
    m2.close()


def test_backlog_beyond_the_ram_budget_lives_on_disk(tmp_path):
    m = open_messaging(tmp_path, ram_budget_per_queue=10_000)
    v = m.vhost("/")
    v.queue_declare(QueueSpec(name="tq"), passive=False, owner=None)  # transient queue, transient messages
    q = v.queues["tq"]
    for i in range(100):
        v.publish(v.exchanges[""], "tq", msg(bytes([i]) * 1000))
    m.sync()
    assert q._ram_bytes <= 10_000
    resident = sum(1 for e in q._ready if e.message is not None)
    assert resident <= 10
    c = Recorder()
    q.add_consumer(c, exclusive=False)
    q.dispatch()
    assert c.bodies == [bytes([i]) * 1000 for i in range(100)]
    for entry, _ in c.got:
        q.ack(entry)
    m.close()


def test_acked_segments_are_deleted(tmp_path, monkeypatch):
    from engine.messaging import segments

    monkeypatch.setattr(segments, "SEGMENT_BYTES", 4096)
    m = open_messaging(tmp_path)
    v = m.vhost("/")
    v.queue_declare(QueueSpec(name="dq", durable=True), passive=False, owner=None)
    q = v.queues["dq"]
    for i in range(40):
        v.publish(v.exchanges[""], "dq", msg(b"y" * 500, persistent=True))
    m.sync()
    folder = tmp_path / "queues" / q.id
    assert len(list(folder.glob("*.seg"))) > 3
    while (got := q.get(no_ack=False)) is not None:
        q.ack(got[0])
    assert len(list(folder.glob("*.seg"))) == 1  # only the one being appended to
    m.close()


def test_torn_tail_is_cut(tmp_path):
    m = open_messaging(tmp_path)
    v = m.vhost("/")
    v.queue_declare(QueueSpec(name="dq", durable=True), passive=False, owner=None)
    for i in range(3):
        v.publish(v.exchanges[""], "dq", msg(b"m%d" % i, persistent=True))
    q = v.queues["dq"]
    crash(m)
    seg = next((tmp_path / "queues" / q.id).glob("*.seg"))
    data = seg.read_bytes()
    seg.write_bytes(data[:-5])  # the last record cut short
    m2 = open_messaging(tmp_path)
    q2 = m2.vhost("/").queues["dq"]
    assert [q2.get(no_ack=True)[1].body for _ in range(2)] == [b"m0", b"m1"]
    assert q2.get(no_ack=True) is None
    v2 = m2.vhost("/")
    v2.publish(v2.exchanges[""], "dq", msg(b"after", persistent=True))
    crash(m2)
    m3 = open_messaging(tmp_path)
    assert m3.vhost("/").queues["dq"].get(no_ack=True)[1].body == b"after"
    m3.close()


def test_delivered_mark_and_record_extension_survive(tmp_path):
    from engine.messaging import DeathReason
    from engine.messaging.fields import Field, FieldKind
    from engine.messaging.types import make_message

    m = open_messaging(tmp_path)
    v = m.vhost("/")
    v.queue_declare(QueueSpec(name="dq", durable=True), passive=False, owner=None)
    v.queue_declare(QueueSpec(name="src", durable=True, arguments={
        "x-dead-letter-exchange": longstr(""), "x-dead-letter-routing-key": longstr("dq")}),
        passive=False, owner=None)
    v.queue_declare(QueueSpec(name="prio", durable=True, arguments={"x-max-priority": Field(FieldKind.BYTE, 5)}),
                    passive=False, owner=None)
    for i in range(3):
        v.publish(v.exchanges[""], "dq", msg(b"d%d" % i, persistent=True))
    v.queues["dq"].get(no_ack=False)  # delivered, never acked
    v.publish(v.exchanges[""], "src", make_message("", "src", b"\x00\x00", b"dead", True, 0, 500, ("cc",)))
    entry, _ = v.queues["src"].get(no_ack=False)
    v.queues["src"].discard(entry)  # dead-lettered into dq with its history
    for body, priority in ((b"low", 1), (b"high", 4)):
        v.publish(v.exchanges[""], "prio", make_message("", "prio", b"\x00\x00", body, True, priority))
    crash(m)

    m2 = open_messaging(tmp_path)
    v2 = m2.vhost("/")
    got = []
    while (item := v2.queues["dq"].get(no_ack=True)) is not None:
        got.append((item[1].body, item[0].redelivered))
        if item[1].body == b"dead":
            deaths = item[1].deaths
    assert got == [(b"d0", True), (b"d1", False), (b"d2", False), (b"dead", False)]
    (death,) = deaths.records
    assert (death.queue, death.reason, death.ttl, death.routing_keys) == ("src", DeathReason.REJECTED, 500, ("src", "cc"))
    assert [v2.queues["prio"].get(no_ack=True)[1].body for _ in range(2)] == [b"high", b"low"]

"""tx.commit across queues and a crash (engine/messaging/txlog.py).

A crash is simulated by abandoning the Messaging object with only what had been handed to
the OS: no sync, no close. These use a temporary data dir (the journal is the thing under
test) and a fake clock.
"""

from __future__ import annotations

from engine.clock import FakeClock
from engine.messaging import Messaging, QueueSpec
from engine.messaging.txlog import JOURNAL_FILE, encode_intent, publish_collecting

from tests.engine.messaging.conftest import msg

TARGETS = ("a", "b", "c")


def open_messaging(path) -> Messaging:
    m = Messaging(path, clock=FakeClock())
    m.open()
    return m


def crash(m: Messaging) -> None:
    """kill -9: nothing more is written (pending append buffers are lost)."""
    m._definitions.close()
    m.txlog.close()


def setup(path) -> tuple[Messaging, list]:
    """Three durable target queues bound to a fanout, and a source queue with two messages,
    one delivered (unacked) and flushed."""
    m = open_messaging(path)
    v = m.vhost("/")
    from engine.messaging import ExchangeSpec

    v.exchange_declare(ExchangeSpec(name="fan", type="fanout", durable=True), passive=False)
    for name in (*TARGETS, "src"):
        v.queue_declare(QueueSpec(name=name, durable=True), passive=False, owner=None)
    for name in TARGETS:
        v.queue_bind(name, "fan", "", {}, owner=None)
    src = v.queues["src"]
    for body in (b"s1", b"s2"):
        v.publish(v.exchanges[""], "src", msg(body, persistent=True))
    got = src.get(no_ack=False)
    m.sync()
    return m, [(src, got[0])]


def begin_commit(m: Messaging, n: int = 3) -> list:
    """Step 1 of a commit: the publishes enqueued (in memory only)."""
    v = m.vhost("/")
    published: list = []
    for i in range(n):
        publish_collecting(v, v.exchanges["fan"], "", msg(b"t%d" % i, persistent=True), None, published)
    return published


def contents(m: Messaging) -> dict[str, list[tuple[bytes, bool]]]:
    out = {}
    for name in (*TARGETS, "src"):
        q = m.vhost("/").queues[name]
        items = []
        while (got := q.get(no_ack=True)) is not None:
            items.append((got[1].body, got[0].redelivered))
        out[name] = items
    return out


ALL = [(b"t0", False), (b"t1", False), (b"t2", False)]


def assert_committed(m: Messaging) -> None:
    seen = contents(m)
    for name in TARGETS:
        assert seen[name] == ALL, name
    assert seen["src"] == [(b"s2", False)]


def assert_none(m: Messaging) -> None:
    seen = contents(m)
    for name in TARGETS:
        assert seen[name] == [], name
    assert seen["src"] == [(b"s1", True), (b"s2", False)]


def test_crash_after_intent_before_apply_replays_everything(tmp_path):
    m, settled = setup(tmp_path)
    published = begin_commit(m)
    assert len(published) == 9
    m.txlog.write_intent(encode_intent(published, settled))
    crash(m)
    m2 = open_messaging(tmp_path)
    assert_committed(m2)
    assert (tmp_path / JOURNAL_FILE).stat().st_size == 0
    m2.close()


def test_crash_with_one_queue_flushed_replays_the_others_without_duplicates(tmp_path):
    m, settled = setup(tmp_path)
    published = begin_commit(m)
    m.txlog.write_intent(encode_intent(published, settled))
    # the ack applied, queue "a" written, then the crash before "b" and "c"
    src, entry = settled[0]
    src.ack(entry)
    m.vhost("/").queues["a"].store.flush()
    crash(m)
    m2 = open_messaging(tmp_path)
    assert_committed(m2)
    m2.close()


def test_crash_after_flush_before_journal_emptied_is_idempotent(tmp_path):
    m, settled = setup(tmp_path)
    published = begin_commit(m)
    m.txlog.write_intent(encode_intent(published, settled))
    src, entry = settled[0]
    src.ack(entry)
    m.sync()
    crash(m)
    m2 = open_messaging(tmp_path)
    assert_committed(m2)
    m2.close()


def test_torn_intent_means_none_of_the_commit(tmp_path):
    m, settled = setup(tmp_path)
    published = begin_commit(m)
    intent = encode_intent(published, settled)
    m.txlog.write_intent(intent[:-7])
    crash(m)
    m2 = open_messaging(tmp_path)
    assert_none(m2)
    m2.close()


def test_crash_before_intent_means_none(tmp_path):
    m, settled = setup(tmp_path)
    begin_commit(m)
    crash(m)
    m2 = open_messaging(tmp_path)
    assert_none(m2)
    m2.close()


def test_tx_commit_is_durable_on_return_and_empties_the_journal(tmp_path):
    m, settled = setup(tmp_path)
    published = begin_commit(m)
    src, entry = settled[0]
    m.tx_commit(published, settled, lambda: src.ack(entry))
    assert (tmp_path / JOURNAL_FILE).stat().st_size == 0
    crash(m)
    m2 = open_messaging(tmp_path)
    assert_committed(m2)
    m2.close()


def test_replayed_records_survive_a_second_restart_once(tmp_path):
    m, settled = setup(tmp_path)
    published = begin_commit(m)
    m.txlog.write_intent(encode_intent(published, settled))
    crash(m)
    m2 = open_messaging(tmp_path)  # replays, flushes, empties the journal
    # new publishes after recovery take fresh sequence numbers after the replayed ones
    v = m2.vhost("/")
    v.publish(v.exchanges["fan"], "", msg(b"later", persistent=True))
    m2.sync()
    crash(m2)
    m3 = open_messaging(tmp_path)
    seen = contents(m3)
    for name in TARGETS:
        assert seen[name] == [*ALL, (b"later", False)], name
    assert seen["src"] == [(b"s2", False)]
    m3.close()


def test_transient_messages_and_queues_are_not_journaled(tmp_path):
    m, _settled = setup(tmp_path)
    v = m.vhost("/")
    v.queue_declare(QueueSpec(name="tmp"), passive=False, owner=None)
    published: list = []
    publish_collecting(v, v.exchanges[""], "tmp", msg(b"p", persistent=True), None, published)
    publish_collecting(v, v.exchanges["fan"], "", msg(b"t", persistent=False), None, published)
    assert len(published) == 4
    assert encode_intent(published, []) is None
    m.close()


def test_memory_backend_commits_without_a_journal():
    m = Messaging(None, clock=FakeClock())
    m.open()
    v = m.vhost("/")
    v.queue_declare(QueueSpec(name="q"), passive=False, owner=None)
    published: list = []
    publish_collecting(v, v.exchanges[""], "q", msg(b"x"), None, published)
    applied = []
    m.tx_commit(published, [], lambda: applied.append(True))
    assert applied == [True]
    assert v.queues["q"].message_count == 1
    m.close()

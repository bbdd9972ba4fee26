"""engine/messaging/stream_queue.py on the memory backend with a fake clock: a stream is a topic,
x-stream-offset forms, credit, live appends, aborted transactions skipped."""

from __future__ import annotations

import pytest

from engine import Engine, EngineSettings
from engine.clock import FakeClock
from engine.messaging import Field, FieldKind, Message, QueueSpec
from engine.messaging.stream_queue import StreamEntry


class FakeConsumer:
    no_ack = False
    priority = 0

    def __init__(self, offset=None, credit=100):
        self.stream_offset = offset
        self.credit = credit
        self.got: list[StreamEntry] = []

    def has_credit(self):
        return self.credit > 0

    def deliver(self, queue, entry, message):
        self.credit -= 1
        self.got.append(entry)

    def queue_deleted(self, queue):
        pass

    @property
    def values(self):
        return [e.record.value for e in self.got]


def s(text):
    return Field(FieldKind.LONGSTR, text.encode())


@pytest.fixture
def engine():
    eng = Engine(data_dir=None, settings=EngineSettings(default_partitions=1), clock=FakeClock())
    eng.open()
    yield eng
    eng.close()


@pytest.fixture
def stream(engine):
    vhost = engine.messaging.vhost("/")
    vhost.queue_declare(QueueSpec(name="st", durable=True, arguments={"x-queue-type": s("stream"),
                                                                      "x-max-age": s("2h")}),
                        passive=False, owner=None)
    return vhost.queues["st"]


def publish(engine, stream, *bodies):
    for body in bodies:
        stream.enqueue(Message("", "st", b"\x00\x00", body))


def test_a_stream_is_a_topic_with_its_retention(engine, stream):
    topic = engine.topics.get("st")
    assert topic is not None and len(topic.partitions) == 1
    assert topic.config.retention_ms == 2 * 3_600_000


def test_offset_forms(engine, stream):
    clock = engine.clock
    publish(engine, stream, b"a", b"b")
    clock.advance(3_600_000)
    publish(engine, stream, b"c")
    cases = {
        "first": [b"a", b"b", b"c"], "next": [], "last": [b"c"], "30m": [b"c"], "2h": [b"a", b"b", b"c"],
    }
    for text, expected in cases.items():
        consumer = FakeConsumer(s(text))
        stream.add_consumer(consumer, exclusive=False)
        stream.dispatch()
        assert consumer.values == expected, text
        stream.remove_consumer(consumer)
    for field, expected in [(Field(FieldKind.LONG, 1), [b"b", b"c"]), (Field(FieldKind.LONG, 99), []),
                            (Field(FieldKind.TIMESTAMP, clock.now_ms() // 1000), [b"c"])]:
        consumer = FakeConsumer(field)
        stream.add_consumer(consumer, exclusive=False)
        stream.dispatch()
        assert consumer.values == expected, field
        stream.remove_consumer(consumer)


def test_credit_and_live_appends(engine, stream):
    publish(engine, stream, b"1", b"2", b"3")
    consumer = FakeConsumer(s("first"), credit=2)
    stream.add_consumer(consumer, exclusive=False)
    stream.dispatch()
    assert consumer.values == [b"1", b"2"]
    consumer.credit = 5
    stream.dispatch()
    assert consumer.values == [b"1", b"2", b"3"]
    publish(engine, stream, b"4")  # the log's watch wakes the waiting consumer
    assert consumer.values == [b"1", b"2", b"3", b"4"]
    assert [e.record.offset for e in consumer.got] == [0, 1, 2, 3]

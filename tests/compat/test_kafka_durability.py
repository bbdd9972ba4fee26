"""Durability through kill -9: acks=all records survive, and a torn tail never blocks start-up.

Each test runs its own `mqgateway serve --data-dir` process (files backend), kills it
with SIGKILL — no shutdown code runs — and restarts it on the same data dir and ports.
"""

from __future__ import annotations

import threading
import time

from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition

from tests.compat.kafka_helpers import topic_name


def read_all(bootstrap: str, topic: str, expected: int, partitions: int = 1) -> list:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "unused", "enable.auto.commit": False})
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(partitions)])
    out, deadline = [], time.monotonic() + 30
    while len(out) < expected and time.monotonic() < deadline:
        for m in consumer.consume(num_messages=10000, timeout=0.5):
            assert m.error() is None, m.error()
            out.append(m)
    # Nothing beyond what is expected shows up either.
    out.extend(m for m in consumer.consume(num_messages=10000, timeout=0.5) if m.error() is None)
    consumer.close()
    return out


def test_acked_records_survive_kill9(durable_server):
    bootstrap = durable_server.kafka_bootstrap
    topic = topic_name("durable")
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "enable.idempotence": True,
                         "linger.ms": 5})
    acked = []
    for i in range(2000):
        producer.produce(topic, key=b"k%d" % (i % 7), value=b"value-%d" % i, headers=[("i", b"%d" % i)],
                         on_delivery=lambda err, m: acked.append(m) if err is None else None)
    assert producer.flush(30) == 0
    assert len(acked) == 2000
    durable_server.kill9()
    durable_server.start()
    got = read_all(bootstrap, topic, 2000)
    assert [m.offset() for m in got] == list(range(2000))
    assert [m.value() for m in got] == [b"value-%d" % i for i in range(2000)]
    assert [m.headers() for m in got] == [[("i", b"%d" % i)] for i in range(2000)]
    # The log goes on where it was: new appends follow the recovered end.
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all"})
    offsets = []
    producer.produce(topic, value=b"after", on_delivery=lambda err, m: offsets.append(m.offset()))
    assert producer.flush(20) == 0
    assert offsets == [2000]


def test_kill9_during_heavy_produce_never_blocks_startup(durable_server):
    bootstrap = durable_server.kafka_bootstrap
    topic = topic_name("torn")
    acked: list = []
    stop = threading.Event()

    def produce() -> None:
        producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 2,
                             "message.timeout.ms": 5000, "reconnect.backoff.max.ms": 100})
        i = 0
        while not stop.is_set():
            try:
                producer.produce(topic, value=b"%08d" % i + b"x" * 2000,
                                 on_delivery=lambda err, m: acked.append(m.offset()) if err is None else None)
                i += 1
            except BufferError:
                producer.poll(0.01)
            producer.poll(0)
        producer.flush(6)

    thread = threading.Thread(target=produce)
    thread.start()
    deadline = time.monotonic() + 20
    while len(acked) < 3000 and time.monotonic() < deadline:
        time.sleep(0.05)
    durable_server.kill9()
    stop.set()
    thread.join(30)
    assert len(acked) >= 3000
    # A SIGKILL rarely lands inside the one writev of a batch, so also leave the torn
    # write a crash inside it (or a power cut) would: half a batch at the segment's end.
    segment = max((durable_server.data_dir / "kafka" / "topics" / topic / "0").glob("*.log"))
    whole = segment.read_bytes()[:4096]
    with open(segment, "ab") as tail:
        tail.write(whole[: len(whole) // 2])
    started = time.monotonic()
    durable_server.start()
    assert time.monotonic() - started < 15
    assert "truncated a torn tail" in durable_server.log()
    got = read_all(bootstrap, topic, len(acked))
    offsets = [m.offset() for m in got]
    # Every acknowledged record is there, offsets are dense, and every served record is whole.
    assert set(acked) <= set(offsets)
    assert offsets == list(range(len(offsets)))
    assert all(len(m.value()) == 2008 and m.value()[8:] == b"x" * 2000 for m in got)
    sequence = [int(m.value()[:8]) for m in got]
    assert sequence == sorted(sequence)

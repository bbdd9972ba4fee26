"""Disk and memory pressure, through real clients against a real server process.

What users see (docs/operations.md, "Disk and memory pressure"):
- Low on disk (free space under `--disk-free-limit`): Kafka produces are answered
  KAFKA_STORAGE_ERROR; an AMQP connection that publishes is blocked — it gets
  connection.blocked("low on disk") and its further publishes wait, unconfirmed —
  while consumers on other connections drain queues and topics and commit offsets. A
  kill -9 in that state loses nothing acknowledged. When space returns the publisher gets
  connection.unblocked, its waiting publish is confirmed, and Kafka produces succeed.
- A write that fails (the file cannot grow: here RLIMIT_FSIZE, which fails writes with
  EFBIG as a full disk fails them with ENOSPC) is refused with the protocol's error
  (KAFKA_STORAGE_ERROR, basic.nack), leaves no torn record behind, and everything
  acknowledged before it is there after a kill -9 and a restart with room again.
- Over `--memory-high-watermark`: AMQP publishers are blocked with "low on memory", Kafka
  produces succeed but are throttled (throttle_time_ms, KIP-219), consumers drain.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pika
from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition

from tests.compat.group_harness import create_topic
from tests.compat.kafka_helpers import read_partition
from tests.server import ServerProcess

MiB = 1024 * 1024
# How much the test fills the filesystem past the broker's limit.
BALLAST = 384 * MiB
HEADROOM = 256 * MiB


def free_bytes(path: Path) -> int:
    stats = os.statvfs(path)
    return stats.f_bavail * stats.f_frsize


def produce(bootstrap: str, topic: str, values: list[bytes], **config) -> dict[bytes, object]:
    """Each value's outcome: None when acknowledged, else the KafkaError. No retries, so a
    refused produce shows its own error rather than a timeout."""
    outcome: dict[bytes, object] = {}
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "retries": 0,
                         "enable.idempotence": False, "linger.ms": 2, **config})
    for value in values:
        producer.produce(topic, value, partition=0,
                         on_delivery=lambda err, msg, v=value: outcome.__setitem__(v, err))
        producer.poll(0)
    producer.flush(30)
    return outcome


def committed(bootstrap: str, topic: str, group: str) -> int:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group})
    (position,) = consumer.committed([TopicPartition(topic, 0)], timeout=10)
    consumer.close()
    return position.offset


def confirmed_publish(url: str, queue: str, bodies: list[bytes]) -> None:
    connection = pika.BlockingConnection(pika.URLParameters(url))
    channel = connection.channel()
    channel.confirm_delivery()
    channel.queue_declare(queue, durable=True)
    for body in bodies:
        channel.basic_publish("", queue, body, pika.BasicProperties(delivery_mode=2))
    connection.close()


def queue_depth(url: str, queue: str) -> int:
    connection = pika.BlockingConnection(pika.URLParameters(url))
    depth = connection.channel().queue_declare(queue, passive=True).method.message_count
    connection.close()
    return depth


def drain(url: str, queue: str) -> list[bytes]:
    """Consumes and acks everything in the queue, on a connection of its own."""
    connection = pika.BlockingConnection(pika.URLParameters(url))
    channel = connection.channel()
    bodies = []
    while True:
        method, _props, body = channel.basic_get(queue)
        if method is None:
            break
        bodies.append(body)
        channel.basic_ack(method.delivery_tag)
    connection.close()
    return bodies


class Publisher(threading.Thread):
    """Publishes persistent messages one at a time until stopped or cut off, and records the
    connection.blocked / unblocked it was sent.

    With `confirms`, each publish waits for its confirm (`confirmed`, `nacked`); pika hands
    the blocked/unblocked callbacks over only between publishes, so a publisher blocked in
    the middle of one sees them once it is unblocked. Without, publishes are fire-and-forget
    (`sent`) and the callbacks arrive while blocked."""

    def __init__(self, url: str, queue: str, prefix: str, *, pause: float = 0.05, confirms: bool = True) -> None:
        super().__init__(daemon=True)
        self.url, self.queue, self.prefix, self.pause, self.confirms = url, queue, prefix, pause, confirms
        self.confirmed: list[bytes] = []
        self.nacked: list[bytes] = []
        self.sent: list[bytes] = []
        self.events: list[tuple[str, str]] = []
        self.stopping = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            connection = pika.BlockingConnection(pika.URLParameters(self.url))
            connection.add_on_connection_blocked_callback(
                lambda _c, frame: self.events.append(("blocked", frame.method.reason)))
            connection.add_on_connection_unblocked_callback(lambda _c, _f: self.events.append(("unblocked", "")))
            channel = connection.channel()
            if self.confirms:
                channel.confirm_delivery()
            channel.queue_declare(self.queue, durable=True)
            n = 0
            while not self.stopping.is_set():
                body = f"{self.prefix}-{n}".encode()
                n += 1
                try:
                    channel.basic_publish("", self.queue, body, pika.BasicProperties(delivery_mode=2))
                    (self.confirmed if self.confirms else self.sent).append(body)
                except pika.exceptions.NackError:
                    self.nacked.append(body)
                connection.sleep(self.pause)  # also hands over the blocked/unblocked callbacks
            connection.close()
        except BaseException as exc:  # the server was killed under it, or a failure to report
            self.error = exc

    def wait_for(self, event: str, timeout: float = 10.0) -> tuple[str, str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for seen in self.events:
                if seen[0] == event:
                    return seen
            time.sleep(0.05)
        raise AssertionError(f"no connection.{event} within {timeout} s; events {self.events}, error {self.error}")

    def wait_stalled(self, quiet: float = 1.5, timeout: float = 10.0) -> int:
        """Waits until no publish has been confirmed for `quiet` seconds; returns how many were."""
        deadline = time.monotonic() + timeout
        count, since = len(self.confirmed), time.monotonic()
        while time.monotonic() < deadline:
            time.sleep(0.1)
            if len(self.confirmed) != count:
                count, since = len(self.confirmed), time.monotonic()
            elif time.monotonic() - since >= quiet:
                return count
        raise AssertionError(f"publishes still confirmed after {timeout} s: not blocked")


def wait_until(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(0.2)
    raise AssertionError(f"not within {timeout} s: {what}")


def storage_refused(bootstrap: str, topic: str) -> bool:
    (err,) = produce(bootstrap, topic, [b"probe"]).values()
    return err is not None and err.code() == KafkaError.KAFKA_STORAGE_ERROR


def test_low_disk_blocks_publishers_while_consumers_drain_and_space_returning_unblocks(tmp_path):
    # The data dir shares tmp_path's filesystem with a ballast file: the broker's limit is
    # set HEADROOM below today's free space, and the ballast takes more than that away.
    limit = free_bytes(tmp_path) - HEADROOM
    server = ServerProcess(tmp_path, extra_args=("--disk-free-limit", str(limit)))
    server.start()
    ballast = tmp_path / "ballast"
    try:
        bootstrap, url = server.kafka_bootstrap, server.amqp_url
        create_topic(bootstrap, "events", 1)
        create_topic(bootstrap, "probes", 1)  # produced to until the alarm refuses them
        before = [f"e{i}".encode() for i in range(100)]
        assert set(produce(bootstrap, "events", before).values()) == {None}
        queued = [f"m{i}".encode() for i in range(100)]
        confirmed_publish(url, "work", queued)

        with open(ballast, "wb") as file:
            os.posix_fallocate(file.fileno(), 0, BALLAST)
        wait_until(lambda: storage_refused(bootstrap, "probes"), 10, "Kafka produce refused with KAFKA_STORAGE_ERROR")

        publisher = Publisher(url, "blocked-pub", "p")
        publisher.start()
        stalled = publisher.wait_stalled()
        assert publisher.nacked == [] and publisher.error is None

        # Consumers carry on: the queue drains, the topic is read and the group commits.
        assert drain(url, "work") == queued
        assert read_partition(bootstrap, "events", commit_group="g") == before
        assert committed(bootstrap, "events", "g") == 100

        server.kill9()
        publisher.join(10)
        survived = list(publisher.confirmed)
        server.start()  # still low on disk: the alarm is raised from the first sample
        assert storage_refused(bootstrap, "probes")
        assert read_partition(bootstrap, "events") == before
        assert committed(bootstrap, "events", "g") == 100
        assert drain(url, "work") == []

        publisher = Publisher(url, "blocked-pub", "q")
        publisher.start()
        stalled = publisher.wait_stalled()
        ballast.unlink()
        wait_until(lambda: len(publisher.confirmed) >= stalled + 3, 10, "publishes confirmed once space returned")
        assert publisher.wait_for("blocked") == ("blocked", "low on disk")
        publisher.wait_for("unblocked")
        publisher.stopping.set()
        publisher.join(10)
        assert publisher.error is None and publisher.nacked == []
        after = [f"f{i}".encode() for i in range(10)]
        assert set(produce(bootstrap, "events", after).values()) == {None}
        assert read_partition(bootstrap, "events") == before + after
        assert drain(url, "blocked-pub") == survived + publisher.confirmed
    finally:
        ballast.unlink(missing_ok=True)
        server.stop()


def test_writes_that_fail_are_refused_and_nothing_acknowledged_is_lost(tmp_path):
    # Every file the server writes is capped at 4 MiB: a segment growing past it fails part-way.
    server = ServerProcess(tmp_path, extra_args=("--disk-free-limit", "0"), file_size_limit=4 * MiB)
    server.start()
    try:
        bootstrap, url = server.kafka_bootstrap, server.amqp_url
        create_topic(bootstrap, "full", 1)
        values = [f"{i:06d}".encode() + b"x" * 16000 for i in range(400)]  # ~6.4 MB: past the cap
        outcome = produce(bootstrap, "full", values, **{"batch.size": 65536})
        acked = [v for v in values if outcome[v] is None]
        refused = {outcome[v].code() for v in values if outcome[v] is not None}
        assert acked and refused == {KafkaError.KAFKA_STORAGE_ERROR}, refused

        publisher = Publisher(url, "full-q", "m" * 20000, pause=0)  # ~20 KB bodies, persistent
        publisher.start()
        wait_until(lambda: publisher.nacked, 60, "a basic.nack for a publish the queue could not write")
        publisher.stopping.set()
        publisher.join(10)
        assert publisher.error is None and publisher.confirmed

        server.kill9()
        server.file_size_limit = None  # room again
        server.start()
        assert read_partition(bootstrap, "full") == acked
        kept = drain(url, "full-q")
        # Everything confirmed is there, in order; a nacked message may be there or not.
        assert [b for b in kept if b in set(publisher.confirmed)] == publisher.confirmed
        assert set(kept) <= set(publisher.confirmed) | set(publisher.nacked)
        assert set(produce(bootstrap, "full", [b"later"]).values()) == {None}
        assert read_partition(bootstrap, "full") == acked + [b"later"]
    finally:
        server.stop()


def test_over_the_memory_watermark_publishers_are_blocked_and_kafka_is_throttled(tmp_path):
    seed = ServerProcess(tmp_path)
    seed.start()
    try:
        create_topic(seed.kafka_bootstrap, "events", 1)
        assert set(produce(seed.kafka_bootstrap, "events", [b"a", b"b"]).values()) == {None}
        confirmed_publish(seed.amqp_url, "work", [b"m1", b"m2", b"m3"])
    finally:
        seed.stop()
    # The same data, served with a 1 MB watermark: always over it.
    server = ServerProcess(tmp_path, extra_args=("--memory-high-watermark", "1000000"))
    server.start()
    try:
        bootstrap, url = server.kafka_bootstrap, server.amqp_url
        publisher = Publisher(url, "blocked-pub", "p", confirms=False)
        publisher.start()
        assert publisher.wait_for("blocked") == ("blocked", "low on memory")

        throttles = []
        outcome = produce(bootstrap, "events", [b"c"], throttle_cb=lambda event: throttles.append(event.throttle_time))
        assert outcome == {b"c": None}
        assert throttles and max(throttles) >= 0.5, throttles  # seconds
        assert drain(url, "work") == [b"m1", b"m2", b"m3"]
        assert read_partition(bootstrap, "events") == [b"a", b"b", b"c"]
        # A fire-and-forget publisher is not read while blocked: nothing it sent after the
        # first publish reached the queue (the one that found the alarm was taken in).
        wait_until(lambda: len(publisher.sent) > 5, 10, "the publisher went on sending")
        assert queue_depth(url, "blocked-pub") <= 1
        publisher.stopping.set()
    finally:
        server.stop()

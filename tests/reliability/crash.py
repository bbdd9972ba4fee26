"""Crash consistency under load: kill -9 at random moments, restart, check every acknowledgement.

    python -m tests.reliability.crash --cycles 50 [--fsync always] [--seed S]   # the long mode
    MQGW_RELIABILITY_LONG=1 pytest tests/reliability/test_crash_consistency.py  # the same, via pytest

One `mqgateway serve --data-dir` process runs under sustained load from real clients:

- `IdempotentProducer`  confluent-kafka, acks=all, enable.idempotence: one long-lived
  producer across every crash, so librdkafka retries its in-flight batches into the
  restarted broker (the case idempotence exists for).
- `PlainProducer`       kafka-python, acks=all, enable_idempotence=False, retries: a retry
  after a lost ack may legitimately duplicate; such duplicates are counted, not failed.
- `GroupCommitter`      kafka-python consumer in a group on the plain topic, committing
  synchronously after each poll.
- `AmqpPublisher`       pika, publisher confirms, durable queue, persistent messages.
- `AmqpConsumer`        pika, manual acks, prefetch 50.

Each cycle lets the load run, kills the server with SIGKILL at a random moment, snapshots
what the clients had been told (acks, confirms, successful commits), pauses the AMQP side,
restarts the server (recovery must need no manual step: a failed start fails the run) and
checks, against the snapshot:

- Kafka: every acknowledged record is in the log at the offset it was acknowledged with,
  with its value; the idempotent topic holds no value twice (acknowledged or not); the plain
  topic's duplicates are counted as retries; log end offsets are past every ack (offsets
  never go backwards).
- Groups: the committed offset of every partition is at least the last one a commit call
  returned success for.
- AMQP: the queue is drained by a checker; every confirmed message has been delivered (to the
  consumer before the crash or to the checker now); every message delivered but not yet
  acked when the broker died has been delivered again (at-least-once); a message delivered twice *within* one
  crash-free epoch is a duplicate beyond the guarantee (a delivery whose ack the crash lost may come
  again after it: at-least-once, counted as a redelivery).

Cross-protocol forwarding (an AMQP publish landing in a Kafka log, a Kafka record routed to a
queue) is not built yet. Its workload plugs in as one more `Workload` with the same four
methods — start, pause/resume, snapshot at kill, check after restart — and one more row in
`Report`.
"""

from __future__ import annotations

import argparse
import collections
import os
import random
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from tests.server import ServerProcess

PARTITIONS = 3


@dataclass
class Report:
    cycles: int = 0
    kafka_idempotent_acked: int = 0
    kafka_plain_acked: int = 0
    amqp_confirmed: int = 0
    commits_checked: int = 0
    lost: int = 0
    kafka_duplicated: int = 0  # an idempotent producer's value in the log twice
    amqp_duplicated: int = 0  # a message delivered twice with no crash in between
    duplicates_from_retries: int = 0  # non-idempotent producer retries: allowed
    amqp_redelivered: int = 0  # delivered again after a crash lost its ack: allowed
    problems: list[str] = field(default_factory=list)

    @property
    def duplicated_beyond_guarantee(self) -> int:
        return self.kafka_duplicated + self.amqp_duplicated

    def line(self) -> str:
        return (f"cycles={self.cycles} kafka_acked={self.kafka_idempotent_acked + self.kafka_plain_acked} "
                f"(idempotent {self.kafka_idempotent_acked}, plain {self.kafka_plain_acked}) "
                f"amqp_confirmed={self.amqp_confirmed} commits_checked={self.commits_checked} "
                f"lost={self.lost} duplicated_beyond_guarantee={self.duplicated_beyond_guarantee} "
                f"(allowed: plain-producer retry duplicates={self.duplicates_from_retries}, "
                f"amqp redeliveries after a lost ack={self.amqp_redelivered})")

    def problem(self, text: str) -> None:
        if len(self.problems) < 50:
            self.problems.append(text)


# -- Kafka ----------------------------------------------------------------------------------------
def read_log(bootstrap: str, topic: str) -> dict[int, list[tuple[int, bytes]]]:
    """Every record of every partition, from offset 0 to the end: {partition: [(offset, value)]}."""
    from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"reader-{uuid.uuid4().hex[:6]}",
                         "enable.auto.commit": False, "isolation.level": "read_uncommitted"})
    try:
        ends = {}
        for p in range(PARTITIONS):
            _, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=20)
            ends[p] = high
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(PARTITIONS)])
        out: dict[int, list] = {p: [] for p in range(PARTITIONS)}
        positions = {p: 0 for p in range(PARTITIONS)}
        deadline = time.monotonic() + 60
        while any(positions[p] < ends[p] for p in range(PARTITIONS)) and time.monotonic() < deadline:
            for m in consumer.consume(num_messages=10000, timeout=0.5):
                if m.error() is not None:
                    continue
                if m.offset() < ends[m.partition()]:
                    out[m.partition()].append((m.offset(), m.value()))
                positions[m.partition()] = max(positions[m.partition()], m.offset() + 1)
        if any(positions[p] < ends[p] for p in range(PARTITIONS)):
            raise AssertionError(f"could not read {topic} to its end: {positions} of {ends}")
        return out
    finally:
        consumer.close()


class IdempotentProducer:
    def __init__(self, bootstrap: str, topic: str) -> None:
        from confluent_kafka import Producer

        self.topic = topic
        self.acked: dict[bytes, tuple[int, int]] = {}  # value -> (partition, offset)
        self.sent = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "enable.idempotence": True,
                                   "log_level": 0,  # connection refused while the broker is down: expected
                                   "linger.ms": 5, "message.timeout.ms": 300_000,
                                   "reconnect.backoff.max.ms": 200, "retry.backoff.max.ms": 200})
        self._thread = threading.Thread(target=self._run, daemon=True, name="idempotent-producer")

    def _delivered(self, err, message) -> None:
        if err is None:
            with self._lock:
                self.acked[message.value()] = (message.partition(), message.offset())

    def _run(self) -> None:
        while not self._stop.is_set():
            value = b"idem-%d" % self.sent
            try:
                self._producer.produce(self.topic, value=value, partition=self.sent % PARTITIONS,
                                       on_delivery=self._delivered)
                self.sent += 1
            except BufferError:
                self._producer.poll(0.05)
                continue
            self._producer.poll(0)
            if self.sent % 20 == 0:
                time.sleep(0.01)
        self._producer.flush(120)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(150)

    def snapshot(self) -> dict[bytes, tuple[int, int]]:
        with self._lock:
            return dict(self.acked)

    def fatal(self) -> str | None:
        return None


class PlainProducer:
    def __init__(self, bootstrap: str, topic: str) -> None:
        from kafka import KafkaProducer

        self.topic = topic
        self.acked: dict[bytes, tuple[int, int]] = {}
        self.sent = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=False,
                                       retries=10, retry_backoff_ms=200, request_timeout_ms=5000,
                                       max_in_flight_requests_per_connection=1, linger_ms=5,
                                       reconnect_backoff_max_ms=500, max_block_ms=2000)
        self._thread = threading.Thread(target=self._run, daemon=True, name="plain-producer")

    def _run(self) -> None:
        while not self._stop.is_set():
            value = b"plain-%d" % self.sent
            try:
                future = self._producer.send(self.topic, value=value, partition=self.sent % PARTITIONS)
            except Exception:  # the broker is down: metadata waits time out; try again
                time.sleep(0.1)
                continue
            self.sent += 1
            future.add_callback(self._acked, value)
            if self.sent % 20 == 0:
                time.sleep(0.01)
        try:
            self._producer.flush(60)
        finally:
            self._producer.close(10)

    def _acked(self, value: bytes, metadata) -> None:
        with self._lock:
            self.acked[value] = (metadata.partition, metadata.offset)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(90)

    def snapshot(self) -> dict[bytes, tuple[int, int]]:
        with self._lock:
            return dict(self.acked)


class GroupCommitter:
    """A group member on the plain topic that commits synchronously after each poll."""

    def __init__(self, bootstrap: str, topic: str, group: str) -> None:
        self.bootstrap, self.topic, self.group = bootstrap, topic, group
        self.committed: dict[int, int] = {}  # partition -> offset a commit call returned success for
        self.commits = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="group-committer")

    def _run(self) -> None:
        from kafka import KafkaConsumer, OffsetAndMetadata, TopicPartition

        consumer = KafkaConsumer(self.topic, bootstrap_servers=self.bootstrap, group_id=self.group,
                                 enable_auto_commit=False, auto_offset_reset="earliest", request_timeout_ms=6000,
                                 session_timeout_ms=6000, heartbeat_interval_ms=1000, reconnect_backoff_max_ms=500,
                                 fetch_max_wait_ms=100)
        try:
            while not self._stop.is_set():
                try:
                    batches = consumer.poll(timeout_ms=200)
                    offsets = {}
                    for tp, records in batches.items():
                        offsets[tp] = OffsetAndMetadata(records[-1].offset + 1, "", -1)
                    if offsets:
                        consumer.commit(offsets)
                        with self._lock:
                            for tp, om in offsets.items():
                                self.committed[tp.partition] = max(self.committed.get(tp.partition, 0), om.offset)
                            self.commits += 1
                except Exception:  # broker down, rebalance, coordinator moved: the client recovers
                    time.sleep(0.2)
        finally:
            try:
                consumer.close(autocommit=False)
            except Exception:
                pass
        del TopicPartition

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(30)

    def snapshot(self) -> dict[int, int]:
        with self._lock:
            return dict(self.committed)


def fetch_committed(bootstrap: str, topic: str, group: str) -> dict[int, int]:
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False})
    try:
        result = consumer.committed([TopicPartition(topic, p) for p in range(PARTITIONS)], timeout=20)
        return {tp.partition: tp.offset for tp in result}
    finally:
        consumer.close()


# -- AMQP -----------------------------------------------------------------------------------------
class _AmqpLoop:
    """A thread that keeps one pika connection going across crashes, pausable between cycles."""

    def __init__(self, url: str, queue: str, name: str) -> None:
        self.url, self.queue = url, queue
        self.running = threading.Event()  # cleared: paused (the checker owns the queue)
        self.idle = threading.Event()  # set while paused and disconnected
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name=name)

    def start(self) -> None:
        self.running.set()
        self._thread.start()

    def pause(self) -> None:
        self.running.clear()
        self.idle.wait(30)

    def resume(self) -> None:
        self.idle.clear()
        self.running.set()

    def stop(self) -> None:
        self._stop.set()
        self.running.set()
        self._thread.join(30)

    def _run(self) -> None:
        import pika

        while not self._stop.is_set():
            if not self.running.is_set():
                self.idle.set()
                self.running.wait()
                continue
            try:
                connection = pika.BlockingConnection(pika.URLParameters(self.url + "?connection_attempts=1"))
            except Exception:
                time.sleep(0.1)
                continue
            try:
                channel = connection.channel()
                channel.queue_declare(self.queue, durable=True)
                self.session(channel)
            except Exception:
                pass
            finally:
                try:
                    connection.close()
                except Exception:
                    pass

    def session(self, channel) -> None:
        raise NotImplementedError

    def _go_on(self) -> bool:
        return self.running.is_set() and not self._stop.is_set()


class AmqpPublisher(_AmqpLoop):
    def __init__(self, url: str, queue: str) -> None:
        super().__init__(url, queue, "amqp-publisher")
        self.confirmed: set[bytes] = set()
        self.sent = 0
        self._lock = threading.Lock()

    def session(self, channel) -> None:
        import pika

        channel.confirm_delivery()
        persistent = pika.BasicProperties(delivery_mode=2)
        while self._go_on():
            body = b"amqp-%d" % self.sent
            self.sent += 1
            channel.basic_publish("", self.queue, body, persistent, mandatory=True)
            with self._lock:
                self.confirmed.add(body)
            if self.sent % 20 == 0:
                time.sleep(0.01)

    def snapshot(self) -> set[bytes]:
        with self._lock:
            return set(self.confirmed)


class AmqpConsumer(_AmqpLoop):
    def __init__(self, url: str, queue: str, deliveries: "Deliveries") -> None:
        super().__init__(url, queue, "amqp-consumer")
        self.deliveries = deliveries

    def session(self, channel) -> None:
        channel.basic_qos(prefetch_count=50)
        for method, _, body in channel.consume(self.queue, inactivity_timeout=0.2):
            if not self._go_on():
                break
            if method is None:
                continue
            self.deliveries.add(body)
            channel.basic_ack(method.delivery_tag)
            self.deliveries.ack(body)
        try:
            channel.cancel()
        except Exception:
            pass


class Deliveries:
    """Every delivery of every AMQP message, by the crash-free epoch it happened in."""

    def __init__(self) -> None:
        self.epoch = 0
        self.by_body: dict[bytes, list[int]] = collections.defaultdict(list)
        self.acked: set[bytes] = set()  # the client sent basic.ack for it
        self._lock = threading.Lock()

    def add(self, body: bytes) -> None:
        with self._lock:
            self.by_body[body].append(self.epoch)

    def ack(self, body: bytes) -> None:
        with self._lock:
            self.acked.add(body)


def drain(url: str, queue: str, deliveries: Deliveries) -> int:
    import pika

    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        channel = connection.channel()
        count = 0
        while True:
            method, _, body = channel.basic_get(queue, auto_ack=False)
            if method is None:
                return count
            deliveries.add(body)
            channel.basic_ack(method.delivery_tag)
            deliveries.ack(body)
            count += 1
    finally:
        connection.close()


# -- the run --------------------------------------------------------------------------------------
def _wait_for(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def run(*, workdir: Path, cycles: int, seed: int, fsync: str = "never", load_seconds: tuple[float, float] = (0.5, 2.5),
        log=print) -> Report:
    rnd = random.Random(seed)
    report = Report()
    server = ServerProcess(workdir, extra_args=("--default-partitions", str(PARTITIONS), "--fsync", fsync))
    server.start()
    suffix = uuid.uuid4().hex[:6]
    idem_topic, plain_topic, group, queue = f"crash-idem-{suffix}", f"crash-plain-{suffix}", f"crash-g-{suffix}", \
        f"crash-q-{suffix}"
    deliveries = Deliveries()
    idem = IdempotentProducer(server.kafka_bootstrap, idem_topic)
    plain = PlainProducer(server.kafka_bootstrap, plain_topic)
    committer = GroupCommitter(server.kafka_bootstrap, plain_topic, group)
    publisher = AmqpPublisher(server.amqp_url, queue)
    consumer = AmqpConsumer(server.amqp_url, queue, deliveries)
    workloads = (idem, plain, committer, publisher, consumer)
    for workload in workloads:
        workload.start()
    try:
        for cycle in range(1, cycles + 1):
            marks = (len(idem.acked), len(plain.acked), len(publisher.confirmed))
            # Load must be flowing before the kill, else the crash hits nothing.
            _wait_for(lambda: len(idem.acked) > marks[0] and len(plain.acked) > marks[1]
                      and len(publisher.confirmed) > marks[2], 30)
            time.sleep(rnd.uniform(*load_seconds))
            server.kill9()
            deliveries.epoch = cycle  # the kills so far: a delivery whose ack this one lost may come again
            idem_acked, plain_acked = idem.snapshot(), plain.snapshot()
            confirmed, committed = publisher.snapshot(), committer.snapshot()
            publisher.pause()
            consumer.pause()
            started = time.monotonic()
            server.start()  # raises if recovery needs a hand
            recovered_in = time.monotonic() - started
            report.cycles = cycle
            _check_kafka(report, server, idem_topic, idem_acked, idempotent=True)
            _check_kafka(report, server, plain_topic, plain_acked, idempotent=False)
            _check_commits(report, server, plain_topic, group, committed)
            drain(server.amqp_url, queue, deliveries)
            _check_amqp(report, confirmed, deliveries)
            report.kafka_idempotent_acked = len(idem_acked)
            report.kafka_plain_acked = len(plain_acked)
            report.amqp_confirmed = len(confirmed)
            log(f"cycle {cycle}: restarted in {recovered_in:.1f} s; {report.line()}")
            publisher.resume()
            consumer.resume()
    finally:
        for workload in workloads:
            workload.stop()
        server.stop()
    return report


def _check_kafka(report: Report, server: ServerProcess, topic: str, acked: dict[bytes, tuple[int, int]], *,
                 idempotent: bool) -> None:
    log = read_log(server.kafka_bootstrap, topic)
    at: dict[tuple[int, int], bytes] = {}
    counts: collections.Counter = collections.Counter()
    for partition, records in log.items():
        for offset, value in records:
            at[(partition, offset)] = value
            counts[value] += 1
    for value, (partition, offset) in acked.items():
        if at.get((partition, offset)) != value:
            report.lost += 1
            report.problem(f"{topic}: acked {value!r} at {partition}/{offset}, the log has "
                           f"{at.get((partition, offset))!r} there")
    duplicates = sum(n - 1 for n in counts.values() if n > 1)
    if idempotent:
        report.kafka_duplicated = duplicates
        if duplicates:
            report.problem(f"{topic}: idempotent producer's values in the log twice: "
                           f"{[v for v, n in counts.items() if n > 1][:5]}")
    else:
        report.duplicates_from_retries = duplicates


def _check_commits(report: Report, server: ServerProcess, topic: str, group: str, committed: dict[int, int]) -> None:
    if not committed:
        return
    now = fetch_committed(server.kafka_bootstrap, topic, group)
    for partition, offset in committed.items():
        report.commits_checked += 1
        if now.get(partition, -1) < offset:
            report.lost += 1
            report.problem(f"group commit went backwards on {topic}/{partition}: {offset} -> {now.get(partition)}")


def _check_amqp(report: Report, confirmed: set[bytes], deliveries: Deliveries) -> None:
    with deliveries._lock:
        by_body = {body: list(cycles) for body, cycles in deliveries.by_body.items()}
        acked = set(deliveries.acked)
    missing = [body for body in confirmed if body not in by_body]
    if missing:
        report.lost += len(missing)
        report.problem(f"confirmed AMQP messages never delivered: {sorted(missing)[:5]} ({len(missing)})")
    # Delivered but not acked when the broker died: at-least-once says it comes again, and
    # the drain has just acked everything it was given.
    unacked = [body for body in by_body if body not in acked]
    if unacked:
        report.lost += len(unacked)
        report.problem(f"AMQP messages delivered, never acked, and not redelivered: {sorted(unacked)[:5]}")
    redelivered = beyond = 0
    for body, epochs in by_body.items():
        if len(epochs) > 1:
            same_epoch = len(epochs) - len(set(epochs))
            beyond += same_epoch
            redelivered += len(epochs) - 1 - same_epoch
    report.amqp_redelivered = redelivered
    if beyond > report.amqp_duplicated:
        report.problem("AMQP messages delivered twice with no crash between: "
                       f"{[b for b, e in by_body.items() if len(e) != len(set(e))][:5]}")
    report.amqp_duplicated = beyond
    # Messages never confirmed may or may not be there; delivered ones that were never sent are not.


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cycles", type=int, default=50)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--fsync", choices=("never", "interval", "always"), default="never")
    parser.add_argument("--workdir", type=Path, default=None, help="keep the data dir here (default: a temp dir)")
    args = parser.parse_args(argv)
    seed = args.seed if args.seed is not None else random.randrange(1 << 32)
    print(f"seed {seed}, {args.cycles} cycles, fsync {args.fsync}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        workdir = args.workdir or Path(tmp)
        report = run(workdir=workdir, cycles=args.cycles, seed=seed, fsync=args.fsync,
                     log=lambda line: print(line, flush=True))
    print("\n" + report.line())
    for problem in report.problems:
        print("  PROBLEM:", problem)
    return 0 if report.lost == 0 and report.duplicated_beyond_guarantee == 0 and not report.problems else 1


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())

"""Exactly-once consume-transform-produce, with kill -9 of the worker and of the server at random points.

A worker process (tests/compat/txn_worker.py: read_committed consumer, transactional
producer, send_offsets_to_transaction, commit) turns every input record "i" into "out-i".
The test kills it with SIGKILL at random moments over several iterations (and, separately,
kills the server while the worker runs), then lets a last instance finish. However the
kills fell — mid-produce, after the offsets were sent, mid-commit — every input record
must be in the output exactly once for a read_committed reader, and the group's committed
offsets must be at the input's end.

Runs in well under a minute; MQGW_EOS_ITERATIONS raises the number of kills (a longer
soak: `MQGW_EOS_ITERATIONS=50 pytest tests/compat/test_kafka_txn_eos.py`).
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from tests.compat.group_harness import create_topic
from tests.compat.kafka_helpers import topic_name

ITERATIONS = int(os.environ.get("MQGW_EOS_ITERATIONS", "4"))
RECORDS = int(os.environ.get("MQGW_EOS_RECORDS", "1000"))
PARTITIONS = 3
ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.server_only


class Worker:
    def __init__(self, options: dict) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "tests.compat.txn_worker", json.dumps(options)],
                                     cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.events: list[dict] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            try:
                self.events.append(json.loads(line))
            except ValueError:
                self.events.append({"event": "output", "line": line.rstrip()})

    def committed(self) -> int:
        return sum(e.get("records", 0) for e in self.events if e["event"] == "committed")

    def kill9(self) -> None:
        self.proc.kill()
        self.proc.wait(10)
        self._reader.join(5)

    def wait_done(self, timeout: float) -> None:
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.send_signal(signal.SIGUSR1)  # the worker prints its threads' stacks
            time.sleep(1)
            self.kill9()
            stacks = "\n".join(e["line"] for e in self.events if e["event"] == "output" and "File" in e["line"])
            raise AssertionError(f"worker did not finish; last events: {self.events[-10:]}\nstacks:\n{stacks}")
        self._reader.join(5)
        assert any(e["event"] == "done" for e in self.events), self.events[-10:]


def produce_input(bootstrap: str, topic: str) -> set[bytes]:
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
    values = set()
    for i in range(RECORDS):
        value = str(i).encode()
        producer.produce(topic, key=value, value=value, partition=i % PARTITIONS)
        values.add(value)
    assert producer.flush(30) == 0
    return values


def read_output(bootstrap: str, topic: str, isolation: str = "read_committed") -> list[bytes]:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": topic_name("reader"),
                         "isolation.level": isolation, "enable.partition.eof": True,
                         "enable.auto.commit": False})
    consumer.assign([TopicPartition(topic, p, 0) for p in range(PARTITIONS)])
    values: list[bytes] = []
    at_end: set[int] = set()
    deadline = time.monotonic() + 30
    while len(at_end) < PARTITIONS and time.monotonic() < deadline:
        message = consumer.poll(1)
        if message is None:
            continue
        if message.error():
            if message.error().code() == -191:  # _PARTITION_EOF
                at_end.add(message.partition())
            continue
        values.append(message.value())
    consumer.close()
    assert len(at_end) == PARTITIONS, "did not reach the end of the output"
    return values


def committed_offsets(bootstrap: str, topic: str, group: str) -> list[int]:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "isolation.level": "read_committed"})
    committed = consumer.committed([TopicPartition(topic, p) for p in range(PARTITIONS)], timeout=10)
    consumer.close()
    return [tp.offset for tp in committed]


def assert_exactly_once(bootstrap: str, names: dict, sent: set[bytes]) -> None:
    output = read_output(bootstrap, names["output"])
    expected = sorted(b"out-" + v for v in sent)
    duplicates = len(output) - len(set(output))
    missing = set(expected) - set(output)
    assert duplicates == 0 and not missing and sorted(output) == expected, (
        f"{duplicates} duplicates, {len(missing)} missing, {len(set(output) - set(expected))} unexpected")
    assert sum(committed_offsets(bootstrap, names["input"], names["group"])) == RECORDS


def setup_topics(bootstrap: str, client: str) -> dict:
    names = {"input": topic_name(f"eos-in-{client}"), "output": topic_name(f"eos-out-{client}"),
             "group": topic_name(f"eos-{client}"), "transactional_id": topic_name(f"eos-worker-{client}")}
    create_topic(bootstrap, names["input"], PARTITIONS)
    create_topic(bootstrap, names["output"], PARTITIONS)
    return names


def worker_options(bootstrap: str, client: str, names: dict) -> dict:
    return {"client": client, "bootstrap": bootstrap, "partitions": PARTITIONS, "batch": 5, "pause_ms": 50,
            **names}


@pytest.mark.parametrize("client", ["confluent", "kafka-python"])
def test_worker_killed_at_random_points(durable_server, client):
    bootstrap = durable_server.kafka_bootstrap
    names = setup_topics(bootstrap, client)
    sent = produce_input(bootstrap, names["input"])
    rng = random.Random()
    progress = []
    for _ in range(ITERATIONS):
        worker = Worker(worker_options(bootstrap, client, names))
        time.sleep(rng.uniform(0.8, 2.0))
        worker.kill9()
        progress.append(worker.committed())
    last = Worker(worker_options(bootstrap, client, names))
    last.wait_done(60)
    print(f"\n{client}: records committed per killed instance {progress}, then {last.committed()} to finish")
    assert_exactly_once(bootstrap, names, sent)


def test_server_killed_at_random_points(durable_server):
    bootstrap = durable_server.kafka_bootstrap
    names = setup_topics(bootstrap, "confluent")
    sent = produce_input(bootstrap, names["input"])
    rng = random.Random()
    worker = Worker(worker_options(bootstrap, "confluent", names))
    seen = []
    try:
        for _ in range(ITERATIONS):
            time.sleep(rng.uniform(0.5, 1.5))
            seen.append(worker.committed())
            durable_server.kill9()
            time.sleep(rng.uniform(0.0, 0.3))
            durable_server.start()
        worker.wait_done(120)  # room for one step stuck in librdkafka (txn_worker.STEP_LIMIT_S)
    finally:
        if worker.proc.poll() is None:
            worker.kill9()
    restarts = sum(1 for e in worker.events if e["event"] == "restart")
    print(f"\nrecords committed before each server kill {seen}; worker recovered {restarts} times")
    assert_exactly_once(bootstrap, names, sent)

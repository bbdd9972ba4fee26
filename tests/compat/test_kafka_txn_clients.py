"""Kafka transactions through real clients: confluent-kafka (librdkafka), kafka-python, aiokafka, kafkajs.

What users see: a committed transaction is visible, an aborted one is invisible to
read_committed readers and visible to read_uncommitted ones — for four independent
consumer implementations of the aborted-transaction filter; a read_committed reader stops
at an open transaction and resumes when it commits; a second producer with the same
transactional id fences the first (its commit fails, its records never show); a
transaction left open past transaction.timeout.ms is aborted by the broker; and the
read_committed default of librdkafka and kafkajs reads a topic without any transaction.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition

from tests.compat.group_harness import NODE_DIR, create_topic
from tests.compat.kafka_helpers import read_partition, topic_name

COMMITTED = [f"c{i}" for i in range(5)]
ABORTED = [f"a{i}" for i in range(4)]


@pytest.fixture(scope="module", autouse=True)
def kafkajs_installed():
    if not (NODE_DIR / "node_modules" / "kafkajs" / "package.json").exists():
        subprocess.run(["bash", str(NODE_DIR / "install.sh")], check=True, timeout=300)


@pytest.fixture
def topic(kafka_bootstrap):
    name = topic_name("txn")
    create_topic(kafka_bootstrap, name, 1)
    return name


# -- readers: four implementations of read_committed ------------------------------------------------
def read_confluent(bootstrap: str, topic: str, isolation: str) -> list[str]:
    return [v.decode() for v in read_partition(bootstrap, topic, timeout=15, **{"isolation.level": isolation})]


def read_kafka_python(bootstrap: str, topic: str, isolation: str) -> list[str]:
    from kafka import KafkaConsumer
    from kafka import TopicPartition as KTopicPartition

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, isolation_level=isolation, consumer_timeout_ms=1500,
                             enable_auto_commit=False, fetch_max_wait_ms=100)
    consumer.assign([KTopicPartition(topic, 0)])
    consumer.seek_to_beginning()
    values = [m.value.decode() for m in consumer]
    consumer.close()
    return values


def read_aiokafka(bootstrap: str, topic: str, isolation: str) -> list[str]:
    from aiokafka import AIOKafkaConsumer
    from aiokafka.structs import TopicPartition as ATopicPartition

    async def run() -> list[str]:
        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, isolation_level=isolation, enable_auto_commit=False,
                                    fetch_max_wait_ms=100)
        await consumer.start()
        try:
            tp = ATopicPartition(topic, 0)
            consumer.assign([tp])
            await consumer.seek_to_beginning(tp)
            values = []
            while True:
                batch = await consumer.getmany(tp, timeout_ms=1500)
                if not batch:
                    return values
                values += [m.value.decode() for m in batch[tp]]
        finally:
            await consumer.stop()

    return asyncio.run(run())


def node(options: dict, timeout: float = 60) -> dict:
    done = subprocess.run(["node", str(NODE_DIR / "txn.js"), json.dumps(options)], capture_output=True, text=True,
                          timeout=timeout)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    assert lines, f"no result from txn.js: {done.stdout}\n{done.stderr}"
    result = json.loads(lines[-1])
    assert result["ok"], result
    return result


def read_kafkajs(bootstrap: str, topic: str, isolation: str, count: int) -> list[str]:
    return node({"action": "consume", "bootstrap": bootstrap, "topic": topic, "count": count,
                 "read_uncommitted": isolation == "read_uncommitted"})["values"]


def assert_visibility(bootstrap: str, topic: str, committed: list[str], aborted: list[str]) -> None:
    """Every reader, at both isolation levels (run side by side: each waits a moment at the end)."""
    everything = committed + aborted
    readers = {"librdkafka": read_confluent, "kafka-python": read_kafka_python, "aiokafka": read_aiokafka,
               "kafkajs": lambda b, t, i: read_kafkajs(b, t, i, len(committed if i == "read_committed" else everything))}
    with ThreadPoolExecutor(max_workers=8) as pool:
        futures = {(name, isolation): pool.submit(read, bootstrap, topic, isolation)
                   for name, read in readers.items() for isolation in ("read_committed", "read_uncommitted")}
    for (name, isolation), future in futures.items():
        expected = committed if isolation == "read_committed" else everything
        assert future.result() == expected, (name, isolation)


# -- producers ---------------------------------------------------------------------------------
def test_confluent_commit_visible_abort_invisible(kafka_bootstrap, topic):
    producer = Producer({"bootstrap.servers": kafka_bootstrap, "transactional.id": topic_name("tx")})
    producer.init_transactions(15)
    producer.begin_transaction()
    for value in COMMITTED:
        producer.produce(topic, value.encode(), partition=0)
    producer.commit_transaction(15)
    producer.begin_transaction()
    for value in ABORTED:
        producer.produce(topic, value.encode(), partition=0)
    producer.flush(15)
    producer.abort_transaction(15)
    assert_visibility(kafka_bootstrap, topic, COMMITTED, ABORTED)


def test_kafka_python_commit_visible_abort_invisible(kafka_bootstrap, topic):
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, transactional_id=topic_name("tx"))
    producer.init_transactions()
    producer.begin_transaction()
    for value in COMMITTED:
        producer.send(topic, value.encode(), partition=0)
    producer.commit_transaction()
    producer.begin_transaction()
    for value in ABORTED:
        producer.send(topic, value.encode(), partition=0)
    producer.flush()
    producer.abort_transaction()
    producer.close()
    assert_visibility(kafka_bootstrap, topic, COMMITTED, ABORTED)


def test_aiokafka_commit_abort_and_send_offsets(kafka_bootstrap, topic):
    """aiokafka speaks every transaction API at v0 (non-flexible, INVALID_PRODUCER_EPOCH for fencing)."""
    from aiokafka import AIOKafkaProducer
    from aiokafka.structs import TopicPartition as ATopicPartition

    group = topic_name("g")

    async def run() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, transactional_id=topic_name("tx"))
        await producer.start()
        try:
            async with producer.transaction():
                for value in COMMITTED:
                    await producer.send(topic, value.encode(), partition=0)
                await producer.send_offsets_to_transaction({ATopicPartition(topic, 0): 4}, group)
            await producer.begin_transaction()
            for value in ABORTED:
                await producer.send(topic, value.encode(), partition=0)
            await producer.flush()
            await producer.abort_transaction()
        finally:
            await producer.stop()

    asyncio.run(run())
    assert_visibility(kafka_bootstrap, topic, COMMITTED, ABORTED)
    consumer = Consumer({"bootstrap.servers": kafka_bootstrap, "group.id": group})
    (committed,) = consumer.committed([TopicPartition(topic, 0)], timeout=10)
    consumer.close()
    assert committed.offset == 4


def test_kafkajs_transactions_and_send_offsets(kafka_bootstrap, topic):
    group = topic_name("g")
    node({"action": "produce", "bootstrap": kafka_bootstrap, "topic": topic, "transactional_id": topic_name("tx"),
          "commit": COMMITTED, "abort": ABORTED, "group": group, "offset": 3})
    assert_visibility(kafka_bootstrap, topic, COMMITTED, ABORTED)
    consumer = Consumer({"bootstrap.servers": kafka_bootstrap, "group.id": group})
    (committed,) = consumer.committed([TopicPartition(topic, 0)], timeout=10)
    consumer.close()
    assert committed.offset == 3


# -- the last stable offset -----------------------------------------------------------------------
def test_read_committed_stops_at_an_open_transaction_until_it_commits(kafka_bootstrap, topic):
    plain = Producer({"bootstrap.servers": kafka_bootstrap})
    txn = Producer({"bootstrap.servers": kafka_bootstrap, "transactional.id": topic_name("tx")})
    txn.init_transactions(15)
    plain.produce(topic, b"before", partition=0)
    plain.flush(10)
    txn.begin_transaction()
    txn.produce(topic, b"in-txn", partition=0)
    txn.flush(10)
    plain.produce(topic, b"after", partition=0)
    plain.flush(10)
    assert read_confluent(kafka_bootstrap, topic, "read_committed") == ["before"]
    assert read_kafka_python(kafka_bootstrap, topic, "read_committed") == ["before"]
    assert read_confluent(kafka_bootstrap, topic, "read_uncommitted") == ["before", "in-txn", "after"]
    txn.commit_transaction(15)
    assert read_confluent(kafka_bootstrap, topic, "read_committed") == ["before", "in-txn", "after"]
    assert read_kafkajs(kafka_bootstrap, topic, "read_committed", 3) == ["before", "in-txn", "after"]


def test_list_offsets_latest_respects_isolation(kafka_bootstrap, topic):
    from kafka import KafkaConsumer
    from kafka import TopicPartition as KTopicPartition

    plain = Producer({"bootstrap.servers": kafka_bootstrap})
    plain.produce(topic, b"x", partition=0)
    plain.flush(10)
    txn = Producer({"bootstrap.servers": kafka_bootstrap, "transactional.id": topic_name("tx")})
    txn.init_transactions(15)
    txn.begin_transaction()
    txn.produce(topic, b"open", partition=0)
    txn.flush(10)
    ends = {}
    for isolation in ("read_committed", "read_uncommitted"):
        consumer = KafkaConsumer(bootstrap_servers=kafka_bootstrap, isolation_level=isolation)
        ends[isolation] = consumer.end_offsets([KTopicPartition(topic, 0)])[KTopicPartition(topic, 0)]
        consumer.close()
    assert ends == {"read_committed": 1, "read_uncommitted": 2}
    txn.abort_transaction(15)


# -- fencing and timeouts ----------------------------------------------------------------------------
def test_confluent_zombie_is_fenced(kafka_bootstrap, topic):
    tid = topic_name("tx")
    zombie = Producer({"bootstrap.servers": kafka_bootstrap, "transactional.id": tid})
    zombie.init_transactions(15)
    zombie.begin_transaction()
    zombie.produce(topic, b"zombie", partition=0)
    zombie.flush(10)
    winner = Producer({"bootstrap.servers": kafka_bootstrap, "transactional.id": tid})
    winner.init_transactions(15)
    winner.begin_transaction()
    winner.produce(topic, b"winner", partition=0)
    winner.commit_transaction(15)
    with pytest.raises(KafkaException) as info:
        zombie.commit_transaction(15)
    error = info.value.args[0]
    assert error.fatal() and error.code() in (-144, 90, 47), error  # _FENCED / PRODUCER_FENCED / INVALID_PRODUCER_EPOCH
    assert read_confluent(kafka_bootstrap, topic, "read_committed") == ["winner"]
    assert read_confluent(kafka_bootstrap, topic, "read_uncommitted") == ["zombie", "winner"]


def test_kafka_python_zombie_is_fenced(kafka_bootstrap, topic):
    from kafka import KafkaProducer
    from kafka.errors import KafkaError

    tid = topic_name("tx")
    zombie = KafkaProducer(bootstrap_servers=kafka_bootstrap, transactional_id=tid)
    zombie.init_transactions()
    zombie.begin_transaction()
    zombie.send(topic, b"zombie", partition=0)
    zombie.flush()
    winner = KafkaProducer(bootstrap_servers=kafka_bootstrap, transactional_id=tid)
    winner.init_transactions()
    winner.begin_transaction()
    winner.send(topic, b"winner", partition=0)
    winner.commit_transaction()
    with pytest.raises(KafkaError) as info:
        zombie.commit_transaction()
    assert "Fenced" in type(info.value).__name__ or "fenced" in str(info.value).lower(), repr(info.value)
    zombie.close(timeout=1)
    winner.close()
    assert read_kafka_python(kafka_bootstrap, topic, "read_committed") == ["winner"]


def test_kafkajs_zombie_is_fenced(kafka_bootstrap, topic):
    result = node({"action": "fence", "bootstrap": kafka_bootstrap, "topic": topic, "transactional_id": topic_name("tx")})
    assert result["zombie_error"] is not None and (
        "FENCED" in result["zombie_error"] or "EPOCH" in result["zombie_error"]), result
    assert read_confluent(kafka_bootstrap, topic, "read_committed") == ["winner"]


def test_a_transaction_past_its_timeout_is_aborted(kafka_bootstrap, topic):
    from kafka import KafkaConsumer
    from kafka import TopicPartition as KTopicPartition

    producer = Producer({"bootstrap.servers": kafka_bootstrap, "transactional.id": topic_name("tx"),
                         "transaction.timeout.ms": 1000})
    producer.init_transactions(15)
    producer.begin_transaction()
    producer.produce(topic, b"too slow", partition=0)
    producer.flush(10)
    # Nobody commits or aborts: the broker aborts it on its own, and the last stable offset
    # moves past the record and the ABORT marker.
    reader = KafkaConsumer(bootstrap_servers=kafka_bootstrap, isolation_level="read_committed")
    tp = KTopicPartition(topic, 0)
    deadline = time.monotonic() + 10
    while reader.end_offsets([tp])[tp] != 2:
        assert time.monotonic() < deadline, "the timed-out transaction was never aborted"
        time.sleep(0.2)
    reader.close()
    with pytest.raises(KafkaException):
        producer.commit_transaction(15)
    assert read_confluent(kafka_bootstrap, topic, "read_committed") == []
    assert read_confluent(kafka_bootstrap, topic, "read_uncommitted") == ["too slow"]


def test_transaction_timeout_above_the_broker_maximum_is_refused(kafka_bootstrap):
    producer = Producer({"bootstrap.servers": kafka_bootstrap, "transactional.id": topic_name("tx"),
                         "transaction.timeout.ms": 900_001})
    with pytest.raises(KafkaException) as info:
        producer.init_transactions(15)
    assert info.value.args[0].code() == 50, info.value  # INVALID_TRANSACTION_TIMEOUT


# -- read_committed by default, with no transaction anywhere --------------------------------------------
def test_librdkafka_and_kafkajs_default_read_committed_without_transactions(kafka_bootstrap, topic):
    producer = Producer({"bootstrap.servers": kafka_bootstrap})
    for i in range(20):
        producer.produce(topic, f"plain-{i}".encode(), partition=0)
    producer.flush(10)
    expected = [f"plain-{i}" for i in range(20)]
    consumer = Consumer({"bootstrap.servers": kafka_bootstrap, "group.id": topic_name("r"),
                         "auto.offset.reset": "earliest", "enable.partition.eof": True})
    consumer.subscribe([topic])
    values = []
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        message = consumer.poll(0.5)
        if message is None:
            continue
        if message.error():
            if message.error().code() == -191:
                break
            raise AssertionError(message.error())
        values.append(message.value().decode())
    consumer.close()
    assert values == expected
    assert node({"action": "consume", "bootstrap": kafka_bootstrap, "topic": topic, "count": 20})["values"] == expected

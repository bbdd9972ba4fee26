"""Helpers shared by the Kafka compat tests (names, expected records, reading a partition)."""

from __future__ import annotations

import time
import uuid


def topic_name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def keyed_records(count: int, partitions: int = 3) -> list[tuple[bytes, bytes, list[tuple[str, bytes]]]]:
    """(key, value, headers) triples; keys spread over partitions by the client's partitioner."""
    return [(f"key-{i % (partitions * 2)}".encode(), f"value-{i}".encode() * (1 + i % 5),
             [("h-index", str(i).encode()), ("h-const", b"\x00\xffbin")]) for i in range(count)]


def read_partition(bootstrap: str, topic: str, *, timeout: float = 20.0, commit_group: str | None = None,
                   **config) -> list[bytes]:
    """The values of partition 0 of `topic` from offset 0 to its end (the last stable offset
    under read_committed), read with librdkafka; `config` adds consumer settings. With
    `commit_group`, that group then commits the position after them."""
    from confluent_kafka import Consumer, KafkaError, TopicPartition

    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": commit_group or topic_name("reader"),
                         "enable.auto.commit": False, "enable.partition.eof": True, **config})
    consumer.assign([TopicPartition(topic, 0, 0)])
    values = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        message = consumer.poll(0.5)
        if message is None:
            continue
        if message.error():
            if message.error().code() == KafkaError._PARTITION_EOF:
                break
            raise AssertionError(message.error())
        values.append(message.value())
    if commit_group:
        consumer.commit(offsets=[TopicPartition(topic, 0, len(values))], asynchronous=False)
    consumer.close()
    return values

"""Deleting a topic takes its committed offsets with it, as in Kafka: a topic recreated
under the same name starts with no committed position for any group."""

from __future__ import annotations

import time
import uuid

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic


def _wait(futures: dict) -> None:
    for future in futures.values():
        future.result(10)


def test_recreated_topic_has_no_committed_offsets(kafka_bootstrap):
    topic = f"lifecycle-{uuid.uuid4().hex[:8]}"
    group = f"g-{topic}"
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    _wait(admin.create_topics([NewTopic(topic, 1)]))
    producer = Producer({"bootstrap.servers": kafka_bootstrap})
    for i in range(3):
        producer.produce(topic, value=b"v%d" % i)
    assert producer.flush(10) == 0

    consumer = Consumer({"bootstrap.servers": kafka_bootstrap, "group.id": group,
                         "enable.auto.commit": False})
    try:
        consumer.commit(offsets=[TopicPartition(topic, 0, 3)], asynchronous=False)
        assert consumer.committed([TopicPartition(topic, 0)], timeout=10)[0].offset == 3

        _wait(admin.delete_topics([topic]))
        deadline = time.monotonic() + 10
        while True:  # CreateTopics may race the deletion's metadata; retry as tools do
            try:
                _wait(admin.create_topics([NewTopic(topic, 1)]))
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        committed = consumer.committed([TopicPartition(topic, 0)], timeout=10)[0]
        assert committed.offset < 0  # OFFSET_INVALID: nothing committed for the new topic
    finally:
        consumer.close()

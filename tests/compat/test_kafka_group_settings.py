"""Operator settings of the group coordinator, through a real client.

`--group-min-session-timeout-ms` is Kafka's group.min.session.timeout.ms: a consumer asking
for a shorter session.timeout.ms is refused with INVALID_SESSION_TIMEOUT (default 6000, as
Kafka); kafka-python's own integration suite runs its broker with 1000 and its consumers
with 3000, which this server then accepts.
"""

from __future__ import annotations

import pytest
from kafka import KafkaConsumer, KafkaProducer
from kafka.errors import InvalidSessionTimeoutError

from tests.compat.group_harness import create_topic
from tests.compat.kafka_helpers import topic_name
from tests.server import ServerProcess


def consume_one(bootstrap: str, topic: str, session_timeout_ms: int) -> list[bytes]:
    consumer = KafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=topic_name("g"),
                             auto_offset_reset="earliest", session_timeout_ms=session_timeout_ms,
                             heartbeat_interval_ms=1000, consumer_timeout_ms=10_000)
    try:
        return [next(iter(consumer)).value]
    finally:
        consumer.close()


def produce_one(bootstrap: str, topic: str) -> None:
    producer = KafkaProducer(bootstrap_servers=bootstrap)
    producer.send(topic, b"hello").get(10)
    producer.close()


def test_a_session_timeout_under_the_minimum_is_refused_by_default(kafka_bootstrap):
    topic = topic_name("short-session")
    create_topic(kafka_bootstrap, topic, 1)
    produce_one(kafka_bootstrap, topic)
    with pytest.raises(InvalidSessionTimeoutError):
        consume_one(kafka_bootstrap, topic, 3000)


def test_a_lower_minimum_lets_short_sessions_join(tmp_path):
    with ServerProcess(tmp_path, memory=True, extra_args=("--group-min-session-timeout-ms", "1000")) as server:
        topic = topic_name("short-session")
        create_topic(server.kafka_bootstrap, topic, 1)
        produce_one(server.kafka_bootstrap, topic)
        assert consume_one(server.kafka_bootstrap, topic, 3000) == [b"hello"]

"""kcat (Debian's, librdkafka 2.0.2) `-L` metadata listings after admin changes made by another client."""

from __future__ import annotations

import json
import subprocess

from kafka import KafkaAdminClient
from kafka.admin import NewPartitions, NewTopic

from tests.compat.kafka_helpers import topic_name


def kcat_metadata(bootstrap: str) -> dict:
    done = subprocess.run(["kcat", "-b", bootstrap, "-L", "-J"], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def partitions_listed(bootstrap: str) -> dict[str, int]:
    return {t["topic"]: len(t["partitions"]) for t in kcat_metadata(bootstrap)["topics"]}


def test_listing_follows_create_grow_and_delete(kafka_bootstrap):
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap, request_timeout_ms=10000)
    topic = topic_name("kcat-admin")
    try:
        admin.create_topics([NewTopic(topic, 2, 1)])
        assert partitions_listed(kafka_bootstrap)[topic] == 2
        admin.create_partitions({topic: NewPartitions(5)})
        assert partitions_listed(kafka_bootstrap)[topic] == 5
        metadata = kcat_metadata(kafka_bootstrap)
        host, port = kafka_bootstrap.rsplit(":", 1)
        assert f"{host}:{port}" in {b["name"] for b in metadata["brokers"]}
        (listed,) = [t for t in metadata["topics"] if t["topic"] == topic]
        broker_ids = {b["id"] for b in metadata["brokers"]}
        assert all(p["leader"] in broker_ids and len(p["replicas"]) == 1 for p in listed["partitions"])
        admin.delete_topics([topic])
        assert topic not in partitions_listed(kafka_bootstrap)
    finally:
        admin.close()


def test_human_readable_listing(kafka_bootstrap):
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap, request_timeout_ms=10000)
    topic = topic_name("kcat-text")
    try:
        admin.create_topics([NewTopic(topic, 3, 1)])
    finally:
        admin.close()
    done = subprocess.run(["kcat", "-b", kafka_bootstrap, "-L"], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert f'topic "{topic}" with 3 partitions:' in done.stdout

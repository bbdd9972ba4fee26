"""engine.topics: the registry contract other helpers code against (memory backend, fake clock)."""

from __future__ import annotations

import pytest

from engine import Engine, EngineSettings
from engine.clock import FakeClock
from engine.errors import AlreadyExists, InvalidConfig, InvalidName, NotFound
from engine.topics import InvalidPartitions
from engine.types import TopicPartition
from tests.engine.log.batches import build_batch


@pytest.fixture
def engine():
    eng = Engine(data_dir=None, settings=EngineSettings(default_partitions=3), clock=FakeClock())
    eng.open()
    yield eng
    eng.close()


def test_create_get_names(engine):
    topic = engine.topics.create("orders", partitions=2, configs={"retention.ms": "1000"})
    assert engine.topics.get("orders") is topic
    assert engine.topics.names() == ["orders"]
    assert [p.tp for p in topic.partitions] == [TopicPartition(topic="orders", partition=i) for i in range(2)]
    assert topic.config.retention_ms == 1000 and topic.overrides == {"retention.ms": "1000"}
    assert engine.topics.get("nope") is None


@pytest.mark.parametrize("name", ["", ".", "..", "a" * 250, "bad name", "ü", "a/b"])
def test_illegal_names(engine, name):
    with pytest.raises(InvalidName):
        engine.topics.create(name, partitions=1)


def test_legal_edge_names(engine):
    engine.topics.create("a" * 249, partitions=1)
    engine.topics.create("A-b_c.9", partitions=1)


def test_collision_dot_underscore(engine):
    engine.topics.create("a.b", partitions=1)
    with pytest.raises(InvalidName):
        engine.topics.create("a_b", partitions=1)


def test_duplicate_bad_partitions_bad_config(engine):
    engine.topics.create("t", partitions=1)
    with pytest.raises(AlreadyExists):
        engine.topics.create("t", partitions=1)
    with pytest.raises(InvalidPartitions):
        engine.topics.create("u", partitions=0)
    with pytest.raises(InvalidConfig):
        engine.topics.create("u", partitions=1, configs={"cleanup.policy": "compact"})
    with pytest.raises(InvalidConfig):
        engine.topics.create("u", partitions=1, configs={"no.such.key": "1"})
    assert engine.topics.names() == ["t"]


def test_validate_only_creates_nothing(engine):
    topic = engine.topics.create("v", partitions=4, validate_only=True)
    assert topic.name == "v"
    assert engine.topics.get("v") is None


def test_delete_and_partition_lookup(engine):
    engine.topics.create("t", partitions=2)
    assert engine.topics.partition(TopicPartition(topic="t", partition=1)).high_watermark == 0
    with pytest.raises(NotFound):
        engine.topics.partition(TopicPartition(topic="t", partition=2))
    engine.topics.delete("t")
    with pytest.raises(NotFound):
        engine.topics.partition(TopicPartition(topic="t", partition=0))
    with pytest.raises(NotFound):
        engine.topics.delete("t")


def test_create_partitions(engine):
    engine.topics.create("t", partitions=1)
    with pytest.raises(InvalidPartitions):
        engine.topics.create_partitions("t", total=1)
    engine.topics.create_partitions("t", total=3, validate_only=True)
    assert len(engine.topics.get("t").partitions) == 1
    engine.topics.create_partitions("t", total=3)
    assert len(engine.topics.get("t").partitions) == 3
    with pytest.raises(NotFound):
        engine.topics.create_partitions("x", total=3)


def test_set_configs_replaces_and_applies_to_partitions(engine):
    topic = engine.topics.create("t", partitions=1, configs={"retention.ms": "5"})
    engine.topics.set_configs("t", {"max.message.bytes": "100"})
    assert topic.overrides == {"max.message.bytes": "100"}
    assert topic.config.retention_ms == 7 * 24 * 3600 * 1000
    assert topic.partitions[0].config.max_message_bytes == 100
    with pytest.raises(InvalidConfig):
        engine.topics.set_configs("t", {"segment.bytes": "nope"})
    assert topic.overrides == {"max.message.bytes": "100"}


def test_auto_create_uses_default_partitions(engine):
    topic = engine.topics.auto_create("auto")
    assert len(topic.partitions) == 3
    assert engine.topics.auto_create("auto") is topic


def test_files_backend_persists_topics_and_data(tmp_path):
    engine = Engine(data_dir=tmp_path, clock=FakeClock())
    engine.open()
    topic = engine.topics.create("keep", partitions=2, configs={"retention.bytes": "1000000"})
    topic_id = topic.topic_id
    engine.topics.partition(TopicPartition(topic="keep", partition=1)).append(build_batch([b"x", b"y"]))
    engine.topics.create("gone", partitions=1)
    engine.topics.delete("gone")
    engine.close()

    again = Engine(data_dir=tmp_path, clock=FakeClock())
    again.open()
    try:
        assert again.topics.names() == ["keep"]
        kept = again.topics.get("keep")
        assert kept.topic_id == topic_id
        assert kept.overrides == {"retention.bytes": "1000000"}
        assert kept.partitions[1].high_watermark == 2
        assert kept.partitions[0].high_watermark == 0
        assert not (tmp_path / "kafka" / "topics" / "gone").exists()
    finally:
        again.close()


def test_producer_ids_never_repeat_across_restart(tmp_path):
    engine = Engine(data_dir=tmp_path)
    engine.open()
    first = [engine.topics.producer_ids.init_producer_id().producer_id for _ in range(3)]
    engine.close()
    again = Engine(data_dir=tmp_path)
    again.open()
    later = again.topics.producer_ids.init_producer_id()
    again.close()
    assert len(set(first)) == 3 and later.producer_id > max(first) and later.producer_epoch == 0


def test_maintain_applies_retention_by_topic_config(engine):
    clock = engine.clock
    topic = engine.topics.create("short", partitions=1, configs={"retention.ms": "60000", "segment.bytes": "1000"})
    log = topic.partitions[0]
    for _ in range(10):
        log.append(build_batch([b"x" * 200], base_timestamp=clock.now_ms()))
    engine.topics.maintain()
    assert log.log_start_offset == 0
    clock.advance(60_001)
    engine.topics.maintain()
    assert log.log_start_offset == log.high_watermark == 10

"""The topic and broker config catalog: validation, resolution, description, incremental changes."""

from __future__ import annotations

import pytest

from engine.errors import InvalidConfig
from engine.settings import EngineSettings
from engine.topic_config import (
    BROKER_CATALOG,
    CATALOG,
    AlterConfig,
    AlterOp,
    CleanupPolicy,
    ConfigSource,
    ConfigType,
    TopicConfig,
    apply_incremental,
    broker_static_configs,
    check_broker_alter,
    describe_broker,
    describe_topic,
    resolve,
)


def test_defaults_resolve_to_kafka_defaults():
    assert resolve({}) == TopicConfig(retention_ms=604800000, retention_bytes=-1, segment_bytes=1073741824,
                                      max_message_bytes=1048588, cleanup_policy=CleanupPolicy.DELETE)


def test_honoured_keys_set_their_fields():
    config = resolve({"retention.ms": "-1", "retention.bytes": "1048576", "segment.bytes": "16384",
                      "max.message.bytes": "2048", "cleanup.policy": " delete "})
    assert config == TopicConfig(retention_ms=-1, retention_bytes=1048576, segment_bytes=16384,
                                 max_message_bytes=2048, cleanup_policy=CleanupPolicy.DELETE)


@pytest.mark.parametrize("value", ["compact", "compact,delete", "delete,compact"])
def test_compaction_is_refused(value):
    with pytest.raises(InvalidConfig, match="compact"):
        resolve({"cleanup.policy": value})


@pytest.mark.parametrize("overrides", [
    {"retention.ms": "-2"},
    {"retention.ms": "soon"},
    {"segment.bytes": "13"},
    {"segment.bytes": str(2**31)},  # an INT key
    {"max.message.bytes": "-1"},
    {"retention.bytes": str(2**63)},  # a LONG key
    {"cleanup.policy": ""},
])
def test_malformed_values_are_refused(overrides):
    with pytest.raises(InvalidConfig, match="Invalid value"):
        resolve(overrides)


def test_unknown_and_null_are_refused():
    with pytest.raises(InvalidConfig, match="Unknown topic config name: retention.minutes"):
        resolve({"retention.minutes": "1"})
    with pytest.raises(InvalidConfig, match="Null value"):
        resolve({"retention.ms": None})


@pytest.mark.parametrize("name,value", [
    ("compression.type", "producer"),
    ("min.insync.replicas", "1"),
    ("preallocate", "FALSE"),  # Kafka parses booleans case-insensitively
    ("message.timestamp.type", "CreateTime"),
    ("min.cleanable.dirty.ratio", "0.50"),
    ("leader.replication.throttled.replicas", ""),
    ("segment.ms", "604800000"),
])
def test_fixed_keys_accept_their_default(name, value):
    assert resolve({name: value}) == TopicConfig()


@pytest.mark.parametrize("name,value", [
    ("compression.type", "gzip"),
    ("min.insync.replicas", "2"),
    ("message.timestamp.type", "LogAppendTime"),
    ("segment.ms", "1000"),
    ("unclean.leader.election.enable", "true"),
    ("leader.replication.throttled.replicas", "0:1"),
])
def test_fixed_keys_refuse_anything_else(name, value):
    with pytest.raises(InvalidConfig, match="only its default"):
        resolve({name: value})


def test_every_fixed_key_default_validates():
    for key in CATALOG.values():
        if key.default is not None:
            resolve({key.name: key.default})


def test_describe_lists_every_key_with_its_default():
    entries = {e.name: e for e in describe_topic({})}
    assert set(entries) == set(CATALOG)
    assert {e.source for e in entries.values()} == {ConfigSource.DEFAULT_CONFIG}
    assert entries["retention.ms"].value == "604800000"
    assert entries["retention.ms"].type is ConfigType.LONG
    assert entries["cleanup.policy"].type is ConfigType.LIST
    assert not any(e.read_only for e in entries.values())
    # Kafka lists only broker synonyms that hold a value: log.retention.ms/minutes are unset.
    assert [(s.name, s.value) for s in entries["retention.ms"].synonyms] == [("log.retention.hours", "168")]


def test_describe_puts_an_override_first():
    (entry,) = describe_topic({"retention.ms": "1000"}, keys=["retention.ms", "not.a.key"])
    assert (entry.value, entry.source) == ("1000", ConfigSource.DYNAMIC_TOPIC_CONFIG)
    assert [(s.name, s.source) for s in entry.synonyms] == [
        ("retention.ms", ConfigSource.DYNAMIC_TOPIC_CONFIG), ("log.retention.hours", ConfigSource.DEFAULT_CONFIG)]


def test_broker_describe_reports_our_settings_as_static():
    static = broker_static_configs(EngineSettings(default_partitions=3, auto_create_topics=False, node_id=7))
    entries = {e.name: e for e in describe_broker(static)}
    assert set(entries) == set(BROKER_CATALOG)
    assert (entries["num.partitions"].value, entries["num.partitions"].source) == ("3", ConfigSource.STATIC_BROKER_CONFIG)
    assert entries["auto.create.topics.enable"].value == "false"
    assert entries["broker.id"].value == "7"
    assert (entries["default.replication.factor"].value, entries["default.replication.factor"].source) == (
        "1", ConfigSource.DEFAULT_CONFIG)
    assert entries["log.retention.ms"].value is None and entries["log.retention.ms"].synonyms == ()
    assert all(e.read_only for e in entries.values())
    (only,) = describe_broker(static, keys=["message.max.bytes"])
    assert only.value == "1048588"


def test_every_topic_synonym_is_a_listed_broker_key():
    for key in CATALOG.values():
        for synonym in key.synonyms:
            assert synonym in BROKER_CATALOG, (key.name, synonym)


def test_incremental_set_and_delete():
    result = apply_incremental({"retention.ms": "1000", "segment.bytes": "20000"}, [
        AlterConfig(name="retention.ms", op=AlterOp.DELETE),
        AlterConfig(name="retention.bytes", op=AlterOp.SET, value="5000"),
        AlterConfig(name="max.message.bytes", op=AlterOp.DELETE),  # not set: nothing to do
    ])
    assert result == {"segment.bytes": "20000", "retention.bytes": "5000"}


def test_incremental_append_and_subtract_work_on_lists_from_the_default():
    # Appending what the default already holds keeps it once.
    assert apply_incremental({}, [AlterConfig(name="cleanup.policy", op=AlterOp.APPEND, value="delete")]) == {
        "cleanup.policy": "delete"}
    with pytest.raises(InvalidConfig, match="compact"):
        apply_incremental({}, [AlterConfig(name="cleanup.policy", op=AlterOp.APPEND, value="compact")])
    with pytest.raises(InvalidConfig, match="Invalid value"):
        apply_incremental({}, [AlterConfig(name="cleanup.policy", op=AlterOp.SUBTRACT, value="delete")])
    with pytest.raises(InvalidConfig, match="not LIST"):
        apply_incremental({}, [AlterConfig(name="retention.ms", op=AlterOp.APPEND, value="1")])


def test_incremental_refuses_unknown_and_null():
    with pytest.raises(InvalidConfig, match="Unknown"):
        apply_incremental({}, [AlterConfig(name="bogus", op=AlterOp.SET, value="1")])
    with pytest.raises(InvalidConfig, match="Null"):
        apply_incremental({}, [AlterConfig(name="retention.ms", op=AlterOp.SET, value=None)])


def test_broker_configs_cannot_be_altered():
    check_broker_alter([])
    with pytest.raises(InvalidConfig, match="dynamically: num.partitions"):
        check_broker_alter(["num.partitions"])
    with pytest.raises(InvalidConfig, match="Unknown broker configs: nope"):
        check_broker_alter(["nope", "num.partitions"])


def test_no_static_broker_setting_is_a_topic_synonym():
    # describe_topic reports a key without an override at its catalog default; that is only
    # right while our settings never set a broker key that a topic key inherits from.
    static = broker_static_configs(EngineSettings())
    synonyms = {s for key in CATALOG.values() for s in key.synonyms}
    assert not synonyms & set(static)

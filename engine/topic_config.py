"""Topic and broker configs: the catalog of every key, its default, and the ones the log honours.

Kafka's configs are strings on the wire; the engine keeps each topic's *overrides* (what a
client set, verbatim) and resolves them against the defaults here into a typed
`TopicConfig`. The catalog follows Apache Kafka 3.9's `LogConfig` (the topic keys a Kafka
broker lists in DescribeConfigs, minus the message-format keys Kafka 4.0 removed) and a
subset of `KafkaConfig` for the broker resource, with Kafka's names, types and defaults.

Three kinds of topic key:
- *honoured*: retention.ms, retention.bytes, segment.bytes, max.message.bytes and
  cleanup.policy=delete set a `TopicConfig` field the log acts on;
- *fixed*: every other key is listed with its Kafka default, and setting it is accepted only
  when the value equals that default (it then describes what the log really does; admin
  tools read-modify-write the whole set, so refusing the default would break them). Any
  other value is refused with InvalidConfig — never accept a config that does nothing;
- unknown keys are refused ("Unknown topic config name", as Kafka).
`cleanup.policy=compact` is refused until compaction exists.

Broker configs are listed for DescribeConfigs on the BROKER resource (librdkafka and
Materialize read num.partitions and default.replication.factor there; an emulator that
omitted them broke them — reference/kafka-clients.md). The broker cannot change any of
them at run time, so all are read-only; the ones our own settings drive are reported as
STATIC_BROKER_CONFIG (as Kafka reports keys set in server.properties), the rest as
DEFAULT_CONFIG.

Sources and types use the numbering of Kafka's DescribeConfigsResponse (KIP-226 sources,
KIP-569 types); they describe a config, so they live here rather than in the wire layer.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Callable, Iterable, Mapping

from engine.errors import InvalidConfig
from engine.settings import EngineSettings


class ConfigType(enum.IntEnum):
    """KIP-569 (DescribeConfigsResponse.ConfigType)."""

    UNKNOWN = 0
    BOOLEAN = 1
    STRING = 2
    INT = 3
    SHORT = 4
    LONG = 5
    DOUBLE = 6
    LIST = 7
    CLASS = 8
    PASSWORD = 9


class ConfigSource(enum.IntEnum):
    """KIP-226 (DescribeConfigsResponse.ConfigSource)."""

    UNKNOWN = 0
    DYNAMIC_TOPIC_CONFIG = 1
    DYNAMIC_BROKER_CONFIG = 2
    DYNAMIC_DEFAULT_BROKER_CONFIG = 3
    STATIC_BROKER_CONFIG = 4
    DEFAULT_CONFIG = 5
    DYNAMIC_BROKER_LOGGER_CONFIG = 6


class AlterOp(enum.IntEnum):
    """KIP-339 incremental operations (IncrementalAlterConfigs config_operation)."""

    SET = 0
    DELETE = 1
    APPEND = 2
    SUBTRACT = 3


class CleanupPolicy(enum.StrEnum):
    DELETE = "delete"


LONG_MAX = 2**63 - 1
INT_MAX = 2**31 - 1


@dataclass(frozen=True, slots=True, kw_only=True)
class TopicConfig:
    """A topic's effective settings (defaults merged with its overrides)."""

    retention_ms: int = 7 * 24 * 3600 * 1000  # -1: unlimited
    retention_bytes: int = -1  # per partition; -1: unlimited
    segment_bytes: int = 1024 * 1024 * 1024
    max_message_bytes: int = 1048588
    cleanup_policy: CleanupPolicy = CleanupPolicy.DELETE


# Slotted dataclasses keep no class-level defaults; read them from an instance.
_DEFAULTS = TopicConfig()


# -- value parsers (each raises ValueError with the reason) ------------------------------


def _number(kind: ConfigType, minimum: int | None = None) -> Callable[[str], int]:
    low, high = (-(2**31), INT_MAX) if kind is ConfigType.INT else (-(2**63), LONG_MAX)
    if kind is ConfigType.SHORT:
        low, high = -(2**15), 2**15 - 1

    def parse(text: str) -> int:
        try:
            value = int(text.strip())
        except ValueError:
            raise ValueError(f"Not a number of type {kind.name}") from None
        if not low <= value <= high:
            raise ValueError(f"Not a number of type {kind.name}")
        if minimum is not None and value < minimum:
            raise ValueError(f"Value must be at least {minimum}")
        return value

    return parse


def _double(text: str) -> float:
    try:
        return float(text.strip())
    except ValueError:
        raise ValueError("Not a number of type DOUBLE") from None


def _boolean(text: str) -> bool:
    # Kafka's ConfigDef parses BOOLEAN case-insensitively and accepts nothing else.
    lowered = text.strip().lower()
    if lowered not in ("true", "false"):
        raise ValueError("Expected value to be either true or false")
    return lowered == "true"


def _string(text: str) -> str:
    return text.strip()


def _list(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


_PARSERS: dict[ConfigType, Callable[[str], object]] = {
    ConfigType.BOOLEAN: _boolean,
    ConfigType.STRING: _string,
    ConfigType.INT: _number(ConfigType.INT),
    ConfigType.SHORT: _number(ConfigType.SHORT),
    ConfigType.LONG: _number(ConfigType.LONG),
    ConfigType.DOUBLE: _double,
    ConfigType.LIST: _list,
}


def _cleanup_policy(text: str) -> CleanupPolicy:
    policies = _list(text)
    if "compact" in policies:
        raise ValueError("compaction is not implemented by mqgateway; only cleanup.policy=delete is supported")
    if policies != ("delete",):
        raise ValueError("String must be one of: compact, delete")
    return CleanupPolicy.DELETE


def _only_default(kind: ConfigType, default: str | None) -> Callable[[str], object]:
    """A parser for a key the log does not act on: only the behaviour it has is accepted."""
    parse = _PARSERS[kind]
    expected = None if default is None else parse(default)

    def check(text: str) -> object:
        value = parse(text)
        if value != expected:
            raise ValueError(f"mqgateway does not implement this setting; only its default ({default}) is accepted")
        return value

    return check


# -- the topic catalog -------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class ConfigKey:
    name: str
    type: ConfigType
    default: str | None
    doc: str
    field: str | None  # the TopicConfig field it sets; None: fixed at its default
    parse: Callable[[str], object]  # raises ValueError; a fixed key's accepts only its default
    synonyms: tuple[str, ...] = ()  # broker keys Kafka names as synonyms, highest precedence first
    sensitive: bool = False

    @property
    def honoured(self) -> bool:
        return self.field is not None

    def check(self, text: str) -> object:
        """Parses `text`, raising ValueError if it is malformed or not accepted."""
        return self.parse(text)


def _honoured(name: str, kind: ConfigType, default: str, doc: str, *, field: str,
              parse: Callable[[str], object], synonyms: tuple[str, ...]) -> ConfigKey:
    return ConfigKey(name=name, type=kind, default=default, doc=doc, field=field, parse=parse, synonyms=synonyms)


def _fixed(name: str, kind: ConfigType, default: str | None, doc: str, synonyms: tuple[str, ...] = ()) -> ConfigKey:
    return ConfigKey(name=name, type=kind, default=default, doc=doc + " Not implemented: only the default is accepted.",
                     field=None, parse=_only_default(kind, default), synonyms=synonyms)


_L, _I, _SHORT, _S, _B, _D, _LIST = (ConfigType.LONG, ConfigType.INT, ConfigType.SHORT, ConfigType.STRING,
                                     ConfigType.BOOLEAN, ConfigType.DOUBLE, ConfigType.LIST)

CATALOG: dict[str, ConfigKey] = {
    k.name: k
    for k in sorted((
        _honoured("retention.ms", _L, str(_DEFAULTS.retention_ms),
                  "How long a closed segment is kept before it is deleted; -1 keeps it forever.",
                  field="retention_ms", parse=_number(_L, -1),
                  synonyms=("log.retention.ms", "log.retention.minutes", "log.retention.hours")),
        _honoured("retention.bytes", _L, "-1",
                  "The size a partition may grow to before its oldest segments are deleted; -1: no limit.",
                  field="retention_bytes", parse=_number(_L, -1), synonyms=("log.retention.bytes",)),
        _honoured("segment.bytes", _I, str(_DEFAULTS.segment_bytes),
                  "The size at which a partition's active segment is closed and a new one started.",
                  field="segment_bytes", parse=_number(_I, 14), synonyms=("log.segment.bytes",)),
        _honoured("max.message.bytes", _I, str(_DEFAULTS.max_message_bytes),
                  "The largest record batch the topic accepts (after compression).",
                  field="max_message_bytes", parse=_number(_I, 0), synonyms=("message.max.bytes",)),
        _honoured("cleanup.policy", _LIST, "delete",
                  "delete: old segments are removed by retention. compact is not implemented yet.",
                  field="cleanup_policy", parse=_cleanup_policy, synonyms=("log.cleanup.policy",)),
        _fixed("compression.type", _S, "producer", "Batches are stored as the producer compressed them.",
               ("compression.type",)),
        _fixed("compression.gzip.level", _I, "-1", "Recompression level for gzip.", ("compression.gzip.level",)),
        _fixed("compression.lz4.level", _I, "9", "Recompression level for lz4.", ("compression.lz4.level",)),
        _fixed("compression.zstd.level", _I, "3", "Recompression level for zstd.", ("compression.zstd.level",)),
        _fixed("delete.retention.ms", _L, "86400000", "How long delete tombstones are kept on compacted topics.",
               ("log.cleaner.delete.retention.ms",)),
        _fixed("file.delete.delay.ms", _L, "60000", "Delay before a deleted segment's file is removed.",
               ("log.segment.delete.delay.ms",)),
        _fixed("flush.messages", _L, str(LONG_MAX), "Messages between forced fsyncs of the log.",
               ("log.flush.interval.messages",)),
        _fixed("flush.ms", _L, str(LONG_MAX), "Time between forced fsyncs of the log.",
               ("log.flush.interval.ms", "log.flush.scheduler.interval.ms")),
        _fixed("follower.replication.throttled.replicas", _LIST, "", "Replicas throttled on the follower side."),
        _fixed("index.interval.bytes", _I, "4096", "Bytes between offset index entries.",
               ("log.index.interval.bytes",)),
        _fixed("leader.replication.throttled.replicas", _LIST, "", "Replicas throttled on the leader side."),
        _fixed("local.retention.bytes", _L, "-2", "Local retention size with tiered storage (-2: retention.bytes).",
               ("log.local.retention.bytes",)),
        _fixed("local.retention.ms", _L, "-2", "Local retention time with tiered storage (-2: retention.ms).",
               ("log.local.retention.ms",)),
        _fixed("max.compaction.lag.ms", _L, str(LONG_MAX), "Longest time a record stays uncompacted.",
               ("log.cleaner.max.compaction.lag.ms",)),
        _fixed("message.timestamp.after.max.ms", _L, str(LONG_MAX),
               "How far a record timestamp may lie ahead of the broker's clock (not checked).",
               ("log.message.timestamp.after.max.ms",)),
        _fixed("message.timestamp.before.max.ms", _L, str(LONG_MAX),
               "How far a record timestamp may lie behind the broker's clock (not checked).",
               ("log.message.timestamp.before.max.ms",)),
        _fixed("message.timestamp.type", _S, "CreateTime", "Records keep the producer's timestamps.",
               ("log.message.timestamp.type",)),
        _fixed("min.cleanable.dirty.ratio", _D, "0.5", "Dirty ratio at which compaction starts.",
               ("log.cleaner.min.cleanable.ratio",)),
        _fixed("min.compaction.lag.ms", _L, "0", "Shortest time a record stays uncompacted.",
               ("log.cleaner.min.compaction.lag.ms",)),
        _fixed("min.insync.replicas", _I, "1", "Replicas that must acknowledge an acks=all write (one node).",
               ("min.insync.replicas",)),
        _fixed("preallocate", _B, "false", "Preallocate segment files.", ("log.preallocate",)),
        _fixed("remote.log.copy.disable", _B, "false", "Stop copying segments to tiered storage."),
        _fixed("remote.log.delete.on.disable", _B, "false", "Delete tiered segments when tiering is disabled."),
        _fixed("remote.storage.enable", _B, "false", "Tiered storage for the topic."),
        _fixed("segment.index.bytes", _I, "10485760", "Size of a segment's offset index.",
               ("log.index.size.max.bytes",)),
        _fixed("segment.jitter.ms", _L, "0", "Random jitter subtracted from segment.ms.",
               ("log.roll.jitter.ms", "log.roll.jitter.hours")),
        _fixed("segment.ms", _L, "604800000", "Time after which the active segment is rolled.",
               ("log.roll.ms", "log.roll.hours")),
        _fixed("unclean.leader.election.enable", _B, "false", "Elect out-of-sync replicas as leader (one node).",
               ("unclean.leader.election.enable",)),
    ), key=lambda k: k.name)
}


# -- the broker catalog ------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class BrokerKey:
    name: str
    type: ConfigType
    default: str | None
    doc: str
    sensitive: bool = False


def _broker(name: str, kind: ConfigType, default: str | None, doc: str) -> BrokerKey:
    return BrokerKey(name=name, type=kind, default=default, doc=doc)


# Kafka's KafkaConfig keys a client may look for, with Kafka's defaults. Keys whose value
# our settings decide are filled in by `broker_static_configs` (and advertised.listeners by
# the Kafka listener, which alone knows its address).
BROKER_CATALOG: dict[str, BrokerKey] = {
    k.name: k
    for k in sorted((
        _broker("advertised.listeners", _S, None, "The address clients are told to connect to."),
        _broker("auto.create.topics.enable", _B, "true", "Create a topic when a client asks for its metadata."),
        _broker("broker.id", _I, "-1", "This broker's id."),
        _broker("node.id", _I, "-1", "This node's id."),
        _broker("compression.type", _S, "producer", "Batches are stored as the producer compressed them."),
        _broker("compression.gzip.level", _I, "-1", "Recompression level for gzip."),
        _broker("compression.lz4.level", _I, "9", "Recompression level for lz4."),
        _broker("compression.zstd.level", _I, "3", "Recompression level for zstd."),
        _broker("default.replication.factor", _I, "1", "Replication factor of topics created without one."),
        _broker("delete.topic.enable", _B, "true", "Topics may be deleted."),
        _broker("group.initial.rebalance.delay.ms", _I, "3000", "Delay of a new group's first rebalance."),
        _broker("group.max.session.timeout.ms", _I, "1800000", "Longest session timeout a member may ask for."),
        _broker("group.min.session.timeout.ms", _I, "6000", "Shortest session timeout a member may ask for."),
        _broker("log.cleaner.delete.retention.ms", _L, "86400000", "Default delete.retention.ms."),
        _broker("log.cleaner.enable", _B, "true", "Run the log cleaner (compaction)."),
        _broker("log.cleaner.max.compaction.lag.ms", _L, str(LONG_MAX), "Default max.compaction.lag.ms."),
        _broker("log.cleaner.min.cleanable.ratio", _D, "0.5", "Default min.cleanable.dirty.ratio."),
        _broker("log.cleaner.min.compaction.lag.ms", _L, "0", "Default min.compaction.lag.ms."),
        _broker("log.cleanup.policy", _LIST, "delete", "Default cleanup.policy."),
        _broker("log.flush.interval.messages", _L, str(LONG_MAX), "Default flush.messages."),
        _broker("log.flush.interval.ms", _L, None, "Default flush.ms (log.flush.scheduler.interval.ms when unset)."),
        _broker("log.flush.scheduler.interval.ms", _L, str(LONG_MAX), "How often the flusher runs."),
        _broker("log.index.interval.bytes", _I, "4096", "Default index.interval.bytes."),
        _broker("log.index.size.max.bytes", _I, "10485760", "Default segment.index.bytes."),
        _broker("log.local.retention.bytes", _L, "-2", "Default local.retention.bytes."),
        _broker("log.local.retention.ms", _L, "-2", "Default local.retention.ms."),
        _broker("log.message.timestamp.after.max.ms", _L, str(LONG_MAX), "Default message.timestamp.after.max.ms."),
        _broker("log.message.timestamp.before.max.ms", _L, str(LONG_MAX), "Default message.timestamp.before.max.ms."),
        _broker("log.message.timestamp.type", _S, "CreateTime", "Default message.timestamp.type."),
        _broker("log.preallocate", _B, "false", "Default preallocate."),
        _broker("log.retention.bytes", _L, "-1", "Default retention.bytes."),
        _broker("log.retention.check.interval.ms", _L, "300000", "How often retention is applied."),
        _broker("log.retention.hours", _I, "168", "Default retention time in hours."),
        _broker("log.retention.minutes", _I, None, "Default retention time in minutes (hours when unset)."),
        _broker("log.retention.ms", _L, None, "Default retention.ms (minutes when unset)."),
        _broker("log.roll.hours", _I, "168", "Default segment roll time in hours."),
        _broker("log.roll.jitter.hours", _I, "0", "Default segment jitter in hours."),
        _broker("log.roll.jitter.ms", _L, None, "Default segment.jitter.ms (hours when unset)."),
        _broker("log.roll.ms", _L, None, "Default segment.ms (hours when unset)."),
        _broker("log.segment.bytes", _I, str(_DEFAULTS.segment_bytes), "Default segment.bytes."),
        _broker("log.segment.delete.delay.ms", _L, "60000", "Default file.delete.delay.ms."),
        _broker("message.max.bytes", _I, str(_DEFAULTS.max_message_bytes), "Default max.message.bytes."),
        _broker("min.insync.replicas", _I, "1", "Default min.insync.replicas."),
        _broker("num.partitions", _I, "1", "Partitions of topics created without a count."),
        _broker("offsets.retention.minutes", _I, "10080", "How long committed offsets of an empty group are kept."),
        _broker("offsets.topic.num.partitions", _I, "50", "Partitions of the offsets topic."),
        _broker("offsets.topic.replication.factor", _SHORT, "3",
                "Replication factor of the offsets topic."),
        _broker("transaction.max.timeout.ms", _I, "900000", "Longest transaction timeout a producer may ask for."),
        _broker("transaction.state.log.min.isr", _I, "2", "min.insync.replicas of the transaction log."),
        _broker("transaction.state.log.replication.factor", _SHORT, "3",
                "Replication factor of the transaction log."),
        _broker("unclean.leader.election.enable", _B, "false", "Default unclean.leader.election.enable."),
    ), key=lambda k: k.name)
}


def broker_static_configs(settings: EngineSettings) -> dict[str, str]:
    """The broker keys our settings decide (Kafka reports such keys as STATIC_BROKER_CONFIG)."""
    return {
        "broker.id": str(settings.node_id),
        "node.id": str(settings.node_id),
        "num.partitions": str(settings.default_partitions),
        "auto.create.topics.enable": str(settings.auto_create_topics).lower(),
        "group.initial.rebalance.delay.ms": str(settings.group_initial_rebalance_delay_ms),
        # One node: the internal topics are single-replica, and there is no cleaner.
        "offsets.topic.replication.factor": "1",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "log.cleaner.enable": "false",
    }


# -- validation --------------------------------------------------------------------------


def validate(overrides: Mapping[str, str]) -> None:
    """Raises InvalidConfig for an unknown key or a value the log would not honour."""
    resolve(overrides)


def resolve(overrides: Mapping[str, str]) -> TopicConfig:
    """Validates overrides and returns the effective config; raises InvalidConfig."""
    values: dict[str, object] = {}
    for name, text in overrides.items():
        key = CATALOG.get(name)
        if key is None:
            raise InvalidConfig(f"Unknown topic config name: {name}")
        if text is None:
            raise InvalidConfig(f"Null value not supported for topic configs: {name}")
        try:
            value = key.check(str(text))
        except (ValueError, TypeError) as exc:
            raise InvalidConfig(f"Invalid value {text} for configuration {name}: {exc}") from None
        if key.field is not None:
            values[key.field] = value
    return TopicConfig(**values)


@dataclass(frozen=True, slots=True, kw_only=True)
class AlterConfig:
    """One incremental change to a topic's overrides (KIP-339)."""

    name: str
    op: AlterOp
    value: str | None = None


def apply_incremental(overrides: Mapping[str, str], changes: Iterable[AlterConfig]) -> dict[str, str]:
    """The override set after `changes`, validated; raises InvalidConfig.

    APPEND and SUBTRACT apply to LIST keys only and start from the current value — the
    override, else the default — as Kafka's KRaft controller does; APPEND skips values
    already present. A SET or DELETE of a key twice in one request is the caller's check.
    """
    result = dict(overrides)
    for change in changes:
        key = CATALOG.get(change.name)
        if key is None:
            raise InvalidConfig(f"Unknown topic config name: {change.name}")
        if change.op is AlterOp.DELETE:
            result.pop(change.name, None)
            continue
        if change.value is None:
            raise InvalidConfig(f"Null value not supported for topic configs: {change.name}")
        if change.op is AlterOp.SET:
            result[change.name] = change.value
            continue
        if key.type is not ConfigType.LIST:
            raise InvalidConfig(f"Can't {change.op.name} to key {change.name} because its type is not LIST.")
        current = result.get(change.name, key.default or "")
        parts = list(_list(current))
        for item in _list(change.value):
            if change.op is AlterOp.APPEND and item not in parts:
                parts.append(item)
            elif change.op is AlterOp.SUBTRACT and item in parts:
                parts.remove(item)
        result[change.name] = ",".join(parts)
    resolve(result)
    return result


def check_broker_alter(names: Iterable[str]) -> None:
    """Every broker config is fixed at run time; raises InvalidConfig naming what was asked."""
    names = sorted(set(names))
    unknown = [n for n in names if n not in BROKER_CATALOG]
    if unknown:
        raise InvalidConfig(f"Unknown broker configs: {', '.join(unknown)}")
    if names:
        raise InvalidConfig(f"Cannot update these configs dynamically: {', '.join(names)}")


# -- description (DescribeConfigs, CreateTopics v5+) -------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class ConfigSynonym:
    name: str
    value: str | None
    source: ConfigSource


@dataclass(frozen=True, slots=True, kw_only=True)
class ConfigEntry:
    name: str
    value: str | None
    source: ConfigSource
    read_only: bool
    sensitive: bool
    type: ConfigType
    doc: str | None
    synonyms: tuple[ConfigSynonym, ...]


def _broker_value(name: str, static: Mapping[str, str]) -> tuple[str | None, ConfigSource]:
    if name in static:
        return static[name], ConfigSource.STATIC_BROKER_CONFIG
    key = BROKER_CATALOG.get(name)
    return (key.default if key else None), ConfigSource.DEFAULT_CONFIG


def _broker_synonyms(names: Iterable[str], static: Mapping[str, str]) -> list[ConfigSynonym]:
    # Kafka lists only the broker synonyms that hold a value (ConfigHelper.createTopicConfigEntry).
    synonyms = []
    for name in names:
        value, source = _broker_value(name, static)
        if value is not None:
            synonyms.append(ConfigSynonym(name=name, value=value, source=source))
    return synonyms


def describe_topic(overrides: Mapping[str, str], *, broker_static: Mapping[str, str] = {},
                   keys: Iterable[str] | None = None) -> tuple[ConfigEntry, ...]:
    """Every topic config (or those named in `keys`; unknown names are skipped, as Kafka does).

    A key's value is the topic's override (DYNAMIC_TOPIC_CONFIG) or its default. Its
    synonyms run from the override through the broker keys that hold a value, highest
    precedence first (KIP-226), and its source is that of the first synonym.
    """
    wanted = CATALOG if keys is None else [k for k in dict.fromkeys(keys) if k in CATALOG]
    entries = []
    for name in wanted:
        key = CATALOG[name]
        synonyms = _broker_synonyms(key.synonyms, broker_static)
        if name in overrides:
            synonyms.insert(0, ConfigSynonym(name=name, value=overrides[name],
                                              source=ConfigSource.DYNAMIC_TOPIC_CONFIG))
        # Kafka reports the source of the synonym that wins (ConfigHelper.createTopicConfigEntry).
        # The value of a key without an override is its default: no broker key our settings
        # set statically is a topic synonym (test_topic_config checks this).
        value = overrides[name] if name in overrides else key.default
        source = synonyms[0].source if synonyms else ConfigSource.DEFAULT_CONFIG
        entries.append(ConfigEntry(name=name, value=value, source=source, read_only=False,
                                   sensitive=key.sensitive, type=key.type, doc=key.doc,
                                   synonyms=tuple(synonyms)))
    return tuple(entries)


def describe_broker(static: Mapping[str, str], *, keys: Iterable[str] | None = None) -> tuple[ConfigEntry, ...]:
    """Every broker config (or those named in `keys`), all read-only."""
    wanted = BROKER_CATALOG if keys is None else [k for k in dict.fromkeys(keys) if k in BROKER_CATALOG]
    entries = []
    for name in wanted:
        key = BROKER_CATALOG[name]
        value, source = _broker_value(name, static)
        synonyms = (ConfigSynonym(name=name, value=value, source=source),) if value is not None else ()
        entries.append(ConfigEntry(name=name, value=value, source=source, read_only=True,
                                   sensitive=key.sensitive, type=key.type, doc=key.doc, synonyms=synonyms))
    return tuple(entries)

"""Topic configs: the catalog of every key, its default, and the ones the log honours.

Kafka's topic configs are strings on the wire; the engine keeps each topic's *overrides*
(what a client set) and resolves them against the defaults here into a typed
`TopicConfig`. Keys the log does not act on yet are refused with InvalidConfig rather than
accepted and ignored ("never accept a config that does nothing"), except that
DescribeConfigs still lists them with their Kafka defaults (see `CATALOG`), since admin
tools read-modify-write the whole set.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Callable, Mapping

from engine.errors import InvalidConfig


class CleanupPolicy(enum.StrEnum):
    DELETE = "delete"


@dataclass(frozen=True, slots=True, kw_only=True)
class TopicConfig:
    """A topic's effective settings (defaults merged with its overrides)."""

    retention_ms: int = 7 * 24 * 3600 * 1000  # -1: unlimited
    retention_bytes: int = -1  # per partition; -1: unlimited
    segment_bytes: int = 1024 * 1024 * 1024
    max_message_bytes: int = 1048588
    cleanup_policy: CleanupPolicy = CleanupPolicy.DELETE


def _long(minimum: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        value = int(text)
        if value < minimum:
            raise ValueError(f"must be at least {minimum}")
        return value

    return parse


def _cleanup_policy(text: str) -> CleanupPolicy:
    policies = [p.strip() for p in text.split(",") if p.strip()]
    if policies == ["delete"]:
        return CleanupPolicy.DELETE
    if "compact" in policies:
        raise ValueError("compaction is not implemented")
    raise ValueError("expected delete")


@dataclass(frozen=True, slots=True, kw_only=True)
class ConfigKey:
    name: str
    default: str
    field: str | None  # TopicConfig field it sets; None: listed with its default but not settable
    parse: Callable[[str], object] | None = None
    broker_synonym: str | None = None  # the broker-level key Kafka names as its synonym
    sensitive: bool = False


# Every key honoured by the log, then the common ones listed for DescribeConfigs.
CATALOG: dict[str, ConfigKey] = {
    k.name: k
    for k in (
        ConfigKey(name="retention.ms", default=str(TopicConfig.retention_ms), field="retention_ms",
                  parse=_long(-1), broker_synonym="log.retention.ms"),
        ConfigKey(name="retention.bytes", default="-1", field="retention_bytes", parse=_long(-1),
                  broker_synonym="log.retention.bytes"),
        ConfigKey(name="segment.bytes", default=str(TopicConfig.segment_bytes), field="segment_bytes",
                  parse=_long(14), broker_synonym="log.segment.bytes"),
        ConfigKey(name="max.message.bytes", default=str(TopicConfig.max_message_bytes), field="max_message_bytes",
                  parse=_long(0), broker_synonym="message.max.bytes"),
        ConfigKey(name="cleanup.policy", default="delete", field="cleanup_policy", parse=_cleanup_policy,
                  broker_synonym="log.cleanup.policy"),
    )
}


def resolve(overrides: Mapping[str, str]) -> TopicConfig:
    """Validates overrides and returns the effective config; raises InvalidConfig."""
    values: dict[str, object] = {}
    for name, text in overrides.items():
        key = CATALOG.get(name)
        if key is None or key.field is None or key.parse is None:
            raise InvalidConfig(f"Unknown or unsupported topic config name: {name}")
        try:
            values[key.field] = key.parse(str(text))
        except (ValueError, TypeError) as exc:
            raise InvalidConfig(f"Invalid value {text} for configuration {name}: {exc}") from None
    return TopicConfig(**values)

"""The coordinator's limits and timings, with Kafka's broker defaults (one place for all of them).

Operator settings (EngineSettings): `initial_rebalance_delay_ms` (Kafka's
`group.initial.rebalance.delay.ms`, default 0 here where Kafka's is 3000: a lone consumer
must not wait three seconds for company that is not coming) and `min_session_timeout_ms`
(`group.min.session.timeout.ms`, Kafka's 6000; client test suites run their brokers with
1000 to use short session timeouts).
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.settings import EngineSettings


@dataclass(frozen=True, slots=True, kw_only=True)
class GroupConfig:
    initial_rebalance_delay_ms: int = 0
    # group.min.session.timeout.ms / group.max.session.timeout.ms
    min_session_timeout_ms: int = 6_000
    max_session_timeout_ms: int = 1_800_000
    # GroupCoordinator.NewMemberJoinTimeoutMs: a new member parked in a rebalance is dropped
    # after this, since it cannot heartbeat before it knows its generation (KIP-394).
    new_member_join_timeout_ms: int = 300_000
    # offsets.retention.minutes (7 days) and offsets.retention.check.interval.ms
    offsets_retention_ms: int = 7 * 24 * 3600 * 1000
    offsets_retention_check_interval_ms: int = 600_000
    # offset.metadata.max.bytes
    offset_metadata_max_bytes: int = 4096
    # Journal compaction: rewrite once this many bytes were appended and the file is at
    # least `compact_ratio` times the size of the live state.
    compact_min_bytes: int = 4 * 1024 * 1024
    compact_ratio: int = 4

    @classmethod
    def from_settings(cls, settings: EngineSettings) -> "GroupConfig":
        return cls(initial_rebalance_delay_ms=settings.group_initial_rebalance_delay_ms,
                   min_session_timeout_ms=settings.group_min_session_timeout_ms)

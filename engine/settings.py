"""Engine-wide settings, built by gateway from its Config (the engine never reads Config)."""

from __future__ import annotations

from dataclasses import dataclass

from engine.durability import FsyncPolicy


@dataclass(frozen=True, slots=True, kw_only=True)
class EngineSettings:
    default_partitions: int = 1
    auto_create_topics: bool = True
    group_initial_rebalance_delay_ms: int = 0
    group_min_session_timeout_ms: int = 6_000
    node_id: int = 1
    cluster_id: str = "mqgateway-cluster-0001"
    # engine/durability.py: when appends reach the disk, and whether acks wait for it.
    fsync: FsyncPolicy = FsyncPolicy.NEVER
    fsync_interval_ms: int = 1000

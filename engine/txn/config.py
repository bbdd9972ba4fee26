"""The transaction coordinator's limits and timings, with Kafka's broker defaults in one place."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True, kw_only=True)
class TxnConfig:
    # transaction.max.timeout.ms: the largest transaction.timeout.ms a producer may ask for.
    max_timeout_ms: int = 900_000
    # transactional.id.expiration.ms: an idle id (no transaction open) is forgotten after this;
    # Kafka looks for such ids hourly (transaction.remove.expired.transaction.cleanup.interval.ms).
    id_expiration_ms: int = 7 * 24 * 3600 * 1000
    id_expiration_check_interval_ms: int = 3_600_000
    # How soon markers that could not be written (a storage error) are tried again; the
    # transaction answers CONCURRENT_TRANSACTIONS until then, as Kafka's does while its
    # marker requests are in flight.
    marker_retry_ms: int = 1_000
    # Journal compaction: rewrite once this many bytes were appended and the file is at
    # least `compact_ratio` times the size of the live state.
    compact_min_bytes: int = 1024 * 1024
    compact_ratio: int = 4

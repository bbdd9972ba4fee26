"""Helpers shared by the Kafka compat tests (names, expected records)."""

from __future__ import annotations

import uuid


def topic_name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def keyed_records(count: int, partitions: int = 3) -> list[tuple[bytes, bytes, list[tuple[str, bytes]]]]:
    """(key, value, headers) triples; keys spread over partitions by the client's partitioner."""
    return [(f"key-{i % (partitions * 2)}".encode(), f"value-{i}".encode() * (1 + i % 5),
             [("h-index", str(i).encode()), ("h-const", b"\x00\xffbin")]) for i in range(count)]

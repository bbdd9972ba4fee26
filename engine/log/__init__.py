"""Partition logs: RecordBatch v2 stored verbatim in segments with sparse indexes (DESIGN.md §2).

    batch.py           the batch header: validation, CRC, offset rewrite
    records.py         record-level reading, only for timestamp lookups
    segment.py         one segment and its offset and time indexes (files and memory data)
    storage.py         a partition's folder, or memory
    producer_state.py  idempotent-producer sequences per partition
    partition.py       PartitionLog: append, read, lookups, retention, recovery
"""

from engine.log.partition import AppendResult, PartitionLog, TimestampOffset

__all__ = ["AppendResult", "PartitionLog", "TimestampOffset"]

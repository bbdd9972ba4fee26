"""Builders of the data-path requests at any version (kio classes differ per version)."""

from __future__ import annotations

import importlib
from datetime import timedelta

from kafka_wire.build import make


def _module(api: str, version: int, kind: str = "request"):
    return importlib.import_module(f"kio.schema.{api}.v{version}.{kind}")


def produce(version: int, topic: str, records: bytes | None, *, partition: int = 0, acks: int = -1):
    m = _module("produce", version)
    data = m.TopicProduceData(name=topic, partition_data=(m.PartitionProduceData(index=partition, records=records),))
    return m.ProduceRequest(transactional_id=None, acks=acks, timeout=timedelta(seconds=5), topic_data=(data,))


def fetch(version: int, partitions: list[tuple[str, int, int]], *, max_wait_ms: int = 0, min_bytes: int = 0,
          max_bytes: int = 50 * 1024 * 1024, partition_max_bytes: int = 1024 * 1024, isolation_level: int = 0):
    m = _module("fetch", version)
    topics = {}
    for topic, partition, offset in partitions:
        topics.setdefault(topic, []).append(make(
            m.FetchPartition, partition=partition, fetch_offset=offset, partition_max_bytes=partition_max_bytes,
            log_start_offset=-1, current_leader_epoch=-1))
    fetch_topics = tuple(m.FetchTopic(topic=t, partitions=tuple(ps)) for t, ps in topics.items())
    return make(m.FetchRequest, replica_id=-1, max_wait=timedelta(milliseconds=max_wait_ms), min_bytes=min_bytes,
                max_bytes=max_bytes, isolation_level=isolation_level, session_id=0, session_epoch=-1,
                topics=fetch_topics, forgotten_topics_data=(), rack_id="")


def list_offsets(version: int, topic: str, timestamp: int, partition: int = 0, isolation_level: int = 0):
    m = _module("list_offsets", version)
    part = make(m.ListOffsetsPartition, partition_index=partition, timestamp=timestamp, current_leader_epoch=-1)
    return make(m.ListOffsetsRequest, replica_id=-1, isolation_level=isolation_level,
                topics=(m.ListOffsetsTopic(name=topic, partitions=(part,)),))


def metadata(version: int, topics: list[str] | None, *, allow_auto: bool = True):
    m = _module("metadata", version)
    if topics is None:
        requested = None
    else:
        requested = tuple(make(m.MetadataRequestTopic, name=t, topic_id=None) for t in topics)
    return make(m.MetadataRequest, topics=requested, allow_auto_topic_creation=allow_auto,
                include_cluster_authorized_operations=False, include_topic_authorized_operations=False)

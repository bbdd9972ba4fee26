"""DescribeLogDirs (key 35), versions 1–4: the broker's one log directory and what it holds.

Kafka's KafkaApis.handleDescribeLogDirsRequest / ReplicaManager.describeLogDirs, for a
broker with one log dir: `topics` null means every partition, otherwise only the named
partitions that exist (unknown ones are left out, not errors). Each partition reports its
size in bytes, offset_lag 0 (no future replica is ever catching up) and is_future_key
false. v3 adds the top-level error_code; v4 (KIP-827) total and usable bytes of the
volume. The log dir is the data directory's `kafka/` folder, as an absolute path; with
--memory it is "(memory)" and the volume sizes are -1 (unknown), which KIP-827 allows.
v0 is not served, as Kafka 4.0 (KIP-896); v5 is Kafka 4.3's.
"""

from __future__ import annotations

import shutil

from kio.schema.errors import ErrorCode

from kafka_wire.admin import response_classes
from kafka_wire.build import make
from kafka_wire.common import NO_THROTTLE
from kafka_wire.registry import ApiKey, handles

MEMORY_LOG_DIR = "(memory)"


def log_dir(ctx) -> str:
    """The one log directory's name, as DescribeLogDirs and AlterReplicaLogDirs report it."""
    folder = ctx.engine.subdir("kafka")
    return MEMORY_LOG_DIR if folder is None else str(folder.resolve())


def _volume(ctx) -> tuple[int, int]:
    folder = ctx.engine.subdir("kafka")
    if folder is None:
        return -1, -1
    try:
        usage = shutil.disk_usage(folder)
    except OSError:
        return -1, -1
    return usage.total, usage.free


@handles(ApiKey.DESCRIBE_LOG_DIRS, 1, 4)
def describe_log_dirs(ctx, request):
    schema = response_classes(ctx)
    registry = ctx.engine.topics
    if request.topics is None:
        wanted = {name: None for name in registry.names()}
    else:
        wanted = {}
        for t in request.topics:
            wanted.setdefault(t.topic, set()).update(t.partitions)
    topics = []
    for name in sorted(wanted):
        topic = registry.get(name)
        if topic is None:
            continue
        indexes = wanted[name]
        partitions = tuple(
            schema.DescribeLogDirsPartition(partition_index=log.tp.partition, partition_size=log.size_bytes,
                                            offset_lag=0, is_future_key=False)
            for log in topic.partitions if indexes is None or log.tp.partition in indexes)
        if partitions:
            topics.append(schema.DescribeLogDirsTopic(name=name, partitions=partitions))
    total, usable = _volume(ctx)
    result = make(schema.DescribeLogDirsResult, error_code=ErrorCode.none, log_dir=log_dir(ctx),
                  topics=tuple(topics), total_bytes=total, usable_bytes=usable)
    return make(schema.DescribeLogDirsResponse, throttle_time=NO_THROTTLE, error_code=ErrorCode.none,
                results=(result,))

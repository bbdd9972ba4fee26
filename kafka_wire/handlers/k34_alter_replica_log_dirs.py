"""AlterReplicaLogDirs (key 34), versions 1–2: move replicas between a broker's log dirs.

There is one log dir (k35_describe_log_dirs.log_dir), so the only legal move is to where
the replica already is: NONE, as Kafka answers a move to the current dir. Any other path
is LOG_DIR_NOT_FOUND ("not found in the config", ReplicaManager.alterReplicaLogDirs).
A partition this broker does not host is NONE too: Kafka only records the preferred dir
for when it arrives. v0 is not served, as Kafka 4.0 (KIP-896).
"""

from __future__ import annotations

from kio.schema.errors import ErrorCode

from kafka_wire.admin import response_classes
from kafka_wire.common import NO_THROTTLE
from kafka_wire.handlers.k35_describe_log_dirs import log_dir
from kafka_wire.registry import ApiKey, handles


@handles(ApiKey.ALTER_REPLICA_LOG_DIRS, 1, 2)
def alter_replica_log_dirs(ctx, request):
    schema = response_classes(ctx)
    ours = log_dir(ctx)
    results: dict[str, dict[int, ErrorCode]] = {}
    for target in request.dirs:
        code = ErrorCode.none if target.path == ours else ErrorCode.log_dir_not_found
        for topic in target.topics:
            for index in topic.partitions:
                results.setdefault(topic.name, {})[index] = code
    return schema.AlterReplicaLogDirsResponse(
        throttle_time=NO_THROTTLE,
        results=tuple(
            schema.AlterReplicaLogDirTopicResult(
                topic_name=name,
                partitions=tuple(schema.AlterReplicaLogDirPartitionResult(partition_index=i, error_code=c)
                                 for i, c in partitions.items()))
            for name, partitions in results.items()))

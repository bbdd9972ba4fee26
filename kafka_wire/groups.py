"""What the group handlers (k08–k16, k42, k47) share: error codes, client identity, and the
few bytes of Kafka's consumer protocol the broker has to know.

The coordinator passes member metadata and assignments through untouched; two places need
the `consumer` protocol's layout (clients/.../ConsumerProtocol*.json):

    ConsumerProtocolSubscription := version:int16 topics:[string] user_data:bytes ...
    ConsumerProtocolAssignment   := version:int16 assigned_partitions:[topic:string partitions:[int32]]
                                    user_data:bytes ...          (non-flexible; arrays int32-counted)

- SyncGroup: a member the leader gave nothing gets a *valid empty assignment*, not zero
  bytes — Kafka hands out the empty bytes, which franz-go, sarama and brod fail to parse
  (reference/kafka-clients.md, "What broke"); kfake does the same.
- OffsetDelete: the topics a live group subscribes to (KIP-496 refuses to delete those).
"""

from __future__ import annotations

import struct
from datetime import timedelta
from typing import Sequence

from kio.schema.errors import ErrorCode

from engine.errors import StorageError
from kafka_wire.errors import error_code_for

CONSUMER_PROTOCOL = "consumer"

# version 0, no partitions, null user data.
EMPTY_CONSUMER_ASSIGNMENT = b"\x00\x00" + b"\x00\x00\x00\x00" + b"\xff\xff\xff\xff"

# GroupMetadataManager: a failed append to the offsets log is NOT_COORDINATOR, so the client
# rediscovers the coordinator and retries.
_GROUP_OVERRIDES = {StorageError: ErrorCode.not_coordinator}

# Kafka's AclOperation bits a group answers to when asked (DescribeGroups v3+, KIP-430):
# READ (3), DELETE (6), DESCRIBE (8). We have no authorizer, so everything is allowed.
GROUP_AUTHORIZED_OPERATIONS = (1 << 3) | (1 << 6) | (1 << 8)
NO_AUTHORIZED_OPERATIONS = -(2**31)


def group_error_code(exc: BaseException) -> ErrorCode:
    return error_code_for(exc, _GROUP_OVERRIDES)


def millis(value: timedelta) -> int:
    return value // timedelta(milliseconds=1)


def client_host(ctx) -> str:
    """As Kafka reports it (InetAddress.toString of the peer): "/127.0.0.1"."""
    peer = getattr(ctx.session.link, "peer", None)
    if isinstance(peer, tuple) and peer:
        return f"/{peer[0]}"
    return ""


def member_assignment(protocol_type: str | None, assignment: bytes) -> bytes:
    if not assignment and protocol_type == CONSUMER_PROTOCOL:
        return EMPTY_CONSUMER_ASSIGNMENT
    return assignment


def subscribed_topics(protocol_type: str | None, metadata: Sequence[bytes]) -> frozenset[str] | None:
    """Topics the members of a `consumer` group subscribe to; None if that cannot be read."""
    if protocol_type != CONSUMER_PROTOCOL:
        return None
    topics: set[str] = set()
    for blob in metadata:
        try:
            topics.update(_subscription_topics(blob))
        except (struct.error, UnicodeDecodeError, ValueError):
            return None
    return frozenset(topics)


def _subscription_topics(blob: bytes) -> list[str]:
    (count,) = struct.unpack_from(">i", blob, 2)  # after the int16 version
    pos = 6
    topics = []
    for _ in range(count):
        (length,) = struct.unpack_from(">h", blob, pos)
        pos += 2
        if length < 0 or pos + length > len(blob):
            raise ValueError("bad topic name")
        topics.append(blob[pos : pos + length].decode())
        pos += length
    return topics

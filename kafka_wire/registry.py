"""The handler registry: every served API and version range, declared once, where it is handled.

    @handles(ApiKey.PRODUCE, 3, 11)
    def produce(ctx: RequestContext, request) -> response | Awaitable[response] | None

A handler receives the kio request entity of the negotiated version and returns the kio
response entity of the same version (or an awaitable of it; `None` sends nothing, as for
Produce with acks=0). ApiVersions is built from this registry (k18_api_versions.py), so the
advertised table cannot drift from the code. kio supplies the request and response classes
of each version (`kio.index.load_request_schema`), both flexible and non-flexible.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any, Awaitable, Callable

from kio.index import load_request_schema, load_response_schema


class ApiKey(enum.IntEnum):
    PRODUCE = 0
    FETCH = 1
    LIST_OFFSETS = 2
    METADATA = 3
    OFFSET_COMMIT = 8
    OFFSET_FETCH = 9
    FIND_COORDINATOR = 10
    JOIN_GROUP = 11
    HEARTBEAT = 12
    LEAVE_GROUP = 13
    SYNC_GROUP = 14
    DESCRIBE_GROUPS = 15
    LIST_GROUPS = 16
    SASL_HANDSHAKE = 17
    API_VERSIONS = 18
    CREATE_TOPICS = 19
    DELETE_TOPICS = 20
    DELETE_RECORDS = 21
    INIT_PRODUCER_ID = 22
    OFFSET_FOR_LEADER_EPOCH = 23
    ADD_PARTITIONS_TO_TXN = 24
    ADD_OFFSETS_TO_TXN = 25
    END_TXN = 26
    WRITE_TXN_MARKERS = 27
    TXN_OFFSET_COMMIT = 28
    DESCRIBE_ACLS = 29
    CREATE_ACLS = 30
    DELETE_ACLS = 31
    DESCRIBE_CONFIGS = 32
    ALTER_CONFIGS = 33
    ALTER_REPLICA_LOG_DIRS = 34
    DESCRIBE_LOG_DIRS = 35
    CREATE_PARTITIONS = 37
    DELETE_GROUPS = 42
    ELECT_LEADERS = 43
    INCREMENTAL_ALTER_CONFIGS = 44
    ALTER_PARTITION_REASSIGNMENTS = 45
    LIST_PARTITION_REASSIGNMENTS = 46
    OFFSET_DELETE = 47
    DESCRIBE_QUORUM = 55
    DESCRIBE_CLUSTER = 60
    DESCRIBE_PRODUCERS = 61
    DESCRIBE_TRANSACTIONS = 65
    LIST_TRANSACTIONS = 66
    DESCRIBE_TOPIC_PARTITIONS = 75


Handler = Callable[["Any", Any], Any]  # (RequestContext, request) -> response | Awaitable | None


@dataclass(frozen=True, slots=True, kw_only=True)
class ApiEntry:
    api_key: int
    min_version: int
    max_version: int
    handler: Handler
    request_types: dict[int, type]
    response_types: dict[int, type]


REGISTRY: dict[int, ApiEntry] = {}


def handles(api_key: ApiKey, min_version: int, max_version: int) -> Callable[[Handler], Handler]:
    """Registers a handler for `api_key` at versions min..max (inclusive)."""

    def register(func: Handler) -> Handler:
        if api_key in REGISTRY:
            raise RuntimeError(f"{api_key.name} registered twice")
        versions = range(min_version, max_version + 1)
        REGISTRY[int(api_key)] = ApiEntry(
            api_key=int(api_key),
            min_version=min_version,
            max_version=max_version,
            handler=func,
            request_types={v: load_request_schema(int(api_key), v) for v in versions},
            response_types={v: load_response_schema(int(api_key), v) for v in versions},
        )
        return func

    return register

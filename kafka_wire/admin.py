"""What the admin handlers share: response classes per version, per-resource error answers,
config resource types and the broker's static configs.

The admin APIs (CreateTopics, DeleteTopics, DeleteRecords, DescribeConfigs, AlterConfigs,
CreatePartitions, IncrementalAlterConfigs, DescribeCluster) answer per topic, partition or
config resource: a domain error becomes that item's error code and message, never a failed
request, and an unexpected exception becomes UNKNOWN_SERVER_ERROR for that item (logged by
kafka_wire/errors.py), as Kafka's controller does (ApiError.fromThrowable).
"""

from __future__ import annotations

import enum
import importlib
from collections import Counter
from typing import Callable
from types import ModuleType

from kio.schema.errors import ErrorCode

from engine.errors import EngineError
from engine.topic_config import broker_static_configs
from kafka_wire.errors import error_code_for
from kafka_wire.registry import REGISTRY

class ResourceType(enum.IntEnum):
    """ConfigResource.Type in Kafka's admin protocol (KIP-133, KIP-412, KIP-714, KIP-848)."""

    UNKNOWN = 0
    TOPIC = 2
    BROKER = 4
    BROKER_LOGGER = 8
    CLIENT_METRICS = 16
    GROUP = 32


class AdminError(Exception):
    """An item-level answer a handler decides itself (a Kafka code with Kafka's message)."""

    def __init__(self, code: ErrorCode, message: str | None = None) -> None:
        super().__init__(message or code.name)
        self.code = code
        self.message = message


def response_classes(ctx) -> ModuleType:
    """The kio module holding this API version's response entity and its nested classes."""
    response_type = REGISTRY[ctx.api_key].response_types[ctx.api_version]
    return importlib.import_module(response_type.__module__)


def error_of(exc: BaseException, specific: dict[type, ErrorCode] | None = None) -> tuple[ErrorCode, str | None]:
    """The (code, message) answering one item that failed with `exc`.

    `specific` maps engine errors whose Kafka code depends on the API (an InvalidPartitions
    is INVALID_PARTITIONS here, not the table's INVALID_REQUEST) before the one table in
    kafka_wire/errors.py, which also logs anything unexpected as UNKNOWN_SERVER_ERROR.
    """
    if isinstance(exc, AdminError):
        return exc.code, exc.message
    code = error_code_for(exc, specific)
    return code, (str(exc) or None) if isinstance(exc, EngineError) else None


def broker_static(ctx) -> dict[str, str]:
    """The broker configs this process was started with, as DescribeConfigs reports them."""
    static = broker_static_configs(ctx.engine.settings)
    static["advertised.listeners"] = f"PLAINTEXT://{ctx.settings.advertised_host}:{ctx.settings.advertised_port}"
    return static


def check_broker_name(ctx, name: str) -> None:
    """A BROKER resource names this node's id, or "" for the cluster-wide defaults (KIP-226)."""
    if name == "":
        return
    try:
        broker_id = int(name)
    except ValueError:
        raise AdminError(ErrorCode.invalid_request, f"Broker id must be an integer, but it is: {name}") from None
    if broker_id != ctx.settings.node_id:
        raise AdminError(ErrorCode.invalid_request,
                         f"Unexpected broker id, expected {ctx.settings.node_id} or empty string, "
                         f"but received {name}")


def check_replicas(broker_ids, node_id: int) -> None:
    """One node: a partition's replica list must be exactly this node (Kafka's own messages)."""
    if not broker_ids:
        raise AdminError(ErrorCode.invalid_replica_assignment,
                         "The manual partition assignment includes an empty replica list.")
    for broker_id in broker_ids:
        if broker_id != node_id:
            raise AdminError(ErrorCode.invalid_replica_assignment,
                             f"The manual partition assignment includes broker {broker_id}, but no such "
                             "broker is registered.")
    if len(broker_ids) > 1:
        raise AdminError(ErrorCode.invalid_replica_assignment,
                         f"The manual partition assignment includes the broker {node_id} more than once.")


def alter_config_resources(ctx, request, alter: Callable[..., None]) -> tuple:
    """AlterConfigs and IncrementalAlterConfigs answer each config resource alike: a resource
    named twice in one request is INVALID_REQUEST (Kafka's ConfigAdminManager), otherwise
    `alter(ctx, resource, validate_only=...)` runs and its error, if any, becomes that
    resource's code and message."""
    schema = response_classes(ctx)
    counts = Counter((r.resource_type, r.resource_name) for r in request.resources)
    responses = []
    for resource in request.resources:
        try:
            if counts[(resource.resource_type, resource.resource_name)] > 1:
                raise AdminError(ErrorCode.invalid_request, "Duplicate resource in request.")
            alter(ctx, resource, validate_only=request.validate_only)
        except Exception as exc:
            code, message = error_of(exc)
        else:
            code, message = ErrorCode.none, None
        responses.append(schema.AlterConfigsResourceResponse(error_code=code, error_message=message,
                                                             resource_type=resource.resource_type,
                                                             resource_name=resource.resource_name))
    return tuple(responses)

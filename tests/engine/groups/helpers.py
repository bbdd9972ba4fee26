"""Building blocks for coordinator tests: a FakeClock coordinator and request shorthands."""

from __future__ import annotations

import asyncio

from engine.clock import FakeClock
from engine.groups import GroupConfig, GroupCoordinator, JoinRequest, Protocol, SyncRequest
from engine.groups.errors import MemberIdRequired

SESSION_MS = 10_000
REBALANCE_MS = 30_000


def coordinator(clock: FakeClock | None = None, **config) -> tuple[GroupCoordinator, FakeClock]:
    clock = clock or FakeClock()
    groups = GroupCoordinator(clock=clock, config=GroupConfig(**config))
    groups.open()
    return groups, clock


def join_request(
    group_id: str = "g",
    member_id: str = "",
    *,
    instance: str | None = None,
    protocols: tuple[tuple[str, bytes], ...] = (("range", b"meta"),),
    protocol_type: str = "consumer",
    session_ms: int = SESSION_MS,
    rebalance_ms: int = REBALANCE_MS,
    require_known: bool = True,
    client_id: str = "client",
) -> JoinRequest:
    return JoinRequest(
        group_id=group_id,
        member_id=member_id,
        group_instance_id=instance,
        client_id=client_id,
        client_host="/127.0.0.1",
        session_timeout_ms=session_ms,
        rebalance_timeout_ms=rebalance_ms,
        protocol_type=protocol_type,
        protocols=tuple(Protocol(name=n, metadata=m) for n, m in protocols),
        require_known_member_id=require_known and instance is None,
    )


def first_join(groups: GroupCoordinator, group_id: str = "g", **kwargs) -> asyncio.Future:
    """The KIP-394 two-step: MEMBER_ID_REQUIRED, then the join with the given id."""
    try:
        groups.join_group(join_request(group_id, **kwargs))
    except MemberIdRequired as required:
        return groups.join_group(join_request(group_id, required.member_id, **kwargs))
    raise AssertionError("expected MEMBER_ID_REQUIRED")


def sync(groups, group_id, result, assignments=()):
    return groups.sync_group(SyncRequest(
        group_id=group_id,
        generation_id=result.generation_id,
        member_id=result.member_id,
        group_instance_id=None,
        protocol_type=None,
        protocol_name=None,
        assignments=tuple(assignments),
    ))


async def settle() -> None:
    """Lets resolved futures' callbacks run."""
    for _ in range(3):
        await asyncio.sleep(0)

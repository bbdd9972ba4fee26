"""Errors of the group coordinator, named for what went wrong (DESIGN.md §3).

kafka_wire/errors.py maps each to its Kafka ErrorCode; the names follow Kafka's own
exceptions because the classic group protocol is the one thing these describe.
"""

from __future__ import annotations

from engine.errors import EngineError


class GroupError(EngineError):
    """Base of every error the group coordinator raises on purpose."""


class InvalidGroupId(GroupError):
    """An empty group id where the API needs a real group."""


class InvalidSessionTimeout(GroupError):
    """A session timeout outside [group.min.session.timeout.ms, group.max.session.timeout.ms]."""


class CoordinatorNotAvailable(GroupError):
    """The group is being deleted (state Dead); the client rediscovers and retries."""


class InconsistentGroupProtocol(GroupError):
    """The member's protocol type, or every protocol it offers, differs from the group's."""


class UnknownMember(GroupError):
    """The member id is not (or no longer) a member of the group."""


class IllegalGeneration(GroupError):
    """The member speaks for a generation other than the group's current one."""


class RebalanceInProgress(GroupError):
    """The group is rebalancing; the member must rejoin."""


class FencedInstanceId(GroupError):
    """Another member id now holds this group.instance.id (KIP-345)."""


class MemberIdRequired(GroupError):
    """KIP-394: a new dynamic member must rejoin with the member id this error carries."""

    def __init__(self, member_id: str) -> None:
        super().__init__(f"rejoin with member id {member_id}")
        self.member_id = member_id


class GroupNotEmpty(GroupError):
    """Deleting a group, or its offsets, while it has members."""


class GroupNotFound(GroupError):
    """No such group (DeleteGroups, OffsetDelete)."""


class GroupSubscribedToTopic(GroupError):
    """OffsetDelete of a topic the group's members still subscribe to."""


class OffsetMetadataTooLarge(GroupError):
    """A commit's metadata string is longer than offset.metadata.max.bytes."""


class UnstableOffsetCommit(GroupError):
    """KIP-447: a transactional commit for this partition is still pending (require_stable)."""

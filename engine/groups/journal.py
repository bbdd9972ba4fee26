"""Durable group state: an append-only journal of commits and group metadata, compacted now and then.

What Kafka keeps in `__consumer_offsets` we keep in `<data_dir>/groups/groups.journal`:

    file   := magic record*                     (framing, replay, compaction: engine/journal.py)
    magic  := "MQGWGJ01"                         (8 bytes; the format's version)
    record := length:u32be crc:u32be payload     (crc32c of payload; length = len(payload))
    payload := UTF-8 JSON object, one of
      {"type": "offsets", "group": G, "offsets": [[topic, partition, offset, leader_epoch,
                                                   metadata, commit_ts_ms, expire_ts_ms|null], ...]}
      {"type": "offsets_deleted", "group": G, "partitions": [[topic, partition], ...]}
      {"type": "group", "group": G, "protocol_type": str|null, "generation": int,
       "protocol": str|null, "leader": str|null, "state": "Empty"|"Stable", "state_since_ms": int,
       "members": [{"id", "instance", "client_id", "client_host", "session_ms", "rebalance_ms",
                    "metadata": base64, "assignment": base64}, ...]}
      {"type": "group_deleted", "group": G}

Replaying the records in order gives the state: the last "group" record of a group wins,
"offsets" records overwrite per partition. A record is written (os.write, unbuffered) before
the request that caused it is answered, so it survives kill -9 — it is in the page cache —
as Kafka's acknowledged commits survive a broker crash. Against a power loss the `--fsync`
policy decides (engine/durability.py): the journal's fd is tracked by the engine's syncer,
so under `always` the answer waits for the group commit that covers the record, under
`interval` it is synced within the interval. Compaction and close fsync regardless.

Recovery stops at the first record that is truncated, fails its CRC or does not apply (a
write torn by a crash) and cuts the file there. Compaction writes the live state as a fresh
journal next to the old one, fsyncs it, and renames it over (atomic on POSIX).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Protocol

from engine.durability import Syncer
from engine.groups.types import CommittedOffset
from engine.journal import JournalFile
from engine.types import TopicPartition

MAGIC = b"MQGWGJ01"
JOURNAL_NAME = "groups.journal"


@dataclass(frozen=True, slots=True, kw_only=True)
class MemberSnapshot:
    member_id: str
    group_instance_id: str | None
    client_id: str
    client_host: str
    session_timeout_ms: int
    rebalance_timeout_ms: int
    metadata: bytes  # of the selected protocol
    assignment: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class GroupSnapshot:
    group_id: str
    protocol_type: str | None
    generation_id: int
    protocol_name: str | None
    leader_id: str | None
    state: str  # "Empty" or "Stable": the only states Kafka stores
    state_since_ms: int
    members: tuple[MemberSnapshot, ...]


@dataclass(slots=True, kw_only=True)
class RecoveredState:
    groups: dict[str, GroupSnapshot] = field(default_factory=dict)
    offsets: dict[str, dict[TopicPartition, CommittedOffset]] = field(default_factory=dict)


# -- records ------------------------------------------------------------------------------
def offsets_record(group_id: str, offsets: Iterable[CommittedOffset]) -> dict:
    return {
        "type": "offsets",
        "group": group_id,
        "offsets": [
            [o.partition.topic, o.partition.partition, o.offset, o.leader_epoch, o.metadata,
             o.commit_timestamp_ms, o.expire_timestamp_ms]
            for o in offsets
        ],
    }


def offsets_deleted_record(group_id: str, partitions: Iterable[TopicPartition]) -> dict:
    return {"type": "offsets_deleted", "group": group_id, "partitions": [[tp.topic, tp.partition] for tp in partitions]}


def group_record(snapshot: GroupSnapshot) -> dict:
    return {
        "type": "group",
        "group": snapshot.group_id,
        "protocol_type": snapshot.protocol_type,
        "generation": snapshot.generation_id,
        "protocol": snapshot.protocol_name,
        "leader": snapshot.leader_id,
        "state": snapshot.state,
        "state_since_ms": snapshot.state_since_ms,
        "members": [
            {
                "id": m.member_id,
                "instance": m.group_instance_id,
                "client_id": m.client_id,
                "client_host": m.client_host,
                "session_ms": m.session_timeout_ms,
                "rebalance_ms": m.rebalance_timeout_ms,
                "metadata": base64.b64encode(m.metadata).decode(),
                "assignment": base64.b64encode(m.assignment).decode(),
            }
            for m in snapshot.members
        ],
    }


def group_deleted_record(group_id: str) -> dict:
    return {"type": "group_deleted", "group": group_id}


def apply(state: RecoveredState, record: dict) -> None:
    kind = record["type"]
    group_id = record["group"]
    if kind == "offsets":
        book = state.offsets.setdefault(group_id, {})
        for topic, partition, offset, epoch, metadata, commit_ts, expire_ts in record["offsets"]:
            tp = TopicPartition(topic=topic, partition=partition)
            book[tp] = CommittedOffset(
                partition=tp, offset=offset, leader_epoch=epoch, metadata=metadata,
                commit_timestamp_ms=commit_ts, expire_timestamp_ms=expire_ts,
            )
    elif kind == "offsets_deleted":
        book = state.offsets.get(group_id, {})
        for topic, partition in record["partitions"]:
            book.pop(TopicPartition(topic=topic, partition=partition), None)
    elif kind == "group":
        state.groups[group_id] = GroupSnapshot(
            group_id=group_id,
            protocol_type=record["protocol_type"],
            generation_id=record["generation"],
            protocol_name=record["protocol"],
            leader_id=record["leader"],
            state=record["state"],
            state_since_ms=record["state_since_ms"],
            members=tuple(
                MemberSnapshot(
                    member_id=m["id"],
                    group_instance_id=m["instance"],
                    client_id=m["client_id"],
                    client_host=m["client_host"],
                    session_timeout_ms=m["session_ms"],
                    rebalance_timeout_ms=m["rebalance_ms"],
                    metadata=base64.b64decode(m["metadata"]),
                    assignment=base64.b64decode(m["assignment"]),
                )
                for m in record["members"]
            ),
        )
    elif kind == "group_deleted":
        state.groups.pop(group_id, None)
        state.offsets.pop(group_id, None)
    else:
        raise ValueError(f"unknown journal record type {kind!r}")


# -- storage ------------------------------------------------------------------------------
class GroupJournal(Protocol):
    def load(self) -> RecoveredState: ...

    def append(self, record: dict) -> None: ...

    def should_compact(self) -> bool: ...

    def compact(self, records: Iterable[dict]) -> None: ...

    def close(self) -> None: ...


class MemoryJournal:
    """`--memory`: the coordinator's own state is all there is; nothing is written."""

    def load(self) -> RecoveredState:
        return RecoveredState()

    def append(self, record: dict) -> None:
        pass

    def should_compact(self) -> bool:
        return False

    def compact(self, records: Iterable[dict]) -> None:
        pass

    def close(self) -> None:
        pass


class FileJournal(JournalFile):
    """`groups.journal` in the coordinator's folder (the file itself: engine/journal.py)."""

    def __init__(
        self, directory: Path, *, compact_min_bytes: int, compact_ratio: int, syncer: Syncer | None = None
    ) -> None:
        super().__init__(directory / JOURNAL_NAME, magic=MAGIC, label="groups journal",
                         compact_min_bytes=compact_min_bytes, compact_ratio=compact_ratio, syncer=syncer)

    def load(self) -> RecoveredState:
        state = RecoveredState()
        self.replay(lambda record: apply(state, record))
        return state

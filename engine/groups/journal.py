"""Durable group state: an append-only journal of commits and group metadata, compacted now and then.

What Kafka keeps in `__consumer_offsets` we keep in `<data_dir>/groups/groups.journal`:

    file   := magic record*
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

Recovery stops at the first record that is truncated or fails its CRC (a write torn by a
crash) and cuts the file there. Compaction writes the live state as a fresh journal next to
the old one, fsyncs it, and renames it over (atomic on POSIX).
"""

from __future__ import annotations

import base64
import json
import logging
import os
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Protocol

import crc32c

from engine.durability import Syncer
from engine.errors import StorageError
from engine.groups.types import CommittedOffset
from engine.types import TopicPartition

log = logging.getLogger("mqgateway.groups")

MAGIC = b"MQGWGJ01"
_HEADER = struct.Struct(">II")
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


def encode(record: dict) -> bytes:
    payload = json.dumps(record, separators=(",", ":")).encode()
    return _HEADER.pack(len(payload), crc32c.crc32c(payload)) + payload


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


class FileJournal:
    def __init__(
        self, directory: Path, *, compact_min_bytes: int, compact_ratio: int, syncer: Syncer | None = None
    ) -> None:
        self.path = directory / JOURNAL_NAME
        self._syncer = syncer or Syncer()
        self._fd: int | None = None
        self._sync = None  # the syncer's handle of _fd, which owns closing it
        self._size = 0
        self._live_size = 0  # size right after the last compaction (or recovery)
        self._compact_min_bytes = compact_min_bytes
        self._compact_ratio = compact_ratio

    def load(self) -> RecoveredState:
        state = RecoveredState()
        data = self.path.read_bytes() if self.path.exists() else b""
        good = 0
        if data[: len(MAGIC)] == MAGIC:
            pos = good = len(MAGIC)
            while pos + _HEADER.size <= len(data):
                length, crc = _HEADER.unpack_from(data, pos)
                end = pos + _HEADER.size + length
                payload = data[pos + _HEADER.size : end]
                if end > len(data) or crc32c.crc32c(payload) != crc:
                    break
                try:
                    apply(state, json.loads(payload))
                except (ValueError, KeyError, TypeError) as exc:
                    log.error("groups journal %s: unreadable record at byte %d (%s); ignoring the rest", self.path, pos, exc)
                    break
                pos = good = end
        elif data:
            log.error("groups journal %s has no valid header; starting empty", self.path)
        if good != len(data):
            log.warning("groups journal %s: dropping %d torn bytes at the end", self.path, len(data) - good)
        try:
            if not data or good < len(MAGIC):
                self._write_fresh(b"")
            else:
                with open(self.path, "r+b") as file:
                    file.truncate(good)
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND)
        except OSError as exc:
            raise StorageError(f"groups journal {self.path}: {exc.strerror or exc}") from exc
        self._sync = self._syncer.track(self._fd, str(self.path))
        self._size = self._live_size = max(good, len(MAGIC))
        return state

    def append(self, record: dict) -> None:
        if self._fd is None:
            raise StorageError("groups journal is closed")
        frame = encode(record)
        try:
            view = memoryview(frame)
            while view:
                written = os.write(self._fd, view)
                view = view[written:]
        except OSError as exc:
            raise StorageError(f"groups journal {self.path}: {exc.strerror or exc}") from exc
        self._sync.written()
        self._size += len(frame)

    def should_compact(self) -> bool:
        grown = self._size - self._live_size
        return grown >= self._compact_min_bytes and self._size >= self._compact_ratio * max(self._live_size, 1)

    def compact(self, records: Iterable[dict]) -> None:
        body = b"".join(encode(r) for r in records)
        try:
            self._write_fresh(body)
            if self._sync is not None:
                self._sync.close()  # the old file's last appends may still be in a round
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND)
        except OSError as exc:
            raise StorageError(f"groups journal {self.path}: {exc.strerror or exc}") from exc
        self._sync = self._syncer.track(self._fd, str(self.path))
        self._size = self._live_size = len(MAGIC) + len(body)

    def _write_fresh(self, body: bytes) -> None:
        tmp = self.path.with_name(self.path.name + ".tmp")
        with open(tmp, "wb") as file:
            file.write(MAGIC + body)
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp, self.path)
        dir_fd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    def close(self) -> None:
        if self._fd is None:
            return
        try:
            os.fsync(self._fd)
        except OSError as exc:
            log.error("groups journal %s: fsync on close failed: %s", self.path, exc)
        self._sync.close()
        self._fd = self._sync = None

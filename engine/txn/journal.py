"""Durable transaction state: an append-only journal of transaction metadata, compacted now and then.

What Kafka keeps in `__transaction_state` (and, for transactional offset commits, in
`__consumer_offsets` until the marker) we keep in `<data_dir>/txn/transactions.journal`:

    file    := magic record*
    magic   := "MQGWTJ01"                        (8 bytes; the format's version)
    record  := length:u32be crc:u32be payload    (crc32c of payload; length = len(payload))
    payload := UTF-8 JSON object, one of
      {"type": "txn", "id": T, "pid", "last_pid", "epoch", "last_epoch", "timeout_ms",
       "state": "Empty"|"Ongoing"|"PrepareCommit"|"PrepareAbort"|"CompleteCommit"|"CompleteAbort",
       "partitions": [[topic, partition], ...], "groups": [group, ...],
       "pending": [[topic, partition], ...], "start_ms", "update_ms"}       (metadata.py)
      {"type": "offsets", "id": T, "pid", "group": G,
       "offsets": [[topic, partition, offset, leader_epoch, metadata], ...]}  (a TxnOffsetCommit)
      {"type": "deleted", "id": T}                                           (an expired id)

Replaying in order gives the state: the last "txn" record of an id wins; "offsets" records
belong to that id's open transaction and are dropped by a later "txn" record in which no
transaction is open or completing. Every transition is written (os.write, unbuffered)
before it is answered or acted on, so after kill -9 the coordinator finds each
transaction in the last state it announced: it completes a Prepare* one (markers and
offsets again; both are idempotent) and aborts an Ongoing one (coordinator.py). fsync
happens on compaction and close, as for the groups journal (docs/architecture.md).

Recovery stops at the first torn or corrupt record and cuts the file there. Compaction
writes the live state to a fresh file, fsyncs it and renames it over the old one.
"""

from __future__ import annotations

import json
import logging
import os
import struct
from pathlib import Path
from typing import Iterable, Protocol

import crc32c

from engine.errors import StorageError

log = logging.getLogger("mqgateway.txn")

MAGIC = b"MQGWTJ01"
JOURNAL_NAME = "transactions.journal"
_HEADER = struct.Struct(">II")


def encode(record: dict) -> bytes:
    payload = json.dumps(record, separators=(",", ":")).encode()
    return _HEADER.pack(len(payload), crc32c.crc32c(payload)) + payload


class TxnJournal(Protocol):
    def load(self) -> list[dict]: ...

    def append(self, record: dict) -> None: ...

    def should_compact(self) -> bool: ...

    def compact(self, records: Iterable[dict]) -> None: ...

    def close(self) -> None: ...


class MemoryJournal:
    """`--memory`: nothing survives the process. With `keep=True` (engine tests) the records are
    held, so a second coordinator over the same journal shows what a restart recovers."""

    def __init__(self, *, keep: bool = False) -> None:
        self._keep = keep
        self.records: list[dict] = []

    def load(self) -> list[dict]:
        return [json.loads(json.dumps(r)) for r in self.records]

    def append(self, record: dict) -> None:
        if self._keep:
            self.records.append(json.loads(json.dumps(record)))

    def should_compact(self) -> bool:
        return False

    def compact(self, records: Iterable[dict]) -> None:
        if self._keep:
            self.records = [json.loads(json.dumps(r)) for r in records]

    def close(self) -> None:
        pass


class FileJournal:
    def __init__(self, directory: Path, *, compact_min_bytes: int, compact_ratio: int) -> None:
        self.path = directory / JOURNAL_NAME
        self._fd: int | None = None
        self._size = 0
        self._live_size = 0  # size right after the last compaction (or recovery)
        self._compact_min_bytes = compact_min_bytes
        self._compact_ratio = compact_ratio

    def load(self) -> list[dict]:
        records: list[dict] = []
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
                    record = json.loads(payload)
                except ValueError as exc:
                    log.error("txn journal %s: unreadable record at byte %d (%s); ignoring the rest", self.path, pos, exc)
                    break
                records.append(record)
                pos = good = end
        elif data:
            log.error("txn journal %s has no valid header; starting empty", self.path)
        if good != len(data):
            log.warning("txn journal %s: dropping %d torn bytes at the end", self.path, len(data) - good)
        try:
            if not data or good < len(MAGIC):
                self._write_fresh(b"")
            else:
                with open(self.path, "r+b") as file:
                    file.truncate(good)
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND)
        except OSError as exc:
            raise StorageError(f"txn journal {self.path}: {exc.strerror or exc}") from exc
        self._size = self._live_size = max(good, len(MAGIC))
        return records

    def append(self, record: dict) -> None:
        if self._fd is None:
            raise StorageError("txn journal is closed")
        frame = encode(record)
        try:
            view = memoryview(frame)
            while view:
                written = os.write(self._fd, view)
                view = view[written:]
        except OSError as exc:
            raise StorageError(f"txn journal {self.path}: {exc.strerror or exc}") from exc
        self._size += len(frame)

    def should_compact(self) -> bool:
        grown = self._size - self._live_size
        return grown >= self._compact_min_bytes and self._size >= self._compact_ratio * max(self._live_size, 1)

    def compact(self, records: Iterable[dict]) -> None:
        body = b"".join(encode(r) for r in records)
        try:
            self._write_fresh(body)
            if self._fd is not None:
                os.close(self._fd)
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND)
        except OSError as exc:
            raise StorageError(f"txn journal {self.path}: {exc.strerror or exc}") from exc
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
            log.error("txn journal %s: fsync on close failed: %s", self.path, exc)
        os.close(self._fd)
        self._fd = None

"""The journal file format shared by the subsystems that keep their state as a record journal.

The groups coordinator (engine/groups/journal.py, `groups.journal`) and the transaction
coordinator (engine/txn/journal.py, `transactions.journal`) each keep an append-only journal
of JSON records; this module owns the file, each subsystem owns its record types, their
meaning and its magic:

    file    := magic record*
    magic   := 8 bytes naming the subsystem and the format's version ("MQGWGJ01", "MQGWTJ01")
    record  := length:u32be crc:u32be payload    (crc32c of payload; length = len(payload))
    payload := UTF-8 JSON object

A record is written (os.write, unbuffered) before the request that caused it is answered, so
it survives kill -9 — it is in the page cache. Against a power loss the `--fsync` policy
decides (engine/durability.py): the fd is tracked by the engine's syncer, so under `always`
the answer waits for the group commit that covers the record, under `interval` it is synced
within the interval. Compaction and close fsync regardless of the policy.

Recovery (`replay`) stops at the first record that is truncated, fails its CRC or that the
subsystem cannot apply (a write torn by a crash) and cuts the file there. Compaction writes
the live state as a fresh journal next to the old one, fsyncs it, renames it over (atomic on
POSIX) and fsyncs the folder, so either the old or the new journal is there after a crash.
"""

from __future__ import annotations

import json
import logging
import os
import struct
from pathlib import Path
from typing import Callable, Iterable

import crc32c

from engine.durability import SyncHandle, Syncer
from engine.errors import StorageError

log = logging.getLogger("mqgateway.journal")

MAGIC_SIZE = 8
_HEADER = struct.Struct(">II")


def encode(record: dict) -> bytes:
    """One framed record."""
    payload = json.dumps(record, separators=(",", ":")).encode()
    return _HEADER.pack(len(payload), crc32c.crc32c(payload)) + payload


class JournalFile:
    """One journal on disk: replay, append, compact, close.

    `label` names it in errors and logs ("groups journal"); `syncer` is the engine's
    (engine.durability), or a private `never` syncer for tests that build one directly.
    """

    def __init__(
        self,
        path: Path,
        *,
        magic: bytes,
        label: str,
        compact_min_bytes: int,
        compact_ratio: int,
        syncer: Syncer | None = None,
    ) -> None:
        if len(magic) != MAGIC_SIZE:
            raise ValueError("a journal's magic is 8 bytes")
        self.path = path
        self._magic = magic
        self._label = label
        self._syncer = syncer or Syncer()
        self._fd: int | None = None
        self._sync: SyncHandle | None = None  # the syncer's handle of _fd, which owns closing it
        self._size = 0
        self._live_size = 0  # size right after the last compaction (or recovery)
        self._compact_min_bytes = compact_min_bytes
        self._compact_ratio = compact_ratio

    def replay(self, apply: Callable[[dict], None]) -> None:
        """Calls `apply` with each intact record in order, cuts a torn tail, opens for appends.

        `apply` raising ValueError, KeyError or TypeError marks the record unreadable: it and
        everything after it are dropped, as for a bad CRC.
        """
        magic = self._magic
        data = self.path.read_bytes() if self.path.exists() else b""
        good = 0
        if data[:MAGIC_SIZE] == magic:
            pos = good = MAGIC_SIZE
            while pos + _HEADER.size <= len(data):
                length, crc = _HEADER.unpack_from(data, pos)
                end = pos + _HEADER.size + length
                payload = data[pos + _HEADER.size : end]
                if end > len(data) or crc32c.crc32c(payload) != crc:
                    break
                try:
                    apply(json.loads(payload))
                except (ValueError, KeyError, TypeError) as exc:
                    log.error("%s %s: unreadable record at byte %d (%s); ignoring the rest", self._label, self.path, pos, exc)
                    break
                pos = good = end
        elif data:
            log.error("%s %s has no valid header; starting empty", self._label, self.path)
        if good != len(data):
            log.warning("%s %s: dropping %d torn bytes at the end", self._label, self.path, len(data) - good)
        try:
            if not data or good < MAGIC_SIZE:
                self._write_fresh(b"")
            else:
                with open(self.path, "r+b") as file:
                    file.truncate(good)
            self._open_for_append()
        except OSError as exc:
            raise self._error(exc) from exc
        self._size = self._live_size = max(good, MAGIC_SIZE)

    def append(self, record: dict) -> None:
        if self._fd is None:
            raise StorageError(f"{self._label} is closed")
        frame = encode(record)
        try:
            view = memoryview(frame)
            while view:
                written = os.write(self._fd, view)
                view = view[written:]
        except OSError as exc:
            raise self._error(exc) from exc
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
                self._fd = self._sync = None
            self._open_for_append()
        except OSError as exc:
            raise self._error(exc) from exc
        self._size = self._live_size = MAGIC_SIZE + len(body)

    def close(self) -> None:
        if self._fd is None:
            return
        try:
            os.fsync(self._fd)
        except OSError as exc:
            log.error("%s %s: fsync on close failed: %s", self._label, self.path, exc)
        self._sync.close()
        self._fd = self._sync = None

    def _open_for_append(self) -> None:
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND)
        self._sync = self._syncer.track(self._fd, str(self.path))

    def _write_fresh(self, body: bytes) -> None:
        tmp = self.path.with_name(self.path.name + ".tmp")
        with open(tmp, "wb") as file:
            file.write(self._magic + body)
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp, self.path)
        dir_fd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    def _error(self, exc: OSError) -> StorageError:
        return StorageError(f"{self._label} {self.path}: {exc.strerror or exc}")


__all__ = ["JournalFile", "encode"]

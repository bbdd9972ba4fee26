"""Durable transaction state: an append-only journal of transaction metadata, compacted now and then.

What Kafka keeps in `__transaction_state` (and, for transactional offset commits, in
`__consumer_offsets` until the marker) we keep in `<data_dir>/txn/transactions.journal`:

    file    := magic record*                     (framing, replay, compaction: engine/journal.py)
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
offsets again; both are idempotent) and aborts an Ongoing one (coordinator.py). Against a
power loss the `--fsync` policy decides, as for the groups journal: the fd is tracked by the
engine's syncer (engine/durability.py), so under `always` an EndTxn or AddPartitionsToTxn
answer waits for the group commit that covers its record; compaction and close fsync always.

Recovery stops at the first torn or corrupt record and cuts the file there. Compaction
writes the live state to a fresh file, fsyncs it and renames it over the old one.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable, Protocol

from engine.durability import Syncer
from engine.journal import JournalFile

MAGIC = b"MQGWTJ01"
JOURNAL_NAME = "transactions.journal"


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


class FileJournal(JournalFile):
    """`transactions.journal` in the coordinator's folder (the file itself: engine/journal.py)."""

    def __init__(
        self, directory: Path, *, compact_min_bytes: int, compact_ratio: int, syncer: Syncer | None = None
    ) -> None:
        super().__init__(directory / JOURNAL_NAME, magic=MAGIC, label="txn journal",
                         compact_min_bytes=compact_min_bytes, compact_ratio=compact_ratio, syncer=syncer)

    def load(self) -> list[dict]:
        records: list[dict] = []
        self.replay(records.append)
        return records

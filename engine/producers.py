"""Producer ids for InitProducerId: allocated once, never repeated, even across restarts.

Kafka hands out producer ids in blocks (KIP-730's AllocateProducerIds) so the
controller's record of the next block is written once per block, not per id; ids of a
block that was not used up before a crash are skipped, never reissued. We do the same:
the file `<data dir>/kafka/producer-ids` holds the first id of the next unallocated
block (decimal text, tmp + rename) and is rewritten before any id of a new block is
handed out. Memory storage keeps the counter in memory.

Per-partition sequence state lives with each log (engine/log/producer_state.py); a
transactional id keeps the producer id it was first given, with its epochs, in the
transaction coordinator (engine/txn), which draws new ids from here.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

BLOCK_SIZE = 1000
_FILE = "producer-ids"


@dataclass(frozen=True, slots=True, kw_only=True)
class ProducerIdAndEpoch:
    producer_id: int
    producer_epoch: int


class ProducerIds:
    def __init__(self, folder: Path | None) -> None:
        self._path = None if folder is None else folder / _FILE
        self._next = 0
        self._block_end = 0

    def open(self) -> None:
        if self._path is None:
            return
        try:
            self._next = int(self._path.read_text().strip())
        except (OSError, ValueError):
            self._next = 0
        self._block_end = self._next  # force a fresh block before the first id

    def init_producer_id(self) -> ProducerIdAndEpoch:
        if self._next >= self._block_end:
            self._block_end = self._next + BLOCK_SIZE
            if self._path is not None:
                tmp = self._path.with_name(_FILE + ".tmp")
                tmp.write_text(str(self._block_end))
                os.replace(tmp, self._path)
        producer_id = self._next
        self._next += 1
        return ProducerIdAndEpoch(producer_id=producer_id, producer_epoch=0)

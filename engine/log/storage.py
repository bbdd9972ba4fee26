"""Where a partition's segments and small state files live: a folder, or nowhere (memory).

`PartitionStorage` is the seam between a partition's log logic (partition.py) and the
medium; a shared backend (DESIGN.md §2: PostgreSQL later) would be a third
implementation. The files layout of one partition folder:

    00000000000000000000.log / .index / .timeindex   segments (segment.py)
    log-start-offset                                 decimal text, written on change (tmp + rename)
    producer-state.json                              snapshot (producer_state.py), tmp + rename

Under `--fsync interval|always` a state file is fsynced before its rename and the folder
after it (in the syncer's next round), as the segments are (engine/durability.py).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Protocol

from engine.durability import FsyncPolicy, Syncer
from engine.log.segment import FileData, MemoryData, SegmentData, segment_name


class PartitionStorage(Protocol):
    def segment_bases(self) -> list[int]: ...

    def open_segment(self, base_offset: int) -> SegmentData: ...

    def read_state(self, name: str) -> str | None: ...

    def write_state(self, name: str, text: str) -> None: ...

    def destroy(self) -> None: ...


class MemoryStorage:
    def __init__(self) -> None:
        self._state: dict[str, str] = {}

    def segment_bases(self) -> list[int]:
        return []

    def open_segment(self, base_offset: int) -> SegmentData:
        return MemoryData()

    def read_state(self, name: str) -> str | None:
        return self._state.get(name)

    def write_state(self, name: str, text: str) -> None:
        self._state[name] = text

    def destroy(self) -> None:
        self._state.clear()


class FileStorage:
    """A partition folder. Under `--fsync interval|always` (engine/durability.py) the segments'
    fds are tracked by the engine's syncer, state files are fsynced before their rename, and
    every directory whose entries change is synced in the next round."""

    def __init__(self, folder: Path, syncer: Syncer | None = None) -> None:
        self.folder = folder
        self._syncer = syncer or Syncer()
        missing = []
        parent = folder
        while not parent.exists():
            missing.append(parent)
            parent = parent.parent
        folder.mkdir(parents=True, exist_ok=True)
        for created in missing:
            self._syncer.created(created.parent)

    def segment_bases(self) -> list[int]:
        bases = []
        for entry in os.scandir(self.folder):
            name = entry.name
            if name.endswith(".log") and len(name) == 24 and name[:20].isdigit():
                bases.append(int(name[:20]))
            elif name.endswith(".tmp"):
                os.unlink(entry.path)  # an interrupted tmp + rename
        return sorted(bases)

    def open_segment(self, base_offset: int) -> SegmentData:
        return FileData(self.folder / f"{segment_name(base_offset)}.log", self._syncer)

    def read_state(self, name: str) -> str | None:
        try:
            return (self.folder / name).read_text()
        except OSError:
            return None

    def write_state(self, name: str, text: str) -> None:
        path = self.folder / name
        tmp = path.with_name(name + ".tmp")
        syncing = self._syncer.policy is not FsyncPolicy.NEVER
        with open(tmp, "w") as file:
            file.write(text)
            if syncing:
                # Without it a power loss after the rename can leave an empty or partial
                # file under the real name (the rename's metadata may reach the disk
                # before the data: ext4 auto_da_alloc covers only some cases).
                file.flush()
                os.fsync(file.fileno())
        os.replace(tmp, path)
        self._syncer.created(self.folder)

    def destroy(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)
        self._syncer.created(self.folder.parent)

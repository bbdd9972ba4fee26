"""Where a partition's segments and small state files live: a folder, or nowhere (memory).

`PartitionStorage` is the seam between a partition's log logic (partition.py) and the
medium; a shared backend (DESIGN.md §2: PostgreSQL later) would be a third
implementation. The files layout of one partition folder:

    00000000000000000000.log / .index / .timeindex   segments (segment.py)
    log-start-offset                                 decimal text, written on change (tmp + rename)
    producer-state.json                              snapshot (producer_state.py), tmp + rename
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Protocol

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
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)

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
        return FileData(self.folder / f"{segment_name(base_offset)}.log")

    def read_state(self, name: str) -> str | None:
        try:
            return (self.folder / name).read_text()
        except OSError:
            return None

    def write_state(self, name: str, text: str) -> None:
        path = self.folder / name
        tmp = path.with_name(name + ".tmp")
        tmp.write_text(text)
        os.replace(tmp, path)

    def destroy(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)

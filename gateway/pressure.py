"""Samples free disk space and resident memory, and raises or clears the engine's alarms.

Once a second (RabbitMQ samples about as often):
- disk: free bytes on the data dir's filesystem (`statvfs`, what an unprivileged process
  may use) against `disk_free_limit`. The alarm is raised below the limit and cleared at
  the limit plus RESUME_MARGIN, so a broker hovering at the limit does not flap; a write
  that failed for lack of space raises it too (engine/pressure.py) and the same rule
  clears it.
- memory: the process's resident set (`/proc/self/statm`) against the high watermark, a
  fraction of the machine's memory (or of the cgroup's limit when that is lower) or a
  number of bytes. Before the alarm is raised, freed heap is handed back to the OS
  (glibc `malloc_trim`; gateway/cli.py keeps it otherwise), so that memory the broker no
  longer uses does not count against it, and the alarm can clear once queues drain.
"""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path

from engine.pressure import Alarm, Pressure

log = logging.getLogger("mqgateway")

SAMPLE_INTERVAL = 1.0  # seconds
RESUME_MARGIN = 8 * 1024 * 1024  # free bytes above disk_free_limit before the disk alarm clears
_PAGE = os.sysconf("SC_PAGE_SIZE")


def free_bytes(path: Path) -> int:
    stats = os.statvfs(path)
    return stats.f_bavail * stats.f_frsize


def resident_bytes() -> int:
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[1]) * _PAGE
    except (OSError, IndexError, ValueError):
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # peak, the best there is


def total_memory() -> int:
    """The machine's memory, or the cgroup's limit when lower (a container's real ceiling)."""
    total = _PAGE * os.sysconf("SC_PHYS_PAGES")
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            text = Path(path).read_text().strip()
        except OSError:
            continue
        if text.isdigit() and 0 < int(text) < total:
            total = int(text)
        break
    return total


# A fraction of a small container's memory could sit below what the interpreter and its
# libraries take at rest (~60 MiB) plus a working set; a fraction never means less than this.
MIN_FRACTIONAL_LIMIT = 256 * 1024 * 1024


def memory_limit(watermark: float, total: int | None = None) -> int:
    """Bytes of resident memory allowed: `watermark` as a fraction of RAM (≤ 1.0, at least
    MIN_FRACTIONAL_LIMIT) or bytes; 0 = none."""
    if watermark <= 0:
        return 0
    if watermark <= 1.0:
        total = total_memory() if total is None else total
        return max(int(total * watermark), min(MIN_FRACTIONAL_LIMIT, total))
    return int(watermark)


def _trim_heap() -> None:
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


class Monitor:
    def __init__(self, pressure: Pressure, *, data_dir: Path | None, disk_free_limit: int,
                 memory_watermark: float) -> None:
        self.pressure = pressure
        self.data_dir = data_dir
        self.disk_free_limit = disk_free_limit
        self.memory_limit = memory_limit(memory_watermark)
        self._task: asyncio.Task | None = None

    def describe(self) -> str:
        disk = f"disk free limit {self.disk_free_limit} bytes" if self.data_dir and self.disk_free_limit else "disk check off"
        memory = f"memory high watermark {self.memory_limit} bytes" if self.memory_limit else "memory check off"
        return f"{disk}, {memory}"

    def start(self) -> None:
        self.sample()
        self._task = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(SAMPLE_INTERVAL)
            try:
                self.sample()
            except Exception:  # a failed sample must not end the sampling
                log.exception("resource sampling failed")

    def sample(self) -> None:
        if self.data_dir is not None:
            self._sample_disk()
        if self.memory_limit:
            self._sample_memory()

    def _sample_disk(self) -> None:
        try:
            free = free_bytes(self.data_dir)
        except OSError as exc:
            log.warning("cannot read free space of %s: %s", self.data_dir, exc.strerror)
            return
        pressure = self.pressure
        if not pressure.disk and self.disk_free_limit and free < self.disk_free_limit:
            pressure.set(Alarm.DISK, True, f"{free} bytes free, limit {self.disk_free_limit}")
        elif pressure.disk and free >= self.disk_free_limit + RESUME_MARGIN:
            pressure.set(Alarm.DISK, False, f"{free} bytes free")

    def _sample_memory(self) -> None:
        used = resident_bytes()
        if used >= self.memory_limit:
            _trim_heap()
            used = resident_bytes()
        over = used >= self.memory_limit
        if over != self.pressure.memory:
            self.pressure.set(Alarm.MEMORY, over, f"resident {used} bytes, watermark {self.memory_limit}")

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None

"""Deadlines of the coordinator (sessions, rebalances, offset retention) on the engine clock.

Time comes from `engine.clock` so tests drive it with FakeClock and call `run_due()`;
when an event loop is running, one loop timer is armed for the earliest deadline and runs
the due entries when it fires. Entries are never removed early: each is checked against
the current state when it comes due (a heartbeat simply moves the member's deadline, and
the stale entry re-queues itself), which keeps a heartbeat O(1).
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from typing import Callable, Hashable

from engine.clock import Clock


class Deadlines:
    def __init__(self, clock: Clock, on_due: Callable[[Hashable], None]) -> None:
        self._clock = clock
        self._on_due = on_due
        self._heap: list[tuple[float, int, Hashable]] = []
        self._seq = itertools.count()
        self._handle: asyncio.TimerHandle | None = None
        self._handle_at = float("inf")
        self._running = False

    def at(self, when: float, key: Hashable) -> None:
        """Calls on_due(key) once monotonic() reaches `when` (seconds on the engine clock)."""
        heapq.heappush(self._heap, (when, next(self._seq), key))
        if when < self._handle_at and not self._running:
            self._arm()

    def run_due(self) -> None:
        """Runs every entry that is due now; tests call this after advancing a FakeClock."""
        if self._running:
            return
        self._running = True
        try:
            while self._heap and self._heap[0][0] <= self._clock.monotonic():
                _, _, key = heapq.heappop(self._heap)
                self._on_due(key)
        finally:
            self._running = False
        self._arm()

    def _arm(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
            self._handle_at = float("inf")
        if not self._heap:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # no loop (a synchronous test): run_due() is called by hand
        when = self._heap[0][0]
        self._handle_at = when
        self._handle = loop.call_later(max(when - self._clock.monotonic(), 0.0), self._fire)

    def _fire(self) -> None:
        self._handle = None
        self._handle_at = float("inf")
        self.run_due()

    def close(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        self._heap.clear()

    def __len__(self) -> int:
        return len(self._heap)

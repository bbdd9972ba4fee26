"""The ready messages of a queue that has TTL, length limits, priorities or is a quorum queue.

A plain classic queue keeps its ready entries in one deque, handled inline on the fast
path (engine/messaging/queue.py). Queues with features go through one of these
containers instead, which also count the ready body bytes (`x-max-length-bytes` counts
ready messages only, as RabbitMQ's `message_bytes_ready`):

- `Fifo`: one deque in sequence order. A requeued entry goes back to the place its
  sequence number gives it, ahead of everything published later (classic queues,
  `rabbit_variable_queue`).
- `Returns` (quorum queues): returned entries wait in a second deque that is served
  before the rest, in the order they came back (`rabbit_fifo` keeps `returns` apart from
  `messages`); entries returned by one call come back in sequence order.
- `Levels` (`x-max-priority` N, `rabbit_priority_queue`): one deque per priority 0..N,
  the highest non-empty level is served first, FIFO within a level; a message without
  a priority is level 0 and one above N is level N. Dropping the head for `drop-head`
  takes from the highest level too (`rabbit_priority_queue:drop/2` walks the levels from
  the top).

Expiry is checked at the head only (classic and quorum queues expire messages when
they reach the head), and for `Levels` at the head of every level.
"""

from __future__ import annotations

from collections import deque
from typing import Iterator

from engine.messaging.types import Entry


def _seq_of(entry: Entry) -> int:
    return entry.seq


def merge_requeued(ready: deque, back: list[Entry]) -> None:
    """Puts `back` (sorted by seq) into `ready` (sorted by seq) at the front, in order."""
    last = back[-1].seq
    if ready and ready[0].seq < last:
        # Some ready entries sort between the requeued ones: merge the overlapping head.
        head = []
        while ready and ready[0].seq < last:
            head.append(ready.popleft())
        back = sorted(back + head, key=_seq_of)
    ready.extendleft(reversed(back))


class Fifo:
    __slots__ = ("items", "bytes")

    def __init__(self, items: deque | None = None) -> None:
        self.items: deque[Entry] = items if items is not None else deque()
        self.bytes = 0

    def __len__(self) -> int:
        return len(self.items)

    def push(self, entry: Entry) -> None:
        self.items.append(entry)
        self.bytes += entry.size

    def pop(self) -> Entry:
        entry = self.items.popleft()
        self.bytes -= entry.size
        return entry

    def head(self) -> Entry | None:
        return self.items[0] if self.items else None

    def lanes(self) -> Iterator[deque]:
        """The deques whose heads are served, in serving order (expiry looks at each head)."""
        yield self.items

    def take_head_of(self, items: deque) -> Entry:
        entry = items.popleft()
        self.bytes -= entry.size
        return entry

    def requeue(self, back: list[Entry]) -> None:
        self.bytes += sum(e.size for e in back)
        merge_requeued(self.items, back)

    def drain(self) -> list[Entry]:
        out = list(self.items)
        self.items.clear()
        self.bytes = 0
        return out


class Returns(Fifo):
    __slots__ = ("returned",)

    def __init__(self) -> None:
        super().__init__()
        self.returned: deque[Entry] = deque()

    def __len__(self) -> int:
        return len(self.items) + len(self.returned)

    def pop(self) -> Entry:
        entry = self.returned.popleft() if self.returned else self.items.popleft()
        self.bytes -= entry.size
        return entry

    def head(self) -> Entry | None:
        if self.returned:
            return self.returned[0]
        return self.items[0] if self.items else None

    def lanes(self) -> Iterator[deque]:
        yield self.returned
        yield self.items

    def take_head_of(self, items: deque) -> Entry:
        entry = items.popleft()
        self.bytes -= entry.size
        return entry

    def requeue(self, back: list[Entry]) -> None:
        self.bytes += sum(e.size for e in back)
        self.returned.extend(back)

    def drain(self) -> list[Entry]:
        out = list(self.returned) + list(self.items)
        self.returned.clear()
        self.items.clear()
        self.bytes = 0
        return out


class Levels(Fifo):
    __slots__ = ("levels", "count", "top")

    def __init__(self, max_priority: int) -> None:
        super().__init__()
        self.levels: list[deque[Entry]] = [deque() for _ in range(max_priority + 1)]
        self.count = 0
        self.top = 0  # no level above this one holds anything

    def __len__(self) -> int:
        return self.count

    def level_of(self, priority: int) -> int:
        return min(max(priority, 0), len(self.levels) - 1)

    def push(self, entry: Entry) -> None:
        self.levels[entry.level].append(entry)
        self.count += 1
        self.bytes += entry.size
        if entry.level > self.top:
            self.top = entry.level

    def _top_level(self) -> deque | None:
        levels = self.levels
        top = self.top
        while top > 0 and not levels[top]:
            top -= 1
        self.top = top
        return levels[top] if levels[top] else None

    def pop(self) -> Entry:
        items = self._top_level()
        assert items is not None
        return self.take_head_of(items)

    def take_head_of(self, items: deque) -> Entry:
        entry = items.popleft()
        self.count -= 1
        self.bytes -= entry.size
        return entry

    def head(self) -> Entry | None:
        items = self._top_level()
        return items[0] if items else None

    def lanes(self) -> Iterator[deque]:
        return reversed(self.levels)

    def requeue(self, back: list[Entry]) -> None:
        by_level: dict[int, list[Entry]] = {}
        for entry in back:
            by_level.setdefault(entry.level, []).append(entry)
        for level, entries in by_level.items():
            merge_requeued(self.levels[level], entries)
            if level > self.top:
                self.top = level
        self.count += len(back)
        self.bytes += sum(e.size for e in back)

    def drain(self) -> list[Entry]:
        out = [e for items in reversed(self.levels) for e in items]
        for items in self.levels:
            items.clear()
        self.count = 0
        self.bytes = 0
        self.top = 0
        return out

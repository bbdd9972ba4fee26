"""A classic queue: ready messages in order, unacked counts, consumers served round-robin.

State per message (an `Entry`): ready in `_ready` (ordered by sequence number), or
delivered and waiting for its ack (counted in `unacked_count`; the wire layer holds the
entry under its delivery tag), or settled. Requeued entries go back to the position their
sequence number gives them, ahead of anything published later, and carry
`redelivered=True` (RabbitMQ classic queues).

Consumers are served round-robin: a delivery goes to the next consumer after the last one
served that has credit (`Consumer.has_credit()`: its prefetch window, the channel's
global window, a writable socket). A consumer with `no_ack` settles on delivery.

Memory stays bounded: with a disk store, message bodies are kept in RAM only while the
queue's resident body bytes are under `ram_budget` (default 8 MiB per queue); later
messages are written to the queue's segment files (engine/messaging/segments.py) and read
back when delivered. Per message the queue then keeps only its `Entry` (about 120 bytes).
Without a disk store (memory backend) everything stays in RAM.

Persistent messages in durable queues are always written to the store on enqueue; the
owner flushes stores before confirming (see Messaging.sync).

Seams for issue 5 (TTL, max-length, priorities, DLX): enqueue and settle are the only
ways in and out of `_ready`, so expiry, length limits and dead-lettering belong there.
"""

from __future__ import annotations

from collections import deque
from typing import Callable, Iterable, Mapping

from engine.messaging.errors import AccessRefused, Reason, fail
from engine.messaging.fields import Field
from engine.messaging.segments import QueueStore
from engine.messaging.types import Consumer, Entry, Message

DEFAULT_RAM_BUDGET = 8 * 1024 * 1024


class Queue:
    def __init__(
        self,
        name: str,
        *,
        vhost: str,
        durable: bool,
        auto_delete: bool,
        owner: object | None,
        arguments: Mapping[str, Field],
        store: QueueStore | None = None,
        ram_budget: int = DEFAULT_RAM_BUDGET,
        queue_id: str = "",
        on_unused: Callable[["Queue"], None] | None = None,
    ) -> None:
        self.name = name
        self.vhost = vhost
        self.durable = durable
        self.auto_delete = auto_delete
        self.owner = owner  # the exclusive owner (a connection), or None
        self.arguments = dict(arguments)
        self.id = queue_id
        self.store = store
        self.ram_budget = ram_budget
        self._on_unused = on_unused
        self._ready: deque[Entry] = deque()
        self._consumers: list[Consumer] = []
        self._rr = 0
        self._next_seq = 1
        self._ram_bytes = 0
        self.unacked_count = 0
        self.had_consumer = False
        self.exclusive_consumer: Consumer | None = None
        self.deleted = False
        # cheap counters for metrics (DESIGN.md §1)
        self.published = 0
        self.delivered = 0
        self.acked = 0

    def __repr__(self) -> str:
        return f"<Queue {self.name!r} ready={len(self._ready)} unacked={self.unacked_count}>"

    # -- counts -------------------------------------------------------------------------

    @property
    def message_count(self) -> int:
        return len(self._ready)

    @property
    def consumer_count(self) -> int:
        return len(self._consumers)

    @property
    def consumers(self) -> tuple[Consumer, ...]:
        return tuple(self._consumers)

    # -- in -----------------------------------------------------------------------------

    def enqueue(self, message: Message) -> Entry:
        seq = self._next_seq
        self._next_seq = seq + 1
        entry = Entry(seq, message, len(message.body))
        self.published += 1
        store = self.store
        if store is not None:
            persist = message.persistent and self.durable
            over = self._ram_bytes >= self.ram_budget
            if persist or over:
                store.append(entry, message, persist)
            if over:
                entry.message = None
        if entry.message is not None:
            self._ram_bytes += entry.size
        self._ready.append(entry)
        if self._consumers:
            self.dispatch()
        return entry

    def restore(self, entry: Entry, message: Message) -> None:
        """Adds a recovered entry (start-up), keeping its body only while under budget."""
        if self._ram_bytes >= self.ram_budget:
            entry.message = None
        else:
            self._ram_bytes += entry.size
        self._ready.append(entry)
        self._next_seq = max(self._next_seq, entry.seq + 1)

    # -- out ----------------------------------------------------------------------------

    def _message(self, entry: Entry) -> Message:
        message = entry.message
        if message is None:
            assert self.store is not None
            message = self.store.read(entry)
        return message

    def dispatch(self) -> None:
        """Delivers ready messages while some consumer has credit."""
        ready = self._ready
        consumers = self._consumers
        while ready and consumers:
            n = len(consumers)
            start = self._rr
            for i in range(n):
                consumer = consumers[(start + i) % n]
                if consumer.has_credit():
                    self._rr = (start + i + 1) % n
                    break
            else:
                return
            entry = ready.popleft()
            message = self._message(entry)
            self.delivered += 1
            if consumer.no_ack:
                self._settle(entry)
            else:
                self.unacked_count += 1
            consumer.deliver(self, entry, message)

    def get(self, *, no_ack: bool) -> tuple[Entry, Message] | None:
        """basic.get: the head message, or None when there is none ready."""
        if not self._ready:
            return None
        entry = self._ready.popleft()
        message = self._message(entry)
        self.delivered += 1
        if no_ack:
            self._settle(entry)
        else:
            self.unacked_count += 1
        return entry, message

    # -- settlement ---------------------------------------------------------------------

    def _settle(self, entry: Entry) -> None:
        if entry.message is not None:
            self._ram_bytes -= entry.size
            entry.message = None
        if entry.segment is not None and self.store is not None:
            self.store.remove(entry)

    def ack(self, entry: Entry) -> None:
        if self.deleted:
            return
        self.unacked_count -= 1
        self.acked += 1
        self._settle(entry)

    def discard(self, entry: Entry) -> None:
        """A reject or nack without requeue. Issue 5 dead-letters here (reason `rejected`)."""
        self.ack(entry)

    def requeue(self, entries: Iterable[Entry]) -> None:
        """Puts delivered entries back in sequence order, marked redelivered."""
        if self.deleted:
            return
        back = sorted(entries, key=_seq_of)
        if not back:
            return
        self.unacked_count -= len(back)
        for entry in back:
            entry.redelivered = True
        ready = self._ready
        last = back[-1].seq
        if ready and ready[0].seq < last:
            # Some ready entries sort between the requeued ones: merge the overlapping head.
            head = []
            while ready and ready[0].seq < last:
                head.append(ready.popleft())
            back = sorted(back + head, key=_seq_of)
        ready.extendleft(reversed(back))
        if self._consumers:
            self.dispatch()

    def purge(self) -> int:
        count = len(self._ready)
        ready = self._ready
        while ready:
            self._settle(ready.popleft())
        return count

    # -- consumers ----------------------------------------------------------------------

    def add_consumer(self, consumer: Consumer, *, exclusive: bool) -> None:
        if self.exclusive_consumer is not None or (exclusive and self._consumers):
            raise fail(AccessRefused, Reason.QUEUE_IN_EXCLUSIVE_USE, name=self.name, vhost=self.vhost)
        self._consumers.append(consumer)
        self.had_consumer = True
        if exclusive:
            self.exclusive_consumer = consumer

    def remove_consumer(self, consumer: Consumer) -> None:
        try:
            index = self._consumers.index(consumer)
        except ValueError:
            return
        del self._consumers[index]
        if index < self._rr:
            self._rr -= 1
        if self._rr >= len(self._consumers):
            self._rr = 0
        if self.exclusive_consumer is consumer:
            self.exclusive_consumer = None
        if not self._consumers and self.auto_delete and self.had_consumer and self._on_unused is not None:
            self._on_unused(self)

    # -- end ----------------------------------------------------------------------------

    def delete(self) -> int:
        """Marks the queue gone, tells its consumers, drops its messages; returns the ready count."""
        count = len(self._ready)
        self.deleted = True
        consumers, self._consumers = self._consumers, []
        self.exclusive_consumer = None
        for consumer in consumers:
            consumer.queue_deleted(self)
        self._ready.clear()
        self._ram_bytes = 0
        if self.store is not None:
            self.store.destroy()
            self.store = None
        return count


def _seq_of(entry: Entry) -> int:
    return entry.seq

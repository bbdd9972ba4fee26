"""A queue: ready messages in order, unacked counts, consumers, and RabbitMQ's queue features.

State per message (an `Entry`): ready, or delivered and waiting for its ack (counted in
`unacked_count`; the wire layer holds the entry under its delivery tag), or settled.
Requeued entries go back to the position their sequence number gives them, ahead of
anything published later, and carry `redelivered=True` (RabbitMQ classic queues).

Consumers are served round-robin: a delivery goes to the next consumer after the last one
served that has credit (`Consumer.has_credit()`: its prefetch window, the channel's
global window, a writable socket). A consumer with `no_ack` settles on delivery.
Consumer priorities (`x-priority`): only the highest-priority consumers with credit
receive, round-robin among them; lower ones get messages only while all higher ones are
blocked (`rabbit_queue_consumers`). Single active consumer (`x-single-active-consumer`):
only the earliest registered consumer receives; when it goes, the next one takes over.

Features, from the queue's arguments (engine/messaging/arguments.py `QueueConfig`), as
`rabbit_amqqueue_process` does them:
- TTL: `x-message-ttl` and the message's own expiration, the lower winning, fixed when
  the message is enqueued. Messages expire only at the head of the queue (classic and
  quorum queues alike): when a delivery reaches one, when a publish lands at the head,
  and on a timer armed for the head's expiry, so expired messages are dead-lettered
  promptly with no consumer. An expired message is never delivered. An empty queue hands
  a new message straight to a consumer with credit first (`attempt_delivery`), which is
  why `x-message-ttl=0` delivers to a waiting consumer and drops otherwise.
- Length limits (`x-max-length`, `x-max-length-bytes`, ready messages only):
  `drop-head` drops (dead-letters, reason `maxlen`) from the head until within limits,
  after a publish and after a requeue; `reject-publish` refuses a publish that would
  exceed a limit (`will_overflow`: length + 1 > max or bytes + size > max), and
  `reject-publish-dlx` also dead-letters the refused message; the publisher is nacked.
- Priorities (`x-max-priority`): engine/messaging/ready.py `Levels`.
- Dead-lettering: the vhost routes the message to `x-dead-letter-exchange`
  (engine/messaging/vhost.py `dead_letter`), for `rejected` (reject/nack without
  requeue), `expired`, `maxlen` and `delivery_limit`.
- At-least-once dead-lettering (quorum, `x-dead-letter-strategy=at-least-once` with
  `x-overflow=reject-publish`, rabbit_fifo_dlx): a dead message the DLX cannot place (the
  exchange is missing, routes nowhere, or a target refuses it) is kept by the queue, in
  order, and tried again when the vhost's topology changes (exchange or queue declared,
  binding added) and every DLX_RETRY_MS; a target that took it is not given it again. Kept
  messages are not ready (not in message_count, never delivered) but count towards
  `x-max-length` / `x-max-length-bytes` (rabbit_fifo:is_over_limit adds the dlx counts);
  their store records stay until the DLX takes them, so after a restart they are back in
  the queue as ready messages (never lost).
- Quorum queues (`x-queue-type=quorum`): every return of a delivered message (requeue,
  channel closed) counts towards `x-delivery-limit` (default 20, RabbitMQ 4); a message
  returned more often than that is dead-lettered with reason `delivery_limit` instead of
  requeued (`rabbit_fifo:return_one`). Returned messages are served first. Every message
  is written to the store, persistent or not (a quorum queue logs every enqueue).
- `x-expires`: a queue with no consumers, no basic.get and no redeclare for that long is
  deleted (not dead-lettered).

A plain classic queue (none of the above) keeps the original fast path: one deque,
inline round-robin, no clock reads, until the first message with its own expiration
arrives; from then on it takes the checked path too.

Memory stays bounded: with a disk store, message bodies are kept in RAM only while the
queue's resident body bytes are under `ram_budget` (default 8 MiB per queue); later
messages are written to the queue's segment files (engine/messaging/segments.py) and read
back when delivered. Persistent messages in durable queues are always written to the
store on enqueue; the owner flushes stores before confirming (see Messaging.sync). The
highest sequence number delivered is noted in the store, so messages recovered after a
crash that had been delivered come back `redelivered` (as RabbitMQ classic queues do).
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Callable, Iterable, Mapping

from engine.messaging.arguments import Overflow, QueueConfig, QueueType
from engine.messaging.deaths import DeathReason
from engine.messaging.errors import AccessRefused, Reason, ResourceLocked, fail
from engine.messaging.fields import Field
from engine.messaging.ready import Fifo, Levels, Returns
from engine.messaging.segments import QueueStore
from engine.messaging.types import CheckedEntry, Consumer, Entry, Message

if TYPE_CHECKING:
    from engine.messaging.vhost import VHost

DEFAULT_RAM_BUDGET = 8 * 1024 * 1024
TTL_TIMER = "ttl"
EXPIRES_TIMER = "expires"
DLX_TIMER = "dlx"
# rabbit_fifo_dlx_worker re-sends what is not yet settled on a timer; ours also retries at once
# when the topology changes (VHost.retry_dead_letters), so this is only the backstop
DLX_RETRY_MS = 1000


class _DeadLetter:
    """A dead message at-least-once dead-lettering still has to place (module docstring)."""

    __slots__ = ("entry", "dead", "reason", "done", "size")

    def __init__(self, entry: Entry, dead: Message, reason: DeathReason, size: int) -> None:
        self.entry = entry
        self.dead = dead
        self.reason = reason
        self.done: set[str] = set()  # target queues that took it already
        self.size = size


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
        host: "VHost | None" = None,
    ) -> None:
        self.name = name
        self.vhost = vhost
        self.durable = durable
        self.auto_delete = auto_delete
        self.owner = owner  # the exclusive owner (a connection), or None
        self.arguments = dict(arguments)
        self.config = config = QueueConfig.parse(self.arguments)
        self.type = config.type
        self.id = queue_id
        self.store = store
        self.ram_budget = ram_budget
        self._on_unused = on_unused
        self._host = host
        self._ready: deque[Entry] = deque()
        if config.max_priority > 0:
            self._box: Fifo = Levels(config.max_priority)
        elif config.type is QueueType.QUORUM:
            self._box = Returns()
        else:
            self._box = Fifo(self._ready)
        self._featured = config.featured
        self._checked = self._featured  # dispatch through the checked path (features or consumer priorities)
        self._track_delivered = store is not None and durable  # recovery's redelivered flag
        self._limited = config.max_length is not None or config.max_length_bytes is not None
        self._consumers: list[Consumer] = []
        self._groups: list[list] | None = None  # consumer priority groups, when priorities differ
        self._rr = 0
        self._next_seq = 1
        self._ram_bytes = 0
        self._ttl_at = 0  # wall-clock ms the head-expiry timer is armed for (0: none)
        self._has_ttl = config.message_ttl is not None  # some entry may carry an expiry
        self._expires_armed = False
        self._last_used = 0.0
        self._dispatching = False
        self._dead_letters: deque[_DeadLetter] = deque()
        self._dead_letter_bytes = 0
        self._dlx_armed = False
        self.delivered_seq = 0  # highest sequence number ever delivered (recovery's redelivered flag)
        self.unacked_count = 0
        self.had_consumer = False
        self.exclusive_consumer: Consumer | None = None
        self.deleted = False
        # cheap counters for metrics (DESIGN.md §1)
        self.published = 0
        self.delivered = 0
        self.acked = 0
        self.dead_lettered = 0
        self.expired = 0
        self.rejected = 0

    def __repr__(self) -> str:
        return f"<Queue {self.name!r} ready={self.message_count} unacked={self.unacked_count}>"

    # -- counts -------------------------------------------------------------------------

    @property
    def message_count(self) -> int:
        return len(self._box)

    @property
    def consumer_count(self) -> int:
        return len(self._consumers)

    @property
    def consumers(self) -> tuple[Consumer, ...]:
        return tuple(self._consumers)

    @property
    def single_active_consumer(self) -> Consumer | None:
        if self.config.single_active_consumer and self._consumers:
            return self._consumers[0]
        return None

    # -- in -----------------------------------------------------------------------------

    def enqueue(self, message: Message) -> Entry | None:
        """Adds a published message; None when the queue refused it (x-overflow reject-publish)."""
        if self._featured:
            return self._enqueue_featured(message)
        if message.expiration_ms is not None:
            # A message with its own TTL: from now on this queue checks expiry (the slower path).
            self._featured = self._checked = True
            return self._enqueue_featured(message)
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

    def _store(self, entry: Entry, message: Message) -> None:
        store = self.store
        if store is not None:
            # A quorum queue writes every message to its log, whatever its delivery mode.
            persist = (message.persistent or self.type is QueueType.QUORUM) and self.durable
            over = self._ram_bytes >= self.ram_budget
            if persist or over:
                store.append(entry, message, persist)
            if over:
                entry.message = None
        if entry.message is not None:
            self._ram_bytes += entry.size

    def _would_overflow(self, size: int) -> bool:
        config = self.config
        box = self._box
        if self.type is QueueType.QUORUM:
            # rabbit_fifo:is_over_limit/1 judges the state *before* the enqueue, dead letters kept
            # for at-least-once included: a quorum queue takes one message past its limit (as 3.10 does)
            count = len(box) + len(self._dead_letters)
            return ((config.max_length is not None and count > config.max_length)
                    or (config.max_length_bytes is not None
                        and box.bytes + self._dead_letter_bytes > config.max_length_bytes))
        if config.max_length is not None and len(box) + len(self._dead_letters) + 1 > config.max_length:
            return True
        return (config.max_length_bytes is not None
                and box.bytes + self._dead_letter_bytes + size > config.max_length_bytes)

    def _over_limit(self) -> bool:
        config = self.config
        box = self._box
        if config.max_length is not None and len(box) > config.max_length:
            return True
        return config.max_length_bytes is not None and box.bytes > config.max_length_bytes

    def _enqueue_featured(self, message: Message) -> Entry | None:
        config = self.config
        size = len(message.body)
        if self._limited and config.overflow is not Overflow.DROP_HEAD and self._would_overflow(size):
            self.rejected += 1
            if config.overflow is Overflow.REJECT_PUBLISH_DLX:
                self._dead_letter(message, DeathReason.MAXLEN)
            return None
        seq = self._next_seq
        self._next_seq = seq + 1
        entry = CheckedEntry(seq, message, size)
        self.published += 1
        ttl = config.message_ttl
        own = message.expiration_ms
        if own is not None and (ttl is None or own < ttl):
            ttl = own
        now = self._now() if ttl is not None or self._has_ttl else 0
        if ttl is not None:
            entry.expires = now + ttl or 1  # never 0, which means "no expiry"
            self._has_ttl = True
        box = self._box
        if type(box) is Levels:
            entry.level = box.level_of(message.priority)
        self._store(entry, message)
        if not box and self._consumers:
            consumer = self._pick()
            if consumer is not None:
                # attempt_delivery: straight to a waiting consumer, TTL or not
                self._hand_over(consumer, entry, message)
                return entry
        box.push(entry)
        if self._limited and self.config.overflow is Overflow.DROP_HEAD and self._over_limit():
            self._drop_head()
        self._drop_expired(now)
        if self._consumers:
            self._dispatch_featured()
        return entry

    def restore(self, entry: Entry, message: Message) -> None:
        """Adds a recovered entry (start-up), keeping its body only while under budget."""
        if self._ram_bytes >= self.ram_budget:
            entry.message = None
        else:
            self._ram_bytes += entry.size
        if entry.seq <= self.delivered_seq:
            entry.redelivered = True
        if entry.expires:
            self._featured = self._checked = self._has_ttl = True
        if self._featured:
            if type(self._box) is Levels:
                entry.level = self._box.level_of(message.priority)
            self._box.push(entry)
        else:
            self._ready.append(entry)
        self._next_seq = max(self._next_seq, entry.seq + 1)

    def recovered(self) -> None:
        """Start-up is over: arm the timers recovery could not arm."""
        if self._featured:
            self._arm_ttl()
        self.touch()

    # -- out ----------------------------------------------------------------------------

    def _message(self, entry: Entry) -> Message:
        message = entry.message
        if message is None:
            assert self.store is not None
            message = self.store.read(entry)
        return message

    def dispatch(self) -> None:
        """Delivers ready messages while some consumer has credit."""
        if self._checked:
            self._dispatch_featured()
            return
        ready = self._ready
        consumers = self._consumers
        entry = None
        while ready and consumers:
            n = len(consumers)
            if n == 1:
                consumer = consumers[0]
                if not consumer.has_credit():
                    break
            else:
                start = self._rr
                for i in range(n):
                    consumer = consumers[(start + i) % n]
                    if consumer.has_credit():
                        self._rr = (start + i + 1) % n
                        break
                else:
                    break
            entry = ready.popleft()
            message = self._message(entry)
            self.delivered += 1
            if consumer.no_ack:
                self._settle(entry)
            else:
                self.unacked_count += 1
            consumer.deliver(self, entry, message)
        # Ready entries are in sequence order, so the last one delivered has the highest.
        if self._track_delivered and entry is not None and entry.seq > self.delivered_seq:
            self._note_delivered(entry.seq)

    def _note_delivered(self, seq: int) -> None:
        self.delivered_seq = seq
        if self._track_delivered and self.store is not None:
            self.store.note_delivered(seq)

    def _pick(self) -> Consumer | None:
        """The consumer the next delivery goes to, or None when none has credit."""
        consumers = self._consumers
        if not consumers:
            return None
        if self.config.single_active_consumer:
            active = consumers[0]
            return active if active.has_credit() else None
        groups = self._groups
        if groups is None:
            n = len(consumers)
            start = self._rr
            for i in range(n):
                consumer = consumers[(start + i) % n]
                if consumer.has_credit():
                    self._rr = (start + i + 1) % n
                    return consumer
            return None
        for group in groups:
            members = group[1]
            n = len(members)
            start = group[2]
            for i in range(n):
                consumer = members[(start + i) % n]
                if consumer.has_credit():
                    group[2] = (start + i + 1) % n
                    return consumer
        return None

    def _hand_over(self, consumer: Consumer, entry: Entry, message: Message) -> None:
        self.delivered += 1
        if entry.seq > self.delivered_seq:
            self._note_delivered(entry.seq)
        if consumer.no_ack:
            self._settle(entry)
        else:
            self.unacked_count += 1
        consumer.deliver(self, entry, message)

    def _dispatch_featured(self) -> None:
        if self._dispatching:
            return  # re-entered through dead-lettering; the outer loop carries on
        self._dispatching = True
        try:
            box = self._box
            now = 0
            while len(box) and self._consumers:
                consumer = self._pick()
                if consumer is None:
                    break
                entry = box.pop()
                if entry.expires:
                    now = now or self._now()
                    if entry.expires <= now:
                        self._expire(entry)
                        continue
                self._hand_over(consumer, entry, self._message(entry))
        finally:
            self._dispatching = False
        if self._featured:
            self._arm_ttl()

    def get(self, *, no_ack: bool) -> tuple[Entry, Message] | None:
        """basic.get: the head message, or None when there is none ready."""
        self.touch()
        if self._featured:
            self._drop_expired(self._now())
            if not self._box:
                return None
            entry = self._box.pop()
            self._arm_ttl()
        else:
            if not self._ready:
                return None
            entry = self._ready.popleft()
        message = self._message(entry)
        self.delivered += 1
        if entry.seq > self.delivered_seq:
            self._note_delivered(entry.seq)
        if no_ack:
            self._settle(entry)
        else:
            self.unacked_count += 1
        return entry, message

    # -- expiry, limits, dead-lettering --------------------------------------------------

    def _now(self) -> int:
        host = self._host
        return host.clock.now_ms() if host is not None else 0

    def _dead_letter(self, message: Message, reason: DeathReason) -> None:
        host = self._host
        if host is not None and self.config.dead_letter_exchange is not None:
            self.dead_lettered += 1
            host.dead_letter(self, message, reason)

    def _dead(self, entry: Entry, reason: DeathReason) -> None:
        """A ready or delivered entry leaves the queue for good (dead-lettered when configured)."""
        message = self._message(entry) if self.config.dead_letter_exchange is not None else None
        if message is not None and self.config.dead_letter_at_least_once and self._host is not None:
            self.dead_lettered += 1
            pending = _DeadLetter(entry, self._host.dead_message(self, message, reason), reason, entry.size)
            if self._dead_letters or not self._host.forward_dead(self, pending.dead, reason, pending.done):
                # kept, behind any older one (their order is kept); the entry stays stored
                self._host.dead_letter_holders.add(self)
                self._dead_letters.append(pending)
                self._dead_letter_bytes += pending.size
                self._arm_dlx_retry()
                if self._dead_letters[0] is pending:
                    return
                self.retry_dead_letters()
                return
            self._settle(entry)
            return
        self._settle(entry)
        if message is not None:
            self._dead_letter(message, reason)

    @property
    def dead_letters_pending(self) -> int:
        return len(self._dead_letters)

    def retry_dead_letters(self) -> None:
        """Tries the kept dead letters again, oldest first; stops at the first the DLX cannot place."""
        pending = self._dead_letters
        host = self._host
        while pending and host is not None and not self.deleted:
            head = pending[0]
            if not host.forward_dead(self, head.dead, head.reason, head.done):
                self._arm_dlx_retry()
                return
            pending.popleft()
            self._dead_letter_bytes -= head.size
            self._settle(head.entry)
        if not pending and host is not None:
            host.dead_letter_holders.discard(self)

    def _arm_dlx_retry(self) -> None:
        host = self._host
        if host is not None and not self._dlx_armed and self._dead_letters:
            self._dlx_armed = True
            host.schedule(self, DLX_TIMER, delay_ms=DLX_RETRY_MS)

    def _expire(self, entry: Entry) -> None:
        self.expired += 1
        self._dead(entry, DeathReason.EXPIRED)

    def _drop_expired(self, now: int) -> None:
        if not self._has_ttl:
            return
        box = self._box
        for lane in box.lanes():
            while lane and lane[0].expires and lane[0].expires <= now:
                self._expire(box.take_head_of(lane))
        self._arm_ttl()

    def _drop_head(self) -> None:
        # only drop-head drops (rabbit_amqqueue_process:maybe_drop_head/2 and rabbit_fifo leave
        # reject-publish queues past their limit, e.g. after a requeue)
        box = self._box
        while len(box) and self._over_limit():
            self._dead(box.pop(), DeathReason.MAXLEN)

    def _arm_ttl(self) -> None:
        host = self._host
        if host is None or self.deleted or not self._has_ttl:
            return
        first = 0
        for lane in self._box.lanes():
            if lane:
                expires = lane[0].expires
                if expires and (not first or expires < first):
                    first = expires
        if first and (not self._ttl_at or first < self._ttl_at):
            self._ttl_at = first
            host.schedule(self, TTL_TIMER, delay_ms=first - host.clock.now_ms())

    def on_timer(self, kind: str) -> None:
        """A timer armed through the host came due."""
        if self.deleted:
            return
        if kind == TTL_TIMER:
            self._ttl_at = 0
            self._drop_expired(self._now())
            if self._consumers:
                self._dispatch_featured()
        elif kind == EXPIRES_TIMER:
            self._expires_armed = False
            self._check_expires()
        elif kind == DLX_TIMER:
            self._dlx_armed = False
            self.retry_dead_letters()

    # -- x-expires ----------------------------------------------------------------------

    def touch(self) -> None:
        """The queue was used (declared, basic.get, lost its last consumer): restart x-expires."""
        expires = self.config.expires
        host = self._host
        if expires is None or host is None:
            return
        self._last_used = host.clock.monotonic()
        if not self._consumers and not self._expires_armed:
            self._expires_armed = True
            host.schedule(self, EXPIRES_TIMER, delay_ms=expires)

    def _check_expires(self) -> None:
        host = self._host
        expires = self.config.expires
        if host is None or expires is None or self._consumers:
            return
        left_ms = (self._last_used + expires / 1000.0 - host.clock.monotonic()) * 1000.0
        if left_ms > 0.5:
            self._expires_armed = True
            host.schedule(self, EXPIRES_TIMER, delay_ms=left_ms)
            return
        host.delete_queue(self)

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
        """A reject or nack without requeue: dead-lettered (reason `rejected`) when configured."""
        if self.deleted:
            return
        self.unacked_count -= 1
        self._dead(entry, DeathReason.REJECTED)

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
        if self._featured:
            self._requeue_featured(back)
            return
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

    def _requeue_featured(self, back: list[Entry]) -> None:
        limit = self.config.delivery_limit
        if self.type is QueueType.QUORUM:
            keep = []
            for entry in back:
                entry.deliveries += 1
                if limit is not None and entry.deliveries > limit:
                    self._dead(entry, DeathReason.DELIVERY_LIMIT)
                else:
                    keep.append(entry)
            back = keep
        if back:
            self._box.requeue(back)
        if self._limited and self.config.overflow is Overflow.DROP_HEAD and self._over_limit():
            self._drop_head()
        self._drop_expired(self._now())
        if self._consumers:
            self._dispatch_featured()

    def purge(self) -> int:
        entries = self._box.drain()
        for entry in entries:
            self._settle(entry)
        return len(entries)

    # -- consumers ----------------------------------------------------------------------

    def add_consumer(self, consumer: Consumer, *, exclusive: bool) -> None:
        if self.exclusive_consumer is not None or (exclusive and self._consumers):
            raise fail(AccessRefused, Reason.QUEUE_IN_EXCLUSIVE_USE, name=self.name, vhost=self.vhost)
        self._consumers.append(consumer)
        self.had_consumer = True
        if exclusive:
            self.exclusive_consumer = consumer
        self._regroup()

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
        self._regroup()
        if not self._consumers:
            if self.auto_delete and self.had_consumer and self._on_unused is not None:
                self._on_unused(self)
                return
            self.touch()
        elif index == 0 and self.config.single_active_consumer:
            self.dispatch()  # the next consumer in line takes over

    def _regroup(self) -> None:
        priorities = {getattr(c, "priority", 0) for c in self._consumers}
        if len(priorities) <= 1:
            self._groups = None
            self._checked = self._featured
            return
        self._checked = True
        cursors = {group[0]: group[2] for group in self._groups or ()}
        groups: dict[int, list] = {}
        for consumer in self._consumers:
            groups.setdefault(getattr(consumer, "priority", 0), []).append(consumer)
        self._groups = [[p, members, cursors.get(p, 0) % len(members)]
                        for p, members in sorted(groups.items(), key=lambda kv: -kv[0])]

    def check_get(self) -> None:
        """basic.get on a quorum queue with single active consumer is refused (rabbit_quorum_queue:dequeue)."""
        if self.type is QueueType.QUORUM and self.config.single_active_consumer:
            raise fail(ResourceLocked, Reason.GET_ON_SINGLE_ACTIVE_QUORUM, name=self.name, vhost=self.vhost)

    # -- end ----------------------------------------------------------------------------

    def delete(self) -> int:
        """Marks the queue gone, tells its consumers, drops its messages; returns the ready count."""
        count = self.message_count
        self.deleted = True
        consumers, self._consumers = self._consumers, []
        self._groups = None
        self.exclusive_consumer = None
        for consumer in consumers:
            consumer.queue_deleted(self)
        self._box.drain()
        self._ready.clear()
        self._dead_letters.clear()
        self._dead_letter_bytes = 0
        if self._host is not None:
            self._host.dead_letter_holders.discard(self)
        self._ram_bytes = 0
        if self.store is not None:
            self.store.destroy()
            self.store = None
        return count


def _seq_of(entry: Entry) -> int:
    return entry.seq

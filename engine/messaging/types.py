"""Values crossing between a wire package and the messaging engine.

Declarations are frozen, slotted, keyword-only dataclasses (DESIGN.md §3). The two
per-message objects, `Message` and `Entry`, are plain slotted classes on purpose: one is
built for every publish and one per queue a message lands in, and a frozen dataclass
costs an `object.__setattr__` per field on that hot path (DESIGN.md §6).

A `Message` is what was published and is shared by every queue it was routed to:
`properties` is the raw encoded property list of the protocol's content header (for AMQP
0-9-1 the property flags followed by the property values, §4.2.6.1), kept as bytes so the
message is delivered byte for byte as it was published; the engine reads only what it
needs, which the wire decodes for it (`persistent`, `priority`, `expiration_ms`, and the
sender-selected routing keys `cc` / `bcc` from the CC and BCC headers).

What the broker adds to a message on its way is kept beside the protocol bytes, never
written into them (RabbitMQ 4.x's message container does the same: `mc` annotations,
rendered by `mc_amqpl:protocol_state/2` only when the message is delivered): `deaths`
(the dead-letter history, engine/messaging/deaths.py) and, per entry, the quorum
`deliveries` count. A wire layer renders them into its own header format on delivery.

An `Entry` is one message's place in one queue: its sequence number in that queue (the
requeue order), whether it has been delivered before, where its record lives on disk
(if it does), and for queues with TTL, priorities or a delivery limit its expiry time,
priority level and how often it went back to the queue.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Mapping, Protocol

from engine.messaging.fields import Field

if TYPE_CHECKING:
    from engine.messaging.deaths import Deaths
    from engine.messaging.queue import Queue


class ExchangeType(enum.StrEnum):
    DIRECT = "direct"
    FANOUT = "fanout"
    TOPIC = "topic"
    HEADERS = "headers"


@dataclass(frozen=True, slots=True, kw_only=True)
class ExchangeSpec:
    name: str
    type: str  # validated against ExchangeType by the vhost, so unknown types get their own error
    durable: bool = False
    auto_delete: bool = False
    internal: bool = False
    arguments: Mapping[str, Field] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class QueueSpec:
    name: str  # "" asks the server to name it
    durable: bool = False
    exclusive: bool = False
    auto_delete: bool = False
    arguments: Mapping[str, Field] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class QueueStatus:
    name: str
    message_count: int  # ready messages, as queue.declare-ok reports them
    consumer_count: int


class PublishResult(enum.IntFlag):
    """What became of one published message (`VHost.publish`)."""

    UNROUTED = 0
    ROUTED = 1  # at least one destination took it (or it went to a direct reply-to consumer)
    REJECTED = 2  # a destination refused it (x-overflow reject-publish): the publisher is nacked


class Message:
    """A published message; `AnnotatedMessage` when it carries sender-selected keys or a death history.

    The three extras are class-level defaults here, so building the common message costs no
    more than its seven fields (DESIGN.md §6: one of these per publish).
    """

    __slots__ = ("exchange", "routing_key", "properties", "body", "persistent", "priority", "expiration_ms")
    cc: tuple[str, ...] = ()  # CC routing keys (the header stays in the properties)
    bcc: tuple[str, ...] = ()  # BCC routing keys (the wire removed the header before storing)
    deaths: "Deaths | None" = None

    def __init__(
        self,
        exchange: str,
        routing_key: str,
        properties: bytes,
        body: bytes,
        persistent: bool = False,
        priority: int = 0,
        expiration_ms: int | None = None,
    ) -> None:
        self.exchange = exchange
        self.routing_key = routing_key
        self.properties = properties
        self.body = body
        self.persistent = persistent
        self.priority = priority
        self.expiration_ms = expiration_ms

    @property
    def routing_keys(self) -> tuple[str, ...]:
        """Every key the message was routed with: the publish key, then CC, then BCC."""
        if not self.cc and not self.bcc:
            return (self.routing_key,)
        return (self.routing_key, *self.cc, *self.bcc)


class AnnotatedMessage(Message):
    __slots__ = ("cc", "bcc", "deaths")

    def __init__(
        self,
        exchange: str,
        routing_key: str,
        properties: bytes,
        body: bytes,
        persistent: bool = False,
        priority: int = 0,
        expiration_ms: int | None = None,
        cc: tuple[str, ...] = (),
        bcc: tuple[str, ...] = (),
        deaths: "Deaths | None" = None,
    ) -> None:
        super().__init__(exchange, routing_key, properties, body, persistent, priority, expiration_ms)
        self.cc = cc
        self.bcc = bcc
        self.deaths = deaths


def make_message(exchange: str, routing_key: str, properties: bytes, body: bytes, persistent: bool = False,
                 priority: int = 0, expiration_ms: int | None = None, cc: tuple[str, ...] = (),
                 bcc: tuple[str, ...] = (), deaths: "Deaths | None" = None) -> Message:
    """A `Message`, or an `AnnotatedMessage` when any of the extras is set."""
    if cc or bcc or deaths is not None:
        return AnnotatedMessage(exchange, routing_key, properties, body, persistent, priority, expiration_ms,
                                cc, bcc, deaths)
    return Message(exchange, routing_key, properties, body, persistent, priority, expiration_ms)


class Entry:
    """One message's place in a queue. The last three fields are class-level defaults that a plain
    classic queue never changes; queues that use them make `CheckedEntry`s."""

    __slots__ = ("seq", "message", "redelivered", "segment", "offset", "size")
    expires: int = 0  # wall-clock ms after which the entry is dead (0: never)
    level: int = 0  # priority level in a priority queue
    deliveries: int = 0  # times it went back to a quorum queue (x-delivery-count)

    def __init__(self, seq: int, message: Message | None, size: int) -> None:
        self.seq = seq
        self.message = message  # None while paged out to disk
        self.redelivered = False
        self.segment = None  # the on-disk segment holding this entry's record, if any
        self.offset = -1
        self.size = size  # body bytes, for memory accounting and x-max-length-bytes


class CheckedEntry(Entry):
    __slots__ = ("expires", "level", "deliveries")

    def __init__(self, seq: int, message: Message | None, size: int) -> None:
        super().__init__(seq, message, size)
        self.expires = 0
        self.level = 0
        self.deliveries = 0


class Consumer(Protocol):
    """A subscription as the queue sees it; implemented by the wire layer.

    `has_credit` says whether one more delivery may be made now (prefetch, channel flow,
    a full socket buffer). `deliver` hands over one message; when `no_ack` the entry is
    already settled. `queue_deleted` tells the consumer its queue is gone (AMQP sends
    basic.cancel). `priority` is the consumer priority (AMQP's `x-priority`): a queue
    delivers to its highest-priority consumers with credit, round-robin among equals.
    """

    no_ack: bool
    priority: int

    def has_credit(self) -> bool: ...

    def deliver(self, queue: "Queue", entry: Entry, message: Message) -> None: ...

    def queue_deleted(self, queue: "Queue") -> None: ...

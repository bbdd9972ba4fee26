"""Protocol-neutral messaging: vhosts, exchanges, bindings, queues (DESIGN.md §2).

What the AMQP wire layer (and later others) drive: `Messaging` (engine.messaging), owned
by the Engine as `engine.messaging`.
"""

from engine.messaging.arguments import Overflow, QueueConfig, QueueType
from engine.messaging.deaths import Death, DeathReason, Deaths
from engine.messaging.errors import Reason
from engine.messaging.exchange import Exchange
from engine.messaging.fields import Field, FieldKind
from engine.messaging.messaging import DEFAULT_VHOST, Messaging
from engine.messaging.queue import Queue
from engine.messaging.types import (
    AnnotatedMessage,
    CheckedEntry,
    Consumer,
    Entry,
    ExchangeSpec,
    ExchangeType,
    Message,
    PublishResult,
    QueueSpec,
    QueueStatus,
)
from engine.messaging.vhost import VHost, server_name

__all__ = [
    "AnnotatedMessage", "CheckedEntry", "Consumer", "DEFAULT_VHOST", "Death", "DeathReason", "Deaths", "Entry", "Exchange", "ExchangeSpec",
    "ExchangeType", "Field", "FieldKind", "Message", "Messaging", "Overflow", "PublishResult", "Queue",
    "QueueConfig", "QueueSpec", "QueueStatus", "QueueType", "Reason", "VHost", "server_name",
]

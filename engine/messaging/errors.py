"""Why a messaging operation was refused: the neutral engine error plus a closed reason.

The engine raises `engine.errors` classes (NotFound, PreconditionFailed, ResourceLocked,
AccessRefused); each carries a `reason` from `Reason` and the facts the wire layer needs
to word it (`detail`). amqp_wire/errors.py maps every reason to RabbitMQ's reply code and
exact text; the English message here is only for logs and other protocols.
"""

from __future__ import annotations

import enum
from typing import Any

from engine.errors import AccessRefused, EngineError, NotFound, PreconditionFailed, ResourceLocked


class Reason(enum.Enum):
    NO_VHOST = "no vhost {vhost}"
    NO_QUEUE = "no queue {name!r} in vhost {vhost!r}"
    NO_EXCHANGE = "no exchange {name!r} in vhost {vhost!r}"
    QUEUE_LOCKED = "queue {name!r} is exclusive to another connection"
    QUEUE_IN_EXCLUSIVE_USE = "queue {name!r} has an exclusive consumer"
    INEQUIVALENT_FIELD = "inequivalent {field} for {kind} {name!r}"
    INEQUIVALENT_ARG = "inequivalent argument {key} for {kind} {name!r}"
    INVALID_ARG = "invalid argument {key} for {kind} {name!r}: {problem}"
    INVALID_ARG_TYPE = "invalid type {type} for argument {key} of {kind} {name!r}"
    RESERVED_NAME = "{kind} name {name!r} has the reserved prefix amq."
    DEFAULT_EXCHANGE = "the default exchange cannot be changed"
    SYSTEM_EXCHANGE = "exchange {name!r} is a system exchange"
    UNKNOWN_EXCHANGE_TYPE = "unknown exchange type {type!r}"
    INTERNAL_EXCHANGE = "exchange {name!r} is internal"
    EXCHANGE_IN_USE = "exchange {name!r} has bindings"
    QUEUE_IN_USE = "queue {name!r} has consumers"
    QUEUE_NOT_EMPTY = "queue {name!r} is not empty"
    INVALID_X_MATCH = "invalid x-match value {value!r}"
    NAME_PREFIX_TOO_LONG = "queue name prefix {prefix!r} is longer than 64 bytes"
    ARG_OF_OTHER_QUEUE_TYPE = "argument {key} of queue {name!r} belongs to another queue type than {type}"
    INVALID_QUEUE_PROPERTY = "queue {name!r} of type {type} cannot be {property}"
    SERVER_NAMED_NOT_ALLOWED = "a server-named queue cannot be of type {type}"
    GET_ON_SINGLE_ACTIVE_QUORUM = "basic.get is not supported on quorum queue {name!r} with single active consumer"
    VOLATILE_QUEUE_BIND = "the direct reply-to queue {name!r} cannot be bound"


def fail(error_class: type[EngineError], reason: Reason, /, **detail: Any) -> EngineError:
    """An engine error of class `error_class` for `reason`, carrying `detail` for the wire tables."""
    try:
        text = reason.value.format(**detail)
    except (KeyError, IndexError):
        text = reason.name.lower()
    err = error_class(text)
    err.reason = reason  # type: ignore[attr-defined]
    err.detail = detail  # type: ignore[attr-defined]
    return err


__all__ = ["Reason", "fail", "AccessRefused", "NotFound", "PreconditionFailed", "ResourceLocked"]

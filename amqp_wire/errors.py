"""Reply codes, RabbitMQ's exact reply texts, and the map from engine errors to them.

AMQP 0-9-1 §1.2 splits reply codes into soft errors, which close the channel, and hard
errors, which close the connection; any error on channel 0 closes the connection
(`rabbit_binary_generator:map_exception/2`). The reply text is `NAME - explanation`, and
the explanations below are RabbitMQ's own (`rabbit_channel`, `rabbit_amqqueue`,
`rabbit_exchange`, `rabbit_misc:rs/1` which renders `queue 'q' in vhost '/'`), as listed
in shared/reference/rabbitmq-behaviour.md §1.4. Where RabbitMQ 3.10 and 4.x word things
differently, these follow 4.x.
"""

from __future__ import annotations

import enum
import logging

from engine.errors import AccessRefused, EngineError, NotFound, PreconditionFailed, ResourceLocked
from engine.messaging.errors import Reason
from engine.messaging.fields import Field

log = logging.getLogger("mqgateway.amqp")


class ReplyCode(enum.IntEnum):
    REPLY_SUCCESS = 200
    CONTENT_TOO_LARGE = 311
    NO_ROUTE = 312
    NO_CONSUMERS = 313
    CONNECTION_FORCED = 320
    INVALID_PATH = 402
    ACCESS_REFUSED = 403
    NOT_FOUND = 404
    RESOURCE_LOCKED = 405
    PRECONDITION_FAILED = 406
    FRAME_ERROR = 501
    SYNTAX_ERROR = 502
    COMMAND_INVALID = 503
    CHANNEL_ERROR = 504
    UNEXPECTED_FRAME = 505
    RESOURCE_ERROR = 506
    NOT_ALLOWED = 530
    NOT_IMPLEMENTED = 540
    INTERNAL_ERROR = 541


SOFT = frozenset({
    ReplyCode.CONTENT_TOO_LARGE, ReplyCode.NO_ROUTE, ReplyCode.NO_CONSUMERS, ReplyCode.ACCESS_REFUSED,
    ReplyCode.NOT_FOUND, ReplyCode.RESOURCE_LOCKED, ReplyCode.PRECONDITION_FAILED,
})


class AmqpError(Exception):
    """A protocol error to report with channel.close (soft) or connection.close (hard)."""

    def __init__(self, code: ReplyCode, explanation: str, class_id: int = 0, method_id: int = 0) -> None:
        super().__init__(explanation)
        self.code = code
        self.explanation = explanation
        self.class_id = class_id
        self.method_id = method_id

    @property
    def reply_text(self) -> str:
        # reply-text is a shortstr: RabbitMQ cuts a longer text to 252 bytes and adds "..."
        # (rabbit_binary_generator:map_exception/3)
        text = f"{self.code.name} - {self.explanation}".encode()
        if len(text) > 255:
            text = text[:252] + b"..."
        return text.decode("utf-8", "ignore")

    @property
    def hard(self) -> bool:
        return self.code not in SOFT

    def at(self, class_id: int, method_id: int) -> "AmqpError":
        if not self.class_id:
            self.class_id, self.method_id = class_id, method_id
        return self


def rs(kind: str, name: str, vhost: str) -> str:
    """`rabbit_misc:rs/1`: how RabbitMQ names a resource in its texts."""
    return f"{kind} '{name}' in vhost '{vhost}'"


def _arg_value(field: Field | None) -> str:
    if field is None:
        return "none"
    return f"the value '{field.render()}' of type '{field.kind}'"


def _text(reason: Reason, d: dict) -> tuple[ReplyCode, str]:
    R = Reason
    if reason is R.NO_VHOST:
        return ReplyCode.NOT_ALLOWED, f"vhost {d['vhost']} not found"
    if reason is R.NO_QUEUE:
        return ReplyCode.NOT_FOUND, f"no {rs('queue', d['name'], d['vhost'])}"
    if reason is R.NO_EXCHANGE:
        return ReplyCode.NOT_FOUND, f"no {rs('exchange', d['name'], d['vhost'])}"
    if reason is R.QUEUE_LOCKED:
        return ReplyCode.RESOURCE_LOCKED, (
            f"cannot obtain exclusive access to locked {rs('queue', d['name'], d['vhost'])}. It could be "
            "originally declared on another connection or the exclusive property value does not match "
            "that of the original declaration.")
    if reason is R.QUEUE_IN_EXCLUSIVE_USE:
        return ReplyCode.ACCESS_REFUSED, f"{rs('queue', d['name'], d['vhost'])} in exclusive use"
    if reason is R.INEQUIVALENT_FIELD:
        return ReplyCode.PRECONDITION_FAILED, (
            f"inequivalent arg '{d['field']}' for {rs(d['kind'], d['name'], d['vhost'])}: "
            f"received '{d['received']}' but current is '{d['current']}'")
    if reason is R.INEQUIVALENT_ARG:
        return ReplyCode.PRECONDITION_FAILED, (
            f"inequivalent arg '{d['key']}' for {rs(d['kind'], d['name'], d['vhost'])}: "
            f"received {_arg_value(d['received'])} but current is {_arg_value(d['current'])}")
    if reason is R.INVALID_ARG:
        return ReplyCode.PRECONDITION_FAILED, (
            f"invalid arg '{d['key']}' for {rs(d['kind'], d['name'], d['vhost'])}: {d['problem']}")
    if reason is R.INVALID_ARG_TYPE:
        return ReplyCode.PRECONDITION_FAILED, (
            f"invalid type '{d['type']}' for arg '{d['key']}' in {rs(d['kind'], d['name'], d['vhost'])}")
    if reason is R.RESERVED_NAME:
        return ReplyCode.ACCESS_REFUSED, f"{d['kind']} name '{d['name']}' contains reserved prefix 'amq.*'"
    if reason is R.DEFAULT_EXCHANGE:
        return ReplyCode.ACCESS_REFUSED, "operation not permitted on the default exchange"
    if reason is R.SYSTEM_EXCHANGE:
        return ReplyCode.ACCESS_REFUSED, f"deletion of system exchange '{d['name']}' in vhost '{d['vhost']}' not allowed"
    if reason is R.UNKNOWN_EXCHANGE_TYPE:
        return ReplyCode.PRECONDITION_FAILED, f"unknown exchange type '{d['type']}'"
    if reason is R.INTERNAL_EXCHANGE:
        return ReplyCode.ACCESS_REFUSED, f"cannot publish to internal {rs('exchange', d['name'], d['vhost'])}"
    if reason is R.EXCHANGE_IN_USE:
        return ReplyCode.PRECONDITION_FAILED, f"{rs('exchange', d['name'], d['vhost'])} in use"
    if reason is R.QUEUE_IN_USE:
        return ReplyCode.PRECONDITION_FAILED, f"{rs('queue', d['name'], d['vhost'])} in use"
    if reason is R.QUEUE_NOT_EMPTY:
        return ReplyCode.PRECONDITION_FAILED, f"{rs('queue', d['name'], d['vhost'])} not empty"
    if reason is R.INVALID_X_MATCH:
        value = d["value"]
        if d.get("type"):
            return ReplyCode.PRECONDITION_FAILED, (
                f"Invalid x-match field type {d['type']} (value {value!r}); expected longstr")
        return ReplyCode.PRECONDITION_FAILED, (
            f'Invalid x-match field value <<"{value}">>; expected all, any, all-with-x, or any-with-x')
    if reason is R.ARG_OF_OTHER_QUEUE_TYPE:
        return ReplyCode.PRECONDITION_FAILED, (
            f"invalid arg '{d['key']}' for {rs('queue', d['name'], d['vhost'])} of queue type {d['type']}")
    if reason is R.INVALID_QUEUE_PROPERTY:
        return ReplyCode.PRECONDITION_FAILED, f"invalid property '{d['property']}' for {rs('queue', d['name'], d['vhost'])}"
    if reason is R.SERVER_NAMED_NOT_ALLOWED:
        return ReplyCode.PRECONDITION_FAILED, f"Cannot declare a server-named queue for type {d['type']}"
    if reason is R.GET_ON_SINGLE_ACTIVE_QUORUM:
        return ReplyCode.RESOURCE_LOCKED, (
            f"cannot obtain access to locked {rs('queue', d['name'], d['vhost'])}. basic.get operations "
            "are not supported by quorum queues with single active consumer")
    if reason is R.VOLATILE_QUEUE_BIND:
        return ReplyCode.ACCESS_REFUSED, "cannot bind or unbind to a volatile (direct reply-to) queue"
    if reason is R.NAME_PREFIX_TOO_LONG:
        return ReplyCode.PRECONDITION_FAILED, f"Queue name prefix '{d['prefix']}' exceeds the 64-byte limit"
    raise KeyError(reason)


_FALLBACK = {
    NotFound: ReplyCode.NOT_FOUND,
    PreconditionFailed: ReplyCode.PRECONDITION_FAILED,
    ResourceLocked: ReplyCode.RESOURCE_LOCKED,
    AccessRefused: ReplyCode.ACCESS_REFUSED,
}


def from_engine(err: EngineError) -> AmqpError:
    """The AMQP error for an engine error (DESIGN.md §3: one table per wire package)."""
    reason = getattr(err, "reason", None)
    if isinstance(reason, Reason):
        code, text = _text(reason, getattr(err, "detail", {}))
        return AmqpError(code, text)
    for cls, code in _FALLBACK.items():
        if isinstance(err, cls):
            return AmqpError(code, str(err))
    log.error("unmapped engine error %r", err)
    return AmqpError(ReplyCode.INTERNAL_ERROR, str(err))


# Texts of errors raised by the wire layer itself, RabbitMQ's wording.
def unknown_delivery_tag(tag: int) -> AmqpError:
    return AmqpError(ReplyCode.PRECONDITION_FAILED, f"unknown delivery tag {tag}")


def no_previous_queue() -> AmqpError:
    return AmqpError(ReplyCode.NOT_FOUND, "no previously declared queue")

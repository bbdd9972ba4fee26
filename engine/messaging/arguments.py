"""Queue declare arguments: validation per queue type, redeclare equivalence, and what they configure.

Validation follows RabbitMQ 4.x `rabbit_amqqueue:check_declare_arguments/2`:
1. `x-queue-type` is checked first (`classic`, `quorum`, `stream`);
2. then, in `declare_args/0` order, the validators of the arguments that queue type
   knows (`rabbit_queue_type:arguments(queue_arguments, Type)`); a failure is 406
   "invalid arg 'K' for queue 'q' in vhost '/': <term>", the term printed as Erlang's
   `~p` prints it (`{value_negative,-1}`, `"expected integer, got longstr"`, ...);
3. then, in argument order, any argument that only *another* queue type knows is 406
   "invalid arg 'K' for queue 'q' in vhost '/' of queue type rabbit_classic_queue"
   (`check_arguments_key/4`): `x-delivery-limit` on a classic queue, `x-max-priority`
   on a quorum queue.
Arguments no queue type knows (`x-foo`) are neither validated nor compared.

Redeclare equivalence compares exactly the existing queue type's argument list
(`assert_args_equivalence/2`), numbers equal across integer widths, and treats
`x-queue-type=classic` as equal to no `x-queue-type` at all.

`QueueConfig.parse` turns valid arguments into what the queue acts on. Stream queues are
not built yet (they are refused with 406 "... not yet supported by mqgateway").
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Mapping

from engine.messaging.errors import PreconditionFailed, Reason, fail
from engine.messaging.fields import INTEGER_KINDS, Field, FieldKind, as_text, render_value

if TYPE_CHECKING:
    from engine.messaging.vhost import VHost

MAX_EXPIRY_MS = 10 * 365 * 24 * 3600 * 1000  # rabbit_misc:check_expiry/1, ten years
MAX_PRIORITY = 255  # ?MAX_SUPPORTED_PRIORITY
DEFAULT_DELIVERY_LIMIT = 20  # rabbit_quorum_queue, RabbitMQ 4.0 and later
NOT_YET = "not yet supported by mqgateway"


class QueueType(enum.StrEnum):
    CLASSIC = "classic"
    QUORUM = "quorum"
    STREAM = "stream"

    @property
    def module(self) -> str:
        """RabbitMQ's name for the type in its texts (`rabbit_classic_queue`, ...)."""
        return f"rabbit_{self.value}_queue"


class Overflow(enum.StrEnum):
    DROP_HEAD = "drop-head"
    REJECT_PUBLISH = "reject-publish"
    REJECT_PUBLISH_DLX = "reject-publish-dlx"


# rabbit_classic_queue / rabbit_quorum_queue / rabbit_stream_queue capabilities(): queue_arguments
TYPE_ARGUMENTS: dict[QueueType, tuple[str, ...]] = {
    QueueType.CLASSIC: (
        "x-expires", "x-message-ttl", "x-dead-letter-exchange", "x-dead-letter-routing-key", "x-max-length",
        "x-max-length-bytes", "x-max-priority", "x-overflow", "x-queue-mode", "x-queue-version",
        "x-single-active-consumer", "x-queue-type", "x-queue-master-locator", "x-queue-leader-locator",
    ),
    QueueType.QUORUM: (
        "x-dead-letter-exchange", "x-dead-letter-routing-key", "x-dead-letter-strategy", "x-expires",
        "x-message-ttl", "x-max-length", "x-max-length-bytes", "x-max-in-memory-length", "x-max-in-memory-bytes",
        "x-overflow", "x-single-active-consumer", "x-queue-type", "x-quorum-initial-group-size",
        "x-delivery-limit", "x-queue-leader-locator", "x-consumer-timeout", "x-consumer-disconnected-timeout",
        "x-member-placement-tag", "x-delayed-retry-type", "x-delayed-retry-min", "x-delayed-retry-max",
    ),
    QueueType.STREAM: (
        "x-max-length-bytes", "x-queue-type", "x-max-age", "x-stream-max-segment-size-bytes",
        "x-stream-filter-size-bytes", "x-initial-cluster-size", "x-queue-leader-locator",
    ),
}
ALL_ARGUMENTS = frozenset(key for keys in TYPE_ARGUMENTS.values() for key in keys)
# consumer_arguments of each type, and the validated ones (rabbit_amqqueue:consume_args/0)
CONSUMER_ARGUMENTS: dict[QueueType, tuple[str, ...]] = {
    QueueType.CLASSIC: ("x-priority", "x-cancel-on-ha-failover"),
    QueueType.QUORUM: ("x-priority", "x-consumer-timeout"),
    QueueType.STREAM: ("x-stream-offset", "x-stream-filter", "x-stream-match-unfiltered", "x-credit",
                       "x-priority"),
}
ALL_CONSUMER_ARGUMENTS = frozenset(key for keys in CONSUMER_ARGUMENTS.values() for key in keys)


def erl(value: object) -> str:
    """An Erlang term as `~p` prints it (enough for RabbitMQ's argument errors)."""
    if isinstance(value, bytes):
        return '<<"' + value.decode("utf-8", "replace") + '">>'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return "{" + ",".join(erl(v) for v in value) + "}"
    return str(value)


class Text(str):
    """An error that RabbitMQ builds with `rabbit_misc:format/2`: `~p` prints it quoted."""


def _int(field: Field) -> Text | None:
    # rabbit_amqqueue:check_int_arg/2
    if field.kind not in INTEGER_KINDS:
        return Text(f"expected integer, got {field.kind}")
    return None


def _non_neg_int(field: Field, args) -> tuple | Text | None:
    return _int(field) or (("value_negative", field.value) if field.value < 0 else None)


def _expiry(value: int) -> tuple | None:
    if value < 0:
        return ("value_negative", value)
    if value > MAX_EXPIRY_MS:
        return ("value_too_large", value)
    return None


def _expires(field: Field, args) -> tuple | Text | None:
    problem = _int(field)
    if problem:
        return problem
    if field.value == 0:
        return ("value_zero", 0)
    return _expiry(field.value)


def _message_ttl(field: Field, args) -> tuple | Text | None:
    return _int(field) or _expiry(field.value)


def _longstr(field: Field, args) -> tuple | None:
    return None if field.kind is FieldKind.LONGSTR else ("unacceptable_type", field.kind)


def _dlx_routing_key(field: Field, args) -> tuple | str | None:
    problem = _longstr(field, args)
    if problem:
        return problem
    if "x-dead-letter-exchange" not in args:
        return "routing_key_but_no_dlx_defined"
    return None


def _max_priority(field: Field, args) -> tuple | Text | None:
    problem = _non_neg_int(field, args)
    if problem:
        return problem
    return ("max_value_exceeded", field.value) if field.value > MAX_PRIORITY else None


def _one_of(*allowed: str, error: str | Callable[[str], Text]) -> Callable[[Field, Mapping], object]:
    def check(field: Field, args) -> object:
        if field.kind is not FieldKind.LONGSTR:
            return ("unacceptable_type", field.kind)
        text = bytes(field.value).decode("utf-8", "replace")
        if text not in allowed:
            return error(text) if callable(error) else error
        return None
    return check


def _bool(field: Field, args) -> tuple | None:
    return None if field.kind is FieldKind.BOOL else ("unacceptable_type", field.kind)


def _queue_version(field: Field, args) -> tuple | Text | None:
    problem = _non_neg_int(field, args)
    if problem:
        return problem
    return None if field.value in (1, 2) else Text(f"unsupported queue version '{field.value}'")


def _initial_cluster_size(field: Field, args) -> tuple | Text | None:
    problem = _non_neg_int(field, args)
    if problem:
        return problem
    return ("value_zero", 0) if field.value == 0 else None


def _max_age(field: Field, args) -> tuple | str | None:
    # rabbit_amqqueue:check_max_age/1: a positive integer and one unit of Y M D h m s
    if field.kind is not FieldKind.LONGSTR:
        return ("unacceptable_type", field.kind)
    text = bytes(field.value).decode("utf-8", "replace")
    digits = text.rstrip("YMDhms")
    if len(text) - len(digits) != 1 or not digits.isdigit() or int(digits) <= 0:
        return "invalid_max_age"
    return None


def _queue_type(field: Field, args) -> tuple | Text | None:
    if field.kind is not FieldKind.LONGSTR:
        return ("unacceptable_type", field.kind)
    text = bytes(field.value).decode("utf-8", "replace")
    if text in QueueType.__members__.values() or text in [t.value for t in QueueType]:
        return None
    return Text(f"unsupported queue type '{text}'")


# rabbit_amqqueue:declare_args/0, in its order
VALIDATORS: tuple[tuple[str, Callable], ...] = (
    ("x-expires", _expires),
    ("x-message-ttl", _message_ttl),
    ("x-dead-letter-exchange", _longstr),
    ("x-dead-letter-routing-key", _dlx_routing_key),
    ("x-dead-letter-strategy", _one_of("at-most-once", "at-least-once", error="invalid_dlx_strategy")),
    ("x-max-length", _non_neg_int),
    ("x-max-length-bytes", _non_neg_int),
    ("x-max-in-memory-length", _non_neg_int),
    ("x-max-in-memory-bytes", _non_neg_int),
    ("x-max-priority", _max_priority),
    ("x-overflow", _one_of(*(o.value for o in Overflow), error="invalid_overflow")),
    ("x-queue-mode", _one_of("default", "lazy", error=lambda t: Text(f"unsupported queue mode '{t}'"))),
    ("x-queue-version", _queue_version),
    ("x-single-active-consumer", _bool),
    ("x-queue-type", _queue_type),
    ("x-quorum-initial-group-size", _initial_cluster_size),
    ("x-max-age", _max_age),
    ("x-stream-max-segment-size-bytes", _non_neg_int),
    ("x-stream-filter-size-bytes", _non_neg_int),
    ("x-initial-cluster-size", _initial_cluster_size),
    ("x-queue-master-locator", _one_of("client-local", "balanced", "min-masters", "random",
                                       error="invalid_queue_locator_arg")),
    ("x-queue-leader-locator", _one_of("client-local", "balanced", "min-masters", "random",
                                       error="invalid_queue_locator_arg")),
)


def _render(problem: object) -> str:
    if isinstance(problem, Text):
        return '"' + problem + '"'
    if isinstance(problem, str):
        return problem
    return erl(problem)


def _invalid(vhost: "VHost", name: str, key: str, problem: str):
    return fail(PreconditionFailed, Reason.INVALID_ARG, kind="queue", name=name, vhost=vhost.name, key=key,
                problem=problem)


def queue_type(arguments: Mapping[str, Field]) -> QueueType:
    """The declared type (valid arguments assumed); no `x-queue-type` is classic."""
    text = as_text(arguments.get("x-queue-type"))
    return QueueType(text) if text else QueueType.CLASSIC


def check_queue_arguments(vhost: "VHost", name: str, arguments: Mapping[str, Field]) -> QueueType:
    """Validates a new queue's arguments as RabbitMQ does; returns its type."""
    type_field = arguments.get("x-queue-type")
    if type_field is not None:
        problem = _queue_type(type_field, arguments)
        if problem is not None:
            raise _invalid(vhost, name, "x-queue-type", _render(problem))
    qtype = queue_type(arguments)
    known = TYPE_ARGUMENTS[qtype]
    for key, validator in VALIDATORS:
        if key not in known:
            continue
        field = arguments.get(key)
        if field is None:
            continue
        problem = validator(field, arguments)
        if problem is not None:
            raise _invalid(vhost, name, key, _render(problem))
    for key in arguments:
        if key in ALL_ARGUMENTS and key not in known:
            raise fail(PreconditionFailed, Reason.ARG_OF_OTHER_QUEUE_TYPE, name=name, vhost=vhost.name, key=key,
                       type=qtype.module)
    return qtype


STREAM_OFFSET_WORDS = (b"first", b"last", b"next")


def _stream_offset(field: Field) -> tuple | None:
    """rabbit_amqqueue:check_stream_offset_arg/2 over rabbit_stream_queue:parse_offset_arg/1.

    first | last | next (any string kind), a timestamp, an integer, or an interval that
    check_max_age/1 takes (`1h`); anything else is `{invalid_stream_offset_arg, {Kind, Value}}`.
    RabbitMQ 3.10 gives that 406 for a longstr with a bad unit or a zero count ("1x", "0s");
    values it does not parse at all ("bogus", "", a bool, a table) crash its channel into a 541
    INTERNAL_ERROR there: we refuse them with the same 406 rather than crash or read from `next`."""
    kind = field.kind
    if kind in (FieldKind.LONGSTR, FieldKind.BINARY) and bytes(field.value) in STREAM_OFFSET_WORDS:
        return None
    if kind is FieldKind.TIMESTAMP or kind in INTEGER_KINDS:
        return None
    if kind is FieldKind.LONGSTR and _max_age(field, None) is None:
        return None
    value = bytes(field.value) if kind in (FieldKind.LONGSTR, FieldKind.BINARY) else render_value(field)
    return ("invalid_stream_offset_arg", (str(kind), value))


def check_consumer_arguments(vhost: "VHost", name: str, qtype: QueueType, arguments: Mapping[str, Field]) -> None:
    """`rabbit_amqqueue:check_consume_arguments/3`: x-priority must be an integer, x-stream-offset
    one of its forms; other types' keys refused."""
    field = arguments.get("x-priority")
    if field is not None and "x-priority" in CONSUMER_ARGUMENTS[qtype]:
        problem = _int(field)
        if problem is not None:
            raise _invalid(vhost, name, "x-priority", _render(problem))
    field = arguments.get("x-stream-offset")
    if field is not None and qtype is QueueType.STREAM:
        problem = _stream_offset(field)
        if problem is not None:
            raise _invalid(vhost, name, "x-stream-offset", _render(problem))
    for key in arguments:
        if key in ALL_CONSUMER_ARGUMENTS and key not in CONSUMER_ARGUMENTS[qtype]:
            raise fail(PreconditionFailed, Reason.ARG_OF_OTHER_QUEUE_TYPE, name=name, vhost=vhost.name, key=key,
                       type=qtype.module)


def _normalised(arguments: Mapping[str, Field], key: str) -> Field | None:
    field = arguments.get(key)
    if key == "x-queue-type" and field is not None and field.kind is FieldKind.LONGSTR and field.value == b"classic":
        return None
    return field


def queue_arguments_equivalent(vhost: "VHost", name: str, qtype: QueueType, current: Mapping[str, Field],
                               received: Mapping[str, Field]) -> None:
    for key in TYPE_ARGUMENTS[qtype]:
        a, b = _normalised(received, key), _normalised(current, key)
        if a is None and b is None:
            continue
        if a is not None and b is not None and a.equivalent(b):
            continue
        raise fail(PreconditionFailed, Reason.INEQUIVALENT_ARG, kind="queue", name=name, vhost=vhost.name,
                   key=key, received=a, current=b)


def _int_value(field: Field | None) -> int | None:
    if field is None or field.kind not in INTEGER_KINDS:
        return None
    return int(field.value)


@dataclass(frozen=True, slots=True, kw_only=True)
class QueueConfig:
    """What a queue's (validated) arguments make it do."""

    type: QueueType = QueueType.CLASSIC
    message_ttl: int | None = None  # ms
    expires: int | None = None  # ms unused before the queue is deleted
    max_length: int | None = None
    max_length_bytes: int | None = None
    overflow: Overflow = Overflow.DROP_HEAD
    dead_letter_exchange: str | None = None
    dead_letter_routing_key: str | None = None
    max_priority: int = 0  # 0: not a priority queue
    single_active_consumer: bool = False
    delivery_limit: int | None = None  # quorum only; None: unlimited
    consumer_timeout: int | None = None  # ms, from x-consumer-timeout (quorum)
    # x-dead-letter-strategy=at-least-once in effect: a quorum queue with a DLX and x-overflow
    # reject-publish (rabbit_quorum_queue:dlh/5; otherwise RabbitMQ logs a warning and uses at-most-once)
    dead_letter_at_least_once: bool = False

    @classmethod
    def parse(cls, arguments: Mapping[str, Field]) -> "QueueConfig":
        qtype = queue_type(arguments)
        overflow = Overflow(as_text(arguments.get("x-overflow")) or Overflow.DROP_HEAD)
        delivery_limit = None
        consumer_timeout = None
        max_priority = 0
        if qtype is QueueType.QUORUM:
            # rabbit_fifo: reject-publish-dlx is not a quorum strategy; RabbitMQ logs and uses drop-head.
            if overflow is Overflow.REJECT_PUBLISH_DLX:
                overflow = Overflow.DROP_HEAD
            limit = arguments.get("x-delivery-limit")
            delivery_limit = DEFAULT_DELIVERY_LIMIT if limit is None else _int_value(limit)
            if limit is not None and delivery_limit is None:
                delivery_limit = DEFAULT_DELIVERY_LIMIT  # not an integer: RabbitMQ does not validate it either
            if delivery_limit is not None and delivery_limit < 0:
                delivery_limit = None  # -1: unlimited (RabbitMQ 4.0)
            consumer_timeout = _int_value(arguments.get("x-consumer-timeout"))
            if consumer_timeout is not None and consumer_timeout <= 0:
                consumer_timeout = None
        else:
            max_priority = _int_value(arguments.get("x-max-priority")) or 0
        sac = arguments.get("x-single-active-consumer")
        dlx = as_text(arguments.get("x-dead-letter-exchange"))
        at_least_once = (qtype is QueueType.QUORUM and dlx is not None and overflow is Overflow.REJECT_PUBLISH
                         and as_text(arguments.get("x-dead-letter-strategy")) == "at-least-once")
        return cls(
            type=qtype,
            message_ttl=_int_value(arguments.get("x-message-ttl")),
            expires=_int_value(arguments.get("x-expires")),
            max_length=_int_value(arguments.get("x-max-length")),
            max_length_bytes=_int_value(arguments.get("x-max-length-bytes")),
            overflow=overflow,
            dead_letter_exchange=dlx,
            dead_letter_routing_key=as_text(arguments.get("x-dead-letter-routing-key")),
            max_priority=max_priority,
            single_active_consumer=bool(sac is not None and sac.kind is FieldKind.BOOL and sac.value),
            delivery_limit=delivery_limit,
            consumer_timeout=consumer_timeout,
            dead_letter_at_least_once=at_least_once,
        )

    @property
    def featured(self) -> bool:
        """Anything beyond a plain FIFO classic queue (which keeps the fast path)."""
        return (self.type is not QueueType.CLASSIC or self.message_ttl is not None or self.max_length is not None
                or self.max_length_bytes is not None or self.max_priority > 0 or self.single_active_consumer)

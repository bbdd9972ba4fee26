"""Queue declare arguments: which are validated, which are compared on redeclare.

Validation follows `rabbit_amqqueue:declare_args/0`; a failure is RabbitMQ's 406
"invalid arg 'K' for queue 'q' in vhost '/': <term>" where <term> is the Erlang error term
RabbitMQ prints (`{value_negative,-1}`, `{unacceptable_type,longstr}`, ...). Arguments
RabbitMQ does not know (`x-foo`) are neither validated nor compared.

Arguments that change queue behaviour which this engine does not implement yet (TTL,
length limits, dead-lettering, priorities, single active consumer: issue 5) are first
validated exactly as RabbitMQ does and, when valid, refused with the same 406 form; a
declared argument never silently does nothing. Accepted today: `x-queue-type=classic`,
and the arguments that change nothing observable on one node with one storage format
(`x-queue-mode`, `x-queue-version`, `x-queue-master-locator`, `x-queue-leader-locator`).

Redeclare equivalence compares exactly the classic-queue list of
`rabbit_classic_queue:capabilities/0`, numbers equal across integer widths, and treats
`x-queue-type=classic` as equal to no `x-queue-type` at all.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Mapping

from engine.messaging.errors import PreconditionFailed, Reason, fail
from engine.messaging.fields import INTEGER_KINDS, Field, FieldKind

if TYPE_CHECKING:
    from engine.messaging.vhost import VHost

COMPARED = (
    "x-expires", "x-message-ttl", "x-dead-letter-exchange", "x-dead-letter-routing-key", "x-max-length",
    "x-max-length-bytes", "x-max-priority", "x-overflow", "x-queue-mode", "x-queue-version",
    "x-single-active-consumer", "x-queue-type", "x-queue-master-locator", "x-queue-leader-locator",
)
MAX_EXPIRY_MS = 10 * 365 * 24 * 3600 * 1000  # rabbit_misc:check_expiry/1, ten years
NOT_YET = "not yet supported by mqgateway"
UNIMPLEMENTED = frozenset({
    "x-expires", "x-message-ttl", "x-dead-letter-exchange", "x-dead-letter-routing-key", "x-max-length",
    "x-max-length-bytes", "x-max-priority", "x-overflow", "x-single-active-consumer",
    "x-max-in-memory-length", "x-max-in-memory-bytes", "x-max-age", "x-stream-max-segment-size-bytes",
    "x-initial-cluster-size", "x-quorum-initial-group-size",
})


def erl(value: object) -> str:
    """An Erlang term as `~p` prints it (enough for RabbitMQ's argument errors)."""
    if isinstance(value, bytes):
        return '<<"' + value.decode("utf-8", "replace") + '">>'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return "{" + ",".join(erl(v) for v in value) + "}"
    if isinstance(value, FieldKind):
        return str(value)
    return str(value)


def _int(field: Field) -> tuple | None:
    if field.kind not in INTEGER_KINDS:
        return ("unacceptable_type", field.kind)
    return None


def _non_neg_int(field: Field, args) -> tuple | None:
    return _int(field) or (("value_negative", field.value) if field.value < 0 else None)


def _expiry(value: int) -> tuple | None:
    if value < 0:
        return ("value_negative", value)
    if value > MAX_EXPIRY_MS:
        return ("value_too_large", value, MAX_EXPIRY_MS)
    return None


def _expires(field: Field, args) -> tuple | None:
    problem = _int(field)
    if problem:
        return problem
    if field.value == 0:
        return ("value_zero", 0)
    return _expiry(field.value)


def _message_ttl(field: Field, args) -> tuple | None:
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


def _max_priority(field: Field, args) -> tuple | None:
    problem = _non_neg_int(field, args)
    if problem:
        return problem
    return ("max_value_exceeded", field.value) if field.value > 255 else None


def _one_of(*allowed: str, error: str) -> Callable[[Field, Mapping], tuple | None]:
    def check(field: Field, args) -> tuple | None:
        if field.kind is not FieldKind.LONGSTR:
            return ("unacceptable_type", field.kind)
        if bytes(field.value).decode("utf-8", "replace") not in allowed:
            return (error, bytes(field.value))
        return None
    return check


def _bool(field: Field, args) -> tuple | None:
    return None if field.kind is FieldKind.BOOL else ("unacceptable_type", field.kind)


def _queue_version(field: Field, args) -> tuple | None:
    problem = _int(field)
    if problem:
        return problem
    return None if field.value in (1, 2) else ("unsupported_version", field.value)


def _queue_type(field: Field, args) -> tuple | str | None:
    if field.kind is not FieldKind.LONGSTR:
        return ("unacceptable_type", field.kind)
    value = bytes(field.value).decode("utf-8", "replace")
    if value == "classic":
        return None
    if value in ("quorum", "stream"):
        return NOT_YET
    return ("unsupported_type", bytes(field.value))


VALIDATORS: dict[str, Callable] = {
    "x-expires": _expires,
    "x-message-ttl": _message_ttl,
    "x-dead-letter-exchange": _longstr,
    "x-dead-letter-routing-key": _dlx_routing_key,
    "x-max-length": _non_neg_int,
    "x-max-length-bytes": _non_neg_int,
    "x-max-in-memory-length": _non_neg_int,
    "x-max-in-memory-bytes": _non_neg_int,
    "x-max-priority": _max_priority,
    "x-overflow": _one_of("drop-head", "reject-publish", "reject-publish-dlx", error="invalid_overflow"),
    "x-queue-mode": _one_of("default", "lazy", error="invalid_queue_mode"),
    "x-queue-version": _queue_version,
    "x-single-active-consumer": _bool,
    "x-queue-type": _queue_type,
    "x-queue-master-locator": _one_of("client-local", "balanced", "min-masters", "random",
                                      error="invalid_queue_locator_arg"),
    "x-queue-leader-locator": _one_of("client-local", "balanced", "min-masters", "random",
                                      error="invalid_queue_locator_arg"),
}


def check_queue_arguments(vhost: "VHost", name: str, arguments: Mapping[str, Field]) -> None:
    for key, field in arguments.items():
        validator = VALIDATORS.get(key)
        if validator is None:
            if key in UNIMPLEMENTED:
                raise fail(PreconditionFailed, Reason.INVALID_ARG, kind="queue", name=name, vhost=vhost.name,
                           key=key, problem=NOT_YET)
            continue
        problem = validator(field, arguments)
        if problem is None and key in UNIMPLEMENTED:
            problem = NOT_YET
        if problem is not None:
            raise fail(PreconditionFailed, Reason.INVALID_ARG, kind="queue", name=name, vhost=vhost.name,
                       key=key, problem=problem if isinstance(problem, str) else erl(problem))


def _normalised(arguments: Mapping[str, Field], key: str) -> Field | None:
    field = arguments.get(key)
    if key == "x-queue-type" and field is not None and field.kind is FieldKind.LONGSTR and field.value == b"classic":
        return None
    return field


def queue_arguments_equivalent(vhost: "VHost", name: str, current: Mapping[str, Field],
                               received: Mapping[str, Field]) -> None:
    for key in COMPARED:
        a, b = _normalised(received, key), _normalised(current, key)
        if a is None and b is None:
            continue
        if a is not None and b is not None and a.equivalent(b):
            continue
        raise fail(PreconditionFailed, Reason.INEQUIVALENT_ARG, kind="queue", name=name, vhost=vhost.name,
                   key=key, received=a, current=b)

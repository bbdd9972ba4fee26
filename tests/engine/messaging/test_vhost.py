"""Declarations, equivalence, exclusivity and routing rules of a vhost (RabbitMQ's)."""

from __future__ import annotations

import pytest

from engine.errors import AccessRefused, NotFound, PreconditionFailed, ResourceLocked
from engine.messaging import ExchangeSpec, PublishResult, QueueSpec, Reason
from engine.messaging.fields import Field, FieldKind, longstr

from tests.engine.messaging.conftest import Recorder, msg

OWNER_A, OWNER_B = object(), object()


def declare_q(vhost, name="q", owner=None, **kw):
    return vhost.queue_declare(QueueSpec(name=name, **kw), passive=False, owner=owner)


def declare_x(vhost, name, type_="direct", **kw):
    return vhost.exchange_declare(ExchangeSpec(name=name, type=type_, **kw), passive=False)


def raises(cls, reason, fn, *args, **kw):
    with pytest.raises(cls) as info:
        fn(*args, **kw)
    assert info.value.reason is reason, info.value
    return info.value.detail


def test_predeclared_exchanges(vhost):
    assert {"", "amq.direct", "amq.fanout", "amq.topic", "amq.headers", "amq.match"} <= set(vhost.exchanges)
    assert vhost.exchanges["amq.rabbitmq.trace"].internal


def test_server_named_queue(vhost):
    status = declare_q(vhost, "")
    assert status.name.startswith("amq.gen-") and len(status.name) == len("amq.gen-") + 22


def test_reserved_names_and_default_exchange(vhost):
    raises(AccessRefused, Reason.RESERVED_NAME, declare_q, vhost, "amq.mine")
    raises(AccessRefused, Reason.RESERVED_NAME, declare_x, vhost, "amq.mine")
    raises(AccessRefused, Reason.DEFAULT_EXCHANGE, declare_x, vhost, "")
    raises(AccessRefused, Reason.SYSTEM_EXCHANGE, vhost.exchange_delete, "amq.direct", if_unused=False)
    raises(AccessRefused, Reason.DEFAULT_EXCHANGE, vhost.queue_bind, "q", "", "k", {}, owner=None)
    declare_x(vhost, "amq.direct", durable=True)  # redeclaring a predeclared one with its own attributes is fine


def test_exchange_equivalence(vhost):
    declare_x(vhost, "x", "topic", durable=True)
    detail = raises(PreconditionFailed, Reason.INEQUIVALENT_FIELD, declare_x, vhost, "x", "direct", durable=True)
    assert (detail["field"], detail["received"], detail["current"]) == ("type", "direct", "topic")
    detail = raises(PreconditionFailed, Reason.INEQUIVALENT_FIELD, declare_x, vhost, "x", "topic")
    assert (detail["field"], detail["received"], detail["current"]) == ("durable", "false", "true")
    # only alternate-exchange is compared among arguments
    declare_x(vhost, "x", "topic", durable=True, arguments={"x-other": longstr("1")})
    raises(PreconditionFailed, Reason.INEQUIVALENT_ARG, declare_x, vhost, "x", "topic", durable=True,
           arguments={"alternate-exchange": longstr("ae")})
    raises(PreconditionFailed, Reason.UNKNOWN_EXCHANGE_TYPE, declare_x, vhost, "y", "x-nope")


def test_queue_equivalence_exclusivity_first(vhost):
    declare_q(vhost, "q", owner=OWNER_A, exclusive=True)
    raises(ResourceLocked, Reason.QUEUE_LOCKED, declare_q, vhost, "q", owner=OWNER_B, exclusive=True, durable=True)
    raises(ResourceLocked, Reason.QUEUE_LOCKED, declare_q, vhost, "q", owner=OWNER_A)  # exclusive mismatch
    raises(ResourceLocked, Reason.QUEUE_LOCKED, vhost.queue_declare, QueueSpec(name="q"), passive=True, owner=OWNER_B)
    raises(ResourceLocked, Reason.QUEUE_LOCKED, vhost.queue_purge, "q", owner=OWNER_B)
    # exclusive queues are never durable, so durable=True from the owner is equivalent
    declare_q(vhost, "q", owner=OWNER_A, exclusive=True, durable=True)
    vhost.owner_closed(OWNER_A)
    assert "q" not in vhost.queues


def test_queue_argument_equivalence_across_integer_widths(vhost):
    declare_q(vhost, "q", arguments={"x-queue-version": Field(FieldKind.BYTE, 2)})
    declare_q(vhost, "q", arguments={"x-queue-version": Field(FieldKind.LONG, 2)})
    declare_q(vhost, "q", arguments={"x-queue-version": Field(FieldKind.LONG, 2), "x-queue-type": longstr("classic"),
                                     "x-unknown": longstr("ignored")})
    detail = raises(PreconditionFailed, Reason.INEQUIVALENT_ARG, declare_q, vhost, "q")
    assert detail["key"] == "x-queue-version" and detail["received"] is None


def test_arguments_validated_like_rabbitmq_and_unimplemented_ones_refused(vhost):
    detail = raises(PreconditionFailed, Reason.INVALID_ARG, declare_q, vhost, "q",
                    arguments={"x-max-priority": Field(FieldKind.SIGNEDINT, 300)})
    assert detail["problem"] == "{max_value_exceeded,300}"
    detail = raises(PreconditionFailed, Reason.INVALID_ARG, declare_q, vhost, "q",
                    arguments={"x-expires": Field(FieldKind.SIGNEDINT, 0)})
    assert detail["problem"] == "{value_zero,0}"
    detail = raises(PreconditionFailed, Reason.INVALID_ARG, declare_q, vhost, "q",
                    arguments={"x-message-ttl": longstr("10")})
    assert detail["problem"] == '"expected integer, got longstr"'
    detail = raises(PreconditionFailed, Reason.INVALID_QUEUE_PROPERTY, declare_q, vhost, "q",
                    arguments={"x-queue-type": longstr("stream")})
    assert detail["property"] == "non-durable"  # streams are durable only (rabbit_queue_type_util)
    assert "q" not in vhost.queues


def test_delete_rules(vhost):
    declare_q(vhost, "q")
    declare_x(vhost, "x")
    vhost.queue_bind("q", "x", "k", {}, owner=None)
    raises(PreconditionFailed, Reason.EXCHANGE_IN_USE, vhost.exchange_delete, "x", if_unused=True)
    vhost.queues["q"].enqueue(msg())
    raises(PreconditionFailed, Reason.QUEUE_NOT_EMPTY, vhost.queue_delete, "q", owner=None, if_unused=False,
           if_empty=True)
    vhost.queues["q"].add_consumer(Recorder(credit=0), exclusive=False)
    raises(PreconditionFailed, Reason.QUEUE_IN_USE, vhost.queue_delete, "q", owner=None, if_unused=True,
           if_empty=False)
    assert vhost.queue_delete("q", owner=None, if_unused=False, if_empty=False) == 1
    assert vhost.queue_delete("q", owner=None, if_unused=False, if_empty=False) == 0  # idempotent
    vhost.exchange_delete("x", if_unused=True)  # its binding went with the queue
    vhost.exchange_delete("x", if_unused=False)  # idempotent


def test_auto_delete_exchange_goes_with_its_last_binding(vhost):
    declare_x(vhost, "x", auto_delete=True)
    declare_q(vhost, "q1")
    declare_q(vhost, "q2")
    vhost.queue_bind("q1", "x", "a", {}, owner=None)
    vhost.queue_bind("q2", "x", "a", {}, owner=None)
    vhost.queue_unbind("q1", "x", "a", {}, owner=None)
    assert "x" in vhost.exchanges
    vhost.queue_delete("q2", owner=None, if_unused=False, if_empty=False)
    assert "x" not in vhost.exchanges


def test_missing_things(vhost):
    raises(NotFound, Reason.NO_QUEUE, vhost.queue_declare, QueueSpec(name="nope"), passive=True, owner=None)
    raises(NotFound, Reason.NO_EXCHANGE, vhost.exchange_declare, ExchangeSpec(name="nope", type="direct"),
           passive=True)
    raises(NotFound, Reason.NO_EXCHANGE, vhost.publish_target, "nope")
    declare_q(vhost, "q")
    raises(NotFound, Reason.NO_EXCHANGE, vhost.queue_bind, "q", "nope", "", {}, owner=None)
    raises(NotFound, Reason.NO_QUEUE, vhost.queue_bind, "nope", "amq.direct", "", {}, owner=None)
    vhost.queue_unbind("nope", "nope", "", {}, owner=None)  # removing what cannot exist succeeds


def test_exchange_to_exchange_routing_visits_each_once(vhost):
    declare_x(vhost, "a", "fanout")
    declare_x(vhost, "b", "topic")
    declare_q(vhost, "q")
    vhost.exchange_bind("b", "a", "", {})
    vhost.exchange_bind("a", "b", "#", {})  # a cycle
    vhost.queue_bind("q", "b", "k.*", {}, owner=None)
    vhost.queue_bind("q", "a", "", {}, owner=None)
    queues = vhost.route(vhost.exchanges["a"], "k.1", None)
    assert [q.name for q in queues] == ["q"]
    assert vhost.publish(vhost.exchanges["a"], "k.1", msg()) == PublishResult.ROUTED
    assert vhost.queues["q"].message_count == 1


def test_alternate_exchange_only_when_nothing_routes(vhost):
    declare_x(vhost, "ae", "fanout")
    declare_q(vhost, "unrouted")
    declare_q(vhost, "routed")
    vhost.queue_bind("unrouted", "ae", "", {}, owner=None)
    declare_x(vhost, "main", "direct", arguments={"alternate-exchange": longstr("ae")})
    vhost.queue_bind("routed", "main", "k", {}, owner=None)
    assert [q.name for q in vhost.route(vhost.exchanges["main"], "k", None)] == ["routed"]
    assert [q.name for q in vhost.route(vhost.exchanges["main"], "other", None)] == ["unrouted"]
    raises(PreconditionFailed, Reason.INVALID_ARG_TYPE, declare_x, vhost, "bad",
           arguments={"alternate-exchange": Field(FieldKind.SIGNEDINT, 1)})


def test_internal_exchange_refuses_publishes(vhost):
    declare_x(vhost, "i", internal=True)
    raises(AccessRefused, Reason.INTERNAL_EXCHANGE, vhost.publish_target, "i")


def test_default_exchange_routes_by_queue_name(vhost):
    declare_q(vhost, "q")
    assert vhost.publish(vhost.exchanges[""], "q", msg()) == PublishResult.ROUTED
    assert vhost.queues["q"].message_count == 1
    assert vhost.publish(vhost.exchanges[""], "nope", msg()) == PublishResult.UNROUTED


def test_exclusive_consumer_rules(vhost):
    declare_q(vhost, "q")
    q = vhost.queues["q"]
    q.add_consumer(Recorder(), exclusive=False)
    raises(AccessRefused, Reason.QUEUE_IN_EXCLUSIVE_USE, q.add_consumer, Recorder(), exclusive=True)
    declare_q(vhost, "q2")
    q2 = vhost.queues["q2"]
    q2.add_consumer(Recorder(), exclusive=True)
    raises(AccessRefused, Reason.QUEUE_IN_EXCLUSIVE_USE, q2.add_consumer, Recorder(), exclusive=False)


def test_server_named_queue_can_only_be_redeclared_passively(vhost):
    name = declare_q(vhost, "").name
    raises(AccessRefused, Reason.RESERVED_NAME, declare_q, vhost, name)
    assert vhost.queue_declare(QueueSpec(name=name), passive=True, owner=None).name == name

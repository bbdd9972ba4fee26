"""A virtual host: its exchanges, queues and bindings, and the one publish path.

Declaration rules follow RabbitMQ (`rabbit_channel:handle_method/3` for exchange.* and
queue.*, `rabbit_amqqueue:assert_equivalence/5`, `rabbit_exchange:assert_equivalence/6`):
- names starting `amq.` are reserved for new exchanges and queues (403); the default
  exchange "" can be neither declared, deleted nor bound (403); `amq.*` exchanges cannot
  be deleted (403);
- a redeclare must match durable, auto-delete (and for exchanges type and internal) and
  the compared arguments (406); for queues the exclusivity check comes first (405);
- an exclusive queue is owned by one connection (`owner`), never durable, and anyone else
  touching it gets 405;
- deleting a missing queue or exchange, and removing a missing binding, succeed;
- auto-delete queues go when their last consumer does (if they ever had one),
  auto-delete exchanges when their last binding as source does.

Routing (`route`) follows exchange-to-exchange bindings breadth-first, visiting each
exchange once, and uses an exchange's `alternate-exchange` when that exchange itself
routes nowhere. The default exchange routes to the queue named by the routing key, and
to a direct reply-to consumer for `amq.rabbitmq.reply-to.<suffix>` keys
(engine/messaging/reply.py). A message with sender-selected keys (CC, BCC) is routed
with each of its keys and goes to the union of the destinations, each once
(docs/sender-selected.md).

Queue types (engine/messaging/arguments.py): quorum queues must be durable, not
exclusive and not auto-delete (406 "invalid property 'auto-delete' for queue 'q' in vhost
'/'", checked in that order: `rabbit_queue_type_util:run_checks`), and neither quorum nor
stream queues can be server-named (406 "Cannot declare a server-named queue for type
rabbit_quorum_queue", the text of RabbitMQ 3.10 and 4.x alike).

Dead-lettering (`dead_letter`, `rabbit_dead_letter:publish/5`): the message goes to the
queue's `x-dead-letter-exchange` (silently dropped when that exchange does not exist)
with `x-dead-letter-routing-key` as its only key if set, otherwise with all its keys
(the publish key, CC and BCC); its death is recorded (engine/messaging/deaths.py), its
own expiration is dropped, and queues that would close a fully automatic dead-letter
cycle are left out. What the dead-lettered message becomes in each target queue is an
ordinary publish; a target that refuses it (reject-publish) just does not get it.
"""

from __future__ import annotations

import base64
import os
from typing import TYPE_CHECKING, Hashable, Mapping

from engine.bridge.names import refuse_cycle
from engine.messaging.arguments import (
    QueueType,
    check_consumer_arguments,
    check_queue_arguments,
    queue_arguments_equivalent,
)
from engine.messaging.deaths import DeathReason, is_cycle, record_death
from engine.messaging.errors import AccessRefused, NotFound, PreconditionFailed, Reason, ResourceLocked, fail
from engine.messaging.exchange import ALTERNATE_EXCHANGE, Exchange
from engine.messaging.fields import Field, FieldKind, as_text, table_to_json
from engine.messaging.queue import Queue
from engine.messaging.reply import PREFIX as REPLY_TO, ReplyQueue, is_reply_name, new_reply_name
from engine.messaging.routing import HeadersSource, Router
from engine.messaging.types import (
    AnnotatedMessage,
    Consumer,
    ExchangeSpec,
    ExchangeType,
    Message,
    PublishResult,
    QueueSpec,
    QueueStatus,
)

if TYPE_CHECKING:
    from engine.messaging.messaging import Messaging

DEFAULT_EXCHANGE = ""
# The three results publish() returns; always these very objects, so callers may test identity.
_UNROUTED = PublishResult.UNROUTED
_ROUTED = PublishResult.ROUTED
_ROUTED_AND_REJECTED = PublishResult.ROUTED | PublishResult.REJECTED
PREDECLARED = (
    ("amq.direct", ExchangeType.DIRECT, False),
    ("amq.fanout", ExchangeType.FANOUT, False),
    ("amq.topic", ExchangeType.TOPIC, False),
    ("amq.headers", ExchangeType.HEADERS, False),
    ("amq.match", ExchangeType.HEADERS, False),
    ("amq.rabbitmq.trace", ExchangeType.TOPIC, True),
)


def strip_cr_lf(name: str) -> str:
    """RabbitMQ strips CR and LF from names before using them (`strip_cr_lf/1`)."""
    if "\r" in name or "\n" in name:
        return name.replace("\r", "").replace("\n", "")
    return name


def server_name(prefix: str) -> str:
    """`amq.gen-…` / `amq.ctag-…`: base64url of 16 random bytes (`rabbit_guid:binary/2`)."""
    return prefix + "-" + base64.urlsafe_b64encode(os.urandom(16)).rstrip(b"=").decode()


class _DefaultRouter(Router):
    """The default exchange: every queue is bound by its own name, implicitly; direct reply-to names too."""

    def __init__(self, queues: dict[str, Queue], replies: dict[str, ReplyQueue]) -> None:
        super().__init__()
        self._queues = queues
        self._replies = replies

    def route(self, routing_key, headers):
        queue = self._queues.get(routing_key)
        if queue is not None:
            return (queue,)
        if self._replies and routing_key.startswith(REPLY_TO):
            reply = self._replies.get(routing_key)
            if reply is not None:
                return (reply,)
        return ()


class VHost:
    def __init__(self, name: str, messaging: "Messaging") -> None:
        self.name = name
        self._messaging = messaging
        self.exchanges: dict[str, Exchange] = {}
        self.queues: dict[str, Queue] = {}
        self.replies: dict[str, ReplyQueue] = {}
        self.dead_letter_holders: set[Queue] = set()  # queues keeping at-least-once dead letters
        # the exchanges each destination is bound from, for clean-up on delete
        self._sources_of: dict[Hashable, set[Exchange]] = {}
        self.exchanges[DEFAULT_EXCHANGE] = Exchange(
            DEFAULT_EXCHANGE, ExchangeType.DIRECT, durable=True, auto_delete=False, internal=False,
            arguments={}, router=_DefaultRouter(self.queues, self.replies),
        )
        for name_, type_, internal in PREDECLARED:
            self.exchanges[name_] = Exchange(name_, type_, durable=True, auto_delete=False,
                                             internal=internal, arguments={})

    # -- what queues need from their host ----------------------------------------------

    @property
    def clock(self):
        return self._messaging.clock

    def schedule(self, queue: Queue, kind: str, *, delay_ms: float) -> None:
        """Calls `queue.on_timer(kind)` after `delay_ms` on the engine clock."""
        self._messaging.schedule(queue, kind, delay_ms)

    # -- helpers ------------------------------------------------------------------------

    def _no_exchange(self, name: str):
        return fail(NotFound, Reason.NO_EXCHANGE, name=name, vhost=self.name)

    def _no_queue(self, name: str):
        return fail(NotFound, Reason.NO_QUEUE, name=name, vhost=self.name)

    def _check_not_default(self, name: str) -> None:
        if name == DEFAULT_EXCHANGE:
            raise fail(AccessRefused, Reason.DEFAULT_EXCHANGE, name=name, vhost=self.name)

    def _check_not_volatile(self, name: str) -> None:
        if is_reply_name(name):
            raise fail(AccessRefused, Reason.VOLATILE_QUEUE_BIND, name=name, vhost=self.name)

    def _check_access(self, queue: Queue, owner: object) -> None:
        if queue.owner is not None and queue.owner is not owner:
            raise fail(ResourceLocked, Reason.QUEUE_LOCKED, name=queue.name, vhost=self.name)

    def exchange(self, name: str) -> Exchange:
        exchange = self.exchanges.get(name)
        if exchange is None:
            raise self._no_exchange(name)
        return exchange

    def queue(self, name: str, *, owner: object) -> Queue:
        """A queue someone may use: 404 when missing, 405 when exclusive to another owner."""
        queue = self.queues.get(name) or self._messaging.topic_queue(self, name)
        if queue is None:
            raise self._no_queue(name)
        self._check_access(queue, owner)
        return queue

    def _inequivalent(self, kind: str, name: str, field: str, received: str, current: str):
        return fail(PreconditionFailed, Reason.INEQUIVALENT_FIELD, kind=kind, name=name, vhost=self.name,
                    field=field, received=received, current=current)

    # -- exchanges ----------------------------------------------------------------------

    def exchange_declare(self, spec: ExchangeSpec, *, passive: bool) -> Exchange:
        name = strip_cr_lf(spec.name)
        if passive:
            self._check_not_default(name)
            return self.exchange(name)
        try:
            type_ = ExchangeType(spec.type)
        except ValueError:
            raise fail(PreconditionFailed, Reason.UNKNOWN_EXCHANGE_TYPE, type=spec.type, vhost=self.name) from None
        self._check_not_default(name)
        existing = self.exchanges.get(name)
        if existing is None:
            if name.startswith("amq."):
                raise fail(AccessRefused, Reason.RESERVED_NAME, kind="exchange", name=name, vhost=self.name)
            ae = spec.arguments.get(ALTERNATE_EXCHANGE)
            if ae is not None and ae.kind is not FieldKind.LONGSTR:
                raise fail(PreconditionFailed, Reason.INVALID_ARG_TYPE, kind="exchange", name=name,
                           vhost=self.name, key=ALTERNATE_EXCHANGE, type=str(ae.kind))
            exchange = Exchange(name, type_, durable=spec.durable, auto_delete=spec.auto_delete,
                                internal=spec.internal, arguments=spec.arguments)
            self.exchanges[name] = exchange
            if exchange.durable:
                self._messaging.record({
                    "op": "exchange", "vhost": self.name, "name": name, "type": str(type_),
                    "auto_delete": exchange.auto_delete, "internal": exchange.internal,
                    "arguments": table_to_json(exchange.arguments),
                })
            self.retry_dead_letters()
            return exchange
        for field, received, current in (
            ("type", str(type_), str(existing.type)),
            ("durable", spec.durable, existing.durable),
            ("auto_delete", spec.auto_delete, existing.auto_delete),
            ("internal", spec.internal, existing.internal),
        ):
            if received != current:
                raise self._inequivalent("exchange", name, field, _show(received), _show(current))
        # Only alternate-exchange is compared among exchange arguments (rabbit_exchange).
        self._compare_args("exchange", name, existing.arguments, spec.arguments, (ALTERNATE_EXCHANGE,))
        return existing

    def exchange_delete(self, name: str, *, if_unused: bool) -> None:
        name = strip_cr_lf(name)
        self._check_not_default(name)
        if name.startswith("amq."):
            raise fail(AccessRefused, Reason.SYSTEM_EXCHANGE, name=name, vhost=self.name)
        exchange = self.exchanges.get(name)
        if exchange is None:
            return
        if if_unused and exchange.router.has_bindings():
            raise fail(PreconditionFailed, Reason.EXCHANGE_IN_USE, name=name, vhost=self.name)
        self._delete_exchange(exchange)

    def _delete_exchange(self, exchange: Exchange) -> None:
        exchange.deleted = True
        self.exchanges.pop(exchange.name, None)
        # its bindings as source ...
        for dest in list(exchange.router.bindings):
            exchange.router.remove_destination(dest)
            sources = self._sources_of.get(dest)
            if sources is not None:
                sources.discard(exchange)
                if not sources:
                    del self._sources_of[dest]
        # ... and as destination
        self._unbind_destination(exchange)
        if exchange.durable:
            self._messaging.record({"op": "delete_exchange", "vhost": self.name, "name": exchange.name})

    def _unbind_destination(self, dest: Queue | Exchange) -> None:
        for source in list(self._sources_of.pop(dest, ())):
            source.router.remove_destination(dest)
            self._maybe_auto_delete(source)

    def _maybe_auto_delete(self, exchange: Exchange) -> None:
        if exchange.auto_delete and not exchange.deleted and not exchange.router.has_bindings():
            self._delete_exchange(exchange)

    # -- bindings -----------------------------------------------------------------------

    def _binding_change(self, op: str, source: Exchange, dest: Queue | Exchange, routing_key: str,
                        arguments: Mapping[str, Field]) -> None:
        if source.durable and dest.durable:
            self._messaging.record({
                "op": op, "vhost": self.name, "source": source.name,
                "kind": "exchange" if isinstance(dest, Exchange) else "queue", "destination": dest.name,
                "routing_key": routing_key, "arguments": table_to_json(arguments),
            })

    def _bind(self, source: Exchange, dest: Queue | Exchange, routing_key: str,
              arguments: Mapping[str, Field]) -> None:
        source.router.validate(routing_key, arguments)
        if source.router.add(dest, routing_key, arguments):
            self._sources_of.setdefault(dest, set()).add(source)
            self._binding_change("bind", source, dest, routing_key, arguments)
            self.retry_dead_letters()

    def _unbind(self, source: Exchange, dest: Queue | Exchange, routing_key: str,
                arguments: Mapping[str, Field]) -> None:
        if source.router.remove(dest, routing_key, arguments):
            if dest not in source.router.bindings:
                sources = self._sources_of.get(dest)
                if sources is not None:
                    sources.discard(source)
                    if not sources:
                        del self._sources_of[dest]
            self._binding_change("unbind", source, dest, routing_key, arguments)
            self._maybe_auto_delete(source)

    def queue_bind(self, queue_name: str, exchange_name: str, routing_key: str,
                   arguments: Mapping[str, Field], *, owner: object) -> None:
        queue_name, exchange_name = strip_cr_lf(queue_name), strip_cr_lf(exchange_name)
        self._check_not_volatile(queue_name)
        self._check_not_default(exchange_name)
        source = self.exchange(exchange_name)
        queue = self.queue(queue_name, owner=owner)
        refuse_cycle(self, source, queue)
        self._bind(source, queue, routing_key, arguments)

    def queue_unbind(self, queue_name: str, exchange_name: str, routing_key: str,
                     arguments: Mapping[str, Field], *, owner: object) -> None:
        queue_name, exchange_name = strip_cr_lf(queue_name), strip_cr_lf(exchange_name)
        self._check_not_volatile(queue_name)
        self._check_not_default(exchange_name)
        source = self.exchanges.get(exchange_name)
        queue = self.queues.get(queue_name)
        if source is None or queue is None:
            return  # removing a binding that cannot exist succeeds (rabbit_binding:remove)
        self._check_access(queue, owner)
        self._unbind(source, queue, routing_key, arguments)

    def exchange_bind(self, destination: str, source: str, routing_key: str,
                      arguments: Mapping[str, Field]) -> None:
        destination, source = strip_cr_lf(destination), strip_cr_lf(source)
        self._check_not_default(destination)
        self._check_not_default(source)
        src = self.exchange(source)
        dst = self.exchange(destination)
        refuse_cycle(self, src, dst)
        self._bind(src, dst, routing_key, arguments)

    def exchange_unbind(self, destination: str, source: str, routing_key: str,
                        arguments: Mapping[str, Field]) -> None:
        destination, source = strip_cr_lf(destination), strip_cr_lf(source)
        self._check_not_default(destination)
        self._check_not_default(source)
        src = self.exchanges.get(source)
        dst = self.exchanges.get(destination)
        if src is None or dst is None:
            return
        self._unbind(src, dst, routing_key, arguments)

    # -- queues -------------------------------------------------------------------------

    def queue_declare(self, spec: QueueSpec, *, passive: bool, owner: object) -> QueueStatus:
        name = strip_cr_lf(spec.name)
        if is_reply_name(name):
            # Always effectively passive (rabbit_channel's queue.declare clause for these names).
            if name == REPLY_TO or name in self.replies:
                return QueueStatus(name=name, message_count=0, consumer_count=1)
            raise self._no_queue(name)
        if passive:
            queue = self.queues.get(name) or self._messaging.topic_queue(self, name)
            if queue is None:
                raise self._no_queue(name)
            self._check_access(queue, owner)
            queue.touch()
            return QueueStatus(name=name, message_count=queue.message_count, consumer_count=queue.consumer_count)
        declared_owner = owner if spec.exclusive else None
        durable = spec.durable and not spec.exclusive
        if not name:
            qtype = _declared_type(spec.arguments)
            if qtype is not None and qtype is not QueueType.CLASSIC:
                raise fail(PreconditionFailed, Reason.SERVER_NAMED_NOT_ALLOWED, type=qtype.module, vhost=self.name)
            name = server_name("amq.gen")
        elif name.startswith("amq."):
            # Even an existing server-named queue cannot be redeclared by name (check_name/2 runs
            # before the lookup in rabbit_channel's queue.declare); only a passive declare can.
            raise fail(AccessRefused, Reason.RESERVED_NAME, kind="queue", name=name, vhost=self.name)
        queue = self.queues.get(name) or self._messaging.topic_queue(self, name)
        if queue is not None:
            # strict exclusivity first (errata §8): the owners must be the same, or both none
            if queue.owner is not declared_owner:
                raise fail(ResourceLocked, Reason.QUEUE_LOCKED, name=name, vhost=self.name)
            if queue.durable != durable:
                raise self._inequivalent("queue", name, "durable", _show(durable), _show(queue.durable))
            if queue.auto_delete != spec.auto_delete:
                raise self._inequivalent("queue", name, "auto_delete", _show(spec.auto_delete),
                                         _show(queue.auto_delete))
            queue_arguments_equivalent(self, name, queue.type, queue.arguments, spec.arguments)
            queue.touch()
            return QueueStatus(name=name, message_count=queue.message_count, consumer_count=queue.consumer_count)
        dlx = spec.arguments.get("x-dead-letter-exchange")
        if dlx is not None and dlx.kind is not FieldKind.LONGSTR:
            # rabbit_channel checks the DLX name before the queue's own argument validation
            raise fail(PreconditionFailed, Reason.INVALID_ARG_TYPE, kind="queue", name=name, vhost=self.name,
                       key="x-dead-letter-exchange", type=str(dlx.kind))
        qtype = check_queue_arguments(self, name, spec.arguments)
        if qtype is not QueueType.CLASSIC:
            for wrong, property_ in ((spec.auto_delete, "auto-delete"), (spec.exclusive, "exclusive-owner"),
                                     (not durable, "non-durable")):
                if wrong:
                    raise fail(PreconditionFailed, Reason.INVALID_QUEUE_PROPERTY, name=name, vhost=self.name,
                               property=property_, type=qtype.module)
        queue = self._messaging.new_queue(self, name, durable=durable, auto_delete=spec.auto_delete,
                                          owner=declared_owner, arguments=spec.arguments)
        self.queues[name] = queue
        if durable:
            self._messaging.record({
                "op": "queue", "vhost": self.name, "name": name, "id": queue.id,
                "auto_delete": queue.auto_delete, "arguments": table_to_json(queue.arguments),
            })
        queue.touch()
        self.retry_dead_letters()  # a DLX of "" routes to it by name from now on
        return QueueStatus(name=name, message_count=0, consumer_count=0)

    def check_consume(self, queue: Queue, arguments: Mapping[str, Field]) -> None:
        """Validates basic.consume arguments for the queue's type (406 as RabbitMQ words it)."""
        check_consumer_arguments(self, queue.name, queue.type, arguments)

    # -- direct reply-to ----------------------------------------------------------------

    def open_reply_queue(self, consumer: Consumer) -> ReplyQueue:
        """Registers a channel's direct reply-to consumer under a fresh `amq.rabbitmq.reply-to.<suffix>`."""
        reply = ReplyQueue(new_reply_name(), self.name, consumer, self._reply_gone)
        self.replies[reply.name] = reply
        return reply

    def _reply_gone(self, reply: ReplyQueue) -> None:
        if self.replies.get(reply.name) is reply:
            del self.replies[reply.name]

    def queue_purge(self, name: str, *, owner: object) -> int:
        return self.queue(strip_cr_lf(name), owner=owner).purge()

    def queue_delete(self, name: str, *, owner: object, if_unused: bool, if_empty: bool) -> int:
        queue = self.queues.get(strip_cr_lf(name))
        if queue is None:
            return 0
        self._check_access(queue, owner)
        if if_unused and queue.consumer_count:
            raise fail(PreconditionFailed, Reason.QUEUE_IN_USE, name=queue.name, vhost=self.name)
        if if_empty and queue.message_count:
            raise fail(PreconditionFailed, Reason.QUEUE_NOT_EMPTY, name=queue.name, vhost=self.name)
        return self.delete_queue(queue)

    def delete_queue(self, queue: Queue) -> int:
        if self.queues.get(queue.name) is not queue:
            return 0
        del self.queues[queue.name]
        self._unbind_destination(queue)
        if queue.durable:
            self._messaging.record({"op": "delete_queue", "vhost": self.name, "name": queue.name})
        return queue.delete()

    def owner_closed(self, owner: object) -> None:
        """A connection went away: its exclusive queues go with it, at once (errata §5)."""
        for queue in [q for q in self.queues.values() if q.owner is owner]:
            self.delete_queue(queue)

    def _compare_args(self, kind: str, name: str, current: Mapping[str, Field], received: Mapping[str, Field],
                      keys) -> None:
        for key in keys:
            a, b = received.get(key), current.get(key)
            if a is None and b is None:
                continue
            if a is not None and b is not None and a.equivalent(b):
                continue
            raise fail(PreconditionFailed, Reason.INEQUIVALENT_ARG, kind=kind, name=name, vhost=self.name,
                       key=key, received=a, current=b)

    # -- publishing ---------------------------------------------------------------------

    def publish_target(self, exchange_name: str) -> Exchange:
        """The exchange a publish names: 404 when missing, 403 when internal."""
        exchange = self.exchanges.get(exchange_name)
        if exchange is None:
            raise self._no_exchange(exchange_name)
        if exchange.internal:
            raise fail(AccessRefused, Reason.INTERNAL_EXCHANGE, name=exchange_name, vhost=self.name)
        return exchange

    def route(self, exchange: Exchange, routing_key: str, headers: HeadersSource | None) -> list:
        """Every queue the message goes to, each once, in a stable order."""
        router = exchange.router
        # Fast path: no exchange-to-exchange bindings and something matched.
        found = router.route(routing_key, headers)
        if found and all(type(d) is Queue for d in found):
            return list(found)
        queues: dict = {}
        seen = {exchange}
        pending = [(exchange, found)]
        while pending:
            current, dests = pending.pop(0)
            hit = False
            for dest in dests:
                hit = True
                if type(dest) is not Exchange:
                    queues[dest] = None
                elif dest not in seen:
                    seen.add(dest)
                    pending.append((dest, dest.router.route(routing_key, headers)))
            if not hit and current.alternate is not None:
                alternate = self.exchanges.get(current.alternate)
                if alternate is not None and alternate not in seen:
                    seen.add(alternate)
                    pending.append((alternate, alternate.router.route(routing_key, headers)))
        return list(queues)

    def route_keys(self, exchange: Exchange, routing_keys, headers: HeadersSource | None) -> list:
        """The union of the destinations of each routing key (CC/BCC, dead-lettering), each once."""
        if len(routing_keys) == 1:
            return self.route(exchange, routing_keys[0], headers)
        queues: dict = {}
        for key in routing_keys:
            for queue in self.route(exchange, key, headers):
                queues[queue] = None
        return list(queues)

    def publish(self, exchange: Exchange, routing_key: str, message: Message,
                headers: HeadersSource | None = None) -> PublishResult:
        if message.cc or message.bcc:
            queues = self.route_keys(exchange, message.routing_keys, headers)
        else:
            queues = self.route(exchange, routing_key, headers)
        if not queues:
            return _UNROUTED
        result = _ROUTED
        for queue in queues:
            if queue.enqueue(message) is None:
                result = _ROUTED_AND_REJECTED
        return result

    # -- dead-lettering -----------------------------------------------------------------

    def dead_letter(self, queue: Queue, message: Message, reason: DeathReason) -> None:
        """Republishes a message that died in `queue` to its dead-letter exchange (see module docstring)."""
        if queue.config.dead_letter_exchange is None or self.exchanges.get(queue.config.dead_letter_exchange) is None:
            return  # a missing DLX drops the message silently
        self.forward_dead(queue, self.dead_message(queue, message, reason), reason, set())

    def dead_message(self, queue: Queue, message: Message, reason: DeathReason) -> AnnotatedMessage:
        """The message as it is dead-lettered from `queue`: its death recorded, re-addressed to the DLX."""
        config = queue.config
        deaths = record_death(message.deaths, queue=queue.name, reason=reason, exchange=message.exchange,
                              routing_keys=(message.routing_key, *message.cc), ttl=message.expiration_ms,
                              now_ms=self._messaging.clock.now_ms())
        dlx = config.dead_letter_exchange or ""
        dlrk = config.dead_letter_routing_key
        if dlrk is None:
            return AnnotatedMessage(dlx, message.routing_key, message.properties, message.body,
                                    message.persistent, message.priority, None, message.cc, message.bcc, deaths)
        return AnnotatedMessage(dlx, dlrk, message.properties, message.body, message.persistent,
                                message.priority, None, (), (), deaths)

    def forward_dead(self, queue: Queue, dead: AnnotatedMessage, reason: DeathReason, done: set[str]) -> bool:
        """Routes a dead message to the DLX's queues not in `done` (adding those that took it).

        True when it is settled: every target took it, or every route was a cycle (dropped, as
        rabbit_fifo_dlx_worker drops cycles). False when the DLX is missing, routes nowhere, or a
        target refused it (x-overflow reject-publish): at-least-once keeps it and retries."""
        exchange = self.exchanges.get(dead.exchange)
        if exchange is None:
            return False
        headers = self._messaging.headers_source(dead)
        routed = self.route_keys(exchange, dead.routing_keys, headers)
        targets = routed
        if reason is not DeathReason.REJECTED:
            targets = [t for t in routed if not is_cycle(dead.deaths, t.name)]
        if not targets:
            return bool(routed)
        settled = True
        for target in targets:
            if target.name in done:
                continue
            if target.enqueue(dead) is None:
                settled = False
            else:
                done.add(target.name)
        return settled

    def retry_dead_letters(self) -> None:
        """The topology changed: queues holding at-least-once dead letters try them again."""
        if self.dead_letter_holders:
            for queue in list(self.dead_letter_holders):
                queue.retry_dead_letters()


def _declared_type(arguments: Mapping[str, Field]) -> QueueType | None:
    text = as_text(arguments.get("x-queue-type"))
    if text is None:
        return QueueType.CLASSIC
    try:
        return QueueType(text)
    except ValueError:
        return None  # invalid: argument validation reports it


def _show(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)

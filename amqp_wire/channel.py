"""One AMQP channel: content assembly, delivery tags, unacked deliveries, confirms, tx.

Protocol-local state lives here (DESIGN.md §3): the delivery-tag counter shared by
consumers and basic.get, the unacked deliveries by tag (in tag order), the consumers by
tag, prefetch limits, the publisher-confirm sequence, and a transaction's buffered
publishes and acks.

Content assembly follows `rabbit_command_assembler`: after basic.publish a content
header must come, then body frames until body-size octets arrived; any other frame is
505 UNEXPECTED_FRAME with RabbitMQ's texts.

Prefetch (basic.qos, RabbitMQ semantics, `rabbit_channel` and docs/consumer-prefetch):
`global=false` sets the limit for consumers created afterwards on this channel, each
counting its own unacked deliveries; `global=true` sets one limit shared by all the
channel's consumers. 0 is unlimited. No-ack consumers are not limited by prefetch.

Confirms: every publish on a confirm channel takes the next sequence number; confirms
are sent at the end of the input batch (after the store sync) as one basic.ack with
`multiple` covering everything up to the last one. Unroutable messages are confirmed too
(after their basic.return), as RabbitMQ does. A message a queue refused (x-overflow
reject-publish) is nacked, and so is everything of the batch when the store could not
write it (RabbitMQ nacks on internal errors); without confirms a refused message is just
dropped. Under `--fsync interval|always` the connection records each channel's
`publish_seq` at the end of the batch and confirms up to that number only once the engine's
Syncer has the writes on disk (`send_confirms(upto=...)`; engine/durability.py).

The publish path also applies RabbitMQ's message rules, in `rabbit_channel`'s order:
the exchange must exist and not be internal; `reply_to = amq.rabbitmq.reply-to` needs
this channel's direct reply-to consumer (406 "fast reply consumer does not exist") and is
rewritten to its name; user-id must be the authenticated user; expiration must be a
non-negative integer string; CC and BCC headers must be arrays (406 "invalid message:
..."), their keys are routed too, and BCC is removed from the stored message.

Consumer timeout (RabbitMQ's `consumer_timeout`, default 30 minutes; `x-consumer-timeout`
on quorum queues and their consumers): when the channel's oldest unacknowledged delivery
is older than its timeout, the channel is closed with 406 "delivery acknowledgement on
channel N timed out. Timeout value used: T ms. ..." and its deliveries go back
(`rabbit_channel:evaluate_consumer_timeout/1`). One timer per channel, armed at the oldest
delivery's deadline.

Direct reply-to (`amq.rabbitmq.reply-to`): one no-ack reply consumer per channel
(engine/messaging/reply.py); replies are delivered to it with the channel's delivery tags.

On close (either side) and when the connection goes, the channel's consumers are cancelled
and its unacked deliveries go back to their queues, marked redelivered.
"""

from __future__ import annotations

import enum
import logging
import struct
import time
from typing import TYPE_CHECKING, Any

from engine.errors import EngineError
from engine.messaging import Message, PublishResult, Queue
from engine.messaging.txlog import publish_collecting
from engine.messaging.types import make_message

from amqp_wire import frames
from amqp_wire.errors import AmqpError, ReplyCode, from_engine, unknown_delivery_tag
from amqp_wire.fieldtable import TableError
from amqp_wire.properties import PropertiesError, headers_of, rewrite, scan, sender_selected

log = logging.getLogger("mqgateway.amqp")

if TYPE_CHECKING:
    from amqp_wire.connection import Session
    from amqp_wire.consumer import WireConsumer

_CONTENT_HDR = struct.Struct(">HHQ")
_ROUTED_AND_REJECTED = PublishResult.ROUTED | PublishResult.REJECTED
MAX_EXPIRY_MS = 10 * 365 * 24 * 3600 * 1000


class ChannelState(enum.Enum):
    OPEN = "open"
    CLOSING = "closing"  # we sent channel.close; waiting for close-ok
    CLOSED = "closed"


def _commands():
    from pamqp import commands

    return commands


def check_expiration(raw: bytes) -> int:
    """`rabbit_basic:parse_expiration/1`: a string of a non-negative integer of milliseconds.

    Erlang's `string:to_integer/1` reads an optional sign and digits, with no whitespace.
    """
    text = raw.decode("utf-8", "replace")
    digits = text
    sign = ""
    if digits[:1] in ("-", "+"):
        sign, digits = digits[0], digits[1:]
    count = len(digits) - len(digits.lstrip("0123456789"))
    if count == 0:
        problem = "no_integer"
    else:
        rest = digits[count:]
        value = int(sign + digits[:count])
        if rest:
            problem = f'{{leftover_string,"{rest}"}}'
        elif value < 0:
            problem = f"{{value_negative,{value}}}"
        elif value > MAX_EXPIRY_MS:
            problem = f"{{value_too_large,{value}}}"
        else:
            return value
    raise AmqpError(ReplyCode.PRECONDITION_FAILED, f"invalid expiration '{text}': {problem}", 60, 40)


def timeout_text(channel_id: int, timeout_ms: int) -> str:
    # rabbit_channel:handle_consumer_timed_out/3
    return (f"delivery acknowledgement on channel {channel_id} timed out. Timeout value used: {timeout_ms} ms. "
            "This timeout value can be configured, see consumers doc guide to learn more")


class Channel:
    def __init__(self, session: "Session", channel_id: int) -> None:
        self.session = session
        self.id = channel_id
        self.state = ChannelState.OPEN
        self.next_tag = 1
        # delivery tag -> (queue, entry, consumer or None for basic.get, monotonic time delivered)
        self.unacked: dict[int, tuple[Queue, Any, Any, float]] = {}
        self.consumers: dict[str, "WireConsumer"] = {}
        self.reply_consumer: "WireConsumer | None" = None
        self.timeout_timer = None
        self.prefetch = 0
        self.global_limit = 0
        self.global_unacked = 0
        self.confirm = False
        self.publish_seq = 0
        self.confirmed_seq = 0
        self.nacks: list[int] = []
        self.tx = False
        self.tx_publishes: list[tuple] = []
        self.tx_acks: list[tuple[str, list[tuple[int, tuple]], bool]] = []
        self.last_queue: str | None = None
        self._publish: tuple[str, str, bool, bool] | None = None
        self._props: bytes | None = None
        self._body_size = 0
        self._parts: list[bytes] = []
        self._received = 0

    # -- content assembly ---------------------------------------------------------------

    def expecting_content(self) -> bool:
        return self._publish is not None

    def unexpected_method(self) -> None:
        if self._props is None:
            raise AmqpError(ReplyCode.UNEXPECTED_FRAME,
                            "expected content header for class 60, got non content header frame instead")
        raise AmqpError(ReplyCode.UNEXPECTED_FRAME, "expected content body, got non content body frame instead")

    def begin_publish(self, publish: tuple[str, str, bool, bool]) -> None:
        self._publish = publish

    def header_frame(self, payload: bytes) -> None:
        if self._publish is None:
            raise AmqpError(ReplyCode.UNEXPECTED_FRAME, "expected method frame, got non method frame instead")
        if self._props is not None:
            raise AmqpError(ReplyCode.UNEXPECTED_FRAME, "expected content body, got non content body frame instead")
        try:
            class_id, _weight, size = _CONTENT_HDR.unpack_from(payload)
        except struct.error:
            raise AmqpError(ReplyCode.FRAME_ERROR, "cannot decode content header") from None
        if class_id != 60:
            raise AmqpError(ReplyCode.UNEXPECTED_FRAME,
                            f"expected content header for class 60, got one for class {class_id} instead")
        self._props = payload[12:]
        self._body_size = size
        limit = self.session.settings.max_message_size
        if size > limit:
            self._reset_content()
            raise AmqpError(ReplyCode.PRECONDITION_FAILED,
                            f"message size {size} is larger than configured max size {limit}", 60, 40)
        if size == 0:
            self._finish_publish(b"")

    def body_frame(self, payload: bytes) -> None:
        if self._props is None:
            if self._publish is None:
                raise AmqpError(ReplyCode.UNEXPECTED_FRAME, "expected method frame, got non method frame instead")
            raise AmqpError(ReplyCode.UNEXPECTED_FRAME,
                            "expected content header for class 60, got non content header frame instead")
        self._received += len(payload)
        if self._received > self._body_size:
            raise AmqpError(ReplyCode.FRAME_ERROR, (
                f"type 3, {len(payload)} octets: {{content_body_too_large,{self._received},{self._body_size}}}"))
        if self._received == self._body_size:
            if self._parts:
                self._parts.append(payload)
                body = b"".join(self._parts)
            else:
                body = payload
            self._finish_publish(body)
        else:
            self._parts.append(payload)

    def _reset_content(self) -> None:
        self._publish = None
        self._props = None
        self._parts = []
        self._received = 0
        self._body_size = 0

    def _finish_publish(self, body: bytes) -> None:
        exchange_name, routing_key, mandatory, immediate = self._publish  # type: ignore[misc]
        props = self._props or b"\x00\x00"
        self._reset_content()
        if immediate:
            raise AmqpError(ReplyCode.NOT_IMPLEMENTED, "immediate=true", 60, 40)
        session = self.session
        try:
            info = scan(props)
        except PropertiesError:
            raise AmqpError(ReplyCode.SYNTAX_ERROR, "cannot decode content header properties", 60, 40) from None
        vhost = session.vhost
        try:
            exchange = vhost.publish_target(exchange_name)
        except EngineError as err:
            raise from_engine(err).at(60, 40) from None
        if info.fast_reply:
            reply = self.reply_consumer
            if reply is None:
                raise AmqpError(ReplyCode.PRECONDITION_FAILED, "fast reply consumer does not exist", 60, 40)
            props = rewrite(props, reply_to=reply.queue.name.encode())
            info = scan(props)
        if info.user_id is not None and info.user_id.decode("utf-8", "replace") != session.user:
            raise AmqpError(ReplyCode.PRECONDITION_FAILED, (
                f"user_id property set to '{info.user_id.decode('utf-8', 'replace')}' "
                f"but authenticated user was '{session.user}'"), 60, 40)
        expiration_ms = None
        if info.expiration is not None:
            expiration_ms = check_expiration(info.expiration)
        headers_at = info.headers_at
        cc = bcc = ()
        if headers_at >= 0 and (props.find(b"\x02CC", headers_at) >= 0 or props.find(b"\x03BCC", headers_at) >= 0):
            try:
                cc, bcc, stored = sender_selected(props, headers_at)
            except TableError:
                raise AmqpError(ReplyCode.SYNTAX_ERROR, "cannot decode message headers", 60, 40) from None
            except ValueError as err:
                raise AmqpError(ReplyCode.PRECONDITION_FAILED, f"invalid message: {err}", 60, 40) from None
            if stored is not props:
                props = stored
                headers_at = scan(props).headers_at
        if cc or bcc:
            message = make_message(exchange_name, routing_key, props, body, info.delivery_mode == 2, info.priority,
                                   expiration_ms, cc, bcc)
        else:
            message = Message(exchange_name, routing_key, props, body, info.delivery_mode == 2, info.priority,
                              expiration_ms)
        headers = (lambda: headers_of(props, headers_at)) if headers_at >= 0 else None
        if self.tx:
            self.tx_publishes.append((exchange, routing_key, message, headers, mandatory))
            return
        self._route(exchange, routing_key, message, headers, mandatory)

    def _route(self, exchange, routing_key: str, message: Message, headers, mandatory: bool) -> None:
        try:
            result = self.session.vhost.publish(exchange, routing_key, message, headers)
        except EngineError as err:  # a headers table that does not decode, and the like
            raise from_engine(err).at(60, 40) from None
        except ValueError:
            raise AmqpError(ReplyCode.SYNTAX_ERROR, "cannot decode message headers", 60, 40) from None
        if not result and mandatory:
            self.session.send(b"".join([
                frames.method_frame(self.id, frames.build(
                    _commands().Basic.Return, reply_code=312, reply_text="NO_ROUTE",
                    exchange=message.exchange, routing_key=routing_key)),
                *frames.content_frames(self.id, message.properties, message.body, self.session.frame_max),
            ]))
        if self.confirm:
            self.publish_seq += 1
            if result is _ROUTED_AND_REJECTED:  # identity, not `&`: IntFlag arithmetic is slow
                self.nacks.append(self.publish_seq)
            self.session.confirming.add(self)

    def send_confirms(self, *, failed: bool = False, upto: int | None = None) -> None:
        """Acks (or nacks) every publish up to `upto` (default: all so far); `failed`: the
        store could not write them."""
        if self.state is not ChannelState.OPEN:
            return
        if upto is None:
            upto = self.publish_seq
        if upto <= self.confirmed_seq:
            return
        commands = _commands().Basic
        if failed:
            multiple = upto - self.confirmed_seq > 1
            self.confirmed_seq = upto
            self.nacks = [seq for seq in self.nacks if seq > upto]
            self.session.send(frames.method_frame(
                self.id, frames.build(commands.Nack, delivery_tag=upto, multiple=multiple, requeue=False)))
            return
        if self.nacks and self.nacks[0] <= upto:
            # Publishes made after `upto` (while a sync was awaited) keep their nacks.
            nacks = [seq for seq in self.nacks if seq <= upto]
            self.nacks = self.nacks[len(nacks):]
            for seq in nacks:
                if seq - 1 > self.confirmed_seq:
                    self.session.send(frames.method_frame(self.id, frames.build(
                        commands.Ack, delivery_tag=seq - 1, multiple=seq - 1 - self.confirmed_seq > 1)))
                self.session.send(frames.method_frame(self.id, frames.build(
                    commands.Nack, delivery_tag=seq, multiple=False, requeue=False)))
                self.confirmed_seq = seq
            if upto <= self.confirmed_seq:
                return
        multiple = upto - self.confirmed_seq > 1
        self.confirmed_seq = upto
        self.session.send(frames.method_frame(
            self.id, frames.build(commands.Ack, delivery_tag=upto, multiple=multiple)))

    # -- deliveries ---------------------------------------------------------------------

    def take_tag(self) -> int:
        tag = self.next_tag
        self.next_tag = tag + 1
        return tag

    def _collect(self, tag: int, multiple: bool) -> list[tuple[int, tuple]]:
        unacked = self.unacked
        if multiple:
            if tag != 0 and tag not in unacked:
                raise unknown_delivery_tag(tag)
            taken = []
            while unacked:
                first = next(iter(unacked))
                if tag and first > tag:
                    break
                taken.append((first, unacked.pop(first)))
            return taken
        item = unacked.pop(tag, None)
        if item is None:
            raise unknown_delivery_tag(tag)
        return [(tag, item)]

    def _release_credit(self, consumer) -> None:
        if consumer is not None:
            consumer.unacked -= 1
            self.global_unacked -= 1

    def ack(self, tag: int, multiple: bool) -> None:
        if multiple or tag not in self.unacked or self.tx:
            taken = self._collect(tag, multiple)
            if self.tx:
                self.tx_acks.append(("ack", taken, False))
                return
            for _tag, item in taken:
                self._settle_ack(item)
            return
        item = self.unacked.pop(tag)
        self._settle_ack(item)

    def _settle_ack(self, item: tuple) -> None:
        queue, entry, consumer, _at = item
        queue.ack(entry)
        if consumer is not None:
            consumer.unacked -= 1
            self.global_unacked -= 1
            if queue.consumer_count:
                self.session.dirty_queues.add(queue)

    def reject(self, tag: int, multiple: bool, requeue: bool) -> None:
        taken = self._collect(tag, multiple)
        if self.tx:
            self.tx_acks.append(("reject", taken, requeue))
            return
        self._settle_rejects(taken, requeue)

    def _settle_rejects(self, taken: list[tuple[int, tuple]], requeue: bool) -> None:
        by_queue: dict[Queue, list] = {}
        for _tag, (queue, entry, consumer, _at) in taken:
            if consumer is not None:
                consumer.unacked -= 1
                self.global_unacked -= 1
            if requeue:
                by_queue.setdefault(queue, []).append(entry)
            else:
                queue.discard(entry)
                if queue.consumer_count:
                    self.session.dirty_queues.add(queue)
        for queue, entries in by_queue.items():
            queue.requeue(entries)

    def recover(self) -> None:
        """basic.recover requeue=true: every unacked delivery back to its queue."""
        taken = list(self.unacked.items())
        self.unacked.clear()
        self._settle_rejects(taken, True)

    # -- transactions -------------------------------------------------------------------

    def tx_commit(self) -> None:
        """Routes the publishes, then has the engine journal the commit, apply the settlements
        and flush (engine/messaging/txlog.py): on return the commit survives kill -9."""
        publishes, self.tx_publishes = self.tx_publishes, []
        acks, self.tx_acks = self.tx_acks, []
        published: list = []
        vhost = self.session.vhost
        for exchange, routing_key, message, headers, mandatory in publishes:
            if exchange.deleted:
                continue
            try:
                routed = publish_collecting(vhost, exchange, routing_key, message, headers, published)
            except EngineError as err:
                self.tx_acks = acks  # the channel closes: they go back to their queues
                raise from_engine(err).at(60, 40) from None
            except ValueError:
                self.tx_acks = acks
                raise AmqpError(ReplyCode.SYNTAX_ERROR, "cannot decode message headers", 60, 40) from None
            if not routed and mandatory:
                self._return_unroutable(message, routing_key)
        settled = [(item[0], item[1]) for kind, taken, requeue in acks if kind == "ack" or not requeue
                   for _tag, item in taken]
        applied = False

        def apply() -> None:
            nonlocal applied
            applied = True
            for kind, taken, requeue in acks:
                if kind == "ack":
                    for _tag, item in taken:
                        self._settle_ack(item)
                else:
                    self._settle_rejects(taken, requeue)

        try:
            self.session.messaging.tx_commit(published, settled, apply)
        except OSError:
            log.exception("amqp: could not write a tx.commit to the store")
            if not applied:
                self.tx_acks = acks  # the connection closes: they go back to their queues
            raise AmqpError(ReplyCode.INTERNAL_ERROR, "could not write the transaction to the store") from None

    def _return_unroutable(self, message: Message, routing_key: str) -> None:
        self.session.send(b"".join([
            frames.method_frame(self.id, frames.build(
                _commands().Basic.Return, reply_code=312, reply_text="NO_ROUTE",
                exchange=message.exchange, routing_key=routing_key)),
            *frames.content_frames(self.id, message.properties, message.body, self.session.frame_max),
        ]))

    def tx_rollback(self) -> None:
        self.tx_publishes = []
        acks, self.tx_acks = self.tx_acks, []
        restored = dict(self.unacked)
        for _kind, taken, _requeue in acks:
            restored.update(taken)
        self.unacked = dict(sorted(restored.items()))

    # -- consumer timeout ---------------------------------------------------------------

    def timeout_of(self, queue, consumer) -> int:
        """ms: the consumer's x-consumer-timeout, else the queue's, else the server's default."""
        if consumer is not None and consumer.timeout:
            return consumer.timeout
        configured = getattr(getattr(queue, "config", None), "consumer_timeout", None)
        return configured or self.session.settings.consumer_timeout_ms

    def arm_timeout(self, delay_s: float) -> None:
        self.timeout_timer = self.session.loop.call_later(max(delay_s, 0.0), self._check_timeout)

    def _check_timeout(self) -> None:
        self.timeout_timer = None
        if self.state is not ChannelState.OPEN or not self.unacked:
            return
        queue, _entry, consumer, at = next(iter(self.unacked.values()))
        timeout = self.timeout_of(queue, consumer)
        left = at + timeout / 1000.0 - time.monotonic()
        if left > 0:
            self.arm_timeout(left)
            return
        log.warning("amqp: consumer on channel %d of %s timed out waiting for an ack (%d ms)",
                    self.id, self.session.link.peer, timeout)
        self.close_by_server(AmqpError(ReplyCode.PRECONDITION_FAILED, timeout_text(self.id, timeout)))

    # -- closing ------------------------------------------------------------------------

    def close_by_server(self, err: AmqpError) -> None:
        """A soft error: channel.close to the client; the channel's resources go now."""
        if self.state is not ChannelState.OPEN:
            return
        self.session.send_method(self.id, frames.build(
            _commands().Channel.Close, reply_code=int(err.code), reply_text=err.reply_text,
            class_id=err.class_id, method_id=err.method_id))
        self.release()
        self.state = ChannelState.CLOSING

    def release(self) -> None:
        """Cancels consumers and requeues unacked deliveries (close, error, connection loss)."""
        if self.state is ChannelState.CLOSED:
            return
        self.state = ChannelState.CLOSED
        self._reset_content()
        self.tx_publishes = []
        self.tx_rollback()
        taken = list(self.unacked.items())
        self.unacked.clear()
        consumers, self.consumers = self.consumers, {}
        if self.timeout_timer is not None:
            self.timeout_timer.cancel()
            self.timeout_timer = None
        # Consumers go first, so the requeued messages are not handed straight back to them.
        for consumer in consumers.values():
            consumer.cancelled = True
            consumer.queue.remove_consumer(consumer)
        by_queue: dict[Queue, list] = {}
        for _tag, (queue, entry, _consumer, _at) in taken:
            by_queue.setdefault(queue, []).append(entry)
        for queue, entries in by_queue.items():
            queue.requeue(entries)

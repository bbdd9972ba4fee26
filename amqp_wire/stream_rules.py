"""What AMQP 0-9-1 may not do with a stream queue, in RabbitMQ's words (rabbit_stream_queue.erl 3.10+).

- basic.consume with no_ack ⇒ 540 "automatic acknowledgement not supported by stream queues <rs>";
- without a consumer prefetch ⇒ 406 "consumer prefetch count is not set for '<rs>'" (checked
  before global QoS: a channel with only a global prefetch gets this);
- with global QoS ⇒ 540 "<rs> does not support global qos";
- basic.get ⇒ 540 "basic.get not supported by stream queues <rs>";
- queue.purge ⇒ 540 "queue.purge not supported by stream queues <rs>".

`<rs>` is rabbit_misc:rs/1: "queue 'q' in vhost '/'". The `x-stream-offset` consumer argument is
handed to the queue (engine/messaging/stream_queue.py reads its forms).
"""

from __future__ import annotations

from engine.messaging import QueueType

from amqp_wire.errors import AmqpError, ReplyCode, rs


def is_stream(queue) -> bool:
    return getattr(queue, "type", None) is QueueType.STREAM


def check_consume(channel, queue, method, consumer_limit: int) -> None:
    where = rs("queue", queue.name, channel.session.vhost_name)
    if method.no_ack:
        raise AmqpError(ReplyCode.NOT_IMPLEMENTED, f"automatic acknowledgement not supported by stream queues {where}")
    if not consumer_limit:
        raise AmqpError(ReplyCode.PRECONDITION_FAILED, f"consumer prefetch count is not set for '{where}'")
    if channel.global_limit:
        raise AmqpError(ReplyCode.NOT_IMPLEMENTED, f"{where} does not support global qos")


def check_get(channel, queue) -> None:
    where = rs("queue", queue.name, channel.session.vhost_name)
    raise AmqpError(ReplyCode.NOT_IMPLEMENTED, f"basic.get not supported by stream queues {where}")


def check_purge(channel, queue) -> None:
    where = rs("queue", queue.name, channel.session.vhost_name)
    raise AmqpError(ReplyCode.NOT_IMPLEMENTED, f"queue.purge not supported by stream queues {where}")

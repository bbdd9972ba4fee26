"""Small helpers shared by the pika-driven AMQP compat tests."""

from __future__ import annotations

import time
from collections.abc import Callable

import pika
from pika.adapters.blocking_connection import BlockingChannel, BlockingConnection


def channel_error(conn: BlockingConnection, action: Callable[[BlockingChannel], object]) -> tuple[int, str]:
    """Run `action` on a fresh channel; assert the broker closed that channel (a soft error)
    and not the connection, and return (reply_code, reply_text)."""
    ch = conn.channel()
    try:
        action(ch)
        # Asynchronous methods (basic.publish, basic.ack) fail later: a synchronous round trip
        # on the same channel brings the channel.close in.
        ch.basic_qos(prefetch_count=0)
    except pika.exceptions.ChannelClosedByBroker as exc:
        assert conn.is_open, "a soft error must close the channel only"
        return exc.reply_code, exc.reply_text
    raise AssertionError("the broker did not close the channel")


def connection_error(conn: BlockingConnection, action: Callable[[BlockingChannel], object]) -> tuple[int, str]:
    """Run `action` on a fresh channel; assert the broker closed the whole connection."""
    ch = conn.channel()
    try:
        action(ch)
        ch.basic_qos(prefetch_count=0)
    except pika.exceptions.ConnectionClosedByBroker as exc:
        return exc.reply_code, exc.reply_text
    raise AssertionError("the broker did not close the connection")


def get_bodies(ch: BlockingChannel, queue: str) -> list[bytes]:
    """Drain `queue` with basic.get (auto-ack) and return the bodies in order."""
    bodies = []
    while True:
        method, _, body = ch.basic_get(queue, auto_ack=True)
        if method is None:
            return bodies
        bodies.append(body)


def wait_for(predicate: Callable[[], bool], conn: BlockingConnection | None = None, timeout: float = 5.0) -> None:
    """Poll `predicate`, pumping `conn`'s I/O between polls, until it holds or `timeout` passes."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        if conn is not None:
            conn.process_data_events(time_limit=0.02)
        else:
            time.sleep(0.02)


def reply_text(text: str) -> str:
    """A reply text as RabbitMQ puts it on the wire: at most 255 bytes, longer ones cut to 252
    bytes plus '...' (rabbit_binary_generator:amqp_exception_explanation/2)."""
    data = text.encode()
    if len(data) <= 255:
        return text
    return data[:252].decode(errors="ignore") + "..."


def settle(conn: BlockingConnection, seconds: float = 0.3) -> None:
    """Pump `conn` for `seconds` so the broker can push whatever it is going to push
    (process_data_events returns as soon as anything arrived)."""
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        conn.process_data_events(time_limit=left)

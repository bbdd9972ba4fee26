"""The method handler registry: one module per AMQP class, each registering its methods.

`@connection_method(cls)` registers a handler for a method on channel 0, called as
`handler(session, method)`; `@channel_method(cls)` one for a method on an open channel,
called as `handler(channel, method)`. The registry is the single list of what the server
serves; a method not in it gets 503 "unimplemented method" (RabbitMQ's answer).
"""

from __future__ import annotations

from typing import Callable

CONNECTION_HANDLERS: dict[int, Callable] = {}
CHANNEL_HANDLERS: dict[int, Callable] = {}


def connection_method(cls) -> Callable[[Callable], Callable]:
    def register(fn: Callable) -> Callable:
        CONNECTION_HANDLERS[cls.index] = fn
        return fn
    return register


def channel_method(cls) -> Callable[[Callable], Callable]:
    def register(fn: Callable) -> Callable:
        CHANNEL_HANDLERS[cls.index] = fn
        return fn
    return register


def load_all() -> None:
    """Imports every handler module so their registrations run."""
    from amqp_wire.handlers import (  # noqa: F401
        c10_connection,
        c20_channel,
        c40_exchange,
        c50_queue,
        c60_basic,
        c85_confirm,
        c90_tx,
    )

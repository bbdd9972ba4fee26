"""An exchange: its declaration, its router (engine/messaging/routing.py), its alternate exchange."""

from __future__ import annotations

from typing import Mapping

from engine.messaging.fields import Field, as_text
from engine.messaging.routing import ROUTERS, Router
from engine.messaging.types import ExchangeType

ALTERNATE_EXCHANGE = "alternate-exchange"  # no x- prefix: RabbitMQ's name (`rabbit_exchange`)


class Exchange:
    __slots__ = ("name", "type", "durable", "auto_delete", "internal", "arguments", "router",
                 "alternate", "deleted", "__weakref__")

    def __init__(
        self,
        name: str,
        type: ExchangeType,
        *,
        durable: bool,
        auto_delete: bool,
        internal: bool,
        arguments: Mapping[str, Field],
        router: Router | None = None,
    ) -> None:
        self.name = name
        self.type = type
        self.durable = durable
        self.auto_delete = auto_delete
        self.internal = internal
        self.arguments = dict(arguments)
        self.router = router if router is not None else ROUTERS[type]()
        self.alternate = as_text(self.arguments.get(ALTERNATE_EXCHANGE))
        self.deleted = False

    def __repr__(self) -> str:
        return f"<Exchange {self.name!r} {self.type}>"

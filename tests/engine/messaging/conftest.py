"""Engine messaging fixtures: the memory backend, a fake clock, and a recording consumer."""

from __future__ import annotations

import pytest

from engine.clock import FakeClock
from engine.messaging import Message, Messaging


class Recorder:
    """An engine Consumer that takes up to `credit` deliveries (None = unlimited)."""

    def __init__(self, credit: int | None = None, *, no_ack: bool = False) -> None:
        self.credit = credit
        self.no_ack = no_ack
        self.got: list = []
        self.deleted = False

    def has_credit(self) -> bool:
        return self.credit is None or len(self.got) < self.credit

    def deliver(self, queue, entry, message) -> None:
        self.got.append((entry, message))

    def queue_deleted(self, queue) -> None:
        self.deleted = True

    @property
    def bodies(self) -> list[bytes]:
        return [m.body for _, m in self.got]


def msg(body: bytes = b"x", *, routing_key: str = "", exchange: str = "", persistent: bool = False) -> Message:
    return Message(exchange, routing_key, b"\x00\x00", body, persistent)


@pytest.fixture
def messaging():
    m = Messaging(None, clock=FakeClock())
    m.open()
    yield m
    m.close()


@pytest.fixture
def vhost(messaging):
    return messaging.vhost("/")

"""Behaviours aiormq's and aio-pika's own test suites rely on (tests/ of their sdists), each
reproduced here with the same client so a regression shows up in our suite, not only when
those upstream suites are run against the broker by hand (see docs/amqp.md)."""

from __future__ import annotations

import uuid

import aiormq
import pytest


@pytest.fixture
async def aconn(broker):
    conn = aiormq.Connection(broker.url())
    await conn.connect()
    yield conn
    await conn.close()


async def test_channel_number_above_channel_max_opens(aconn):
    # aiormq test_connection.py::test_bad_channel. RabbitMQ bounds how many channels are open
    # (rabbit_reader:create_channel), not their numbers: 65535 opens under channel_max 2047.
    assert aconn.connection_tune.channel_max == 2047
    channel = await aconn.channel(65535)
    assert channel.number == 65535
    with pytest.raises(aiormq.exceptions.ChannelNotFoundEntity):
        await channel.queue_bind(uuid.uuid4().hex, uuid.uuid4().hex)

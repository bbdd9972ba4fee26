"""The broker as a library: in-process, memory storage, port 0, clean stop."""

from __future__ import annotations

import asyncio
import socket

from gateway.broker import Broker
from gateway.config import Config, HostPort


async def test_starts_in_process_on_free_ports_and_stops():
    broker = Broker(Config(memory=True, kafka=HostPort(host="127.0.0.1", port=0),
                           amqp=HostPort(host="127.0.0.1", port=0)))
    await broker.start()
    try:
        assert broker.kafka_port > 0 and broker.amqp_port > 0
        reader, writer = await asyncio.open_connection("127.0.0.1", broker.kafka_port)
        # ApiVersions v0, correlation id 7: the answer carries our correlation id.
        writer.write(b"\x00\x00\x00\x0a\x00\x12\x00\x00\x00\x00\x00\x07\xff\xff")
        size = int.from_bytes(await reader.readexactly(4), "big")
        body = await reader.readexactly(size)
        assert body[:4] == (7).to_bytes(4, "big")
        assert body[4:6] == b"\x00\x00"  # error_code NONE
        writer.close()
    finally:
        await broker.stop()
    with socket.socket() as sock:
        assert sock.connect_ex(("127.0.0.1", broker.kafka_port)) != 0

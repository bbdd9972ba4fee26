"""The AMQP 0-9-1 service: builds one connection session per accepted socket.

Contract with gateway (the composition root):
    AmqpService(engine, AmqpSettings(...)).new_session(link) -> session
    session.data_received(bytes); session.connection_lost(exc | None)
    await service.close()   # broker shutdown: every connection gets 320 CONNECTION_FORCED
`link` is gateway's Link: write, writelines, close, abort, is_closing, pause_reading,
resume_reading, drain (awaitable), write_buffer_size, peer, local.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from amqp_wire.connection import Session, State
from amqp_wire.errors import ReplyCode
from amqp_wire.handlers import load_all
from amqp_wire.stream_delivery import bridge_properties, record_headers
from amqp_wire.properties import headers_from_properties

load_all()


@dataclass(frozen=True, slots=True, kw_only=True)
class AmqpSettings:
    user: str = "guest"
    password: str = "guest"
    max_message_size: int = 128 * 1024 * 1024
    frame_max: int = 131072
    channel_max: int = 2047
    heartbeat: int = 60
    consumer_timeout_ms: int = 1_800_000  # RabbitMQ's consumer_timeout: 30 minutes


class AmqpService:
    # The session calls Link.handshake_done() at connection.open-ok, so the listener's
    # handshake timeout covers the whole AMQP handshake, not just the first bytes.
    reports_handshake = True

    def __init__(self, engine, settings: AmqpSettings) -> None:
        self.engine = engine
        self.settings = settings
        self.sessions: set[Session] = set()
        # Dead-lettering through a headers exchange reads the message's AMQP headers.
        engine.messaging.headers_decoder = headers_from_properties
        # Messages appended to a stream (a topic) carry their properties as record headers.
        engine.messaging.record_encoder = record_headers
        engine.messaging.record_renderer = bridge_properties
        # Resource alarms block publishing connections (connection.blocked) until they clear.
        self._unsubscribe = engine.pressure.subscribe(self._alarms_changed)

    def _alarms_changed(self, alarms) -> None:
        for session in list(self.sessions):
            session.alarms_changed(alarms)

    def new_session(self, link) -> Session:
        session = _TrackedSession(self, link)
        self.sessions.add(session)
        return session

    async def close(self) -> None:
        """Broker shutdown: 320 CONNECTION_FORCED to every connection, then a moment for close-ok."""
        self._unsubscribe()
        live = [s for s in self.sessions if s.state not in (State.CLOSED,)]
        for session in live:
            if session.state is State.RUNNING:
                session.close_by_server(ReplyCode.CONNECTION_FORCED, "broker forced connection closure with reason 'shutdown'")
            else:
                session.abandon()
        if live:
            deadline = asyncio.get_running_loop().time() + 1.0
            while any(s.state is not State.CLOSED for s in live) and asyncio.get_running_loop().time() < deadline:
                await asyncio.sleep(0.02)
        for session in list(self.sessions):
            session._flush()


class _TrackedSession(Session):
    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        self.service.sessions.discard(self)

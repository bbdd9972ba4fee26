"""The AMQP 0-9-1 service: builds one connection session per accepted socket.

Contract with gateway (the composition root):
    AmqpService(engine, AmqpSettings(...)).new_session(link) -> session
    session.data_received(bytes); session.connection_lost(exc | None)
    await service.close()   # broker shutdown: every connection gets 320 CONNECTION_FORCED
`link` is gateway's Link: write, writelines, close, abort, is_closing, pause_reading,
resume_reading, drain (awaitable), write_buffer_size, peer, local.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True, kw_only=True)
class AmqpSettings:
    user: str = "guest"
    password: str = "guest"
    max_message_size: int = 16 * 1024 * 1024
    frame_max: int = 131072
    channel_max: int = 2047
    heartbeat: int = 60


class AmqpService:
    def __init__(self, engine, settings: AmqpSettings) -> None:
        self.engine = engine
        self.settings = settings

    def new_session(self, link):
        raise NotImplementedError("the AMQP listener is built in issue 3")

    async def close(self) -> None:
        pass

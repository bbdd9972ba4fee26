"""The Kafka service: one session per accepted socket, and the shared per-listener state.

Contract with gateway (the composition root), as for amqp_wire:
    KafkaService(engine, KafkaSettings(...)).new_session(link) -> KafkaSession
    await service.close()   # broker shutdown: in-flight requests answered, then closed
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from kafka_wire import handlers  # noqa: F401  (registers every handler module)
from kafka_wire.framing import MAX_REQUEST_BYTES
from kafka_wire.session import KafkaSession


@dataclass(frozen=True, slots=True, kw_only=True)
class KafkaSettings:
    advertised_host: str
    advertised_port: int
    node_id: int = 1
    cluster_id: str = "mqgateway-cluster-0001"
    # socket.request.max.bytes: a request declaring more closes its connection.
    max_request_bytes: int = MAX_REQUEST_BYTES


class KafkaService:
    def __init__(self, engine, settings: KafkaSettings) -> None:
        self.engine = engine
        self.settings = settings
        self.sessions: set[KafkaSession] = set()
        self.closing = False

    def new_session(self, link) -> KafkaSession:
        session = KafkaSession(self, link)
        self.sessions.add(session)
        return session

    def session_closed(self, session: KafkaSession) -> None:
        self.sessions.discard(session)

    async def close(self, timeout: float = 2.0) -> None:
        self.closing = True
        # Parked JoinGroup/SyncGroup requests are answered now rather than at their timeout.
        if self.engine.groups is not None:
            self.engine.groups.release_waiters()
        sessions = list(self.sessions)
        if sessions:
            await asyncio.gather(*(s.finish(timeout) for s in sessions), return_exceptions=True)

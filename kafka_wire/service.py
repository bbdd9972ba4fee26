"""The Kafka service: builds one session per accepted socket (contract as amqp_wire/service.py)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True, kw_only=True)
class KafkaSettings:
    advertised_host: str
    advertised_port: int
    node_id: int = 1
    cluster_id: str = "mqgateway-cluster-0001"


class KafkaService:
    def __init__(self, engine, settings: KafkaSettings) -> None:
        self.engine = engine
        self.settings = settings

    def new_session(self, link):
        raise NotImplementedError

    async def close(self) -> None:
        pass

"""The broker as a library: engine, wire services and listeners, started and stopped together.

`Broker(config)` is what `mqgateway serve` runs and what tests and embedders use in-process:

    broker = Broker(Config(memory=True, kafka=HostPort(host="127.0.0.1", port=0), ...))
    await broker.start()          # binds, recovers storage; ports readable afterwards
    broker.kafka_port, broker.amqp_port
    await broker.stop()           # stops accepting, answers in-flight work, flushes, closes

Binding happens before the services are built so that the Kafka advertised address can
carry the real port when port 0 was asked for.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from engine import Engine, EngineSettings
from gateway.config import Config, HostPort
from gateway.listener import Link, Listener
from amqp_wire.service import AmqpService, AmqpSettings
from kafka_wire.service import KafkaService, KafkaSettings

log = logging.getLogger("mqgateway")


class StartupError(RuntimeError):
    """The broker cannot start; the message is one line for the operator."""


class Broker:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.engine: Engine | None = None
        self.kafka: KafkaService | None = None
        self.amqp: AmqpService | None = None
        self._kafka_listener = Listener("kafka", self._new_kafka_session)
        self._amqp_listener = Listener("amqp", self._new_amqp_session)
        self.kafka_port = 0
        self.amqp_port = 0
        self._stopped = asyncio.Event()

    def _new_kafka_session(self, link: Link):
        assert self.kafka is not None
        return self.kafka.new_session(link)

    def _new_amqp_session(self, link: Link):
        assert self.amqp is not None
        return self.amqp.new_session(link)

    async def start(self) -> None:
        config = self.config
        data_dir = None if config.memory else _usable_data_dir(config.data_dir)
        self.engine = Engine(
            data_dir=data_dir,
            settings=EngineSettings(
                default_partitions=config.default_partitions,
                auto_create_topics=config.auto_create_topics,
                group_initial_rebalance_delay_ms=config.group_initial_rebalance_delay_ms,
                node_id=config.node_id,
                cluster_id=config.cluster_id,
            ),
        )
        try:
            self.engine.open()
        except OSError as exc:
            raise StartupError(f"data dir {config.data_dir} is unusable: {exc}") from None
        try:
            kafka_bound = await self._kafka_listener.start(config.kafka.bind_hosts(), config.kafka.port)
            self.kafka_port = self._kafka_listener.port
            amqp_bound = await self._amqp_listener.start(config.amqp.bind_hosts(), config.amqp.port)
            self.amqp_port = self._amqp_listener.port
        except OSError as exc:
            await self._kafka_listener.stop()
            self.engine.close()
            raise StartupError(str(exc.strerror or exc)) from None
        advertised = config.advertised_kafka(self.kafka_port)
        self.kafka = KafkaService(
            self.engine,
            KafkaSettings(
                advertised_host=advertised.host,
                advertised_port=advertised.port,
                node_id=config.node_id,
                cluster_id=config.cluster_id,
            ),
        )
        self.amqp = AmqpService(
            self.engine,
            AmqpSettings(
                user=config.amqp_user,
                password=config.amqp_password,
                max_message_size=config.amqp_max_message_size,
                frame_max=config.amqp_frame_max,
                channel_max=config.amqp_channel_max,
                heartbeat=config.amqp_heartbeat,
            ),
        )
        for host, port in kafka_bound:
            log.info("kafka listening on %s (advertised as %s)", HostPort(host=host, port=port), advertised)
        for host, port in amqp_bound:
            log.info("amqp listening on %s", HostPort(host=host, port=port))
        log.info("storage: %s", "memory (nothing persists)" if data_dir is None else data_dir.resolve())

    async def stop(self) -> None:
        """Stops accepting, lets the services answer what is in flight, then closes storage."""
        await self._kafka_listener.stop()
        await self._amqp_listener.stop()
        if self.kafka is not None:
            await self.kafka.close()
        if self.amqp is not None:
            await self.amqp.close()
        self._kafka_listener.abort_all()
        self._amqp_listener.abort_all()
        if self.engine is not None:
            self.engine.close()
            self.engine = None
        self._stopped.set()


def _usable_data_dir(path: Path) -> Path:
    """Creates the data dir if needed and proves it writable, so start-up fails early and clearly."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".write-probe"
        probe.write_bytes(b"ok")
        probe.unlink()
    except OSError as exc:
        raise StartupError(f"data dir {path} is unusable: {exc.strerror or exc}") from None
    return path

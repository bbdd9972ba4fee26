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
import fcntl
import logging
import os
from pathlib import Path

from engine import Engine, EngineSettings
from gateway.config import Config, HostPort
from gateway.listener import Admission, Handshake, Link, Listener
from gateway.pressure import Monitor
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
        self.admission = Admission(
            max_connections=_connection_budget(config.max_connections),
            max_per_source=config.max_connections_per_source,
        )
        handshake_timeout = config.handshake_timeout_ms / 1000.0
        self._kafka_listener = Listener(
            "kafka", self._new_kafka_session, admission=self.admission,
            handshake_timeout=handshake_timeout, idle_timeout=config.kafka_idle_timeout_ms / 1000.0,
        )
        # amqp_wire reports connection.open through Link.handshake_done() once it sets
        # AmqpService.reports_handshake; until then the first bytes received count.
        self._amqp_listener = Listener(
            "amqp", self._new_amqp_session, admission=self.admission, handshake_timeout=handshake_timeout,
            handshake=Handshake.REPORTED if getattr(AmqpService, "reports_handshake", False) else Handshake.FIRST_BYTES,
        )
        self.kafka_port = 0
        self.amqp_port = 0
        self.monitor: Monitor | None = None
        self._data_dir_lock: int | None = None  # fd holding the data dir's flock
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
        if data_dir is not None:
            # Two brokers on one data dir would interleave their appends: refuse the second.
            self._data_dir_lock = _lock_data_dir(data_dir)
        self.engine = Engine(
            data_dir=data_dir,
            settings=EngineSettings(
                default_partitions=config.default_partitions,
                auto_create_topics=config.auto_create_topics,
                group_initial_rebalance_delay_ms=config.group_initial_rebalance_delay_ms,
                group_min_session_timeout_ms=config.group_min_session_timeout_ms,
                node_id=config.node_id,
                cluster_id=config.cluster_id,
                fsync=config.fsync,
                fsync_interval_ms=config.fsync_interval_ms,
            ),
        )
        try:
            self.engine.open()
        except OSError as exc:
            self._unlock_data_dir()
            raise StartupError(f"data dir {config.data_dir} is unusable: {exc}") from None
        try:
            kafka_bound = await self._kafka_listener.start(config.kafka.bind_hosts(), config.kafka.port)
            self.kafka_port = self._kafka_listener.port
            amqp_bound = await self._amqp_listener.start(config.amqp.bind_hosts(), config.amqp.port)
            self.amqp_port = self._amqp_listener.port
        except OSError as exc:
            await self._kafka_listener.stop()
            self.engine.close()
            self._unlock_data_dir()
            raise StartupError(str(exc.strerror or exc)) from None
        advertised = config.advertised_kafka(self.kafka_port)
        self.kafka = KafkaService(
            self.engine,
            KafkaSettings(
                advertised_host=advertised.host,
                advertised_port=advertised.port,
                node_id=config.node_id,
                cluster_id=config.cluster_id,
                max_request_bytes=config.kafka_max_request_bytes,
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
        # Resource alarms: sampled from here on; the services react to the engine's alarms.
        self.monitor = Monitor(self.engine.pressure, data_dir=data_dir, disk_free_limit=config.disk_free_limit,
                               memory_watermark=config.memory_high_watermark)
        self.monitor.start()
        for host, port in kafka_bound:
            log.info("kafka listening on %s (advertised as %s)", HostPort(host=host, port=port), advertised)
        for host, port in amqp_bound:
            log.info("amqp listening on %s", HostPort(host=host, port=port))
        log.info("storage: %s", "memory (nothing persists)" if data_dir is None else data_dir.resolve())
        if data_dir is not None:
            log.info("fsync: %s", config.fsync.value + (f" every {config.fsync_interval_ms} ms"
                                                         if config.fsync == "interval" else ""))
        capped = self.admission.max_connections != config.max_connections
        log.info("limits: %s connections%s (%s per source), handshake timeout %s, kafka idle timeout %s",
                 self.admission.max_connections or "unlimited",
                 f" (max_connections {config.max_connections or 'unlimited'}, capped by the open-files limit)"
                 if capped else "",
                 config.max_connections_per_source or "unlimited",
                 f"{config.handshake_timeout_ms} ms" if config.handshake_timeout_ms else "off",
                 f"{config.kafka_idle_timeout_ms} ms" if config.kafka_idle_timeout_ms else "off")
        log.info("resource alarms: %s", self.monitor.describe())

    async def stop(self) -> None:
        """Stops accepting, lets the services answer what is in flight, then closes storage."""
        await self._kafka_listener.stop()
        await self._amqp_listener.stop()
        if self.monitor is not None:
            self.monitor.stop()
        if self.kafka is not None:
            await self.kafka.close()
        if self.amqp is not None:
            await self.amqp.close()
        self._kafka_listener.abort_all()
        self._amqp_listener.abort_all()
        if self.engine is not None:
            self.engine.close()
            self.engine = None
        self._unlock_data_dir()
        self._stopped.set()

    def _unlock_data_dir(self) -> None:
        if self._data_dir_lock is not None:
            os.close(self._data_dir_lock)  # closing the fd releases the flock
            self._data_dir_lock = None


# File descriptors kept back from connections for storage (segments, journals, indexes),
# so that a flood of connections cannot make the broker unable to open its own files.
FD_RESERVE = 1024


def _connection_budget(configured: int) -> int:
    """max_connections, capped by what the open-files limit leaves after FD_RESERVE."""
    try:
        import resource

        soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    except (ImportError, ValueError, OSError):
        return configured
    if soft == resource.RLIM_INFINITY:
        return configured
    budget = max(soft - FD_RESERVE, soft // 2)
    if configured == 0 or configured > budget:
        return budget
    return configured


LOCK_FILE = ".lock"  # Kafka's name for the lock file of a log dir


def _lock_data_dir(path: Path) -> int:
    """An exclusive flock on `<data dir>/.lock`, held until the process ends (or stop()); the
    kernel drops it when the process dies, so a kill -9 leaves nothing to clean up. The file
    holds the owner's pid for the operator."""
    lock_path = path / LOCK_FILE
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        owner = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
        os.close(fd)
        raise StartupError(f"data dir {path} is in use by another mqgateway process (pid {owner})") from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd


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

"""The broker's configuration: one frozen object holding every default.

Values come from, in rising precedence: the defaults below, an optional TOML file
(`--config`), `MQGW_*` environment variables, and command-line flags. Every setting
has exactly one name, used in all three places: the field `kafka_advertised` is the
flag `--kafka-advertised`, the variable `MQGW_KAFKA_ADVERTISED` and the TOML key
`kafka_advertised` (or `kafka-advertised`).
"""

from __future__ import annotations

import dataclasses
import enum
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

# The engine owns the fsync policy (engine/durability.py says what each survives); re-exported.
from engine.durability import FsyncPolicy


class ConfigError(ValueError):
    """A setting that cannot be used; the message is shown to the operator as is."""


@dataclass(frozen=True, slots=True, kw_only=True)
class HostPort:
    host: str
    port: int

    @classmethod
    def parse(cls, text: str) -> "HostPort":
        text = text.strip()
        if text.startswith("["):  # [::1]:9092
            host, sep, port = text[1:].partition("]:")
        else:
            host, sep, port = text.rpartition(":")
        if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
            raise ConfigError(f"expected HOST:PORT, got {text!r}")
        return cls(host=host or "localhost", port=int(port))

    def bind_hosts(self) -> tuple[str, ...]:
        """`localhost` binds both loopback families, as users expect of a local broker."""
        if self.host == "localhost":
            return ("127.0.0.1", "::1")
        return (self.host,)

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


class LogLevel(enum.StrEnum):
    DEBUG = "debug"
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


@dataclass(frozen=True, slots=True, kw_only=True)
class Config:
    data_dir: Path = Path("./mqgateway-data")
    memory: bool = False
    kafka: HostPort = HostPort(host="localhost", port=9092)
    kafka_advertised: HostPort | None = None
    default_partitions: int = 1
    auto_create_topics: bool = True
    group_initial_rebalance_delay_ms: int = 0
    group_min_session_timeout_ms: int = 6_000  # Kafka's group.min.session.timeout.ms
    amqp: HostPort = HostPort(host="localhost", port=5672)
    amqp_user: str = "guest"
    amqp_password: str = "guest"
    # RabbitMQ 3.x's max_message_size (4.x lowered it to 16 MiB): clients' suites publish 20 MiB.
    amqp_max_message_size: int = 128 * 1024 * 1024
    amqp_frame_max: int = 131072
    amqp_channel_max: int = 2047
    amqp_heartbeat: int = 60
    fsync: FsyncPolicy = FsyncPolicy.NEVER
    fsync_interval_ms: int = 1000
    # Abusive clients (docs/operations.md). 0 turns a limit off.
    max_connections: int = 65536  # both listeners together; also capped by the fd limit
    max_connections_per_source: int = 4096
    handshake_timeout_ms: int = 10_000  # RabbitMQ's handshake_timeout
    kafka_idle_timeout_ms: int = 600_000  # Kafka's connections.max.idle.ms
    kafka_max_request_bytes: int = 100 * 1024 * 1024  # Kafka's socket.request.max.bytes
    # Resource alarms (docs/operations.md, "Disk and memory pressure"). 0 turns a check off.
    disk_free_limit: int = 50_000_000  # bytes free on the data dir's filesystem, RabbitMQ's disk_free_limit
    # A fraction of the machine's (or the cgroup's) memory up to 1.0, or bytes above it;
    # RabbitMQ's vm_memory_high_watermark.
    memory_high_watermark: float = 0.4
    log_level: LogLevel = LogLevel.INFO
    node_id: int = 1
    cluster_id: str = "mqgateway-cluster-0001"

    def advertised_kafka(self, bound_port: int | None = None) -> HostPort:
        """The address clients are told to connect to.

        Defaults to the listening host and port; `localhost` stays `localhost` so both
        address families work, and a wildcard bind advertises loopback rather than an
        address no client can reach.
        """
        if self.kafka_advertised is not None:
            return self.kafka_advertised
        host = self.kafka.host
        if host in ("0.0.0.0", "::", ""):
            host = "localhost"
        return HostPort(host=host, port=bound_port if bound_port is not None else self.kafka.port)


def _convert(name: str, raw: Any) -> Any:
    """Turns a TOML, environment or flag value into the field's type."""
    target = {f.name: f for f in dataclasses.fields(Config)}[name]
    kind = str(target.type)
    try:
        if "HostPort" in kind:
            return raw if isinstance(raw, HostPort) else HostPort.parse(str(raw))
        if "Path" in kind:
            return Path(raw)
        if kind == "bool":
            if isinstance(raw, bool):
                return raw
            text = str(raw).strip().lower()
            if text in ("1", "true", "yes", "on"):
                return True
            if text in ("0", "false", "no", "off", ""):
                return False
            raise ConfigError(f"{name}: expected true or false, got {raw!r}")
        if kind == "int":
            value = int(raw)
            return value
        if kind == "float":
            return float(raw)
        if kind == "LogLevel":
            return LogLevel(str(raw).lower())
        if kind == "FsyncPolicy":
            return FsyncPolicy(str(raw).lower())
        return str(raw)
    except (ValueError, TypeError) as exc:
        if isinstance(exc, ConfigError):
            raise
        raise ConfigError(f"{name}: {raw!r} is not a valid value ({exc})") from None


def field_names() -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(Config))


def load(
    *,
    flags: Mapping[str, Any],
    environ: Mapping[str, str] | None = None,
    config_file: Path | None = None,
) -> Config:
    """Builds the Config from file, environment and flags (flags win)."""
    environ = os.environ if environ is None else environ
    names = set(field_names())
    values: dict[str, Any] = {}
    if config_file is not None:
        try:
            table = tomllib.loads(Path(config_file).read_text())
        except OSError as exc:
            raise ConfigError(f"cannot read config file {config_file}: {exc.strerror}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {config_file} is not valid TOML: {exc}") from None
        for key, raw in table.items():
            name = key.replace("-", "_")
            if name not in names:
                raise ConfigError(f"config file {config_file}: unknown setting {key!r}")
            values[name] = _convert(name, raw)
    for name in names:
        raw = environ.get("MQGW_" + name.upper())
        if raw is not None:
            values[name] = _convert(name, raw)
    for name, raw in flags.items():
        if raw is not None:
            values[name] = _convert(name, raw)
    config = Config(**values)
    if config.default_partitions < 1:
        raise ConfigError("default_partitions must be at least 1")
    for name in ("max_connections", "max_connections_per_source", "handshake_timeout_ms", "kafka_idle_timeout_ms",
                 "group_min_session_timeout_ms"):
        if getattr(config, name) < 0:
            raise ConfigError(f"{name} must be 0 (no limit) or more")
    if config.disk_free_limit < 0 or config.memory_high_watermark < 0:
        raise ConfigError("disk_free_limit and memory_high_watermark must be 0 (off) or more")
    if config.fsync_interval_ms < 1:
        raise ConfigError("fsync_interval_ms must be at least 1")
    if not 1024 <= config.kafka_max_request_bytes <= 2**31 - 1:
        raise ConfigError("kafka_max_request_bytes must be between 1024 and 2147483647")
    return config

"""`mqgateway serve`: the command line, a contract with users (keep flags stable)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from pathlib import Path

from gateway.config import Config, ConfigError, load

log = logging.getLogger("mqgateway")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mqgateway", description="Kafka- and RabbitMQ-compatible message broker")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the broker")
    serve.add_argument("--config", type=Path, help="TOML file with settings (flags and MQGW_* variables override it)")
    serve.add_argument("--data-dir", dest="data_dir", help="where durable data lives (default ./mqgateway-data)")
    serve.add_argument("--memory", action="store_const", const=True, help="keep everything in memory; nothing persists")
    serve.add_argument("--kafka", help="Kafka listener HOST:PORT (default localhost:9092)")
    serve.add_argument("--kafka-advertised", dest="kafka_advertised", help="address given to Kafka clients (default: the listener's)")
    serve.add_argument("--default-partitions", dest="default_partitions", type=int, help="partitions of auto-created topics (default 1)")
    serve.add_argument("--auto-create-topics", dest="auto_create_topics", help="create topics on first use (default true)")
    serve.add_argument("--group-initial-rebalance-delay-ms", dest="group_initial_rebalance_delay_ms", type=int,
                       help="wait this long for more members before the first rebalance of a group (default 0)")
    serve.add_argument("--group-min-session-timeout-ms", dest="group_min_session_timeout_ms", type=int,
                       help="shortest session.timeout.ms a consumer may ask for, Kafka's group.min.session.timeout.ms "
                       "(default 6000)")
    serve.add_argument("--amqp", help="AMQP listener HOST:PORT (default localhost:5672)")
    serve.add_argument("--amqp-user", dest="amqp_user", help="default AMQP user (default guest, loopback only)")
    serve.add_argument("--amqp-password", dest="amqp_password", help="default AMQP user's password (default guest)")
    serve.add_argument("--amqp-max-message-size", dest="amqp_max_message_size", type=int,
                       help="largest AMQP message body, RabbitMQ 3.x's max_message_size (default 134217728)")
    serve.add_argument("--amqp-frame-max", dest="amqp_frame_max", type=int,
                       help="largest AMQP frame offered in connection.tune (default 131072)")
    serve.add_argument("--amqp-channel-max", dest="amqp_channel_max", type=int,
                       help="channels per AMQP connection offered in connection.tune (default 2047)")
    serve.add_argument("--amqp-heartbeat", dest="amqp_heartbeat", type=int,
                       help="AMQP heartbeat interval offered in seconds, 0 = off (default 60)")
    serve.add_argument("--fsync", help="when appends reach the disk: never (default), interval, always "
                       "(acknowledgements wait for a group-committed fsync); docs/operations.md")
    serve.add_argument("--fsync-interval-ms", dest="fsync_interval_ms", type=int,
                       help="with --fsync interval: how often written files are fsynced (default 1000)")
    serve.add_argument("--max-connections", dest="max_connections", type=int,
                       help="connections over both listeners; 0 = only the fd limit (default 65536)")
    serve.add_argument("--max-connections-per-source", dest="max_connections_per_source", type=int,
                       help="connections from one source address; 0 = no limit (default 4096)")
    serve.add_argument("--handshake-timeout-ms", dest="handshake_timeout_ms", type=int,
                       help="close a connection that has not completed its protocol handshake by then (default 10000)")
    serve.add_argument("--kafka-idle-timeout-ms", dest="kafka_idle_timeout_ms", type=int,
                       help="close a Kafka connection idle this long, Kafka's connections.max.idle.ms (default 600000)")
    serve.add_argument("--kafka-max-request-bytes", dest="kafka_max_request_bytes", type=int,
                       help="largest Kafka request accepted, Kafka's socket.request.max.bytes (default 104857600)")
    serve.add_argument("--disk-free-limit", dest="disk_free_limit", type=int,
                       help="block publishers while the data dir's filesystem has less free than this many bytes; "
                       "0 = off (default 50000000)")
    serve.add_argument("--memory-high-watermark", dest="memory_high_watermark", type=float,
                       help="block publishers while the broker's resident memory is above this: a fraction of RAM "
                       "(up to 1.0) or bytes; 0 = off (default 0.4)")
    serve.add_argument("--log-level", dest="log_level", help="debug, info, warning or error (default info)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    flags = {k: v for k, v in vars(args).items() if k not in ("command", "config")}
    try:
        config = load(flags=flags, config_file=args.config)
    except ConfigError as exc:
        print(f"mqgateway: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=config.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    return _run(config)


def _tune_allocator() -> None:
    """Keeps glibc from returning and re-faulting the multi-megabyte buffers of every
    Produce and Fetch: with its default thresholds each such buffer is a fresh mmap, which
    cost half the Kafka throughput in bench/kafka_bench.py (bench/README.md). Raising the
    mmap threshold to 128 MiB and the trim threshold to 512 MiB lets freed buffers be
    reused. Other C libraries are left alone."""
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return
    M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
    mallopt(M_MMAP_THRESHOLD, 128 << 20)
    mallopt(M_TRIM_THRESHOLD, 512 << 20)


def raise_fd_limit() -> int:
    """Raises the soft open-files limit to the hard one and returns it.

    Each connection is a file descriptor, and so is each open segment; the soft limit is
    often 1024, far below what a broker holding thousands of connections needs (Kafka's
    and RabbitMQ's packages raise it the same way, through systemd's LimitNOFILE)."""
    try:
        import resource
    except ImportError:  # not POSIX
        return 0
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        hard = 1 << 20  # the kernel's nr_open default; "unlimited" is refused by setrlimit
    if soft == resource.RLIM_INFINITY or soft >= hard:
        return soft if soft != resource.RLIM_INFINITY else hard
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
        return hard
    except (ValueError, OSError) as exc:
        log.warning("could not raise the open-files limit from %d to %d: %s", soft, hard, exc)
        return soft


def _run(config: Config) -> int:
    _tune_allocator()
    raise_fd_limit()
    try:
        import uvloop  # type: ignore[import-not-found]
    except ImportError:
        runner = asyncio.run
    else:
        runner = uvloop.run
    try:
        return runner(_serve(config))
    except KeyboardInterrupt:
        return 0


async def _serve(config: Config) -> int:
    from gateway.broker import Broker, StartupError

    broker = Broker(config)
    try:
        await broker.start()
    except StartupError as exc:
        print(f"mqgateway: {exc}", file=sys.stderr)
        return 1
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    log.info("shutting down")
    await broker.stop()
    log.info("stopped")
    return 0

"""Kafka throughput: a confluent-kafka producer (acks=all, linger 5 ms) then a consumer reading it all.

    python bench/kafka_bench.py                       # starts its own `mqgateway serve` (files backend)
    python bench/kafka_bench.py --bootstrap HOST:PORT # any broker, e.g. Apache Kafka side by side
    python bench/kafka_bench.py --records 500000 --size 1024 --memory

One partition, records of --size bytes (default 1 KiB). Produce time runs from the first
produce() to the last delivery report; consume time from assign() to the last record.
Prints MB/s (10**6 bytes of record values per second) and records/s for both.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def start_server(data_dir: Path | None, extra: list[str]):
    from tests.server import free_port, wait_for_port

    kafka_port, amqp_port = free_port(), free_port()
    cmd = [sys.executable, "-m", "gateway", "serve", "--kafka", f"127.0.0.1:{kafka_port}",
           "--amqp", f"127.0.0.1:{amqp_port}", "--log-level", "warning"]
    cmd += ["--memory"] if data_dir is None else ["--data-dir", str(data_dir)]
    proc = subprocess.Popen(cmd + extra, cwd=ROOT)
    wait_for_port(kafka_port)
    return proc, f"127.0.0.1:{kafka_port}"


@contextlib.contextmanager
def bootstrap_for(args):
    """The broker to measure: `--bootstrap` as given, else our own server (files in a temp
    dir, or `--memory`) for the length of the run. Yields (bootstrap, own_server)."""
    if args.bootstrap is not None:
        yield args.bootstrap, False
        return
    with tempfile.TemporaryDirectory(prefix="mqgw-bench-") as tmp:
        proc, bootstrap = start_server(None if args.memory else Path(tmp) / "data", args.server_arg)
        try:
            yield bootstrap, True
        finally:
            proc.terminate()
            proc.wait(30)


def produce(bootstrap: str, topic: str, count: int, size: int) -> float:
    producer = Producer({
        "bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 5,
        "queue.buffering.max.messages": 1_000_000, "queue.buffering.max.kbytes": 1_048_576,
        "batch.size": 1_000_000,
    })
    value = os.urandom(size)
    failures = []

    def report(err, _msg):
        if err is not None:
            failures.append(err)

    started = time.perf_counter()
    for _ in range(count):
        while True:
            try:
                producer.produce(topic, value=value, partition=0, on_delivery=report)
                break
            except BufferError:
                producer.poll(0.001)
    left = producer.flush(120)
    elapsed = time.perf_counter() - started
    if left or failures:
        raise SystemExit(f"produce failed: {left} undelivered, errors {failures[:3]}")
    return elapsed


def consume(bootstrap: str, topic: str, count: int) -> float:
    # librdkafka's fetch sizes are left at their defaults (1 MiB per partition); its local
    # queue limits are raised so prefetching never pauses while the loop below drains it
    # (with the default queued.min.messages of 100000 the consumer stops fetching at 100 MB).
    consumer = Consumer({
        "bootstrap.servers": bootstrap, "group.id": f"bench-{uuid.uuid4().hex[:6]}", "enable.auto.commit": False,
        "queued.min.messages": 2_000_000, "queued.max.messages.kbytes": 2_097_151,
    })
    started = time.perf_counter()
    consumer.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
    seen = 0
    while seen < count:
        messages = consumer.consume(num_messages=10_000, timeout=1.0)
        if messages and messages[-1].error() is not None:
            raise SystemExit(f"consume failed: {messages[-1].error()}")
        seen += len(messages)
        if time.perf_counter() - started > 300:
            raise SystemExit(f"consume timed out after {seen} records")
    elapsed = time.perf_counter() - started
    consumer.close()
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bootstrap", help="broker to measure (default: start our own)")
    parser.add_argument("--records", type=int, default=500_000)
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--memory", action="store_true", help="own server with --memory instead of files")
    parser.add_argument("--server-arg", action="append", default=[], help="extra flag for our own server")
    args = parser.parse_args()

    with bootstrap_for(args) as (bootstrap, own_server):
        topic = f"bench-{uuid.uuid4().hex[:8]}"
        admin = AdminClient({"bootstrap.servers": bootstrap})  # must outlive the future
        admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])[topic].result(timeout=30)
        total_mb = args.records * args.size / 1e6
        produce_s = produce(bootstrap, topic, args.records, args.size)
        consume_s = consume(bootstrap, topic, args.records)
        print(f"broker {bootstrap} ({'own, ' + ('memory' if args.memory else 'files') if own_server else 'external'}), "
              f"{args.records} records of {args.size} B, one partition")
        print(f"produce: {total_mb / produce_s:8.1f} MB/s {args.records / produce_s:10.0f} records/s ({produce_s:.2f} s)")
        print(f"consume: {total_mb / consume_s:8.1f} MB/s {args.records / consume_s:10.0f} records/s ({consume_s:.2f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

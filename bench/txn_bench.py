"""Kafka transactions: transactional produce throughput, and what read_committed costs a consumer.

    python bench/txn_bench.py                        # starts its own `mqgateway serve` (files backend)
    python bench/txn_bench.py --bootstrap HOST:PORT  # any broker, e.g. Apache Kafka side by side
    python bench/txn_bench.py --transactions 2000 --per-txn 100 --size 1024 --memory

With confluent-kafka (librdkafka), one partition, records of --size bytes:

1. transactional produce: --transactions transactions of --per-txn records each, every one
   committed (begin, produce, commit_transaction); then the same records with an
   idempotent, non-transactional producer (acks=all, linger 5 ms) for comparison.
   Prints transactions/s, records/s and MB/s.
2. fetch cost: the whole transactional topic read with isolation.level=read_uncommitted
   and read_committed, and a topic of the same records written without transactions read
   both ways — plus a topic where every fourth transaction was aborted, so read_committed
   has aborted ranges to drop. Prints MB/s and records/s (values the application received).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import uuid
from pathlib import Path

from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.kafka_bench import bootstrap_for  # noqa: E402


def produce_transactions(bootstrap: str, topic: str, transactions: int, per_txn: int, size: int,
                         abort_every: int = 0) -> float:
    producer = Producer({
        "bootstrap.servers": bootstrap, "transactional.id": f"bench-{uuid.uuid4().hex[:8]}", "linger.ms": 5,
        "queue.buffering.max.messages": 1_000_000, "batch.size": 1_000_000,
    })
    producer.init_transactions(30)
    value = os.urandom(size)
    started = time.perf_counter()
    for n in range(transactions):
        producer.begin_transaction()
        for _ in range(per_txn):
            producer.produce(topic, value=value, partition=0)
        if abort_every and n % abort_every == abort_every - 1:
            producer.flush(30)
            producer.abort_transaction(30)
        else:
            producer.commit_transaction(30)
    elapsed = time.perf_counter() - started
    return elapsed


def produce_plain(bootstrap: str, topic: str, count: int, size: int) -> float:
    producer = Producer({
        "bootstrap.servers": bootstrap, "acks": "all", "enable.idempotence": True, "linger.ms": 5,
        "queue.buffering.max.messages": 1_000_000, "batch.size": 1_000_000,
    })
    value = os.urandom(size)
    started = time.perf_counter()
    for _ in range(count):
        while True:
            try:
                producer.produce(topic, value=value, partition=0)
                break
            except BufferError:
                producer.poll(0.001)
    if producer.flush(120):
        raise SystemExit("plain produce did not complete")
    return time.perf_counter() - started


def consume(bootstrap: str, topic: str, isolation: str) -> tuple[float, int]:
    """Reads the partition to its end (the LSO for read_committed): (seconds to the last record, records).

    The clock stops at the last record handed over, not at the end-of-partition event, which
    librdkafka raises only after one more (long-polling) fetch comes back empty.
    """
    consumer = Consumer({
        "bootstrap.servers": bootstrap, "group.id": f"bench-{uuid.uuid4().hex[:6]}", "enable.auto.commit": False,
        "isolation.level": isolation, "enable.partition.eof": True,
        "queued.min.messages": 2_000_000, "queued.max.messages.kbytes": 2_097_151,
    })
    started = time.perf_counter()
    consumer.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
    seen = 0
    last = started
    while True:
        messages = consumer.consume(num_messages=10_000, timeout=1.0)
        done = False
        for message in messages:
            if message.error() is None:
                seen += 1
                last = time.perf_counter()
            elif message.error().code() == -191:  # _PARTITION_EOF
                done = True
            else:
                raise SystemExit(f"consume failed: {message.error()}")
        if done:
            break
        if time.perf_counter() - started > 300:
            raise SystemExit(f"consume timed out after {seen} records")
    consumer.close()
    return last - started, seen


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bootstrap", help="broker to measure (default: start our own)")
    parser.add_argument("--transactions", type=int, default=2000)
    parser.add_argument("--per-txn", type=int, default=100)
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--memory", action="store_true", help="own server with --memory instead of files")
    parser.add_argument("--server-arg", action="append", default=[], help="extra flag for our own server")
    args = parser.parse_args()

    with bootstrap_for(args) as (bootstrap, own_server):
        suffix = uuid.uuid4().hex[:8]
        topics = {kind: f"bench-{kind}-{suffix}" for kind in ("txn", "plain", "aborts")}
        admin = AdminClient({"bootstrap.servers": bootstrap})  # must outlive the futures
        for future in admin.create_topics([NewTopic(t, num_partitions=1, replication_factor=1)
                                           for t in topics.values()]).values():
            future.result(timeout=30)
        count = args.transactions * args.per_txn
        mb = count * args.size / 1e6
        txn_s = produce_transactions(bootstrap, topics["txn"], args.transactions, args.per_txn, args.size)
        plain_s = produce_plain(bootstrap, topics["plain"], count, args.size)
        produce_transactions(bootstrap, topics["aborts"], args.transactions, args.per_txn, args.size, abort_every=4)
        print(f"broker {bootstrap} ({'own, ' + ('memory' if args.memory else 'files') if own_server else 'external'}), "
              f"{args.transactions} transactions x {args.per_txn} records of {args.size} B, one partition")
        print(f"transactional produce: {args.transactions / txn_s:8.1f} txn/s {count / txn_s:10.0f} records/s "
              f"{mb / txn_s:8.1f} MB/s ({txn_s:.2f} s)")
        print(f"idempotent produce:    {'':8s}       {count / plain_s:10.0f} records/s {mb / plain_s:8.1f} MB/s "
              f"({plain_s:.2f} s)")
        for kind, label in (("plain", "no transactions"), ("txn", "all committed"), ("aborts", "1 in 4 aborted")):
            for isolation in ("read_uncommitted", "read_committed"):
                seconds, seen = consume(bootstrap, topics[kind], isolation)
                print(f"fetch {label:16s} {isolation:17s} {seen * args.size / 1e6 / seconds:8.1f} MB/s "
                      f"{seen / seconds:10.0f} records/s ({seen} records, {seconds:.2f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Consumer-group settle time: from the last of N consumers joining until every member has its
assignment and is receiving records. confluent-kafka (librdkafka) with default consumer settings.

    python bench/group_bench.py                        # starts its own `mqgateway serve --memory`
    python bench/group_bench.py --bootstrap HOST:PORT  # any broker, e.g. Apache Kafka side by side
    python bench/group_bench.py --sizes 2 5 10 --runs 3

Two scenarios per N, each on a fresh group of a topic with 2N partitions that a producer
thread keeps writing to (one record per partition every 20 ms):

- start:     N consumers subscribe at the same moment (a fleet starting). Measured from the
             last subscribe() to the moment every member has had its partitions handed to
             the application (on_assign) *and* has received a record of them.
- scale-out: N-1 consumers are settled, one more subscribes. Same end point. With the classic
             protocol the members already in the group can only learn of a rebalance from a
             Heartbeat answer, so this is bounded below by librdkafka's heartbeat.interval.ms
             (3 s by default), here and on Apache Kafka alike.

On Apache Kafka the start scenario also waits group.initial.rebalance.delay.ms (3 s by
default); mqgateway's default is 0.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, NewTopic

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def start_server(initial_delay_ms: int) -> tuple[subprocess.Popen, str]:
    from tests.server import free_port, wait_for_port

    kafka_port, amqp_port = free_port(), free_port()
    proc = subprocess.Popen([sys.executable, "-m", "gateway", "serve", "--kafka", f"127.0.0.1:{kafka_port}",
                             "--amqp", f"127.0.0.1:{amqp_port}", "--memory", "--log-level", "warning",
                             "--group-initial-rebalance-delay-ms", str(initial_delay_ms)], cwd=ROOT)
    wait_for_port(kafka_port)
    return proc, f"127.0.0.1:{kafka_port}"


class Member:
    """One consumer on its own thread; records when it was assigned and when it got records."""

    def __init__(self, bootstrap: str, topic: str, group: str) -> None:
        self.consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group})  # defaults otherwise
        self.topic = topic
        self.assigned_at = 0.0
        self.partitions: set[int] = set()
        self.received_at = 0.0  # first record after the latest assignment
        self.subscribed_at = 0.0
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _on_assign(self, _consumer, partitions) -> None:
        self.partitions = {tp.partition for tp in partitions}
        self.assigned_at = time.monotonic()
        self.received_at = 0.0

    def _run(self) -> None:
        self.subscribed_at = time.monotonic()
        self.consumer.subscribe([self.topic], on_assign=self._on_assign)
        while not self.stopping.is_set():
            message = self.consumer.poll(0.05)
            if message is not None and not message.error() and not self.received_at and message.partition() in self.partitions:
                self.received_at = time.monotonic()
        self.consumer.close()

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()


def settled(members: list[Member], partitions: int) -> float | None:
    """When the last member received a record of its current assignment, if the group is settled."""
    owned = [p for m in members for p in m.partitions]
    if len(owned) != partitions or len(set(owned)) != partitions:
        return None
    if not all(m.received_at and m.partitions for m in members):
        return None
    return max(m.received_at for m in members)


def producer_thread(bootstrap: str, topic: str, partitions: int, stop: threading.Event) -> threading.Thread:
    def run():
        producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 1})
        while not stop.is_set():
            for p in range(partitions):
                producer.produce(topic, value=b"tick", partition=p)
            producer.poll(0)
            time.sleep(0.02)
        producer.flush(5)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def measure(bootstrap: str, n: int, scenario: str, timeout: float = 60.0) -> float:
    topic, group = f"bench-grp-{uuid.uuid4().hex[:8]}", f"bench-{uuid.uuid4().hex[:8]}"
    partitions = 2 * n
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1)])[topic].result(timeout=20)
    stop = threading.Event()
    feeder = producer_thread(bootstrap, topic, partitions, stop)
    members = [Member(bootstrap, topic, group) for _ in range(n)]
    try:
        if scenario == "scale-out":
            for m in members[:-1]:
                m.start()
            wait(lambda: settled(members[:-1], partitions), timeout)
            time.sleep(1.0)
            members[-1].start()
        else:
            for m in members:
                m.start()
        wait(lambda: members[-1].subscribed_at and max(m.subscribed_at for m in members), timeout)
        last_join = max(m.subscribed_at for m in members)
        done = wait(lambda: (t := settled(members, partitions)) and t > last_join and t, timeout)
        return done - last_join
    finally:
        for m in members:
            m.stop()
        for m in members:
            m.thread.join(10)
        stop.set()
        feeder.join(10)


def wait(condition, timeout: float):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.005)
    raise SystemExit("the group did not settle in time")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bootstrap")
    parser.add_argument("--sizes", type=int, nargs="+", default=[2, 5, 10])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--scenarios", nargs="+", default=["start", "scale-out"])
    parser.add_argument("--initial-delay-ms", type=int, default=0,
                        help="the server's --group-initial-rebalance-delay-ms (own server only)")
    args = parser.parse_args()
    server = None
    bootstrap = args.bootstrap
    if bootstrap is None:
        server, bootstrap = start_server(args.initial_delay_ms)
    try:
        print(f"{'scenario':<10} {'N':>3}  settle time (s) per run          median")
        for scenario in args.scenarios:
            for n in args.sizes:
                times = [measure(bootstrap, n, scenario) for _ in range(args.runs)]
                runs = ", ".join(f"{t:.3f}" for t in times)
                print(f"{scenario:<10} {n:>3}  {runs:<32} {statistics.median(times):.3f}", flush=True)
    finally:
        if server is not None:
            server.terminate()
            server.wait(10)


if __name__ == "__main__":
    main()

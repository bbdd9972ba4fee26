"""One consumer-group member of a chosen client library, as a separate process the tests drive.

    python -m tests.compat.group_member '{"client": "confluent", "bootstrap": ..., "topic": ...,
                                          "group": ..., "instance": null, "assignor": "range",
                                          "session_ms": 6000, "heartbeat_ms": 1000,
                                          "auto_commit": false}'

A real process, so a test can end it the way a crash does (SIGKILL: no LeaveGroup, no
commit) or gracefully ("stop" on stdin: the client's own close(), which commits when
auto-commit is on and leaves the group). It reports on stdout, one JSON object a line:

    {"event": "subscribed", "t": <unix time>}
    {"event": "assignment", "t": ..., "partitions": [0, 3]}     whenever it changes
    {"event": "assigned", "t": ..., "partitions": [...]}         from the rebalance listener
    {"event": "revoked", "t": ..., "partitions": [...]}          (precise join and rebalance times)
    {"event": "record", "p": 0, "o": 17, "v": "value"}
    {"event": "committed", "t": ...}                              after each manual commit
    {"event": "closed", "t": ...}
    {"event": "error", "error": "..."}

Without auto-commit the member commits synchronously after every batch it has reported,
so what it reported and what it committed never differ when it is stopped gracefully.
"""

from __future__ import annotations

import asyncio
import json
import sys
import threading
import time


def emit(event: str, **fields) -> None:
    print(json.dumps({"event": event, "t": time.time(), **fields}), flush=True)


class Member:
    def __init__(self, options: dict) -> None:
        self.o = options
        self.stopping = threading.Event()
        self.assignment: list[int] | None = None
        threading.Thread(target=self._stdin, daemon=True).start()

    def _stdin(self) -> None:
        for line in sys.stdin:
            if line.strip() == "stop":
                break
        self.stopping.set()

    def report_assignment(self, partitions) -> None:
        current = sorted(partitions)
        if current != self.assignment:
            self.assignment = current
            emit("assignment", partitions=current)

    def report(self, partition: int, offset: int, value: bytes | None) -> None:
        emit("record", p=partition, o=offset, v=(value or b"").decode())


def run_kafka_python(m: Member) -> None:
    from kafka import ConsumerRebalanceListener, KafkaConsumer
    from kafka.errors import KafkaConnectionError
    from kafka.coordinator.assignors.cooperative_sticky import CooperativeStickyAssignor
    from kafka.coordinator.assignors.range import RangePartitionAssignor
    from kafka.coordinator.assignors.roundrobin import RoundRobinPartitionAssignor

    o = m.o
    assignors = {"range": RangePartitionAssignor, "roundrobin": RoundRobinPartitionAssignor,
                 "cooperative-sticky": CooperativeStickyAssignor}

    class Listener(ConsumerRebalanceListener):
        def on_partitions_revoked(self, revoked):
            if revoked:
                emit("revoked", partitions=sorted(tp.partition for tp in revoked))

        def on_partitions_assigned(self, assigned):
            emit("assigned", partitions=sorted(tp.partition for tp in assigned))

    consumer = KafkaConsumer(
        bootstrap_servers=o["bootstrap"], group_id=o["group"], client_id=o.get("client_id", "kafka-python-member"),
        auto_offset_reset="earliest", enable_auto_commit=o["auto_commit"], auto_commit_interval_ms=200,
        session_timeout_ms=o["session_ms"], heartbeat_interval_ms=o["heartbeat_ms"],
        group_instance_id=o.get("instance"),
        partition_assignment_strategy=[assignors[name] for name in o["assignor"].split(",")],
    )
    # kafka-python 3.0.12 loses an assignment when a rejoin it started on its own (the leader
    # saw the topic metadata change since it assigned: rejoin_needed is never set for that
    # rejoin) finishes after poll()'s timeout ran out: join_group_async drops the finished
    # join task's result and the member sits on a stale or empty assignment, heartbeating.
    # A leader that assigns before it has the topic's metadata triggers such a rejoin, and a
    # starved process times out short polls. Fetching the metadata first and polling with a
    # timeout well above a join's round trips keeps the tests clear of that client bug.
    consumer.partitions_for_topic(o["topic"])
    consumer.subscribe([o["topic"]], listener=Listener())
    emit("subscribed")
    while not m.stopping.is_set():
        try:
            batch = consumer.poll(timeout_ms=1000)
            for records in batch.values():
                for r in records:
                    m.report(r.partition, r.offset, r.value)
            if batch and not o["auto_commit"]:
                consumer.commit()
                emit("committed")
        except KafkaConnectionError as exc:
            # kafka-python 3.0.12 raises a refused connection out of poll()/commit() while
            # the broker restarts; an application retries, as this one does.
            emit("retry", error=str(exc))
            time.sleep(0.2)
            continue
        m.report_assignment(tp.partition for tp in consumer.assignment())
    consumer.close()
    emit("closed")


def run_aiokafka(m: Member) -> None:
    from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener
    from aiokafka.coordinator.assignors.range import RangePartitionAssignor
    from aiokafka.coordinator.assignors.roundrobin import RoundRobinPartitionAssignor

    o = m.o
    assignors = {"range": RangePartitionAssignor, "roundrobin": RoundRobinPartitionAssignor}

    class Listener(ConsumerRebalanceListener):
        async def on_partitions_revoked(self, revoked):
            if revoked:
                emit("revoked", partitions=sorted(tp.partition for tp in revoked))

        async def on_partitions_assigned(self, assigned):
            emit("assigned", partitions=sorted(tp.partition for tp in assigned))

    async def main():
        consumer = AIOKafkaConsumer(
            bootstrap_servers=o["bootstrap"], group_id=o["group"], client_id=o.get("client_id", "aiokafka-member"),
            auto_offset_reset="earliest", enable_auto_commit=o["auto_commit"], auto_commit_interval_ms=200,
            session_timeout_ms=o["session_ms"], heartbeat_interval_ms=o["heartbeat_ms"],
            group_instance_id=o.get("instance"),
            partition_assignment_strategy=tuple(assignors[name] for name in o["assignor"].split(",")),
        )
        await consumer.start()
        consumer.subscribe([o["topic"]], listener=Listener())
        emit("subscribed")
        while not m.stopping.is_set():
            batch = await consumer.getmany(timeout_ms=100)
            for records in batch.values():
                for r in records:
                    m.report(r.partition, r.offset, r.value)
            if batch and not o["auto_commit"]:
                await consumer.commit()
                emit("committed")
            m.report_assignment(tp.partition for tp in consumer.assignment())
        await consumer.stop()
        emit("closed")

    asyncio.run(main())


def run_confluent(m: Member) -> None:
    from confluent_kafka import Consumer

    o = m.o
    config = {
        "bootstrap.servers": o["bootstrap"], "group.id": o["group"], "client.id": o.get("client_id", "confluent-member"),
        "auto.offset.reset": "earliest", "enable.auto.commit": o["auto_commit"], "auto.commit.interval.ms": 200,
        "session.timeout.ms": o["session_ms"], "heartbeat.interval.ms": o["heartbeat_ms"],
        "partition.assignment.strategy": o["assignor"],
    }
    if o.get("instance"):
        config["group.instance.id"] = o["instance"]
    consumer = Consumer(config)

    def on_revoke(_consumer, partitions):
        if partitions:
            emit("revoked", partitions=sorted(tp.partition for tp in partitions))

    def on_assign(_consumer, partitions):
        emit("assigned", partitions=sorted(tp.partition for tp in partitions))

    consumer.subscribe([o["topic"]], on_assign=on_assign, on_revoke=on_revoke)
    emit("subscribed")
    while not m.stopping.is_set():
        messages = consumer.consume(num_messages=500, timeout=0.1)
        for message in messages:
            if message.error():
                emit("error", error=str(message.error()))
                continue
            m.report(message.partition(), message.offset(), message.value())
        if messages and not o["auto_commit"]:
            consumer.commit(asynchronous=False)
            emit("committed")
        m.report_assignment(tp.partition for tp in consumer.assignment())
    consumer.close()
    emit("closed")


RUNNERS = {"kafka-python": run_kafka_python, "aiokafka": run_aiokafka, "confluent": run_confluent}


if __name__ == "__main__":
    options = json.loads(sys.argv[1])
    try:
        RUNNERS[options["client"]](Member(options))
    except Exception as exc:  # reported to the test, which fails on it
        emit("error", error=f"{type(exc).__name__}: {exc}")
        raise

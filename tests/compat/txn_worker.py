"""A consume-transform-produce worker, exactly-once, as an application writes one; run as its own process.

    python -m tests.compat.txn_worker '{"client": "confluent"|"kafka-python", "bootstrap": ...,
        "input": topic, "output": topic, "partitions": 3, "group": ..., "transactional_id": ...,
        "batch": 10, "pause_ms": 20}'

Per transaction: read up to `batch` records (read_committed), write "out-<value>" for each to
the output topic, send the consumer's positions to the transaction
(send_offsets_to_transaction), commit. Partitions are assigned, not subscribed, so a
restarted worker resumes at once from the group's committed offsets. Any error tears
everything down and starts again from init_transactions, which fences a previous instance
(and aborts its open transaction): the textbook recovery that makes the output exactly-once.
A step stuck in the client for STEP_LIMIT_S counts as such an error (librdkafka#5456: its
send_offsets_to_transaction can block forever when the broker dies under it).

Prints JSON lines: {"event": "committed", "records": n} per transaction, {"event": "restart",
"error": ...} per recovery, and {"event": "done"} once every input partition is consumed to
its end offset, then exits 0. tests/compat/test_kafka_txn_eos.py kills it (and the server)
at random points.
"""

from __future__ import annotations

import faulthandler
import json
import os
import random
import signal
import sys
import threading
import time

# The test sends SIGUSR1 before it gives up on a worker: where it is stuck goes to the output.
faulthandler.register(signal.SIGUSR1, file=sys.stdout, all_threads=True)


def emit(event: str, **fields) -> None:
    sys.stdout.write(json.dumps({"event": event, "t": time.time(), **fields}) + "\n")
    sys.stdout.flush()


class ConfluentWorker:
    def __init__(self, o: dict) -> None:
        from confluent_kafka import Consumer, Producer, TopicPartition

        self.o = o
        common = {"bootstrap.servers": o["bootstrap"], "reconnect.backoff.max.ms": 500,
                  "socket.connection.setup.timeout.ms": 3000}
        if os.environ.get("MQGW_RDKAFKA_DEBUG"):  # e.g. "eos,protocol": librdkafka's own trace
            common["debug"] = os.environ["MQGW_RDKAFKA_DEBUG"]
        self.producer = Producer({**common, "transactional.id": o["transactional_id"],
                                  "transaction.timeout.ms": 30000, "linger.ms": 1})
        self.producer.init_transactions(20)
        self.consumer = Consumer({**common, "group.id": o["group"], "enable.auto.commit": False,
                                  "isolation.level": "read_committed", "auto.offset.reset": "earliest",
                                  "fetch.wait.max.ms": 50})
        self.tps = [TopicPartition(o["input"], p) for p in range(o["partitions"])]
        self.consumer.assign(self.tps)

    def step(self) -> int:
        messages = [m for m in self.consumer.consume(num_messages=self.o["batch"], timeout=0.3) if not m.error()]
        if not messages:
            return 0
        self.producer.begin_transaction()
        for m in messages:
            self.producer.produce(self.o["output"], key=m.key(), value=b"out-" + m.value())
        positions = self.consumer.position(self.consumer.assignment())
        self.producer.send_offsets_to_transaction(positions, self.consumer.consumer_group_metadata(), 20)
        time.sleep(random.uniform(0, self.o["pause_ms"] / 1000))
        self.producer.commit_transaction(20)
        return len(messages)

    def finished(self) -> bool:
        committed = self.consumer.committed(self.tps, timeout=10)
        for tp in committed:
            low, high = self.consumer.get_watermark_offsets(tp, timeout=10)
            if tp.offset < high:
                return False
        return True

    def close(self) -> None:
        try:
            self.consumer.close()
        except Exception:  # noqa: BLE001 — tearing down after an error
            pass


class KafkaPythonWorker:
    def __init__(self, o: dict) -> None:
        from kafka import KafkaConsumer, KafkaProducer, TopicPartition

        self.o = o
        self.producer = KafkaProducer(bootstrap_servers=o["bootstrap"], transactional_id=o["transactional_id"],
                                      transaction_timeout_ms=30000, reconnect_backoff_max_ms=500,
                                      max_block_ms=20000, linger_ms=1)
        self.producer.init_transactions()
        self.consumer = KafkaConsumer(bootstrap_servers=o["bootstrap"], group_id=o["group"],
                                      enable_auto_commit=False, isolation_level="read_committed",
                                      auto_offset_reset="earliest", fetch_max_wait_ms=50,
                                      reconnect_backoff_max_ms=500)
        self.tps = [TopicPartition(o["input"], p) for p in range(o["partitions"])]
        self.consumer.assign(self.tps)

    def step(self) -> int:
        from kafka.structs import OffsetAndMetadata

        polled = self.consumer.poll(timeout_ms=300, max_records=self.o["batch"])
        records = [r for batch in polled.values() for r in batch]
        if not records:
            return 0
        self.producer.begin_transaction()
        for r in records:
            self.producer.send(self.o["output"], key=r.key, value=b"out-" + r.value)
        offsets = {tp: OffsetAndMetadata(self.consumer.position(tp), "", -1) for tp in self.tps}
        self.producer.send_offsets_to_transaction(offsets, self.o["group"])
        time.sleep(random.uniform(0, self.o["pause_ms"] / 1000))
        self.producer.commit_transaction()
        return len(records)

    def finished(self) -> bool:
        ends = self.consumer.end_offsets(self.tps)
        return all((self.consumer.committed(tp) or 0) >= ends[tp] for tp in self.tps)

    def close(self) -> None:
        for closable in (self.consumer, self.producer):
            try:
                closable.close(timeout=1) if closable is self.producer else closable.close()
            except Exception:  # noqa: BLE001 — tearing down after an error
                pass


# A step that has not returned after this long is stuck in the client, not waiting on the
# broker: librdkafka's send_offsets_to_transaction() ignores its timeout when the group
# coordinator goes down mid-call (confluentinc/librdkafka#5456, #5511) and would block forever.
STEP_LIMIT_S = 40.0


class StuckCall(Exception):
    pass


def run_step(worker) -> int:
    """worker.step() on a thread of its own, abandoned if it outlives STEP_LIMIT_S."""
    outcome: dict = {}

    def target() -> None:
        try:
            outcome["count"] = worker.step()
        except BaseException as exc:  # noqa: BLE001 — handed to the caller
            outcome["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(STEP_LIMIT_S)
    if thread.is_alive():
        raise StuckCall(f"a step did not return in {STEP_LIMIT_S:g} s (librdkafka#5456); starting over")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["count"]


def main() -> None:
    o = json.loads(sys.argv[1])
    kind = {"confluent": ConfluentWorker, "kafka-python": KafkaPythonWorker}[o["client"]]
    worker = None
    idle = 0
    abandoned = False
    while True:
        try:
            if worker is None:
                worker = kind(o)
                emit("ready")
            count = run_step(worker)
            if count:
                idle = 0
                emit("committed", records=count)
            else:
                idle += 1
                if idle >= 2 and worker.finished():
                    emit("done")
                    worker.close()
                    if abandoned:  # a stuck client's threads would hold up interpreter exit
                        os._exit(0)
                    return
        except Exception as exc:  # noqa: BLE001 — any failure: start over from init_transactions
            emit("restart", error=f"{type(exc).__name__}: {exc}")
            if isinstance(exc, StuckCall):
                abandoned = True  # the next instance's init_transactions fences the stuck one
            elif worker is not None:
                worker.close()
            worker = None
            time.sleep(0.3)


if __name__ == "__main__":
    main()

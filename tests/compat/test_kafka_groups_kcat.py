"""kcat's balanced consumer (-G, librdkafka 2.0.2 in Debian's kcat): two share a topic,
one stops, the other takes over; a later one resumes from the committed offsets."""

from __future__ import annotations

import signal
import subprocess
import threading
import time

from kafka import KafkaAdminClient

from tests.compat.group_harness import create_topic, produce, wait_for
from tests.compat.kafka_helpers import topic_name

PARTITIONS = 6


class Kcat:
    def __init__(self, bootstrap: str, group: str, topic: str, *extra: str) -> None:
        self.lines: list[tuple[int, int, str]] = []
        self.proc = subprocess.Popen(
            ["kcat", "-b", bootstrap, "-G", group, "-q", "-u", "-f", "%p %o %s\\n",
             "-X", "auto.offset.reset=earliest", "-X", "heartbeat.interval.ms=1000",
             "-X", "session.timeout.ms=10000", "-X", "auto.commit.interval.ms=200", *extra, topic],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            partition, offset, value = line.rstrip("\n").split(" ", 2)
            self.lines.append((int(partition), int(offset), value))

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # kcat closes its consumer: commit, LeaveGroup
            self.proc.wait(20)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


def assignments(admin: KafkaAdminClient, group: str) -> list[set[int]]:
    described = admin.describe_groups([group])[group]
    if described["group_state"] != "Stable":
        return []
    return [{p for a in m["member_assignment"]["assigned_partitions"] for p in a["partitions"]}
            for m in described["members"]]


def test_kcat_balanced_consumers_share_hand_over_and_resume(kafka_bootstrap):
    topic, group = topic_name("kcat-g"), topic_name("kcat-group")
    create_topic(kafka_bootstrap, topic, PARTITIONS)
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    a, b = Kcat(kafka_bootstrap, group, topic), Kcat(kafka_bootstrap, group, topic)
    try:
        def shared() -> bool:
            parts = assignments(admin, group)
            return len(parts) == 2 and all(parts) and set().union(*parts) == set(range(PARTITIONS))
        wait_for(shared, 30, "both kcat consumers to get partitions")
        sent = produce(kafka_bootstrap, topic, PARTITIONS, 60, "first")
        wait_for(lambda: len(a.lines) + len(b.lines) >= 60, 30, "every record")
        time.sleep(0.3)
        got = a.lines + b.lines
        assert sorted(v for *_, v in got) == sorted(v for _, v in sent)
        assert a.lines and b.lines
        b.stop()
        wait_for(lambda: assignments(admin, group) == [set(range(PARTITIONS))], 30, "kcat a to take over")
        more = produce(kafka_bootstrap, topic, PARTITIONS, 30, "second")
        wait_for(lambda: {v for *_, v in a.lines} >= {v for _, v in more}, 30, "the records after the hand-over")
        time.sleep(0.5)  # an auto-commit interval
        a.stop()
    finally:
        a.kill()
        b.kill()
    last = produce(kafka_bootstrap, topic, PARTITIONS, 12, "third")
    c = Kcat(kafka_bootstrap, group, topic, "-e")
    try:
        c.proc.wait(30)
        assert sorted(v for *_, v in c.lines) == sorted(v for _, v in last)
    finally:
        c.kill()
        admin.close()

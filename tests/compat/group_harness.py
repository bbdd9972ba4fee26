"""Driving consumer-group members (group_member.py, kafka_node/member.js) from a test.

    members = [GroupMember("confluent", bootstrap, topic, group) for _ in range(2)]
    wait_for(lambda: balanced(members, 6))
    produce(bootstrap, topic, 6, 120)
    wait_for(lambda: received(members) >= 120)
    members[0].kill()          # SIGKILL: no LeaveGroup, no commit
    members[1].stop()          # the client's close(): commit (auto-commit) and LeaveGroup

Timestamps come from the members' own clocks (same machine), so join and rebalance times
do not include process start-up.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Callable, Iterable

ROOT = Path(__file__).resolve().parents[2]
NODE_DIR = Path(__file__).resolve().parent / "kafka_node"

DEFAULTS = {"assignor": "range", "session_ms": 6000, "heartbeat_ms": 1000, "auto_commit": False, "instance": None}


class GroupMember:
    def __init__(self, client: str, bootstrap: str, topic: str, group: str, **options) -> None:
        self.client = client
        self.options = {**DEFAULTS, "client": client, "bootstrap": bootstrap, "topic": topic, "group": group, **options}
        if client == "kafkajs":
            command = ["node", str(NODE_DIR / "member.js"), json.dumps(self.options)]
        else:
            command = [sys.executable, "-m", "tests.compat.group_member", json.dumps(self.options)]
        self.events: list[dict] = []
        self.stderr: list[str] = []
        self._lock = threading.Lock()
        self.proc = subprocess.Popen(command, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, bufsize=1)
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self._read_stderr, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            try:
                event = json.loads(line)
            except ValueError:
                continue
            with self._lock:
                self.events.append(event)

    def _read_stderr(self) -> None:
        for line in self.proc.stderr:
            self.stderr.append(line)

    # -- what it reported ------------------------------------------------------------------
    def of(self, kind: str) -> list[dict]:
        with self._lock:
            return [e for e in self.events if e["event"] == kind]

    @property
    def assignment(self) -> frozenset[int] | None:
        assignments = self.of("assignment")
        return frozenset(assignments[-1]["partitions"]) if assignments else None

    @property
    def records(self) -> list[tuple[int, int, str]]:
        return [(e["p"], e["o"], e["v"]) for e in self.of("record")]

    def first(self, kind: str, after: float = 0.0) -> dict | None:
        return next((e for e in self.of(kind) if e["t"] >= after), None)

    def join_seconds(self) -> float:
        """From subscribe() to the first assignment the client handed to the application."""
        return self.first("assigned")["t"] - self.first("subscribed")["t"]

    def errors(self) -> list[str]:
        return [e["error"] for e in self.of("error")]

    def describe(self) -> str:
        return (f"{self.client} member: assignment={self.assignment} errors={self.errors()} "
                f"exit={self.proc.poll()} stderr={''.join(self.stderr)[-1500:]}")

    # -- ending it ---------------------------------------------------------------------------
    def stop(self, timeout: float = 30) -> None:
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write("stop\n")
                self.proc.stdin.flush()
            except (BrokenPipeError, OSError):
                pass
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"member did not stop in {timeout}s: {self.describe()}")

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def __enter__(self) -> "GroupMember":
        return self

    def __exit__(self, *exc) -> None:
        self.kill()


def wait_for(condition: Callable[[], bool], timeout: float = 30, what: str = "", members: Iterable = ()) -> float:
    """Polls until `condition()`; returns when (time.time()) it became true."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return time.time()
        time.sleep(0.02)
    details = "\n".join(m.describe() for m in members)
    raise AssertionError(f"timed out after {timeout}s waiting for {what or condition}\n{details}")


def balanced(members: Iterable[GroupMember], partitions: int) -> bool:
    """Every member holds partitions, none twice, all of them covered."""
    assignments = [m.assignment for m in members]
    if any(not a for a in assignments):
        return False
    seen: list[int] = [p for a in assignments for p in a]
    return len(seen) == len(set(seen)) == partitions


def received(members: Iterable[GroupMember]) -> list[tuple[int, int, str]]:
    return [r for m in members for r in m.records]


def create_topic(bootstrap: str, topic: str, partitions: int) -> None:
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1)])[topic].result(timeout=20)


def produce(bootstrap: str, topic: str, partitions: int, count: int, prefix: str = "v") -> list[tuple[int, str]]:
    """`count` records spread round-robin over the partitions; returns (partition, value) sent."""
    from confluent_kafka import Producer

    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5, "log_level": 4})
    sent = []
    for i in range(count):
        value = f"{prefix}-{i}"
        producer.produce(topic, value=value.encode(), partition=i % partitions)
        sent.append((i % partitions, value))
    assert producer.flush(20) == 0
    return sent

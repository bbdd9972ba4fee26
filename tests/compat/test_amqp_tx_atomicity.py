"""AMQP transactions stay all-or-nothing across kill -9 of the server (issue 6).

A pika client commits transactions in a loop, each one publishing N persistent messages to
each of three durable queues and acking two messages it got from a fourth; the server is
killed with SIGKILL at a random moment, restarted on the same data dir, and every commit is
checked: its 3N messages are all there or none are, all of them when its tx.commit-ok had
arrived, and the messages it acked are gone exactly when its publishes are there (otherwise
they are back, redelivered). Several kills, about 20 s in all.
"""

from __future__ import annotations

import random
import threading
import time

import pika
import pytest

from tests.server import ServerProcess

TARGETS = ("txa.q1", "txa.q2", "txa.q3")
SOURCE = "txa.src"
N = 3
PERSISTENT = pika.BasicProperties(delivery_mode=2)
BUDGET_S = 20.0
MAX_KILLS = 8


def connect(server: ServerProcess) -> pika.BlockingConnection:
    return pika.BlockingConnection(pika.URLParameters(server.amqp_url))


class Committer(threading.Thread):
    """Commits until the connection dies; notes which commits were sent and which confirmed."""

    def __init__(self, server: ServerProcess, round_: int) -> None:
        super().__init__(daemon=True)
        self.server = server
        self.round = round_
        self.sent: dict[str, list[bytes]] = {}  # commit id -> source bodies it acked
        self.ok: set[str] = set()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            conn = connect(self.server)
            ch = conn.channel()
            ch.tx_select()
            k = 0
            while True:
                cid = f"r{self.round}c{k}"
                acked = []
                for _ in range(2):
                    method, _props, body = ch.basic_get(SOURCE, auto_ack=False)
                    if method is None:
                        break
                    acked.append((method.delivery_tag, body))
                for queue in TARGETS:
                    for i in range(N):
                        ch.basic_publish("", queue, f"{cid}-{i}".encode(), PERSISTENT)
                for tag, _body in acked:
                    ch.basic_ack(tag)
                self.sent[cid] = [body for _tag, body in acked]
                ch.tx_commit()
                self.ok.add(cid)
                k += 1
        except (pika.exceptions.AMQPError, OSError) as err:
            self.error = err


def drain(ch, queue: str) -> list[tuple[bytes, bool]]:
    out = []
    while True:
        method, _props, body = ch.basic_get(queue, auto_ack=True)
        if method is None:
            return out
        out.append((body, method.redelivered))


def check_round(ch, committer: Committer, source_bodies: list[bytes]) -> tuple[int, int]:
    """Checks every commit of the round; returns (commits found whole, commits found absent)."""
    seen: dict[str, dict[str, list[bytes]]] = {}
    for queue in TARGETS:
        for body, _redelivered in drain(ch, queue):
            cid = body.decode().split("-")[0]
            seen.setdefault(cid, {}).setdefault(queue, []).append(body)
    source = drain(ch, SOURCE)
    source_left = {body: redelivered for body, redelivered in source}
    assert len(source_left) == len(source), "a source message came back twice"
    unknown = set(seen) - set(committer.sent)
    assert not unknown, f"messages of commits never sent: {sorted(unknown)}"
    whole = absent = 0
    for cid, acked in committer.sent.items():
        present = seen.get(cid, {})
        expected = [f"{cid}-{i}".encode() for i in range(N)]
        if present:
            for queue in TARGETS:
                assert present.get(queue) == expected, (cid, queue, present)
            for body in acked:
                assert body not in source_left, f"{cid} is committed but its ack of {body!r} was lost"
            whole += 1
        else:
            assert cid not in committer.ok, f"{cid} got tx.commit-ok but is gone after kill -9"
            for body in acked:
                assert source_left.get(body) is True, f"{cid} is absent but {body!r} is not back redelivered"
            absent += 1
    # every source message is either acked by a whole commit or still there
    taken = {b for cid, acked in committer.sent.items() if cid in seen for b in acked}
    assert set(source_left) == set(source_bodies) - taken
    return whole, absent


def test_tx_commit_is_all_or_nothing_across_kill9(tmp_path):
    rng = random.Random()
    server = ServerProcess(tmp_path).start()
    started = time.monotonic()
    kills = whole_total = absent_total = 0
    try:
        for round_ in range(MAX_KILLS):
            if time.monotonic() - started > BUDGET_S:
                break
            conn = connect(server)
            ch = conn.channel()
            for queue in (*TARGETS, SOURCE):
                ch.queue_declare(queue, durable=True)
            source_bodies = [f"r{round_}s{j}".encode() for j in range(400)]
            ch.tx_select()
            for body in source_bodies:
                ch.basic_publish("", SOURCE, body, PERSISTENT)
            ch.tx_commit()
            conn.close()
            committer = Committer(server, round_)
            committer.start()
            time.sleep(rng.uniform(0.15, 0.8))
            server.kill9()
            kills += 1
            committer.join(10)
            assert not committer.is_alive()
            assert committer.error is not None, "the committer should have lost its connection"
            server.start()
            conn = connect(server)
            whole, absent = check_round(conn.channel(), committer, source_bodies)
            conn.close()
            assert whole >= len(committer.ok)
            whole_total += whole
            absent_total += absent
    finally:
        server.stop()
    assert kills >= 3
    assert whole_total > kills  # commits really happened between the kills
    print(f"kills={kills} commits whole={whole_total} absent={absent_total}")


@pytest.mark.parametrize("point", ["after-intent", "mid-flush"])
def test_crash_inside_commit_completes_it_on_restart(tmp_path, monkeypatch, point):
    """The server dies inside the 5th journaled commit (the source fill is the 1st) at a chosen
    point (engine/messaging/txlog.py `Fault`): its commit-ok never left, but its intent was
    journaled, so after restart the commit is there whole and its acks applied."""
    monkeypatch.setenv("MQGW_FAULT_TX_COMMIT", f"{point}:5")
    server = ServerProcess(tmp_path).start()
    try:
        conn = connect(server)
        ch = conn.channel()
        for queue in (*TARGETS, SOURCE):
            ch.queue_declare(queue, durable=True)
        source_bodies = [f"s{j}".encode() for j in range(20)]
        ch.tx_select()
        for body in source_bodies:
            ch.basic_publish("", SOURCE, body, PERSISTENT)
        ch.tx_commit()
        conn.close()
        committer = Committer(server, 0)
        committer.start()
        committer.join(15)
        assert not committer.is_alive() and committer.error is not None
        assert server.proc.wait(5) == 137
        assert len(committer.sent) == 4 and len(committer.ok) == 3  # r0c3 was cut off
        monkeypatch.delenv("MQGW_FAULT_TX_COMMIT")
        server.start()
        conn = connect(server)
        whole, absent = check_round(conn.channel(), committer, source_bodies)
        conn.close()
        assert (whole, absent) == (4, 0)
    finally:
        server.stop()

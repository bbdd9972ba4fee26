"""Celery 5.5+ native delayed delivery, end to end: a real `celery worker` process on quorum queues
runs a countdown task and an ETA task that went through the broker's delay topology.

What celery needs for that (celery docs, "Quorum Queues" / native delayed delivery): with
`task_default_queue_type = "quorum"` the worker's DelayedDelivery bootstep declares 28 levels of
`celery_delayed_<n>` topic exchanges and quorum queues (x-message-ttl of 2^n s, x-overflow
reject-publish, x-dead-letter-exchange to the next level, x-dead-letter-strategy at-least-once),
chains the levels with exchange-to-exchange bindings and binds the task queue to
`celery_delayed_delivery`; the client publishes a delayed task to `celery_delayed_27` with a routing
key spelling the delay in binary (kombu.transport.native_delayed_delivery). The task's exchange must
be a topic exchange for that path. Quorum queues make celery turn global QoS off.
"""

from __future__ import annotations

import datetime
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pika
import pytest

ROOT = Path(__file__).resolve().parents[3]

APP = textwrap.dedent('''
    import os, time
    from celery import Celery

    app = Celery("mqgw_delayed", broker=os.environ["CELERY_BROKER"])
    app.conf.update(
        task_default_queue=os.environ["CELERY_QUEUE"],
        task_default_exchange=os.environ["CELERY_QUEUE"],
        task_default_routing_key=os.environ["CELERY_QUEUE"],
        task_default_exchange_type="topic",
        task_default_queue_type="quorum",
        broker_transport_options={"confirm_publish": True},
        worker_detect_quorum_queues=True,
        broker_connection_retry_on_startup=True,
        task_ignore_result=True,
    )

    @app.task(name="mqgw.record")
    def record(label, sent_at):
        with open(os.environ["CELERY_OUT"], "a") as out:
            out.write(f"{label} {time.time() - sent_at:.3f}\\n")
''')


@pytest.fixture
def celery_app(tmp_path, broker, names, monkeypatch):
    (tmp_path / "mqgw_delayed.py").write_text(APP)
    queue = names.queue("celery")
    names.exchanges.append(queue)
    env = {"CELERY_BROKER": broker.url(), "CELERY_QUEUE": queue, "CELERY_OUT": str(tmp_path / "out.txt")}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("mqgw_delayed", None)
    import mqgw_delayed  # noqa: E402 - written just above

    yield mqgw_delayed, tmp_path, env
    mqgw_delayed.app.close()
    sys.modules.pop("mqgw_delayed", None)
    _delete_delay_topology(broker)


def _delete_delay_topology(broker) -> None:
    conn = broker.connect()
    try:
        for level in range(28):
            ch = conn.channel()
            ch.queue_delete(f"celery_delayed_{level}")
            ch.exchange_delete(f"celery_delayed_{level}")
            ch.close()
        conn.channel().exchange_delete("celery_delayed_delivery")
    except pika.exceptions.AMQPError:
        pass
    finally:
        if conn.is_open:
            conn.close()


def _start_worker(tmp_path: Path, env: dict) -> subprocess.Popen:
    log = open(tmp_path / "worker.log", "wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "mqgw_delayed", "worker", "--pool=solo", "--concurrency=1",
         "--without-gossip", "--without-mingle", "--without-heartbeat", "--loglevel=INFO"],
        cwd=tmp_path, env=dict(os.environ, PYTHONPATH=f"{tmp_path}{os.pathsep}{ROOT}", **env),
        stdout=log, stderr=subprocess.STDOUT)
    log.close()
    return proc


def _wait_for_lines(path: Path, count: int, proc: subprocess.Popen, log: Path, timeout: float) -> list[str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists():
            lines = path.read_text().splitlines()
            if len(lines) >= count:
                return lines
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    raise AssertionError(f"the worker ran {path.read_text() if path.exists() else 'nothing'}; log:\n"
                         f"{log.read_text(errors='replace')[-4000:]}")


def test_countdown_and_eta_tasks_through_native_delayed_delivery(celery_app, broker):
    module, tmp_path, env = celery_app
    worker = _start_worker(tmp_path, env)
    try:
        # the worker declares the delay topology at start-up; wait until it is there
        deadline = time.monotonic() + 30
        while True:
            conn = broker.connect()
            try:
                conn.channel().exchange_declare("celery_delayed_delivery", passive=True)
                conn.channel().queue_declare("celery_delayed_0", passive=True)
                break
            except pika.exceptions.ChannelClosedByBroker:
                if time.monotonic() > deadline or worker.poll() is not None:
                    raise AssertionError((tmp_path / "worker.log").read_text(errors="replace")[-4000:])
                time.sleep(0.2)
            finally:
                conn.close()
        sent = time.time()
        module.record.apply_async(("countdown", sent), countdown=2)
        module.record.apply_async(("eta", sent), eta=datetime.datetime.now(datetime.timezone.utc)
                                  + datetime.timedelta(seconds=3))
        module.record.apply_async(("now", sent))
        lines = _wait_for_lines(tmp_path / "out.txt", 3, worker, tmp_path / "worker.log", timeout=30)
        ran = {label: float(seconds) for label, seconds in (line.split() for line in lines)}
        assert set(ran) == {"countdown", "eta", "now"}
        assert ran["now"] < 1.5
        # held by the broker's TTL levels, not by the worker: delivered no earlier than due
        assert 1.9 <= ran["countdown"] < 6, ran
        assert 2.5 <= ran["eta"] < 7, ran
        # A delayed task is published to celery_delayed_27 only (celery's send_task): that it ran at
        # all, and on time, means the broker carried it through the TTL levels, the dead-lettering
        # between them and the exchange-to-exchange bindings down to the task queue.
        log = (tmp_path / "worker.log").read_text(errors="replace")
        assert "Failed to" not in log and "PRECONDITION_FAILED" not in log, log[-3000:]
    finally:
        worker.terminate()
        try:
            worker.wait(20)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait(5)

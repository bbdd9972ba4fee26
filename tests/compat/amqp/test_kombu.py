"""kombu on its pyamqp transport (py-amqp), and a celery-shaped task round trip: task messages in
celery's protocol-2 layout on a durable direct exchange, a worker with prefetch and late acks
(QoS global-ness chosen the way celery does, from kombu's product/version sniffing), and results
sent back to the client's reply queue by correlation id, as celery's rpc:// backend does."""

from __future__ import annotations

import socket
import uuid

import kombu
import pytest


@pytest.fixture
def kconn(broker):
    conn = kombu.Connection(hostname=broker.host, port=broker.port, userid=broker.user, password=broker.password,
                            virtual_host=broker.vhost, transport="pyamqp", connect_timeout=5)
    conn.connect()
    yield conn
    conn.release()


def drain(conn, seconds: float = 0.5) -> None:
    try:
        while True:
            conn.drain_events(timeout=seconds)
    except socket.timeout:
        pass


def test_producer_consumer_json(kconn, names):
    exchange = kombu.Exchange(names.exchange(), type="direct", durable=False, auto_delete=False)
    queue = kombu.Queue(names.queue(), exchange=exchange, routing_key="greetings", durable=False)
    producer = kombu.Producer(kconn)
    for i in range(3):
        producer.publish({"n": i, "text": "hi"}, exchange=exchange, routing_key="greetings", serializer="json",
                         declare=[queue], headers={"attempt": i})
    got = []

    def on_message(body, message):
        got.append((body, message.headers, message.content_type))
        message.ack()

    with kombu.Consumer(kconn, queues=[queue], callbacks=[on_message], accept=["json"]):
        while len(got) < 3:
            kconn.drain_events(timeout=5)
    assert got == [({"n": i, "text": "hi"}, {"attempt": i}, "application/json") for i in range(3)]


def test_simple_queue(kconn, names):
    name = names.queue()
    names.exchange("q")  # SimpleQueue declares a direct exchange named like its queue: clean it up too
    sq = kconn.SimpleQueue(name)
    try:
        sq.put({"hello": "world"})
        sq.put("second")
        message = sq.get(block=True, timeout=5)
        assert message.payload == {"hello": "world"}
        message.ack()
        second = sq.get(block=True, timeout=5)
        assert second.payload == "second"
        second.ack()
        with pytest.raises(sq.Empty):
            sq.get(block=True, timeout=0.3)
    finally:
        sq.close()


def test_amqplain_login(broker):
    conn = kombu.Connection(hostname=broker.host, port=broker.port, userid=broker.user, password=broker.password,
                            virtual_host=broker.vhost, transport="pyamqp", login_method="AMQPLAIN", connect_timeout=5)
    try:
        conn.connect()
        assert conn.connected
        conn.default_channel.queue_declare(queue="", exclusive=True)
    finally:
        conn.release()


def test_celery_like_task_round_trip(broker, kconn, names):
    task_exchange = kombu.Exchange(names.exchange("celery"), type="direct", durable=True)
    task_queue = kombu.Queue(names.queue("celery"), exchange=task_exchange, routing_key="celery", durable=True)
    reply_queue = kombu.Queue(names.queue("reply"), exchange=kombu.Exchange("", type="direct"),
                              routing_key=names.queue("reply"), exclusive=True, auto_delete=True, durable=False)

    # -- client: publish tasks in celery's protocol 2 layout ---------------------------------
    client_producer = kombu.Producer(kconn)
    task_ids = []
    for i in range(8):
        task_id = str(uuid.uuid4())
        task_ids.append(task_id)
        client_producer.publish(
            [[i, 10 * i], {}, {"callbacks": None, "errbacks": None, "chain": None, "chord": None}],
            exchange=task_exchange, routing_key="celery", serializer="json", declare=[task_queue, reply_queue],
            headers={"lang": "py", "task": "proj.tasks.add", "id": task_id, "root_id": task_id, "parent_id": None,
                     "group": None, "retries": 0, "eta": None, "expires": None, "timelimit": [None, None],
                     "argsrepr": f"({i}, {10 * i})", "kwargsrepr": "{}", "origin": "gen1@test"},
            correlation_id=task_id, reply_to=reply_queue.name, delivery_mode=2, priority=0)

    # -- worker: its own connection, prefetch 4, ack after running the task -------------------
    worker = kombu.Connection(hostname=broker.host, port=broker.port, userid=broker.user, password=broker.password,
                              virtual_host=broker.vhost, transport="pyamqp", connect_timeout=5)
    try:
        worker.connect()
        # celery/worker/consumer/tasks.py: global QoS unless kombu says the broker follows the spec
        qos_global = not worker.transport.qos_semantics_matches_spec(worker.connection)
        pending = []
        consumer = kombu.Consumer(worker, queues=[task_queue], accept=["json"],
                                  callbacks=[lambda body, message: pending.append((body, message))])
        consumer.qos(prefetch_count=4, apply_global=qos_global)
        with consumer:
            drain(worker, 0.3)
            assert len(pending) == 4  # prefetch holds back the rest until acks come
            results = kombu.Producer(worker)
            done = 0
            while done < 8:
                if not pending:
                    worker.drain_events(timeout=5)
                    continue
                (args, kwargs, _embed), message = pending.pop(0)
                assert message.headers["task"] == "proj.tasks.add"
                results.publish({"task_id": message.properties["correlation_id"], "status": "SUCCESS",
                                 "result": args[0] + args[1], "traceback": None, "children": []},
                                exchange="", routing_key=message.properties["reply_to"], serializer="json",
                                correlation_id=message.properties["correlation_id"], delivery_mode=1)
                message.ack()
                done += 1
    finally:
        worker.release()

    # -- client: collect results by correlation id ---------------------------------------------
    results_by_id = {}

    def on_result(body, message):
        results_by_id[message.properties["correlation_id"]] = body
        message.ack()

    with kombu.Consumer(kconn, queues=[reply_queue], callbacks=[on_result], accept=["json"]):
        while len(results_by_id) < 8:
            kconn.drain_events(timeout=5)
    assert [results_by_id[t]["result"] for t in task_ids] == [11 * i for i in range(8)]
    assert all(results_by_id[t]["status"] == "SUCCESS" for t in task_ids)
    assert kconn.default_channel.queue_declare(queue=task_queue.name, passive=True).message_count == 0
